"""The drift detector: level shifts and slow ramps, with direction; quiet on stationary noise."""

from __future__ import annotations

from llmpulse.alerting.detectors import Detection, DetectorConfig, make_detector
from tests.alerting.detectors.series import noisy, timestamps


def _run(values: list[float], config: DetectorConfig | None = None) -> list[Detection]:
    detector = make_detector("drift", config)
    return [detector.update(ts, v) for ts, v in zip(timestamps(len(values)), values, strict=True)]


def _alerts(detections: list[Detection]) -> list[tuple[int, str | None]]:
    return [(i, d.direction) for i, d in enumerate(detections) if d.anomalous]


def test_a_level_shift_is_one_alert_soon_after_it() -> None:
    for seed in range(3):
        values = noisy(6000, level=10.0, sigma=1.0, seed=seed)
        for i in range(3000, 6000):
            values[i] += 2.0  # +2 sigma, for good
        alerts = _alerts(_run(values))
        assert len(alerts) == 1, alerts
        at, direction = alerts[0]
        assert 3000 <= at < 3100 and direction == "up"


def test_a_fall_is_down_and_direction_filters_it() -> None:
    values = noisy(4000, level=10.0, sigma=1.0, seed=5)
    for i in range(2000, 4000):
        values[i] -= 3.0
    alerts = _alerts(_run(values))
    assert [d for _, d in alerts] == ["down"]
    assert _alerts(_run(values, DetectorConfig(direction="up"))) == []
    assert len(_alerts(_run(values, DetectorConfig(direction="down")))) == 1


def test_a_slow_ramp_is_caught_before_it_is_large() -> None:
    values = noisy(6000, level=100.0, sigma=5.0, seed=6)
    values = [v + max(0.0, (i - 2000) * 0.01) for i, v in enumerate(values)]  # +1 sigma per 500 points
    alerts = _alerts(_run(values))
    assert alerts and 2000 < alerts[0][0] < 3000 and alerts[0][1] == "up"


def test_stationary_noise_raises_nothing() -> None:
    for seed in range(3):
        assert _alerts(_run(noisy(30_000, seed=20 + seed))) == []


def test_warm_up_and_relearning_after_a_drift() -> None:
    values = noisy(3000, level=10.0, sigma=1.0, seed=7)
    for i in range(1500, 3000):
        values[i] += 5.0
    config = DetectorConfig(warmup_points=200, window_points=60)
    detections = _run(values, config)
    assert all(d.warming_up and not d.anomalous for d in detections[:200])
    assert not detections[200].warming_up
    at = next(i for i, d in enumerate(detections) if d.anomalous)
    assert detections[at].score == 1.0
    assert all(d.warming_up for d in detections[at + 1 : at + 61])  # re-learning the new level
    assert not detections[at + 61].warming_up
    assert detections[-1].expected is not None and abs(detections[-1].expected - 15.0) < 0.5
