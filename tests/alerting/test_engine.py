"""The engine on synthetic windows: spike and drift detectors, thresholds, gating, state round trip."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import numpy as np
import pytest

from llmpulse.alerting.config import AlertConfig, default_config, parse_alert_config
from llmpulse.alerting.engine import AlertEngine, needs
from llmpulse.alerting.metrics import Dims, SeriesSpec, Values, WindowMetrics
from llmpulse.schemas.alert import AlertEvent

T0 = 1_795_773_600_000  # 2026-11-27 10:00 UTC
W = 60_000
BY_MODEL = SeriesSpec.of(["model"])
BY_TEAM = SeriesSpec.of(["team"])
MODELS = {"gpt-4o": 1200.0, "o3": 4000.0}


def traffic(
    i: int,
    rng: np.random.Generator,
    *,
    latency_factor: dict[str, float] | None = None,
    requests: dict[str, int] | None = None,
) -> WindowMetrics:
    """One window of steady, noisy traffic for two models and one team (what the series readers return)."""
    wm = WindowMetrics(T0 + i * W, T0 + (i + 1) * W)
    by_model: dict[Dims, Values] = {}
    for model, base in MODELS.items():
        req = (requests or {}).get(model, int(rng.poisson(100)))
        if req == 0:
            continue
        p95 = base * (1 + rng.normal(0, 0.08)) * (latency_factor or {}).get(model, 1.0)
        out_per_call = rng.normal(300, 30)
        cost = req * 0.002 * (1 + rng.normal(0, 0.05))
        by_model[(("model", model),)] = {
            "requests": float(req),
            "latency_p95_ms": p95,
            "latency_avg_ms": p95 / 2,
            "error_rate": rng.binomial(req, 0.01) / req,
            "cost_usd": cost,
            "cost_per_call_usd": cost / req,
            "output_tokens": out_per_call * req,
            "output_tokens_per_call": out_per_call,
        }
    wm.series[BY_MODEL] = by_model
    wm.series[BY_TEAM] = {
        (("team", "search"),): {"requests": 200.0, "cost_usd": 0.4 * (1 + rng.normal(0, 0.05))}
    }
    return wm


def run(engine: AlertEngine, windows: range, rng: np.random.Generator, **kw: object) -> list[AlertEvent]:
    events = []
    for i in windows:
        wm = traffic(i, rng, **kw)  # type: ignore[arg-type]
        events += engine.on_window(wm.window_start_ms, wm.window_end_ms, wm)
    return events


def idx(event: AlertEvent) -> int:
    return (event.window_start_ms - T0) // W


SPIKE_AND_DRIFT = parse_alert_config(
    """
