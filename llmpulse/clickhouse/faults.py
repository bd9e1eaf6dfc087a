"""A switch to make the store unreachable on purpose, for outage drills and tests.

With ``LLMPULSE_STORE_FAULT_FILE`` set, every store call fails as "unavailable" while that file exists:
``touch`` it to take ClickHouse "down" for a running worker, remove it to bring it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from llmpulse.clickhouse.exceptions import StoreUnavailable
from llmpulse.clickhouse.store import QueryResult, Store


class GatedStore(Store):
    def __init__(self, inner: Store, gate: Path) -> None:
        self.inner = inner
        self.gate = gate
        self.kind = inner.kind

    def _check(self) -> None:
        if self.gate.exists():
            raise StoreUnavailable(f"ClickHouse is down (fault drill: {self.gate} exists)")

    def describe(self) -> str:
        return f"{self.inner.describe()} (fault switch {self.gate})"

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._check()
        self.inner.command(sql, params)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        self._check()
        return self.inner.query(sql, params)

    def insert(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        self._check()
        self.inner.insert(table, data, dedup_token)

    def close(self) -> None:
        self.inner.close()
