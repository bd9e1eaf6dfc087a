"""The count-aware tests (error rate as a binomial count, levels with a k / calls variance) and their rules."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import stats

from llmpulse.alerting.config import AlertConfigError, default_config, parse_alert_config
from llmpulse.alerting.counts import (
    NORMAL_TAIL_CALLS,
    TAIL_CALLS,
    CountSettings,
    LevelTest,
    RateTest,
    binomial_upper_tail,
)
from llmpulse.alerting.engine import AlertEngine
from llmpulse.alerting.metrics import METRICS, SeriesSpec, WindowMetrics

T0 = 1_795_773_600_000
W = 60_000


@pytest.mark.parametrize(("x", "n", "p"), [(1, 10, 0.01), (4, 40, 0.015), (10, 40, 0.015), (30, 1000, 0.02)])
def test_binomial_tail_is_exact_for_whole_counts(x: int, n: int, p: float) -> None:
    assert binomial_upper_tail(x, n, p) == pytest.approx(stats.binom.sf(x - 1, n, p), rel=1e-9)


def learned_rate_test(rng: np.random.Generator, calls: int = 40, p: float = 0.015, windows: int = 60) -> RateTest:
    test = RateTest()
    for i in range(windows):
        n = int(rng.poisson(calls)) or 1
        test.learn_one(T0 + i * W, rng.binomial(n, p) / n, n)
    return test


def test_rate_test_pages_on_ten_errors_in_forty_calls_not_on_one_in_twelve() -> None:
    test = learned_rate_test(np.random.default_rng(1))
    assert not test.warming_up and test.rate() == pytest.approx(0.015, abs=0.006)
    ts = T0 + 60 * W
    assert test.update(ts, 1 / 12, 12).anomalous is False  # 8% of 12 calls is one error: chance
    burst = test.update(ts + W, 10 / 40, 40)
    assert burst.anomalous and burst.direction == "up"
    assert burst.expected is not None and burst.upper is not None and burst.expected < burst.upper < 0.25


def test_rate_test_pools_two_windows_when_one_is_not_enough() -> None:
    test = learned_rate_test(np.random.default_rng(2))
    ts = T0 + 60 * W
    first = test.update(ts, 3 / 15, 15)  # 3 errors of 15 calls: suggestive, not enough alone
    second = test.update(ts + W, 5 / 15, 15)  # 8 of 30 over the two windows: enough
    assert not first.anomalous and second.anomalous
    alone = learned_rate_test(np.random.default_rng(2))
    assert not alone.update(ts + W, 5 / 15, 15).anomalous  # the same window without the one before


def test_rate_test_learns_its_own_error_rate_and_its_spread() -> None:
    # a provider that always runs at 8% errors with bursty (over-dispersed) windows does not page at 12%
    rng = np.random.default_rng(3)
    test = RateTest()
    for i in range(200):
        n = 60
        p = float(np.clip(rng.normal(0.08, 0.04), 0, 1))
        test.learn_one(T0 + i * W, rng.binomial(n, p) / n, n)
    assert test.overdispersion() > 1.5
    assert not test.update(T0 + 200 * W, 8 / 60, 60).anomalous
    assert test.update(T0 + 201 * W, 40 / 60, 60).anomalous


def test_level_test_weighs_windows_by_their_calls() -> None:
    rng = np.random.default_rng(4)
    test = LevelTest()
    for i in range(100):
        n = int(rng.integers(10, 200))
        test.learn_one(T0 + i * W, 800.0 * float(np.exp(rng.normal(0, 1.0 / np.sqrt(n)))), n)
    # 1.8x the level: chance in a window of 10 calls, an incident in a window of 200
    assert not test.update(T0 + 100 * W, 1440.0, 10).anomalous
    fresh = pickle.loads(pickle.dumps(test))
    assert fresh.update(T0 + 102 * W, 1440.0, 200).anomalous
    # below min_ratio (1.5x) nothing pages, however many calls
    assert not test.update(T0 + 104 * W, 1100.0, 100_000).anomalous


def test_warm_up_needs_windows_and_calls() -> None:
    test = RateTest(CountSettings(warmup_windows=5, warmup_calls=300))
    for i in range(10):
        test.learn_one(T0 + i * W, 0.0, 20)  # 10 windows, 200 calls
    assert test.warming_up
    assert not test.update(T0 + 10 * W, 0.9, 20).anomalous


def test_percentiles_need_calls_beyond_them() -> None:
    assert METRICS["latency_p50_ms"].min_calls(5) == 10
    assert METRICS["latency_p95_ms"].min_calls(5) == 100
    assert METRICS["error_rate"].min_calls(5) == 1
    assert METRICS["latency_p95_ms"].min_calls(TAIL_CALLS) == 20 * TAIL_CALLS


BUSY = 20.0 * NORMAL_TAIL_CALLS + 40.0  # calls in a window whose p95 is judged (by the normal approximation)


def _window(i: int, p95: float, calls: float) -> WindowMetrics:
    wm = WindowMetrics(T0 + i * W, T0 + (i + 1) * W)
    wm.series[SeriesSpec.of(["model"])] = {(("model", "m"),): {"requests": calls, "latency_p95_ms": p95}}
    return wm


def test_a_p95_of_few_calls_is_not_judged_by_the_default_rules() -> None:
    engine = AlertEngine(default_config())
    rng = np.random.default_rng(5)
    for i in range(40):
        wm = _window(i, 2000.0 * float(np.exp(rng.normal(0, 0.05))), BUSY)
        assert engine.on_window(wm.window_start_ms, wm.window_end_ms, wm) == []
    few = _window(40, 60_000.0, 20.0 * TAIL_CALLS - 1)  # a few timeouts among them are their p95
    assert engine.on_window(few.window_start_ms, few.window_end_ms, few) == []
    many = _window(41, 60_000.0, BUSY)
    events = engine.on_window(many.window_start_ms, many.window_end_ms, many)
    assert [(e.kind, e.metric, e.status) for e in events] == [("anomaly", "latency_p95_ms", "firing")]
    assert events[0].expected == pytest.approx(2000.0, rel=0.05) and "expected about" in events[0].summary


def test_rules_check_their_detector_and_metrics() -> None:
    with pytest.raises(AlertConfigError, match="'rate' tests a count out of its trials"):
        parse_alert_config('[[anomaly.rule]]\nname = "x"\ndetector = "rate"\nmetrics = ["latency_p50_ms"]\n')
    with pytest.raises(AlertConfigError, match="min_ratio applies"):
        parse_alert_config('[[anomaly.rule]]\nname = "x"\nmetrics = ["cost_usd"]\nmin_ratio = 2.0\n')


def learned_median_test(rng: np.random.Generator, calls: tuple[int, int], windows: int = 120) -> LevelTest:
    """A p50 series of a model with few calls a minute: calls' latencies log-normal (sigma 0.6) around 2 s."""
    test = LevelTest(quantile=0.5)
    for i in range(windows):
        n = int(rng.integers(*calls))
        test.learn_one(T0 + i * W, float(np.median(2000.0 * np.exp(rng.normal(0, 0.6, n)))), n)
    return test