[anomaly]
resolve_windows = 3
flap_windows = 5
[[anomaly.rule]]
name = "spike-model-up"
metrics = ["latency_p95_ms", "error_rate", "cost_usd"]
direction = "up"
[[anomaly.rule]]
name = "spike-model-volume"
metrics = ["requests", "output_tokens"]
[[anomaly.rule]]
name = "spike-team-cost"
metrics = ["cost_usd"]
group_by = [["team"]]
direction = "up"
[[anomaly.rule]]
name = "drift-model-per-call"
detector = "drift"
metrics = ["latency_avg_ms", "output_tokens_per_call", "cost_per_call_usd"]
"""
)


def anomaly_config() -> AlertConfig:
    """The value-only detectors (spike and drift), as the defaults were before the count-aware rules."""
    return SPIKE_AND_DRIFT


def test_latency_spike_fires_within_two_windows_and_resolves_after_it_ends() -> None:
    rng = np.random.default_rng(1)
    engine = AlertEngine(anomaly_config(), seed=1, clock=lambda: 42)
    assert run(engine, range(300), rng) == []
    spike = run(engine, range(300, 310), rng, latency_factor={"gpt-4o": 3.0})
    after = run(engine, range(310, 340), rng)
    firing = {(e.kind, e.metric): e for e in spike if e.status == "firing"}
    # the spike detector on p95; the drift detector may also see ten tripled windows of mean latency
    assert ("anomaly", "latency_p95_ms") in firing
    assert set(firing) <= {("anomaly", "latency_p95_ms"), ("drift", "latency_avg_ms")}
    assert all(e.dimensions == {"model": "gpt-4o"} for e in firing.values())
    alert = firing[("anomaly", "latency_p95_ms")]
    assert idx(alert) <= 302  # the spike starts at window 300
    assert alert.rule == "spike-model-up" and alert.emitted_at_ms == 42
    assert alert.expected is not None and alert.upper is not None and alert.observed is not None
    assert alert.observed > alert.upper > alert.expected
    assert "gpt-4o" in alert.summary and "latency_p95_ms" in alert.summary
    resolved = {e.dedup_key: e for e in after if e.status == "resolved"}
    assert set(resolved) == {e.dedup_key for e in firing.values()}  # each incident resolves once
    back = resolved[alert.dedup_key]
    policy = engine.config.anomaly
    assert 310 <= idx(back) <= 310 + policy.resolve_windows + policy.flap_windows + 2  # after the spike ends
    assert back.started_at_ms == alert.started_at_ms
    assert back.alert_id == alert.alert_id.replace(":firing:", ":resolved:")
    assert [e for e in after if e.status == "firing"] == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_anomaly_stays_open_while_the_value_stays_out_of_its_band(seed: int) -> None:
    # A young series (short warm-up, as in the demo): the spike detector flags the start of an error
    # burst, then its score fades while the burst lasts. The alert must not resolve mid-burst.
    config = parse_alert_config(
        """
