"""Warm start on the real engine (chdb): a new evaluator or a new rule learns the stored rollups first."""

from __future__ import annotations

import numpy as np

from llmpulse.alerting.config import AlertConfig, default_config, parse_alert_config
from llmpulse.alerting.evaluator import AlertEvaluator
from llmpulse.clickhouse.store import Store
from llmpulse.schemas.alert import AlertEvent
from tests.alerting.test_series import T0, rollup, write_rollups

W = 60_000
HISTORY = 180  # windows of normal traffic already stored when the evaluator starts
BURST = range(HISTORY + 3, HISTORY + 8)  # an error burst in the first windows after the start
END = HISTORY + 15


def traffic(first: int, last: int, seed: int) -> list[dict[str, object]]:
    """gpt-4o at 30-50 calls a minute, 1.5% errors, ~900 ms; 30% errors during BURST."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(first, last):
        calls = int(rng.integers(30, 50))
        rate = 0.3 if i in BURST else 0.015
        latencies = rng.lognormal(np.log(900), 0.5, calls)
        rows.append(rollup(T0 + i * W, latencies, errors=int(rng.binomial(calls, rate)), cost_usd=0.0004 * calls))
    return rows


def start_and_run(store: Store, config: AlertConfig) -> tuple[AlertEvaluator, list[AlertEvent]]:
    # the worker starts at window HISTORY and alerts on the windows that close from then on
    evaluator = AlertEvaluator(store, config, lookback_ms=W)
    events = []
    for i in range(HISTORY, END):
        events += evaluator.tick(T0 + (i + 1) * W + 10_000)  # window i has closed
    return evaluator, events


def error_alerts(events: list[AlertEvent]) -> list[tuple[int, str, str]]:
    return [
        ((e.window_start_ms - T0) // W, e.status, ",".join(e.dimensions.values()))
        for e in events
        if e.metric == "error_rate"
    ]


def test_a_new_worker_learns_the_stored_history_and_alerts_in_the_first_windows(store: Store) -> None:
    write_rollups(store, traffic(0, END, seed=1))
    evaluator, events = start_and_run(store, default_config())
    fired = [a for a in error_alerts(events) if a[1] == "firing"]
    assert {a[2] for a in fired} == {"gpt-4o", "openai"}  # by model and by provider
    assert all(BURST.start <= a[0] <= BURST.start + 2 for a in fired)
    assert evaluator.engine.state.warmed == {r.name for r in default_config().anomaly.rule}


def test_without_history_the_same_worker_is_still_warming_up(store: Store) -> None:
    write_rollups(store, traffic(HISTORY, END, seed=1))  # the same windows, nothing stored before them
    _, events = start_and_run(store, default_config())
    assert error_alerts(events) == []


def test_history_is_limited_to_history_days(store: Store) -> None:
    write_rollups(store, traffic(0, END, seed=1))
    short = parse_alert_config("[anomaly]\nhistory_days = 0.001\n")  # about a minute and a half: two windows
    _, events = start_and_run(store, short)
    assert error_alerts(events) == []


def test_a_rule_added_later_learns_the_history_too(store: Store) -> None:
    write_rollups(store, traffic(0, END, seed=2))
    latency_only = parse_alert_config(
        '[[anomaly.rule]]\nname = "latency-level"\ndetector = "level"\nmetrics = ["latency_p50_ms"]\n'
    )
    first = AlertEvaluator(store, latency_only, lookback_ms=W)
    first.tick(T0 + HISTORY * W + 10_000)
    assert first.engine.state.warmed == {"latency-level"}
    learned = {k: s.learned for k, s in first.engine.state.detectors.items()}
    # restart with one more rule: the saved state continues, and only the new rule learns the history
    with_errors = parse_alert_config(
        '[[anomaly.rule]]\nname = "latency-level"\ndetector = "level"\nmetrics = ["latency_p50_ms"]\n'
        '[[anomaly.rule]]\nname = "error-rate"\ndetector = "rate"\nmetrics = ["error_rate"]\n'
    )
    second = AlertEvaluator(store, with_errors, lookback_ms=W)
    events = []
    for i in range(HISTORY, END):
        events += second.tick(T0 + (i + 1) * W + 10_000)
    state = second.engine.state
    assert state.warmed == {"latency-level", "error-rate"}
    key = "anomaly:latency-level:latency_p50_ms:model=gpt-4o"
    assert state.detectors[key].learned == learned[key] + (END - HISTORY)  # not the history twice
    assert state.detectors["anomaly:error-rate:error_rate:model=gpt-4o"].learned >= HISTORY - 1
    fired = [a for a in error_alerts(events) if a[1] == "firing"]
    assert fired and all(BURST.start <= a[0] <= BURST.start + 2 for a in fired)