def test_a_median_of_few_calls_is_judged_by_an_exact_count() -> None:
    rng = np.random.default_rng(6)
    test = learned_median_test(rng, (5, 12))
    assert not test.warming_up
    # hours of ordinary minutes of 5 to 11 calls: none flagged
    flagged = 0
    for i in range(120, 1320):
        n = int(rng.integers(5, 12))
        flagged += test.update(T0 + i * W, float(np.median(2000.0 * np.exp(rng.normal(0, 0.6, n)))), n).anomalous
    assert flagged == 0
    # four times slower, 6 calls a minute: one minute alone is not enough, the second one is
    slow = [test.update(T0 + (1320 + i) * W, 8000.0 * float(np.exp(rng.normal(0, 0.1))), 6) for i in range(2)]
    assert [d.anomalous for d in slow] == [False, True]
    assert slow[1].upper is not None and slow[1].upper < 8000.0
    # the normal approximation takes over from NORMAL_TAIL_CALLS calls beyond the median
    assert test._few(2 * NORMAL_TAIL_CALLS - 1) and not test._few(2 * NORMAL_TAIL_CALLS)


def test_a_lone_minute_of_few_calls_alerts_only_far_beyond_the_level() -> None:
    """A model called in bursts every few minutes: the first slow minute has no minute before it to pool with."""
    after_gap = T0 + 130 * W  # ten minutes after the last learned minute
    slower = learned_median_test(np.random.default_rng(7), (5, 12))
    assert not slower.update(after_gap, 8000.0, 6).anomalous  # 6 calls four times slower: not enough alone
    much_slower = learned_median_test(np.random.default_rng(7), (5, 12))
    detection = much_slower.update(after_gap, 10_000.0, 14)  # 14 calls five times slower: far beyond, alone
    assert detection.anomalous and detection.direction == "up"


