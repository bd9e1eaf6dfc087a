"""The contract every detector keeps: pickle round-trip, determinism under a seed, pure score_one."""

from __future__ import annotations

import pickle
from typing import get_args

import pytest

from llmpulse.alerting.detectors import Detection, DetectorConfig, SeriesDetector, make_detector
from llmpulse.alerting.detectors.base import DetectorKind
from tests.alerting.detectors.series import daily, timestamps

KINDS = get_args(DetectorKind)
N = 3 * 1440  # three days, so the seasonal profile is in use in the second half
CONFIG = DetectorConfig(warmup_points=60)


def _stream(n: int = N) -> list[tuple[int, float]]:
    values = daily(n, seed=7)
    values[2000] += 300.0  # something to flag, so the flagged paths are exercised too
    for i in range(3000, 3100):
        values[i] += 80.0
    return list(zip(timestamps(n), values, strict=True))


def _run(detector: SeriesDetector, points: list[tuple[int, float]]) -> list[Detection]:
    return [detector.update(ts, v) for ts, v in points]


@pytest.mark.parametrize("kind", KINDS)
def test_follows_the_protocol(kind: DetectorKind) -> None:
    assert isinstance(make_detector(kind), SeriesDetector)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown detector kind"):
        make_detector("nonsense")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_detections(kind: DetectorKind) -> None:
    points = _stream()
    first = _run(make_detector(kind, CONFIG, seed=3), points)
    second = _run(make_detector(kind, CONFIG, seed=3), points)
    assert first == second
    assert any(d.anomalous for d in first)  # the stream really exercises the alert path


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cut", [10, 500, 2500, 3050])
def test_pickle_round_trip_continues_identically(kind: DetectorKind, cut: int) -> None:
    points = _stream()
    uninterrupted = make_detector(kind, CONFIG, seed=1)
    expected = _run(uninterrupted, points)

    before = make_detector(kind, CONFIG, seed=1)
    head = _run(before, points[:cut])
    restored = pickle.loads(pickle.dumps(before))
    tail = _run(restored, points[cut:])
    assert head + tail == expected


@pytest.mark.parametrize("kind", KINDS)
def test_scores_are_in_unit_interval(kind: DetectorKind) -> None:
    detections = _run(make_detector(kind, CONFIG), _stream())
    assert all(0.0 <= d.score <= 1.0 for d in detections)
    assert all(d.direction in (None, "up", "down") for d in detections)


@pytest.mark.parametrize("kind", KINDS)
def test_score_one_does_not_change_the_detector(kind: DetectorKind) -> None:
    points = _stream()
    detector = make_detector(kind, CONFIG)
    _run(detector, points[:2500])
    state = pickle.dumps(detector)
    probe = detector.score_one(points[2500][0], 10_000.0)
    assert detector.score_one(points[2500][0], 10_000.0) == probe
    assert pickle.dumps(detector) == state


@pytest.mark.parametrize("kind", KINDS)
def test_learn_one_changes_what_is_expected(kind: DetectorKind) -> None:
    detector = make_detector(kind, DetectorConfig(warmup_points=20, seasonality=False))
    points = list(zip(timestamps(400), [10.0 + (i % 3) for i in range(400)], strict=True))
    for ts, v in points[:200]:
        detector.learn_one(ts, v)
    surprised = detector.score_one(points[200][0], 500.0)
    for ts, _ in points[200:400]:
        detector.learn_one(ts, 500.0 + (ts // 60_000) % 3)
    assert detector.score_one(points[399][0] + 60_000, 500.0) < surprised