[anomaly]
warmup_windows = 20
[[anomaly.rule]]
name = "errors"
metrics = ["error_rate"]
group_by = [["provider"]]
direction = "up"
"""
    )
    spec = SeriesSpec.of(["provider"])
    rng = np.random.default_rng(seed)
    engine = AlertEngine(config, seed=seed)
    events = []
    for i in range(60):
        calls = int(rng.integers(30, 150))
        rate = 0.5 if 30 <= i < 40 else 0.015  # a ten-window burst
        wm = WindowMetrics(T0 + i * W, T0 + (i + 1) * W)
        errors = rng.binomial(calls, rate)
        wm.series[spec] = {(("provider", "openai"),): {"requests": float(calls), "error_rate": errors / calls}}
        events += engine.on_window(wm.window_start_ms, wm.window_end_ms, wm)
    policy = config.anomaly
    assert [e.status for e in events] == ["firing", "resolved"]
    assert idx(events[0]) == 30
    assert 40 + policy.resolve_windows <= idx(events[1]) <= 40 + policy.resolve_windows + policy.flap_windows


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_anomaly_alert_on_steady_noisy_traffic(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    engine = AlertEngine(anomaly_config(), seed=seed)
    assert run(engine, range(500), rng) == []
    assert len(engine.state.detectors) == 2 * 5 + 1 + 2 * 3  # per model: 5 spike + 3 drift; team cost


def test_traffic_that_stops_is_an_anomaly_too() -> None:
    rng = np.random.default_rng(5)
    engine = AlertEngine(anomaly_config(), seed=5)
    assert run(engine, range(300), rng) == []
    events = run(engine, range(300, 305), rng, requests={"gpt-4o": 0})
    requests_alerts = [e for e in events if e.metric == "requests" and e.status == "firing"]
    assert [e.dimensions for e in requests_alerts] == [{"model": "gpt-4o"}]
    assert requests_alerts[0].observed == 0.0


def test_windows_with_few_calls_are_not_fed_to_detectors() -> None:
    rng = np.random.default_rng(3)
    engine = AlertEngine(anomaly_config(), seed=3)
    run(engine, range(300), rng)
    key = "anomaly:spike-model-up:latency_p95_ms:model=gpt-4o"
    learned = engine.state.detectors[key].learned
    # 5 calls, 20x latency: below min_requests (20), so not judged and not learned
    events = run(engine, range(300, 303), rng, requests={"gpt-4o": 5}, latency_factor={"gpt-4o": 20.0})
    assert [e for e in events if e.metric != "requests"] == []
    assert engine.state.detectors[key].learned == learned


def test_new_series_get_a_detector_lazily_and_warm_up_first() -> None:
    rng = np.random.default_rng(4)
    engine = AlertEngine(anomaly_config(), seed=4)
    run(engine, range(10), rng)
    assert not any("model=o4" in k for k in engine.state.detectors)
    for i in range(10, 40):
        wm = traffic(i, rng)
        wild = 1e6 if i % 2 else 10.0  # nonsense while the new series warms up: no alert
        wm.series[BY_MODEL][(("model", "o4"),)] = {"requests": 50.0, "latency_p95_ms": wild, "cost_usd": wild}
        assert engine.on_window(wm.window_start_ms, wm.window_end_ms, wm) == []
    assert "anomaly:spike-model-up:latency_p95_ms:model=o4" in engine.state.detectors


def test_state_round_trip_continues_identically() -> None:
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    whole = AlertEngine(anomaly_config(), seed=9, clock=lambda: 7)
    first = AlertEngine(anomaly_config(), seed=9, clock=lambda: 7)
    ev_whole = run(whole, range(250), rng_a)
    ev_first = run(first, range(250), rng_b)
    restored = AlertEngine.from_state(first.state_bytes(), anomaly_config(), clock=lambda: 7)
    assert restored.last_window_start_ms == T0 + 249 * W
    factors = {"gpt-4o": 3.0}
    ev_whole += run(whole, range(250, 300), rng_a, latency_factor=factors)
    ev_first += run(restored, range(250, 300), rng_b, latency_factor=factors)
    assert ev_whole and ev_first == ev_whole
    pickle.loads(pickle.dumps(restored))  # the engine itself pickles too (Faust tables)


def test_replayed_windows_are_ignored() -> None:
    rng = np.random.default_rng(2)
    engine = AlertEngine(default_config(), seed=2)
    run(engine, range(5), rng)
    before = engine.state_bytes()
    wm = traffic(3, rng, latency_factor={"gpt-4o": 10.0})
    assert engine.on_window(wm.window_start_ms, wm.window_end_ms, wm) == []
    assert engine.state_bytes() == before


def threshold_window(i: int, error_rate: float, requests: float = 200.0) -> WindowMetrics:
    wm = WindowMetrics(T0 + i * W, T0 + (i + 1) * W)
    wm.series[BY_MODEL] = {(("model", "gpt-4o"),): {"requests": requests, "error_rate": error_rate}}
    return wm


THRESHOLD = parse_alert_config(
    """
[anomaly]
enabled = false
[[threshold]]
name = "errors"
metric = "error_rate"
group_by = ["model"]
value = 0.05
resolve_value = 0.03
for_windows = 2
resolve_windows = 2
flap_windows = 0
min_requests = 50
severity = "critical"
"""
)


def feed(engine: AlertEngine, series: Sequence[tuple[float, float]]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for i, (rate, req) in enumerate(series):
        wm = threshold_window(i, rate, req)
        out += [(i, e.status) for e in engine.on_window(wm.window_start_ms, wm.window_end_ms, wm)]
    return out


def test_threshold_needs_for_windows_min_requests_and_hysteresis() -> None:
    engine = AlertEngine(THRESHOLD)
    series = [
        (0.5, 10),  # 0: 50% of 10 calls: below min_requests, ignored
        (0.10, 200),  # 1: breach
        (0.01, 200),  # 2: clear: not two in a row
        (0.10, 200),  # 3: breach
        (0.08, 200),  # 4: breach -> fires
        (0.04, 200),  # 5: inside the band (0.03..0.05): stays open
        (0.04, 200),  # 6
        (0.02, 200),  # 7: clear
        (0.02, 200),  # 8: clear -> resolves
        (0.02, 200),  # 9
    ]
    assert feed(engine, series) == [(4, "firing"), (8, "resolved")]


def test_threshold_incident_resolves_when_the_series_goes_quiet() -> None:
    engine = AlertEngine(THRESHOLD)
    assert feed(engine, [(0.2, 100), (0.2, 100)]) == [(1, "firing")]
    events = []
    for i in range(2, 6):
        wm = WindowMetrics(T0 + i * W, T0 + (i + 1) * W)  # no rows at all for the model
        events += engine.on_window(wm.window_start_ms, wm.window_end_ms, wm)
    assert [(idx(e), e.status, e.observed) for e in events] == [(3, "resolved", None)]
    assert events[0].severity == "critical" and events[0].threshold == 0.05


def test_a_volume_threshold_sees_windows_without_calls_as_zero() -> None:
    config = parse_alert_config(
        """