def _busy_level_test(rng: np.random.Generator, windows: int, k: float = 1.0) -> LevelTest:
    """A level learned from ``windows`` minutes of 30 calls whose log value has per-call variance ``k``."""
    test = LevelTest(CountSettings(warmup_windows=5, warmup_calls=50))
    for i in range(windows):
        test.learn_one(T0 + i * W, 800.0 * float(np.exp(rng.normal(0, np.sqrt(k / 30)))), 30)
    return test


def test_a_z_from_a_k_of_few_windows_counts_less_than_from_many() -> None:
    """The same deviation is judged as a Student t on the windows k was learned from: right after warm-up a k
    that came out low by chance does not page on an ordinary minute; after hours of windows the z is plain."""
    few, many = _busy_level_test(np.random.default_rng(8), 8), _busy_level_test(np.random.default_rng(8), 2000)
    for test in (few, many):
        test.per_call_var, test.level = 1.0, float(np.log(800.0))  # same k and level: only their support differs
    ts, residual = T0 + 3000 * W, 5.0 * np.sqrt(1.0 / 30)  # a window 5 sd above the level (about 2.5x)
    z_few, z_many = few._z(ts, residual, 30), many._z(ts, residual, 30)
    assert z_many == pytest.approx(5.0, abs=0.05)
    assert 2.5 < z_few < 4.0  # a t of 5 on 7 degrees of freedom: p ~ 8e-4


def test_one_odd_window_moves_k_by_a_bounded_step() -> None:
    """k is a clipped mean: a minute 10 sd out (not flagged: in warm-up) raises k by at most a few percent
    instead of doubling it, and on normal residuals the clipped mean still estimates k."""
    rng = np.random.default_rng(9)
    test = _busy_level_test(rng, 300)
    assert test.per_call_var == pytest.approx(1.0, rel=0.25)  # the rescaled clipped mean estimates k
    before = test.per_call_var
    test.learn_one(T0 + 300 * W, 800.0 * float(np.exp(10.0 * np.sqrt(before / 30))), 30)
    assert test.per_call_var < before * 1.05  # unclipped: + (100 - 1) k / 240, about 1.4x


def test_the_first_minute_beyond_the_band_is_not_learned() -> None:
    """The unflagged first minute of an incident (beyond the band, below the alert's z) does not raise the
    level or k that judge the minutes after it."""
    test = _busy_level_test(np.random.default_rng(10), 300)
    level, k = test.level, test.per_call_var
    detection = test.update(T0 + 300 * W, 800.0 * float(np.exp(4.0 * np.sqrt(k / 30))), 30)  # 4 sd: beyond 3
    assert not detection.anomalous and detection.upper is not None
    assert (test.level, test.per_call_var) == (level, k)
    test.update(T0 + 301 * W, 800.0 * float(np.exp(1.0 * np.sqrt(k / 30))), 30)  # an ordinary minute is learned
    assert test.level != level
