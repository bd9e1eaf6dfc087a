"""The cost of ``Monitor.record()`` to the calling app, with the broker up and with it stopped."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from llmpulse.kafka.broker import EmbeddedBroker
from llmpulse.producers import Monitor


def record_cost_us(monitor: Monitor, events: list[dict[str, Any]]) -> np.ndarray:
    """Per-call wall time of ``record()`` in microseconds."""
    out = np.empty(len(events), dtype=np.float64)
    clock = time.perf_counter_ns
    record = monitor.record
    for i, event in enumerate(events):
        t0 = clock()
        record(event)
        out[i] = clock() - t0
    return out / 1000.0


def measure(events: list[dict[str, Any]], topic: str) -> dict[str, float]:
    """p50/p99 of record() against a private broker, then again with that broker paused (down)."""
    with EmbeddedBroker() as broker:
        monitor = Monitor(broker.bootstrap, topic=topic, buffer_events=len(events) + 1)
        record_cost_us(monitor, events[:2000])  # warm-up
        up = record_cost_us(monitor, events)
        monitor.flush(60.0)
        broker.pause()
        try:
            down = record_cost_us(monitor, events)
            dropped = monitor.stats()["dropped_buffer_full"]
        finally:
            broker.resume()
        monitor.close(5.0)
    return {
        "producer_record_us_p50": round(float(np.percentile(up, 50)), 3),
        "producer_record_us_p99": round(float(np.percentile(up, 99)), 3),
        "producer_record_us_p50_broker_down": round(float(np.percentile(down, 50)), 3),
        "producer_record_us_p99_broker_down": round(float(np.percentile(down, 99)), 3),
        "producer_dropped_while_down": int(dropped),
    }
