"""Run a detector over a recorded series exactly as the live system would, point by point."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

from llmpulse.alerting.detectors.base import Detection, SeriesDetector

NOT_SCORED = Detection(
    score=0.0, anomalous=False, expected=None, lower=None, upper=None, warming_up=True, direction=None
)


def replay(
    detector: SeriesDetector,
    points: Iterable[tuple[int, float]],
    on_point: Callable[[int], None] | None = None,
) -> Iterator[Detection]:
    """``detector.update`` for each ``(ts_ms, value)``; a non-finite value is not scored (``NOT_SCORED``)."""
    for i, (ts_ms, value) in enumerate(points):
        if math.isfinite(value):
            yield detector.update(ts_ms, value)
        else:
            yield NOT_SCORED
        if on_point is not None:
            on_point(i + 1)
