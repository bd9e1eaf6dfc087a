"""The embedded store: ClickHouse's own engine in-process (chdb). One process owns a data directory."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa

from llmpulse.clickhouse.exceptions import StoreError, StoreUnavailable
from llmpulse.clickhouse.store import QueryResult, Store, check_ident, check_token


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """Python values; a ClickHouse String holding bytes that are not UTF-8 comes back decoded with U+FFFD."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:
        raw = column.cast(pa.large_binary()).to_pylist()
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in raw]


class ChdbStore(Store):
    kind = "chdb"

    def __init__(self, data_dir: Path | str) -> None:
        from chdb import session

        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._session = session.Session(str(self.data_dir))
        except Exception as exc:  # chdb raises a bare RuntimeError when another process holds the dir
            raise StoreUnavailable(
                f"cannot open the embedded ClickHouse data directory {self.data_dir}: {exc}. "
                "Only one process can open it at a time: stop the other llmpulse worker or use --data-dir."
            ) from exc

    def describe(self) -> str:
        return f"chdb:{self.data_dir}"

    def _run(self, sql: str, fmt: str, params: dict[str, Any] | None) -> Any:
        with self._lock:
            try:
                return self._session.query(sql, fmt, params=params or None)
            except Exception as exc:
                raise StoreError(str(exc)) from exc

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._run(sql, "CSV", params)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        table = self._run(sql, "ArrowTable", params)
        if not isinstance(table, pa.Table):
            return QueryResult([], [])
        columns = table.column_names
        pylists = [_pylist(table.column(i)) for i in range(table.num_columns)]
        return QueryResult(list(columns), list(zip(*pylists, strict=True)) if pylists else [])

    def insert(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        if data.num_rows == 0:
            return
        cols = ", ".join(check_ident(c) for c in data.column_names)
        # blocks arrive unique and pre-aggregated: skip the merge-on-insert pass (it costs a third of the time)
        settings = " SETTINGS optimize_on_insert = 0"
        if dedup_token:
            settings += f", insert_deduplication_token = '{check_token(dedup_token)}'"
        arrow_data = data  # referenced by name from the SQL below (chdb's Python() table function)
        sql = f"INSERT INTO {check_ident(table)} ({cols}){settings} SELECT {cols} FROM Python(arrow_data)"
        with self._lock:
            try:
                self._session.query(sql, "CSV")
            except Exception as exc:
                raise StoreError(f"insert into {table} failed: {exc}") from exc
        del arrow_data

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):  # closing twice is harmless
            self._session.close()
