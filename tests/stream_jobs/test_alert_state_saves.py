"""The alert evaluator saves its state once per run of quiet windows, not once per window, with the same alerts
and the same saved state as saving after every window (the evaluator's own tests are in tests/alerting)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from llmpulse.alerting.evaluator import AlertEvaluator, read_alerts
from llmpulse.clickhouse.store import QueryResult, Store
from llmpulse.schemas.alert import AlertEvent
from tests.alerting.test_evaluator import CONFIG, N_WINDOWS, W, scenario_rows
from tests.alerting.test_series import T0, write_rollups


class CountingStore(Store):
    """The store, counting the state saves; inserting the alerts of a window from ``fail_from`` on fails."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.saves: list[int] = []  # the window (index from T0) of each save
        self.fail_from: int | None = None

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.inner.command(sql, params)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        return self.inner.query(sql, params)

    def insert(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        window = (data["window_start"][0].value - T0) // W if table == "llm_alerts" else None
        if window is not None and self.fail_from is not None and window >= self.fail_from:
            raise ConnectionError("store is down")
        if table == "llm_alert_state":
            self.saves.append((data["last_window_start"][0].value - T0) // W)
        self.inner.insert(table, data, dedup_token)

    def close(self) -> None:
        self.inner.close()


def _ids(events: list[AlertEvent]) -> list[tuple[str, str]]:
    return [(e.alert_id, e.status) for e in events]


def _state(store: Store, name: str) -> tuple[object, ...]:
    return tuple(store.query(
        "SELECT toUnixTimestamp64Milli(last_window_start), state FROM llm_alert_state FINAL "
        "WHERE evaluator = {n:String}", {"n": name}).rows[0])  # fmt: skip


def test_a_backlog_saves_at_alerts_and_at_the_end_with_the_same_alerts_and_state(store: Store) -> None:
    write_rollups(store, scenario_rows())
    counting = CountingStore(store)
    end = T0 + N_WINDOWS * W
    at_once = AlertEvaluator(counting, CONFIG, name="at-once", lookback_ms=None).tick(end)
    saves = counting.saves
    # one window per tick (a worker that keeps up): saved after every window
    stepwise = AlertEvaluator(store, CONFIG, name="stepwise", lookback_ms=None)
    per_window = [e for k in range(1, N_WINDOWS + 1) for e in stepwise.tick(T0 + k * W)]
    assert _ids(at_once) == _ids(per_window) and len(at_once) == 4
    assert _state(store, "at-once") == _state(store, "stepwise")
    alerting = sorted({(e.window_start_ms - T0) // W for e in at_once})
    # before each alerting window, the quiet windows up to it; each alerting window; the last window
    assert saves == sorted({w - 1 for w in alerting} | set(alerting) | {N_WINDOWS - 1})
    assert len(saves) < N_WINDOWS // 2


def test_a_failed_window_leaves_the_progress_just_before_it(store: Store) -> None:
    write_rollups(store, scenario_rows())
    counting = CountingStore(store)
    counting.fail_from = 17  # the firing at window 6 is written; the resolve at 17 is not
    evaluator = AlertEvaluator(counting, CONFIG, lookback_ms=None)
    with pytest.raises(ConnectionError):
        evaluator.tick(T0 + N_WINDOWS * W)
    # the quiet windows 7..16 were saved before window 17 wrote anything: a retry redoes window 17 only
    assert counting.saves == [5, 6, 16] and evaluator.last_window_start_ms == T0 + 16 * W
    counting.fail_from = None
    rest = AlertEvaluator(counting, CONFIG, lookback_ms=None).tick(T0 + N_WINDOWS * W)  # a new process
    assert [(e.window_start_ms - T0) // W for e in rest] == [17, 20, 22]
    assert [(a.window_start_ms - T0) // W for a in read_alerts(store)] == [6, 17, 20, 22]
