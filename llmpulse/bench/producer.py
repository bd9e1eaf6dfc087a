"""What the producer costs the calling app, per call, the way apps call it.

- ``producer_record_us``: ``record()`` of a pre-built wire dict (the floor: a bounded deque append);
- ``producer_event_us``: build an ``LLMCallEvent`` (as the README shows) and ``record()`` it;
- ``producer_track_us``: ``with monitor.track(...) as call:`` around a no-op call, with its usage set;
- broker down: the broker paused, the Monitor on its DEFAULT buffer, and more events than the buffer and
  librdkafka's queue hold, so the drop path runs: the drops are counted and the cost per call is timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from llmpulse.kafka.broker import EmbeddedBroker
from llmpulse.producers import Monitor
from llmpulse.schemas.call import LLMCallEvent

Clock = Callable[[], int]


def _timed(n: int, call: Callable[[int], Any]) -> np.ndarray:
    """Per-call wall time of ``call(i)`` in microseconds, for i in range(n)."""
    out = np.empty(n, dtype=np.float64)
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        call(i)
        out[i] = clock() - t0
    return out / 1000.0


def record_cost_us(monitor: Monitor, events: list[dict[str, Any]], count: int | None = None) -> np.ndarray:
    """``record()`` of pre-built dicts (cycled when ``count`` > len(events))."""
    record, n = monitor.record, len(events)
    return _timed(count or n, lambda i: record(events[i % n]))


def event_cost_us(monitor: Monitor, events: list[dict[str, Any]]) -> np.ndarray:
    """Build ``LLMCallEvent(...)`` from the call's fields, then ``record()`` it."""
    record = monitor.record
    return _timed(len(events), lambda i: record(LLMCallEvent(**events[i])))


def track_cost_us(monitor: Monitor, events: list[dict[str, Any]]) -> np.ndarray:
    """``with monitor.track(...)`` around a no-op call, with the call's usage set as an app would."""

    def one(i: int) -> None:
        e = events[i]
        with monitor.track(e["provider"], e["request_model"], app=e["app"], team=e["team"], user_id=e["user_id"],
                           session_id=e["session_id"], attributes=e["attributes"]) as call:  # fmt: skip
            call.set_usage(input_tokens=e["input_tokens"], output_tokens=e["output_tokens"])

    return _timed(len(events), one)


def _pct(values: np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def measure(events: list[dict[str, Any]], topic: str, *, down_events: int | None = None) -> dict[str, Any]:
    """The four figures against a private broker; ``down_events`` (default: 3x the default buffer) are
    recorded while it is paused."""
    with EmbeddedBroker() as broker:
        monitor = Monitor(broker.bootstrap, topic=topic, buffer_events=len(events) * 3 + 1)
        record_cost_us(monitor, events[:2000])  # warm-up
        up = record_cost_us(monitor, events)
        monitor.flush(120.0)
        built = event_cost_us(monitor, events)
        monitor.flush(120.0)
        tracked = track_cost_us(monitor, events)
        monitor.flush(120.0)
        monitor.close(10.0)
        down_monitor = Monitor(broker.bootstrap, topic=topic)  # the default buffer
        buffer = down_monitor.buffer_events
        count = down_events or 3 * buffer
        down_monitor.flush(10.0)
        broker.pause()
        try:
            down = record_cost_us(down_monitor, events, count)
            stats = down_monitor.stats()
        finally:
            broker.resume()
        down_monitor.close(30.0)
    return {
        "producer_record_us_p50": _pct(up, 50),
        "producer_record_us_p99": _pct(up, 99),
        "producer_event_us_p50": _pct(built, 50),
        "producer_event_us_p99": _pct(built, 99),
        "producer_track_us_p50": _pct(tracked, 50),
        "producer_track_us_p99": _pct(tracked, 99),
        "producer_record_us_p50_broker_down": _pct(down, 50),
        "producer_record_us_p99_broker_down": _pct(down, 99),
        "producer_buffer_events": buffer,
        "producer_sent_while_down": count,
        "producer_dropped_while_down": int(stats["dropped_buffer_full"]),
    }
