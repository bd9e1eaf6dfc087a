"""Benchmark traffic: workload events generated ahead of time, so generating them is not measured."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from llmpulse.producers.workload import Workload

DAY_MS = 86_400_000


def generate(n: int, seed: int = 11, *, allow_old: bool = False, rate_eps: float | None = None) -> list[dict[str, Any]]:
    """``n`` wire dicts ending about now (``allow_old``: any span, for bulk-loaded stores).

    ``rate_eps`` re-times the events as if they had happened at that rate (the trace's own arrival rate is
    ~150/min): what a system taking that many calls per second really sees, a few minutes of event time.
    """
    workload = Workload(seed=seed)
    max_age = 10_000 * DAY_MS if allow_old else 30 * DAY_MS
    start = workload.start_ms_ending_now(n, max_age_ms=max_age)
    events = [e for batch in workload.batches(n, start_ms=start) for e in workload.to_wire(batch, start_ms=start)]
    if rate_eps:
        end = now_ms() - 1000
        step = 1000.0 / rate_eps
        for i, event in enumerate(events):
            event["ts_ms"] = int(end - (n - 1 - i) * step)
    return events


def generate_chunks(n: int, size: int, seed: int = 11) -> Iterator[list[dict[str, Any]]]:
    """``n`` events ending about now, at the trace's own rate (weeks for millions), ``size`` at a time."""
    workload = Workload(seed=seed)
    start = workload.start_ms_ending_now(n, max_age_ms=10_000 * DAY_MS)
    chunk: list[dict[str, Any]] = []
    for batch in workload.batches(n, start_ms=start):
        chunk.extend(workload.to_wire(batch, start_ms=start))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def records(events: list[dict[str, Any]], per_record: int = 500) -> list[tuple[int, bytes]]:
    """(record timestamp ms, value) pairs as the Monitor would send them."""
    out = []
    for i in range(0, len(events), per_record):
        chunk = events[i:i + per_record]
        out.append((int(chunk[-1]["ts_ms"]), orjson.dumps(chunk)))
    return out


def now_ms() -> int:
    return time.time_ns() // 1_000_000
