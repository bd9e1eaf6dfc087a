"""A ClickHouse server (or cluster) through clickhouse-connect over HTTP(S)."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from llmpulse.clickhouse.exceptions import StoreError, StoreUnavailable
from llmpulse.clickhouse.store import QueryResult, Store, check_ident, check_token


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class ServerStore(Store):
    kind = "server"

    def __init__(self, url: str) -> None:
        import clickhouse_connect

        self._where = redact_url(url)
        parts = urlsplit(url)
        database = parts.path.strip("/") or "default"
        self._lock = threading.Lock()
        try:
            self._client = clickhouse_connect.get_client(
                host=parts.hostname or "localhost",
                port=parts.port or (8443 if parts.scheme == "https" else 8123),
                username=parts.username or "default",
                password=parts.password or "",
                database=database,
                secure=parts.scheme == "https",
                compress="lz4",
                settings={"insert_deduplicate": 1},
            )
        except Exception as exc:
            raise StoreUnavailable(f"cannot reach ClickHouse at {self._where}: {type(exc).__name__}") from exc

    def describe(self) -> str:
        return f"clickhouse:{self._where}"

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._lock:
            try:
                self._client.command(sql, parameters=params)
            except Exception as exc:
                raise StoreError(f"{self._where}: {exc}") from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        with self._lock:
            try:
                result = self._client.query(sql, parameters=params)
            except Exception as exc:
                raise StoreError(f"{self._where}: {exc}") from exc
        return QueryResult(list(result.column_names), [tuple(r) for r in result.result_rows])

    def insert(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        if data.num_rows == 0:
            return
        settings: dict[str, Any] = {"optimize_on_insert": 0}
        if dedup_token:
            settings["insert_deduplication_token"] = check_token(dedup_token)
        with self._lock:
            try:
                self._client.insert_arrow(check_ident(table), data, settings=settings)
            except Exception as exc:
                raise StoreError(f"insert into {table} at {self._where} failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._client.close()
