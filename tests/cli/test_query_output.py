"""llmpulse query prints times as ISO 8601 UTC and maps/arrays as JSON, in the table and in --json."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from llmpulse.cli.query import format_table
from llmpulse.clickhouse.store import QueryResult


def test_table_cells() -> None:
    berlin = timezone(timedelta(hours=1))
    result = QueryResult(
        columns=["naive", "aware", "frac", "attrs", "arr", "price"],
        rows=[[datetime(2026, 11, 29, 17, 0), datetime(2026, 11, 29, 18, 0, tzinfo=berlin),
               datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC), {"feature": "rag", "n": 2}, [1, "x"], 0.1234567]],
    )  # fmt: skip
    row = format_table(result).splitlines()[2].split()
    assert row == ["2026-11-29T17:00:00Z", "2026-11-29T17:00:00Z", "2026-01-01T00:00:00.250Z",
                   '{"feature":"rag","n":2}', '[1,"x"]', "0.123457"]  # fmt: skip


@pytest.mark.integration
def test_json_rows_from_the_real_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPULSE_")}
    sql = "SELECT toDateTime('2026-11-29 17:01:00', 'UTC') AS window_start, map('a', 1) AS m"
    out = subprocess.run([sys.executable, "-m", "llmpulse", "query", "--json", "--data-dir", str(tmp_path / "d"), sql],
                         env=env, capture_output=True, check=True, timeout=120, cwd=tmp_path).stdout  # fmt: skip
    assert orjson.loads(out.splitlines()[-1]) == {"window_start": "2026-11-29T17:01:00Z", "m": {"a": 1}}
