"""One interface over the two ClickHouse stores: embedded (chdb, in-process) and a server (clickhouse-connect).

Data goes in as Arrow tables (binary, never SQL text); queries take ``{name:Type}`` parameters.
``insert`` accepts a deduplication token: inserting the same token twice stores the block once, which
is what makes the stream sink replay-safe (see ``stream_jobs/sink.py``).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from llmpulse.settings import Settings

DATABASE = "llmpulse"  # the database llmpulse's tables live in (the embedded store's, and a server's by convention)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._:/#\-]{1,256}$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


def check_token(token: str) -> str:
    if not _TOKEN_RE.match(token):
        raise ValueError(f"bad deduplication token {token!r}")
    return token


def check_ident(name: str) -> str:
    if not _IDENT_RE.match(name):
        raise ValueError(f"bad identifier {name!r}")
    return name


class Store(ABC):
    """What llmpulse needs from ClickHouse."""

    kind: str = "abstract"

    @abstractmethod
    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, OPTIMIZE, …)."""

    @abstractmethod
    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        """Run a SELECT and return its rows."""

    @abstractmethod
    def insert(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        """Insert an Arrow table (column names = table columns) as one block."""

    @abstractmethod
    def close(self) -> None: ...

    def describe(self) -> str:
        return self.kind

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(settings: Settings, *, own: bool = False, user: str = "writer") -> Store:
    """The server store when ``clickhouse_url`` is set; else the embedded store in ``data_dir``: through the
    ClickHouse HTTP endpoint of the process that owns it, if one runs (as ``user``: ``writer`` or ``reader``),
    or opened here (``own``: always opened here)."""
    if settings.clickhouse_url is not None:
        from llmpulse.clickhouse.server_store import ServerStore

        return ServerStore(settings.clickhouse_url.get_secret_value())
    if not own:
        from llmpulse.clickhouse.http import endpoint_url

        url = endpoint_url(settings.data_dir)
        if url is not None:
            return endpoint_store(settings.data_dir, url, user)
    from llmpulse.clickhouse.chdb_store import ChdbStore

    return ChdbStore(settings.data_dir)


def endpoint_store(data_dir: Path, url: str, user: str) -> Store:
    """A ``ServerStore`` on the embedded store's endpoint at ``url``, as ``user``."""
    from llmpulse.clickhouse.http import stored_password
    from llmpulse.clickhouse.server_store import ServerStore, with_credentials

    password = stored_password(data_dir, user)
    if password is None:
        from llmpulse.clickhouse.exceptions import StoreError

        raise StoreError(f"no password for the endpoint's user {user}: set LLMPULSE_ENDPOINT_{user.upper()}_PASSWORD")
    return ServerStore(with_credentials(url, user, password.get_secret_value(), ""))
