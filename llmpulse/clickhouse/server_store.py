"""A ClickHouse server (or cluster), or the embedded store's endpoint, through clickhouse-connect over HTTP(S).

Failures are told apart the way the sink needs: the server cannot be reached or cannot take the statement
now (connection refused or reset, timeouts, HTTP 5xx without a data error, overload, authentication) is
``StoreUnavailable`` — retry later, nothing is lost; ClickHouse rejecting the statement or its data is
``StoreError``.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pyarrow as pa

from llmpulse.clickhouse.exceptions import StoreError, StoreUnavailable
from llmpulse.clickhouse.store import QueryResult, Store, check_ident, check_token

# ClickHouse error codes that say "not now" rather than "not this": the statement may succeed when retried
TRANSIENT_CODES = {
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY (a replica in read-only mode, or a user without write rights: configuration, not data)
    192, 193, 194, 195,  # UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED
    516, 497,  # AUTHENTICATION_FAILED, ACCESS_DENIED
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209, 210,  # SOCKET_TIMEOUT, NETWORK_ERROR
    225, 242,  # NO_ZOOKEEPER, TABLE_IS_READ_ONLY
    236,  # ABORTED
    241,  # MEMORY_LIMIT_EXCEEDED
    252,  # TOO_MANY_PARTS
    279,  # ALL_CONNECTION_TRIES_FAILED
    285, 286,  # TOO_FEW_LIVE_REPLICAS, UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    319,  # UNKNOWN_STATUS_OF_INSERT
    394,  # QUERY_WAS_CANCELLED
    425,  # SYSTEM_ERROR
    439,  # CANNOT_SCHEDULE_TASK
    999,  # KEEPER_EXCEPTION
}  # fmt: skip


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def with_credentials(url: str, user: str, password: str, database: str = "") -> str:
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, f"/{database}" if database else "", "", ""))


def is_unavailable(exc: Exception) -> bool:
    """True when ``exc`` (from clickhouse-connect) means ClickHouse cannot be reached or cannot take it now."""
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    if isinstance(exc, OperationalError):  # connection refused/reset, timeouts, retried 429/503
        return True
    if isinstance(exc, DatabaseError):
        code = getattr(exc, "code", None)
        if code is None:  # an HTTP error without a ClickHouse exception (a proxy, a restart) is one when 5xx/408/429
            status = _http_status(str(exc))
            return status is not None and (status >= 500 or status in (408, 429))
        return int(code) in TRANSIENT_CODES
    return isinstance(exc, (OSError, TimeoutError))


def _http_status(message: str) -> int | None:
    marker = "received HTTP status "
    at = message.find(marker)
    digits = message[at + len(marker):at + len(marker) + 3] if at >= 0 else ""  # fmt: skip
    return int(digits) if digits.isdigit() else None


class ServerStore(Store):
    kind = "server"

    def __init__(self, url: str, *, timeout_s: float = 60.0) -> None:
        import clickhouse_connect

        self._where = redact_url(url)
        parts = urlsplit(url)
        self._lock = threading.Lock()
        try:
            self._client = clickhouse_connect.get_client(
                host=parts.hostname or "localhost",
                port=parts.port or (8443 if parts.scheme == "https" else 8123),
                username=unquote(parts.username or "default"),
                password=unquote(parts.password or ""),
                database=parts.path.strip("/") or None,
                secure=parts.scheme == "https",
                compress="lz4",
                connect_timeout=10,
                send_receive_timeout=int(timeout_s),
                settings={"insert_deduplicate": 1},
            )
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(f"cannot reach ClickHouse at {self._where}: {type(exc).__name__}") from exc
            raise StoreError(f"{self._where}: {exc}") from exc

    def describe(self) -> str:
        return f"clickhouse:{self._where}"

    def _fail(self, exc: Exception, what: str) -> StoreError:
        kind = StoreUnavailable if is_unavailable(exc) else StoreError
        return kind(f"{what} at {self._where} failed: {exc}")

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._lock:
            try:
                self._client.command(sql, parameters=params)
            except Exception as exc:
                raise self._fail(exc, "command") from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        with self._lock:
            try:
                result = self._client.query(sql, parameters=params)
            except Exception as exc:
                raise self._fail(exc, "query") from exc
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
                raise self._fail(exc, f"insert into {table}") from exc

    def close(self) -> None:
        with self._lock:
            self._client.close()