[anomaly]
enabled = false
[[threshold]]
name = "traffic-stopped"
metric = "requests"
group_by = ["model"]
op = "<"
value = 1
for_windows = 3
resolve_windows = 1
flap_windows = 0
"""
    )
    engine = AlertEngine(config)
    events = []
    for i in range(8):
        wm = WindowMetrics(T0 + i * W, T0 + (i + 1) * W)
        if i < 2 or i == 7:  # calls, then none for 5 windows, then calls again
            wm.series[BY_MODEL] = {(("model", "gpt-4o"),): {"requests": 30.0}}
        events += engine.on_window(wm.window_start_ms, wm.window_end_ms, wm)
    assert [(idx(e), e.status, e.observed, e.dimensions) for e in events] == [
        (4, "firing", 0.0, {"model": "gpt-4o"}),
        (7, "resolved", 30.0, {"model": "gpt-4o"}),
    ]


def test_removed_rule_resolves_its_open_incident_after_restart() -> None:
    engine = AlertEngine(THRESHOLD)
    feed(engine, [(0.2, 100), (0.2, 100)])
    restored = AlertEngine.from_state(engine.state_bytes(), AlertConfig(anomaly=THRESHOLD.anomaly))
    wm = threshold_window(2, 0.2)
    events = restored.on_window(wm.window_start_ms, wm.window_end_ms, wm)
    assert [(e.rule, e.status) for e in events] == [("errors", "resolved")]


def test_needs_lists_each_spec_with_its_metrics() -> None:
    got = needs(anomaly_config())
    assert got.series[BY_MODEL] >= {"error_rate", "latency_p95_ms", "requests", "cost_per_call_usd"}
    assert got.series[BY_TEAM] == frozenset({"cost_usd"})
    assert got.spend == ()
    defaults = needs(default_config())
    # latency is judged given the output tokens per call (a minute of long generations is slow for a reason)
    # a rate is read with its trials (errors of calls, thumbs down of thumbs given); a new latency alert is
    # corroborated by the TTFT, read with the calls that streamed
    assert defaults.series[BY_MODEL] == {"error_rate", "requests", "latency_p50_ms", "latency_p95_ms",
                                         "output_tokens_per_call", "thumbs_down_share", "thumbs",
                                         "ttft_p50_ms", "ttft_calls"}  # fmt: skip
    assert defaults.series[SeriesSpec.of(["provider"])] == {"error_rate", "requests"}
    assert defaults.series[SeriesSpec.of(["app"])] == {
        "refusal_rate", "quality_sampled", "thumbs_down_share", "thumbs", "toxic_rate", "models_sampled",
        "response_pii_rate", "quality_calls",
    }  # fmt: skip
    assert defaults.series[BY_TEAM] == {"cost_usd"}
    assert defaults.series[SeriesSpec.of()] == {"requests"}  # team spend is judged against all traffic
