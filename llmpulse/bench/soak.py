"""Hold a steady rate for a while; watch the worker's memory and the consumer lag."""

from __future__ import annotations

import time
from typing import Any

from llmpulse.bench.pipeline import rss_mb
from llmpulse.producers import Monitor
from llmpulse.settings import Settings
from llmpulse.stack import Stack


def soak(stack: Stack, settings: Settings, events: list[dict[str, Any]], rate_eps: float, seconds: float,
         sample_s: float = 5.0, on_sample: Any = None) -> dict[str, Any]:  # fmt: skip
    """Send ``events`` (cycled, with fresh ids) at ``rate_eps`` for ``seconds``; sample RSS and lag."""
    monitor = Monitor(stack.bootstrap, topic=settings.calls_topic)
    worker = stack.workers[0]
    samples: list[tuple[float, float, int]] = []
    sent = 0
    t0 = time.perf_counter()
    next_sample = t0 + sample_s
    n = len(events)
    loop = 0
    while True:
        now = time.perf_counter()
        elapsed = now - t0
        if elapsed >= seconds:
            break
        due = int(elapsed * rate_eps)
        while sent < due:
            event = events[sent % n]
            if sent % n == 0 and sent:
                loop += 1
            monitor.record({**event, "event_id": f"{event['event_id']}-{loop}"} if loop else event)
            sent += 1
        if now >= next_sample:
            sample = (elapsed, rss_mb(worker.pid), stack.lag())
            samples.append(sample)
            if callable(on_sample):
                on_sample(sample)
            next_sample += sample_s
        time.sleep(0.01)
    monitor.flush(120.0)
    monitor.close(10.0)
    stack.wait_caught_up(timeout_s=600)
    warm = [s for s in samples if s[0] >= seconds * 0.2] or samples
    first_rss, last_rss = warm[0][1], warm[-1][1]
    half = len(samples) // 2
    lags = [s[2] for s in samples]
    return {
        "soak_seconds": seconds,
        "soak_rate_eps": round(rate_eps),
        "soak_events": sent,
        "rss_mb_start": round(first_rss, 1),
        "rss_mb_end": round(last_rss, 1),
        "rss_growth_pct": round((last_rss - first_rss) / first_rss * 100.0, 2) if first_rss else 0.0,
        "max_consumer_lag": max(lags) if lags else 0,
        "max_consumer_lag_first_half": max(lags[:half]) if half else 0,
        "max_consumer_lag_second_half": max(lags[half:]) if lags else 0,
        "lag_growing": bool(half and max(lags[half:]) > 2 * max(max(lags[:half]), 10)),
    }
