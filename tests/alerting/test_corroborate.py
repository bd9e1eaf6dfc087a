"""A level rule's ``corroborate`` metric: the default latency rule's new alert needs the model's TTFT up too."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from pydantic import ValidationError

from llmpulse.alerting.config import AlertConfig, AnomalyRule, default_config
from llmpulse.alerting.counts import CountSettings, LevelTest
from llmpulse.alerting.engine import AlertEngine, needs
from llmpulse.alerting.metrics import Dims, SeriesSpec, Values, WindowMetrics
from llmpulse.schemas.alert import AlertEvent

T0 = 1_795_773_600_000
W = 60_000
BY_MODEL = SeriesSpec.of(["model"])
MODEL: Dims = (("model", "gpt-4o"),)


def window(
    i: int, rng: np.random.Generator, *, latency: float = 1.0, ttft: float | None = 1.0, calls: int = 60
) -> WindowMetrics:
    """One minute of one model: latency and TTFT (None: the model does not stream) times the given factors,
    ordinary output tokens per call."""
    wm = WindowMetrics(T0 + i * W, T0 + (i + 1) * W)
    noise = float(rng.normal(0, 0.08))
    values: Values = {
        "requests": float(calls),
        "latency_p50_ms": 1000.0 * latency * float(np.exp(noise)),
        "latency_p95_ms": 2500.0 * latency * float(np.exp(noise + rng.normal(0, 0.05))),
        "output_tokens_per_call": 300.0 * float(np.exp(rng.normal(0, 0.05))),
        "ttft_p50_ms": None if ttft is None else 300.0 * ttft * float(np.exp(rng.normal(0, 0.08))),
        "ttft_calls": 0.0 if ttft is None else float(calls),
    }
    wm.series[BY_MODEL] = {MODEL: values}
    return wm


def latency_only(corroborate: str | None) -> AlertConfig:
    rule = next(r for r in default_config().anomaly.rule if r.name == "latency-level")
    config = default_config()
    anomaly = config.anomaly.model_copy(update={"rule": [rule.model_copy(update={"corroborate": corroborate})]})
    return config.model_copy(update={"anomaly": anomaly})


def feed(engine: AlertEngine, windows: list[WindowMetrics]) -> list[AlertEvent]:
    events: list[AlertEvent] = []
    for wm in windows:
        events += engine.on_window(wm.window_start_ms, wm.window_end_ms, wm)
    return events


def firing(events: list[AlertEvent]) -> list[tuple[int, str]]:
    return [((e.window_start_ms - T0) // W, e.metric) for e in events if e.status == "firing"]


def normal(rng: np.random.Generator, n: int = 60, ttft: float | None = 1.0) -> list[WindowMetrics]:
    return [window(i, rng, ttft=ttft) for i in range(n)]


def test_the_default_latency_rule_is_corroborated_by_ttft() -> None:
    rule = next(r for r in default_config().anomaly.rule if r.name == "latency-level")
    assert rule.corroborate == "ttft_p50_ms" and rule.corroborate_z == 1.5
    # the series is read with the TTFT and the calls that streamed (TTFT's own calls)
    assert {"ttft_p50_ms", "ttft_calls"} <= needs(default_config()).series[BY_MODEL]


def test_slow_minutes_without_a_ttft_rise_do_not_alert() -> None:
    """Minutes of unusually long answers (latency 3x, TTFT as usual) page without the TTFT check, not with it."""
    for corroborate, expected in ((None, True), ("ttft_p50_ms", False)):
        rng = np.random.default_rng(7)
        engine = AlertEngine(latency_only(corroborate), clock=lambda: 0)
        assert firing(feed(engine, normal(rng))) == []
        slow = [window(i, rng, latency=3.0) for i in range(60, 63)]
        assert bool(firing(feed(engine, slow))) is expected


def test_a_spike_with_a_ttft_rise_alerts_in_its_first_minute_and_stays_open() -> None:
    rng = np.random.default_rng(8)
    engine = AlertEngine(latency_only("ttft_p50_ms"), clock=lambda: 0)
    assert firing(feed(engine, normal(rng))) == []
    events = feed(engine, [window(60, rng, latency=3.0, ttft=3.0)])
    assert (60, "latency_p50_ms") in firing(events)
    # an open alert is not held back: TTFT back to normal while latency stays up keeps it open
    later = feed(engine, [window(i, rng, latency=3.0) for i in range(61, 66)])
    assert [e for e in later if e.status == "resolved" and e.metric == "latency_p50_ms"] == []


def test_a_model_without_ttft_is_judged_on_latency_alone() -> None:
    rng = np.random.default_rng(9)
    engine = AlertEngine(latency_only("ttft_p50_ms"), clock=lambda: 0)
    assert firing(feed(engine, normal(rng, ttft=None))) == []
    assert (60, "latency_p50_ms") in firing(feed(engine, [window(60, rng, latency=3.0, ttft=None)]))


def test_the_corroborating_test_survives_a_pickle_and_is_learned_at_warm_start() -> None:
    rng = np.random.default_rng(10)
    history = normal(rng)
    engine = AlertEngine(latency_only("ttft_p50_ms"), clock=lambda: 0)
    engine.learn_history(history, engine.unwarmed_rules())
    restored = AlertEngine.from_state(engine.state_bytes(), engine.config, clock=lambda: 0)
    # warmed on the history alone: the first live minute of long answers is already held back, a spike is not
    slow = window(60, rng, latency=3.0)
    assert firing(feed(restored, [slow])) == []
    spike = AlertEngine.from_state(engine.state_bytes(), engine.config, clock=lambda: 0)
    assert (60, "latency_p50_ms") in firing(feed(spike, [window(60, rng, latency=3.0, ttft=3.0)]))


def test_window_z_reads_without_learning() -> None:
    test = LevelTest(CountSettings(warmup_windows=5, warmup_calls=10), "up", 0.5)
    assert test.window_z(300.0, 60.0) is None  # warming up
    rng = np.random.default_rng(11)
    for i in range(30):
        test.update(T0 + i * W, 300.0 * float(np.exp(rng.normal(0, 0.05))), 60.0)
    before = pickle.dumps(test)
    up, same = test.window_z(600.0, 60.0), test.window_z(300.0, 60.0)
    assert up is not None and same is not None and up > 5.0 and abs(same) < 1.5
    assert pickle.dumps(test) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"detector": "rate", "metrics": ["error_rate"], "corroborate": "ttft_p50_ms"},
        {"detector": "level", "metrics": ["latency_p50_ms"], "corroborate": "requests"},
        {"detector": "level", "metrics": ["latency_p50_ms"], "corroborate": "no_such_metric"},
    ],
)
def test_corroborate_is_a_level_of_a_level_rule(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AnomalyRule(name="r", **fields)  # type: ignore[arg-type]
