"""The spike detector: warm-up, spikes and dips, quiet on normal series, does not learn what it flags."""

from __future__ import annotations

import pytest

from llmpulse.alerting.detectors import Detection, DetectorConfig, make_detector
from llmpulse.alerting.detectors.spike import SpikeDetector
from tests.alerting.detectors.series import DAY_MINUTES, daily, flat, noisy, timestamps


def _run(values: list[float], config: DetectorConfig | None = None) -> list[Detection]:
    detector = make_detector("spike", config)
    return [detector.update(ts, v) for ts, v in zip(timestamps(len(values)), values, strict=True)]


def _alerts(detections: list[Detection]) -> list[int]:
    return [i for i, d in enumerate(detections) if d.anomalous]


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("flat", flat(3000)),
        ("noisy", noisy(6000, seed=1)),
        ("noisy, other seed", noisy(6000, seed=2)),
        ("daily cycle", daily(5 * DAY_MINUTES, seed=3)),
    ],
)
def test_normal_series_raise_no_alert(name: str, values: list[float]) -> None:
    assert _alerts(_run(values)) == [], name


def test_a_daily_step_is_news_once_then_expected() -> None:
    values = [100.0 if (i // 720) % 2 else 20.0 for i in range(6 * DAY_MINUTES)]
    values = [v + n - 100.0 for v, n in zip(values, noisy(len(values), sigma=2.0, seed=12), strict=True)]
    alerts = _alerts(_run(values))
    assert alerts and alerts[0] >= 720  # the first step up has never been seen
    assert [i for i in alerts if i >= 2 * DAY_MINUTES] == []  # after a day of history it is expected


def test_false_alarm_rate_on_pure_noise() -> None:
    """The likelihood's nominal tail is 1e-5 per point; on Gaussian noise fewer than 1 alert per 10,000."""
    points = 0
    alerts = 0
    for seed in range(4):
        values = noisy(20_000, seed=100 + seed)
        alerts += len(_alerts(_run(values)))
        points += len(values)
    assert alerts / points < 1e-4


def test_a_spike_is_flagged_with_its_direction_and_band() -> None:
    values = noisy(1500, seed=4)
    values[1000] = 200.0  # +20 sigma
    detections = _run(values)
    assert _alerts(detections) == [1000]
    hit = detections[1000]
    assert hit.direction == "up"
    assert hit.score >= DetectorConfig().alert_threshold
    assert hit.expected is not None and abs(hit.expected - 100.0) < 5.0
    assert hit.upper is not None and hit.upper < 200.0
    assert not hit.warming_up


def test_a_dip_is_flagged_down_and_ignored_when_only_rises_page() -> None:
    values = noisy(1500, seed=5)
    values[1000] = 0.0
    assert [(i, _run(values)[i].direction) for i in _alerts(_run(values))] == [(1000, "down")]
    assert _alerts(_run(values, DetectorConfig(direction="up"))) == []
    assert _alerts(_run(values, DetectorConfig(direction="down"))) == [1000]


def test_no_alert_during_warm_up() -> None:
    values = noisy(400, seed=6)
    for i in (30, 60, 90):
        values[i] = 10_000.0
    detections = _run(values, DetectorConfig(warmup_points=120))
    assert all(d.warming_up for d in detections[:120])
    assert not any(d.anomalous for d in detections[:120])
    assert not detections[200].warming_up


def test_a_long_anomaly_alerts_once_and_does_not_drag_the_baseline() -> None:
    values = noisy(2000, seed=7)
    for i in range(1000, 1040):  # 40 points at +10 sigma (max_flagged_run is 60)
        values[i] += 50.0
    detector = SpikeDetector(DetectorConfig())
    detections = [detector.update(ts, v) for ts, v in zip(timestamps(2000), values, strict=True)]
    assert _alerts(detections) == [1000]
    during = detections[1039]
    assert during.expected is not None and abs(during.expected - 100.0) < 3.0  # still the old normal
    after = detections[1041:1200]
    assert all(d.expected is not None and abs(d.expected - 100.0) < 3.0 for d in after)
    assert not any(d.anomalous for d in after)


def test_a_lasting_level_shift_becomes_the_new_normal() -> None:
    values = noisy(3000, seed=8)
    for i in range(1500, 3000):
        values[i] += 60.0
    detections = _run(values)
    alerts = _alerts(detections)
    assert 1500 in alerts
    assert [i for i in alerts if i > 1500] == []  # one incident, then the new level is normal
    assert detections[-1].expected is not None and abs(detections[-1].expected - 160.0) < 5.0


def test_score_rests_after_a_flag_and_the_alert_is_its_peak() -> None:
    """0 in warm-up; a score at the threshold is an alert; after a watched flag the score rests (stays
    below the threshold) for ``rest_points``, so an episode is one peak; with cooldown 0 (the live engine)
    the alert decision itself is not held back."""
    values = noisy(4000, seed=9)
    for start in (1000, 1010, 2000):
        values[start] = 300.0
    for i in range(3000, 3030):
        values[i] = 20.0
    values[50] = 10_000.0  # during warm-up
    config = DetectorConfig()
    detections = _run(values, config)
    assert detections[50].warming_up and detections[50].score == 0.0
    threshold = config.alert_threshold
    for d in detections:
        if d.score >= threshold:
            assert d.anomalous
    alerts = _alerts(detections)
    assert 1000 in alerts and 1010 not in alerts and 2000 in alerts
    assert any(3000 <= i < 3005 for i in alerts)
    for i in alerts:
        assert all(d.score < threshold for d in detections[i + 1 : i + config.rest_points])
    live = _run(values, DetectorConfig(cooldown_points=0))
    dip = [i for i in range(3000, 3030) if live[i].anomalous]
    assert len(dip) >= 2  # every flagged point of the dip is a live decision...
    assert [i for i in dip if live[i].score >= threshold] == dip[:1]  # ...the score peaks once


def test_rest_zero_scores_every_flagged_point() -> None:
    values = noisy(2000, seed=10)
    for i in range(1000, 1020):
        values[i] += 60.0
    detections = _run(values, DetectorConfig(cooldown_points=0, rest_points=0))
    flagged = [i for i, d in enumerate(detections) if d.score >= DetectorConfig().alert_threshold]
    assert flagged == _alerts(detections) and flagged[0] == 1000 and len(flagged) >= 15


def test_cooldown_zero_reports_every_flagged_point() -> None:
    values = noisy(2000, seed=10)
    for i in range(1000, 1020):
        values[i] += 60.0
    flagged = _alerts(_run(values, DetectorConfig(cooldown_points=0)))
    assert flagged[0] == 1000 and len(flagged) >= 15
    assert _alerts(_run(values)) == [1000]


def test_seasonality_learns_a_daily_pattern_and_flags_a_missing_peak() -> None:
    days = 6
    values = [100.0 if 600 <= i % DAY_MINUTES < 900 else 20.0 for i in range(days * DAY_MINUTES)]
    values = [v + n - 100.0 for v, n in zip(values, noisy(len(values), sigma=1.0, seed=11), strict=True)]
    missing = 5 * DAY_MINUTES + 600
    for i in range(missing, missing + 300):
        values[i] -= 80.0  # the daily peak does not come on day 6
    detections = _run(values)
    alerts = _alerts(detections)
    assert [i for i in alerts if 2 * DAY_MINUTES <= i < 5 * DAY_MINUTES] == []  # the peak is expected
    late = [i for i in alerts if i >= 5 * DAY_MINUTES]
    assert late and missing <= late[0] < missing + 30
    assert detections[late[0]].direction == "down"
    without = _alerts(_run(values, DetectorConfig(seasonality=False)))
    assert [i for i in without if missing <= i < missing + 300] == []  # a local baseline cannot tell


def test_config_rejects_unknown_keys_and_bad_seasons() -> None:
    with pytest.raises(ValueError):
        DetectorConfig(nonsense=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="multiple"):
        DetectorConfig(season_period_minutes=1440, season_bucket_minutes=7)
