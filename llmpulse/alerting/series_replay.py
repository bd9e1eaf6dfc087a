"""Replay one recorded series through the live alert engine, one point per window.

This is the path behind ``llmpulse detect`` and the NAB benchmark's ``alert`` column: the series becomes
the metric of one anomaly rule, each point is one closed window handed to ``AlertEngine.on_window``, and
an alert is emitted exactly where the engine emits a "firing" transition (same detector, warm-up,
direction, outside-band gate, ``min_requests`` gate and lifecycle as the live system).

- The ``[anomaly]`` settings come from an ``AlertConfig`` (the live file format; the defaults when none):
  warm-up, ``min_requests``, ``outside_band``, lifecycle windows and the ``detector`` tuning table.
- The rule watches ``metric`` over all traffic (no grouping) in ``direction`` with ``kind``'s detector.
- Call counts: a point may carry its window's number of calls (the ``min_requests`` gate reads it);
  without one, the window counts as having enough calls.
- A point whose timestamp is not after the previous one is ignored by the engine, as a late window is
  live. A non-finite value is not fed to the detector (the engine's rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from llmpulse.alerting.config import AlertConfig, AnomalyConfig, AnomalyRule
from llmpulse.alerting.engine import AlertEngine
from llmpulse.alerting.lifecycle import dedup_key
from llmpulse.alerting.metrics import WINDOW_MS, Dims, WindowMetrics

RULE_NAME = "series"
DEFAULT_METRIC = "latency_p95_ms"
_DIMS: Dims = ()


@dataclass(frozen=True)
class PointOutcome:
    score: float  # the detector's score for the point (0 when the point was not fed to it)
    alert: bool  # the engine emitted "firing" for this point
    resolved: bool  # the engine emitted "resolved" for this point
    fed: bool  # the detector saw the point


def series_config(
    anomaly: AnomalyConfig | None = None,
    *,
    kind: Literal["spike", "drift"] = "spike",
    metric: str = DEFAULT_METRIC,
    direction: Literal["up", "down", "both"] = "both",
) -> AlertConfig:
    """An alert configuration with ``anomaly``'s settings and a single rule watching ``metric``."""
    base = anomaly if anomaly is not None else AnomalyConfig()
    rule = AnomalyRule(name=RULE_NAME, detector=kind, metrics=[metric], group_by=[[]], direction=direction)
    return AlertConfig(anomaly=base.model_copy(update={"rule": [rule]}))


def replay_series(
    config: AlertConfig,
    points: Iterable[tuple[int, float, float | None]],
    seed: int = 0,
) -> Iterator[PointOutcome]:
    """Feed ``(ts_ms, value, calls or None)`` points to a fresh engine running ``config``'s single rule."""
    (rule,) = config.anomaly.rule
    (metric,) = rule.metrics
    (spec,) = rule.specs()
    key = dedup_key("anomaly" if rule.detector == "spike" else "drift", rule.name, metric, _DIMS)
    enough = float(max(config.anomaly.min_requests if rule.min_requests is None else rule.min_requests, 1))
    now = [0]
    engine = AlertEngine(config, seed=seed, clock=lambda: now[0])
    previous: tuple[int, int] | None = None  # (ts, step) of the last point, for the window's end
    for ts_ms, value, calls in points:
        step = previous[1] if previous is not None else WINDOW_MS
        if previous is not None and ts_ms > previous[0]:
            step = ts_ms - previous[0]
        window_end = ts_ms + step
        now[0] = window_end
        values: dict[str, float | None] = {"requests": enough if calls is None else calls, metric: value}
        metrics = WindowMetrics(ts_ms, window_end, {spec: {_DIMS: values}})
        slot_before = engine.state.detectors.get(key)
        learned_before = slot_before.learned if slot_before is not None else 0
        events = engine.on_window(ts_ms, window_end, metrics)
        slot = engine.state.detectors.get(key)
        fed = slot is not None and slot.learned > learned_before
        score = slot.last.score if fed and slot is not None and slot.last is not None else 0.0
        mine = [e for e in events if e.dedup_key == key]
        yield PointOutcome(
            score=score,
            alert=any(e.status == "firing" for e in mine),
            resolved=any(e.status == "resolved" for e in mine),
            fed=fed,
        )
        if previous is None or ts_ms > previous[0]:
            previous = (ts_ms, step)
