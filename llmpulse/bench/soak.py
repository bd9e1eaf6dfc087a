"""Hold a steady rate for a while with event time at real speed; watch the worker's memory and the lag.

Every event is stamped with the wall clock when it is sent (fresh id, ``ts_ms`` = now), so windows close
as they would in production and alert evaluation keeps working. RSS growth is measured from the first
sample, taken once the stack is warm (the soak runs after the warm-up and the timed run). The soak fails
(``soak_ok`` false) when the consumer lag grows: the second half's worst lag is well above the first half's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from llmpulse.bench.pipeline import AlertWatch, rss_mb
from llmpulse.bench.traffic import now_ms
from llmpulse.producers import Monitor
from llmpulse.settings import Settings
from llmpulse.stack import Stack

Sample = tuple[float, float, int]  # (seconds since start, worker RSS MiB, consumer lag in records)


def lag_growing(lags: list[int], slack_records: int) -> bool:
    """The second half's worst lag is more than 1.5x the first half's plus ``slack_records``."""
    half = len(lags) // 2
    if half == 0:
        return False
    return max(lags[half:]) > 1.5 * max(lags[:half]) + slack_records


def soak(stack: Stack, settings: Settings, events: list[dict[str, Any]], rate_eps: float, seconds: float,
         sample_s: float = 5.0, on_sample: Callable[[Sample], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Send ``events`` (cycled, each with a fresh id and the current time) at ``rate_eps`` for ``seconds``."""
    monitor = Monitor(stack.bootstrap, topic=settings.calls_topic)
    worker = stack.workers[0]
    samples: list[Sample] = []
    sent = 0
    n = len(events)
    run = f"soak{time.time_ns():x}-"
    with AlertWatch(stack, settings, every_s=sample_s) as watch:
        t0 = time.perf_counter()
        next_sample = t0
        while True:
            now = time.perf_counter()
            elapsed = now - t0
            if elapsed >= seconds:
                break
            due = int(elapsed * rate_eps)
            stamp = now_ms()
            while sent < due:
                monitor.record({**events[sent % n], "event_id": f"{run}{sent}", "ts_ms": stamp})
                sent += 1
            if now >= next_sample:
                sample = (elapsed, rss_mb(worker.pid), stack.lag())
                samples.append(sample)
                if on_sample is not None:
                    on_sample(sample)
                next_sample += sample_s
            time.sleep(0.01)
    monitor.flush(120.0)
    stats = monitor.stats()
    monitor.close(10.0)
    stack.wait_caught_up(timeout_s=600)
    first_rss, last_rss = samples[0][1], samples[-1][1]
    lags = [s[2] for s in samples]
    half = len(lags) // 2
    growing = lag_growing(lags, 2 * settings.batch_max_records)
    return {
        "soak_seconds": seconds,
        "soak_rate_eps": round(rate_eps),
        "soak_events": sent,
        "soak_undelivered": stats["dropped_buffer_full"] + stats["failed_delivery"],
        "rss_mb_start": round(first_rss, 1),
        "rss_mb_end": round(last_rss, 1),
        "rss_mb_max": round(max(s[1] for s in samples), 1),
        "rss_growth_pct": round((last_rss - first_rss) / first_rss * 100.0, 2) if first_rss else 0.0,
        "max_consumer_lag": max(lags),
        "max_consumer_lag_first_half": max(lags[:half]) if half else 0,
        "max_consumer_lag_second_half": max(lags[half:]),
        "soak_alert_lag_windows_max": max(watch.lag_windows, default=-1),
        "lag_growing": growing,
        "soak_ok": not growing,
    }
