"""Context novelty (after NAB's contextOSE), and the bounded state of the detectors."""

from __future__ import annotations

import pickle
import random
from typing import get_args

import pytest

from llmpulse.alerting.detectors import DetectorConfig, make_detector
from llmpulse.alerting.detectors.base import DetectorKind
from llmpulse.alerting.detectors.novelty import ContextNovelty
from tests.alerting.detectors.series import noisy, timestamps


def _learned(values: list[float], **kw: int) -> ContextNovelty:
    novelty = ContextNovelty(**kw)
    for v in values:
        novelty.learn_one(v)
    return novelty


def test_levels_cover_the_range_seen_and_only_clear_excursions_leave_it() -> None:
    novelty = _learned([0.0, 80.0], levels=8)
    assert [novelty.level(v) for v in (0.0, 9.9, 10.0, 79.9, 80.0)] == [0, 0, 1, 7, 7]
    assert novelty.level(85.0) == 7  # less than a level's width past the edge: a new record, not news
    assert novelty.level(95.0) == 8 and novelty.level(-15.0) == -1
    assert novelty.score(95.0) == 1.0 and novelty.score(-15.0) == 1.0


def test_a_familiar_move_is_not_novel_a_new_one_is() -> None:
    saw = [10.0, 20.0, 30.0, 40.0, 50.0] * 20  # a sawtooth: always up, then a drop
    novelty = _learned(saw, levels=4, order=2)
    assert novelty.score(10.0) == 0.0  # the drop after 50 is part of the pattern
    novelty.learn_one(10.0)
    assert novelty.score(20.0) == 0.0
    assert novelty.score(40.0) == 1.0  # 10 -> 40 never happened
    half = _learned([*saw, 10.0, 20.0, 10.0], levels=4, order=2)
    # 20 -> 10 -> 20: the one-step move 10 -> 20 is familiar, the two-step context is new
    assert half.score(20.0) == 0.5


def test_memory_is_bounded_and_forgets_the_least_recent() -> None:
    rng = random.Random(1)
    novelty = _learned([rng.uniform(0, 100) for _ in range(20_000)], levels=16, order=3, memory=500)
    assert novelty.size == 500
    with pytest.raises(ValueError):
        ContextNovelty(levels=0)


def test_novelty_flags_a_new_move_outside_the_band_but_not_noise() -> None:
    values = noisy(3000, seed=21)
    config = DetectorConfig()
    detector = make_detector("spike", config)
    flagged = [
        i for i, (ts, v) in enumerate(zip(timestamps(3000), values, strict=True)) if detector.update(ts, v).anomalous
    ]
    assert flagged == []
    values[2000] = 160.0  # +12 sigma and beyond the range seen: novel, flagged on its own
    detector = make_detector("spike", config)
    detections = [detector.update(ts, v) for ts, v in zip(timestamps(3000), values, strict=True)]
    assert [i for i, d in enumerate(detections) if d.anomalous] == [2000]
    without = make_detector("spike", DetectorConfig(novelty_levels=0))
    assert without.score_one(timestamps(1)[0], 0.0) == 0.0


@pytest.mark.parametrize("kind", get_args(DetectorKind))
def test_state_stays_bounded_however_long_the_series(kind: DetectorKind) -> None:
    """O(1) memory per series: the pickled state after 40,000 points is no bigger than after 15,000."""
    rng = random.Random(5)
    detector = make_detector(kind, DetectorConfig(warmup_points=60))
    sizes = []
    for i, ts in enumerate(timestamps(40_000)):
        value = 100.0 + rng.gauss(0.0, 5.0) + (80.0 if i % 997 == 0 else 0.0)
        detector.update(ts, value)
        if i + 1 in (15_000, 40_000):
            sizes.append(len(pickle.dumps(detector)))
    assert sizes[1] <= sizes[0] * 1.05, sizes


def test_a_state_saved_before_novelty_existed_still_loads_and_runs() -> None:
    """Detectors live in the engine's saved state: one pickled by the previous version must keep working."""
    points = list(zip(timestamps(600), noisy(600, seed=8), strict=True))
    detector = make_detector("spike")
    for ts, v in points[:300]:
        detector.update(ts, v)
    old = detector.__dict__
    del old["_novelty"]  # the previous version had no novelty memory...
    config = DetectorConfig()
    for name in ("novelty_levels", "novelty_order", "rest_points"):
        del config.__dict__[name]  # ...and a config without the new settings
    old["config"] = config
    restored = pickle.loads(pickle.dumps(detector))
    assert restored.config.rest_points == DetectorConfig().rest_points
    decisions = [restored.update(ts, v) for ts, v in points[300:]]
    assert len(decisions) == 300 and not any(d.anomalous for d in decisions)
