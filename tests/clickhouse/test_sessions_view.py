"""llm_sessions_v on the embedded engine: calls and errors per session, the last call, and abandonment
(the last call failed or was slow, and nothing followed for 30 minutes)."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest

from llmpulse.clickhouse.migrate import Schema, migration_files
from llmpulse.clickhouse.retention import Retention
from llmpulse.clickhouse.store import Store

pytestmark = pytest.mark.integration

MINUTE_MS = 60_000


def calls(rows: list[tuple[str, str, int, str, float, str]]) -> pa.Table:
    """(event_id, session_id, minutes ago, status, latency_ms, model) rows for llm_calls."""
    now = int(time.time() * 1000)
    return pa.table({
        "event_id": [r[0] for r in rows],
        "session_id": [r[1] for r in rows],
        "ts": pa.array([now - r[2] * MINUTE_MS for r in rows], pa.timestamp("ms", tz="UTC")),
        "status": [r[3] for r in rows],
        "latency_ms": pa.array([r[4] for r in rows], pa.float64()),
        "model": [r[5] for r in rows],
        "app": ["app-chat"] * len(rows),
        "team": ["team-a"] * len(rows),
        "provider": ["openai"] * len(rows),
    })  # fmt: skip


def sessions(store: Store) -> dict[str, dict[str, Any]]:
    result = store.query("SELECT * FROM llm_sessions_v ORDER BY session_id")
    return {row[0]: dict(zip(result.columns, row, strict=True)) for row in result.rows}


def test_sessions_count_calls_and_flag_abandonment(store: Store) -> None:
    store.insert("llm_calls", calls([
        # ended on an error an hour ago: abandoned
        ("e1", "s-error", 70, "ok", 800.0, "gpt-4o"), ("e2", "s-error", 65, "error", 100.0, "gpt-4o-mini"),
        # ended on an answer three times slower than the earlier ones: abandoned
        ("e3", "s-slow", 90, "ok", 1000.0, "gpt-4o"), ("e4", "s-slow", 88, "ok", 1200.0, "gpt-4o"),
        ("e5", "s-slow", 85, "ok", 3300.0, "gpt-4o"),
        # a slow-ish last answer, but below twice the median: kept
        ("e6", "s-fine", 90, "ok", 1000.0, "gpt-4o"), ("e7", "s-fine", 85, "ok", 1900.0, "gpt-4o"),
        # an error 10 minutes ago: the user may still come back
        ("e8", "s-recent", 20, "ok", 900.0, "gpt-4o"), ("e9", "s-recent", 10, "error", 50.0, "gpt-4o"),
        # an error, then a good answer: the user went on (the fast error is no yardstick for slowness)
        ("e10", "s-recovered", 80, "error", 50.0, "gpt-4o"), ("e11", "s-recovered", 75, "ok", 700.0, "gpt-4o"),
        ("e12", "s-single", 60, "ok", 5000.0, "gpt-4o"),  # one call: nothing to be slow against
        ("e13", "", 60, "error", 50.0, "gpt-4o"),  # no session
    ]))  # fmt: skip
    store.insert("llm_calls", calls([("e2", "s-error", 65, "error", 100.0, "gpt-4o-mini")]))  # stored twice
    got = sessions(store)
    assert set(got) == {"s-error", "s-slow", "s-fine", "s-recent", "s-recovered", "s-single"}
    assert {name: bool(s["abandoned"]) for name, s in got.items()} == {
        "s-error": True, "s-slow": True, "s-fine": False, "s-recent": False, "s-recovered": False,
        "s-single": False,
    }  # fmt: skip
    error = got["s-error"]
    assert (error["calls"], error["errors"], error["last_status"], error["last_latency_ms"]) == (2, 1, "error", 100.0)
    assert error["model"] == "gpt-4o" and error["app"] == "app-chat" and error["team"] == "team-a"
    assert error["earlier_median_latency_ms"] == 800.0
    assert error["last_ts"] > error["first_ts"]
    assert (got["s-slow"]["calls"], got["s-slow"]["earlier_median_latency_ms"]) == (3, 1100.0)
    assert got["s-single"]["earlier_median_latency_ms"] is None and got["s-single"]["calls"] == 1
    assert got["s-recovered"]["earlier_median_latency_ms"] is None and got["s-recovered"]["errors"] == 1


def test_the_view_has_a_cluster_form() -> None:
    version = next(v for v, name, _ in migration_files() if name == "0004_sessions.sql")
    statements = next(s for v, _, s in Schema(Retention.defaults(), cluster="prod").migrations() if v == version)
    assert len(statements) == 1
    assert "CREATE VIEW IF NOT EXISTS llmpulse.llm_sessions_v ON CLUSTER prod" in statements[0]
    assert "FROM llmpulse.llm_calls" in statements[0]  # the Distributed table
