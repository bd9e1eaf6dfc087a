"""The evaluator on the real engine (chdb): closed windows in order, rows once, restart without duplicates."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from llmpulse.alerting.config import default_config, parse_alert_config
from llmpulse.alerting.evaluator import AlertEvaluator, alerts_table, read_alerts
from llmpulse.alerting.exceptions import EvaluatorError
from llmpulse.clickhouse.store import Store
from llmpulse.schemas.alert import AlertEvent
from tests.alerting.test_series import T0, rollup, write_rollups

W = 60_000

CONFIG = parse_alert_config(
    """
[anomaly]
enabled = false

[[threshold]]
name = "p95-per-model"
metric = "latency_p95_ms"
group_by = ["model"]
value = 3000.0
resolve_value = 2500.0
for_windows = 2
resolve_windows = 2
flap_windows = 2
min_requests = 20
severity = "error"

[[threshold]]
name = "errors-per-team"
metric = "error_rate"
where = { model = "gpt-4o", team = "*" }
value = 0.1
for_windows = 1
resolve_windows = 1
flap_windows = 0
min_requests = 20
"""
)

# per window: gpt-4o p95 slow in 5..9 and 14..16 (one incident: the gap is shorter than the flap guard
# would allow to resolve), team ads errors in 20..21; o3 is always fine; a window with 3 calls is ignored
SLOW = {5, 6, 7, 8, 9, 12, 13}
ERRORS = {20, 21}
N_WINDOWS = 30


def scenario_rows() -> list[dict[str, object]]:
    rng = np.random.default_rng(11)
    rows = []
    for i in range(N_WINDOWS):
        ws = T0 + i * W
        base = 4000.0 if i in SLOW else 1000.0
        rows.append(rollup(ws, rng.normal(base, 50, 60), team="search"))
        rows.append(rollup(ws, rng.normal(1000, 50, 40), team="ads", errors=20 if i in ERRORS else 0))
        rows.append(rollup(ws, rng.normal(1500, 50, 50), model="o3"))
    rows.append(rollup(T0 + 25 * W, [99_000.0] * 3, model="tiny"))  # below min_requests
    return rows


def summary(events: list[AlertEvent]) -> list[tuple[int, str, str, str]]:
    return [
        ((e.window_start_ms - T0) // W, e.rule, e.status, ",".join(e.dimensions.values())) for e in events
    ]


EXPECTED = [
    (6, "p95-per-model", "firing", "gpt-4o"),  # two slow windows in a row
    # slow 5..9, clear 10..11 (recovering), slow 12..13 (kept open), clear 14..15, 2 more: resolved
    (17, "p95-per-model", "resolved", "gpt-4o"),
    (20, "errors-per-team", "firing", "ads"),
    (22, "errors-per-team", "resolved", "ads"),
]


def sorted_by_window(events: list[AlertEvent]) -> list[AlertEvent]:
    return sorted(events, key=lambda e: (e.window_start_ms, e.rule))


def test_tick_evaluates_closed_windows_in_order_and_writes_them(store: Store) -> None:
    write_rollups(store, scenario_rows())
    emitted: list[list[AlertEvent]] = []
    evaluator = AlertEvaluator(store, CONFIG, emit=emitted.append, lookback_ms=None)
    # watermark in the middle of window 10: windows 0..9 are closed
    first = evaluator.tick(T0 + 10 * W + 30_000)
    assert evaluator.last_window_start_ms == T0 + 9 * W
    rest = evaluator.tick(T0 + N_WINDOWS * W)
    assert evaluator.tick(T0 + N_WINDOWS * W) == []  # nothing new closed
    events = first + rest
    assert summary(sorted_by_window(events)) == EXPECTED
    assert [e for batch in emitted for e in batch] == events
    stored = read_alerts(store)
    assert {a.alert_id: a for a in stored} == {e.alert_id: e for e in events}
    firing = next(e for e in events if e.status == "firing" and e.rule == "p95-per-model")
    assert firing.observed is not None and firing.observed > 3000 and firing.threshold == 3000.0
    assert firing.started_at_ms == T0 + 5 * W and firing.team == ""
    rows = store.query(firing.query).dicts()  # the alert's SQL: the series from an hour before the start
    assert [r["calls"] for r in rows] == [100] * 7  # gpt-4o in windows 0..6, both teams
    assert rows[6]["value"] == pytest.approx(firing.observed)


def test_rows_land_once_when_the_same_windows_are_evaluated_again(store: Store) -> None:
    write_rollups(store, scenario_rows())
    end = T0 + N_WINDOWS * W
    once = AlertEvaluator(store, CONFIG, lookback_ms=None).tick(end)
    # lose the saved progress: a new evaluator starts over and re-writes every window's alerts
    store.command("TRUNCATE TABLE llm_alert_state")
    again = AlertEvaluator(store, CONFIG, lookback_ms=None).tick(end)
    assert [e.alert_id for e in again] == [e.alert_id for e in once]
    raw = store.query("SELECT alert_id FROM llm_alerts").rows  # no FINAL: what was physically written
    assert sorted(r[0] for r in raw) == sorted(e.alert_id for e in once)


def test_restart_continues_where_it_stopped_without_duplicates(store: Store) -> None:
    write_rollups(store, scenario_rows())
    seen: list[AlertEvent] = []
    for watermark in (T0 + 7 * W, T0 + 7 * W, T0 + 18 * W, T0 + 21 * W, T0 + N_WINDOWS * W):
        evaluator = AlertEvaluator(store, CONFIG, emit=seen.extend, lookback_ms=None)  # a new process
        evaluator.tick(watermark)
    assert summary(sorted_by_window(seen)) == EXPECTED
    assert len({e.alert_id for e in seen}) == len(seen)
    assert store.query("SELECT count() FROM llm_alerts").scalar() == len(EXPECTED)


def test_emit_failure_redoes_the_window_without_writing_twice(store: Store) -> None:
    write_rollups(store, scenario_rows())
    calls: list[list[AlertEvent]] = []

    def flaky(events: list[AlertEvent]) -> None:
        calls.append(events)
        if len(calls) == 2:
            raise ConnectionError("Kafka is down")

    evaluator = AlertEvaluator(store, CONFIG, emit=flaky, lookback_ms=None)
    with pytest.raises(ConnectionError):
        evaluator.tick(T0 + N_WINDOWS * W)
    # the 2nd batch (window 17) was written but not emitted: progress stays at window 16
    assert evaluator.last_window_start_ms == T0 + 16 * W
    assert summary(calls[1]) == [(17, "p95-per-model", "resolved", "gpt-4o")]
    rest = evaluator.tick(T0 + N_WINDOWS * W)  # retry: window 17 again, then the rest
    assert summary(rest) == EXPECTED[1:]
    assert calls[2][0].alert_id == calls[1][0].alert_id  # emitted again (at-least-once), same id
    assert store.query("SELECT count() FROM llm_alerts").scalar() == len(EXPECTED)  # written once
    restarted = AlertEvaluator(store, CONFIG, emit=calls.append, lookback_ms=None)
    assert restarted.tick(T0 + N_WINDOWS * W) == [] and len(calls) == 5


def test_two_workers_on_the_same_windows_write_each_alert_once(store: Store) -> None:
    write_rollups(store, scenario_rows())
    a = AlertEvaluator(store, CONFIG, lookback_ms=None)
    b = AlertEvaluator(store, CONFIG, lookback_ms=None)  # started at the same time: same (empty) state
    from_a = a.tick(T0 + N_WINDOWS * W)
    from_b = b.tick(T0 + N_WINDOWS * W)
    assert [e.alert_id for e in from_b] == [e.alert_id for e in from_a]  # the same transitions, same ids
    raw = store.query("SELECT alert_id FROM llm_alerts").rows
    assert sorted(r[0] for r in raw) == sorted(e.alert_id for e in from_a)


def test_first_start_uses_the_lookback(store: Store) -> None:
    write_rollups(store, scenario_rows())
    evaluator = AlertEvaluator(store, CONFIG, lookback_ms=12 * W)
    events = evaluator.tick(T0 + N_WINDOWS * W)  # starts at window 18: the p95 incident is not seen
    assert summary(sorted_by_window(events)) == [
        (20, "errors-per-team", "firing", "ads"),
        (22, "errors-per-team", "resolved", "ads"),
    ]


def test_empty_store_waits_and_bad_state_is_reported(store: Store) -> None:
    evaluator = AlertEvaluator(store, CONFIG)
    assert evaluator.tick(T0 + 5 * W) == [] and evaluator.last_window_start_ms is None
    with pytest.raises(EvaluatorError):
        AlertEvaluator(store, CONFIG, name="no spaces allowed")
    import pyarrow as pa

    store.insert(
        "llm_alert_state",
        pa.table(
            {
                "evaluator": ["broken"],
                "last_window_start": pa.array([T0], pa.timestamp("ms", tz="UTC")),
                "state": pa.array([b"not a pickle"], pa.binary()),
                "state_bytes": pa.array([12], pa.uint64()),
            }
        ),
    )
    with pytest.raises(EvaluatorError, match="broken"):
        AlertEvaluator(store, CONFIG, name="broken")


def test_alert_rows_keep_every_field(store: Store) -> None:
    event = AlertEvent(
        alert_id="k:firing:1",
        dedup_key="k",
        kind="drift",
        severity="critical",
        status="firing",
        rule="r",
        metric="m",
        dimensions={"model": "o'3", "team": "a=b"},
        observed=1.5,
        expected=None,
        lower=-1.0,
        upper=2.0,
        threshold=None,
        window_start_ms=T0,
        window_end_ms=T0 + W,
        started_at_ms=T0 - W,
        emitted_at_ms=T0 + W + 123,
        summary="s",
        query="SELECT 1",
        team="search",
    )
    store.insert("llm_alerts", alerts_table([event], "default"))
    assert read_alerts(store) == [event]


def test_default_config_on_the_store(store: Store) -> None:
    write_rollups(store, scenario_rows())
    events = AlertEvaluator(store, default_config(), lookback_ms=None).tick(T0 + N_WINDOWS * W)
    # The default rules learn each series first (20 windows with calls): the slow gpt-4o windows 5..13
    # are learned, not alerted. The errors of team ads (20 of gpt-4o's 100 calls in 20..21, never an
    # error before) page by model and by provider, and resolve after 2 clear and 2 quiet windows.
    assert summary(events) == [
        (20, "error-rate", "firing", "gpt-4o"),
        (20, "error-rate", "firing", "openai"),
        (25, "error-rate", "resolved", "gpt-4o"),
        (25, "error-rate", "resolved", "openai"),
    ]


def test_state_saved_by_another_version_is_learned_anew(store: Store) -> None:
    """After an upgrade that changes the engine's state format, the evaluator starts afresh (and warm-starts
    from the stored rollups) instead of failing every tick."""
    import pickle
    import zlib

    from llmpulse.alerting.engine import STATE_FORMAT, AlertEngine
    from llmpulse.alerting.exceptions import StateFormatError

    write_rollups(store, scenario_rows())
    AlertEvaluator(store, CONFIG, lookback_ms=None).tick(T0 + 7 * W)
    old = zlib.compress(pickle.dumps((STATE_FORMAT - 1, AlertEvaluator(store, CONFIG).engine.state), protocol=5))
    with pytest.raises(StateFormatError):
        AlertEngine.from_state(old, CONFIG)
    store.command("TRUNCATE TABLE llm_alert_state")
    store.insert("llm_alert_state", pa.table({
        "evaluator": ["default"], "last_window_start": pa.array([T0 + 6 * W], pa.timestamp("ms", tz="UTC")),
        "state": pa.array([old], pa.binary()), "state_bytes": pa.array([len(old)], pa.uint64()),
    }))  # fmt: skip
    seen: list[AlertEvent] = []
    evaluator = AlertEvaluator(store, CONFIG, emit=seen.extend, lookback_ms=None)
    assert evaluator.engine.last_window_start_ms is None  # afresh
    evaluator.tick(T0 + N_WINDOWS * W)
    assert summary(sorted_by_window(seen)) == EXPECTED
