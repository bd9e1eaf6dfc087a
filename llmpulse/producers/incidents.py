"""Incidents drawn from a seed: which model, provider and team each one hits, when, for how long, how hard.

``llmpulse demo`` and its tests use this, so nobody picks an incident that the alert rules happen to catch.
Per seed: the three kinds of the workload (a latency spike on a model, an error burst at a provider, a team
whose spend runs away) in a random order, one after the other inside ``[first_s, last_s)`` of event time,
each with a random duration, a random gap before it, a random target and a strength drawn from a plausible
range (``RANGES``).

Targets are the models and providers that carry tens of calls a minute on average over the trace
(``MIN_CALLS_PER_MINUTE``); any team can run away (its runaway is extra traffic). An incident starts only
where its target has calls: the trace is bursty (some minutes have no calls at all), and a slowdown of a
model nobody calls in that minute is invisible to any monitor. So a start is drawn, then moved forward a
minute at a time until the target has at least ``VISIBLE_CALLS`` calls between the start and the end of
the second window after the start's (the time the demo's tests give an alert to fire).

A quality incident comes on top: an app starts refusing (``RefusalSpike``) at a random time inside the same
span (it may overlap the others: it changes another metric), on an app with tens of calls a minute, with a
random share of refused answers. It is drawn from its own random stream (``QUALITY_STREAM``), so the three
incidents above are the same with or without it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmpulse.producers.workload import (
    APPS,
    MODELS,
    SONNET,
    TEAMS,
    ErrorBurst,
    Incident,
    LatencySpike,
    RefusalSpike,
    RunawaySpend,
    Workload,
)

MIN_CALLS_PER_MINUTE = 10.0
VISIBLE_CALLS = 20  # calls of the target from the start to the end of the window FIRE_WITHIN_WINDOWS after it
FIRE_WITHIN_WINDOWS = 2
RUNAWAY_MODELS = (SONNET, "gpt-4o")  # an agent loop on an expensive, priced model
BURST_ERRORS = ("InternalServerError", "OverloadedError", "APIConnectionError", "RateLimitError")
INCIDENT_STREAM = 8_675_309  # the random stream of the three incidents ...
QUALITY_STREAM = 0x5155414C  # ... and of the quality incident ("QUAL")


@dataclass(frozen=True)
class Ranges:
    """Plausible strengths and timings (uniform draws; the latency factor is drawn log-uniform)."""

    latency_factor: tuple[float, float] = (2.0, 6.0)  # calls take 2x to 6x longer
    error_rate: tuple[float, float] = (0.20, 0.60)  # 20% to 60% of the provider's calls fail
    runaway_share: tuple[float, float] = (0.10, 0.40)  # the runaway adds 10% to 40% of all calls
    runaway_token_factor: tuple[float, float] = (3.0, 10.0)  # with 3x to 10x the tokens
    duration_s: tuple[float, float] = (240.0, 600.0)  # 4 to 10 minutes
    gap_s: tuple[float, float] = (360.0, 900.0)  # 6 to 15 minutes before each incident
    refusal_share: tuple[float, float] = (0.20, 0.60)  # 20% to 60% of the app's answers are refusals


RANGES = Ranges()


def _arrivals(workload: Workload, n_events: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrival second, model and app index of every event of the clean workload (incidents change none of
    them, except a runaway's extra traffic)."""
    clean = copy.copy(workload)
    clean.incidents = ()
    seconds, models, apps = [], [], []
    for batch in clean.batches(n_events, start_ms=0):
        seconds.append(batch.offset_us / 1e6)
        models.append(batch.model)
        apps.append(batch.app)
    return np.concatenate(seconds), np.concatenate(models), np.concatenate(apps)


def _visible(seconds: np.ndarray, hits: np.ndarray, share: float, start_s: float) -> bool:
    """The incident changes VISIBLE_CALLS calls from the start to the end of the window 2 after it."""
    until = (start_s // 60 + 1 + FIRE_WITHIN_WINDOWS) * 60
    return float(((seconds >= start_s) & (seconds < until) & hits).sum()) * share >= VISIBLE_CALLS


def draw_incidents(
    workload: Workload, n_events: int, seed: int, first_s: float, last_s: float, ranges: Ranges = RANGES
) -> tuple[Incident, ...]:
    """The seed's incidents inside ``[first_s, last_s)`` seconds of event time (see the module doc)."""
    rng = np.random.default_rng([seed, INCIDENT_STREAM])
    seconds, models, apps = _arrivals(workload, n_events)
    span_min = max(workload.span_ms(n_events) / 60_000, 1.0)
    providers = sorted({m.provider for m in MODELS})
    provider_of = np.array([providers.index(m.provider) for m in MODELS])[models]
    busy_models = [i for i in range(len(MODELS)) if (models == i).sum() / span_min >= MIN_CALLS_PER_MINUTE]
    busy_providers = [i for i in range(len(providers)) if (provider_of == i).sum() / span_min >= MIN_CALLS_PER_MINUTE]

    def uniform(bounds: tuple[float, float]) -> float:
        return float(rng.uniform(*bounds))

    out: list[Incident] = []
    cursor = first_s
    for kind in rng.permutation(["latency_spike", "error_burst", "runaway_spend"]).tolist():
        start = cursor + uniform(ranges.gap_s)
        duration = uniform(ranges.duration_s)
        share = 1.0
        if kind == "latency_spike":
            target = int(rng.choice(busy_models))
            hits = models == target
        elif kind == "error_burst":
            target = int(rng.choice(busy_providers))
            hits = provider_of == target
            strength = uniform(ranges.error_rate)
        else:  # a runaway turns a share of all calls into the team's
            target = int(rng.integers(len(TEAMS)))
            hits = np.ones(len(seconds), dtype=bool)
            share = strength = uniform(ranges.runaway_share)
        while not _visible(seconds, hits, share, start) and start < last_s:
            start += 60.0
        start = round(start, 3)
        end = round(start + duration, 3)
        if end > last_s:
            raise ValueError(f"seed {seed}: the incidents do not fit before {last_s:.0f} s; replay more")
        if kind == "latency_spike":
            factor = math.exp(uniform((math.log(ranges.latency_factor[0]), math.log(ranges.latency_factor[1]))))
            out.append(LatencySpike(MODELS[target].request_model, start, end, round(factor, 2)))
        elif kind == "error_burst":
            error_type = str(rng.choice(BURST_ERRORS))
            out.append(ErrorBurst(providers[target], start, end, round(strength, 3), error_type))
        else:
            out.append(RunawaySpend(TEAMS[target], start, end, share=round(strength, 3),
                                    token_factor=round(uniform(ranges.runaway_token_factor), 2),
                                    model=str(rng.choice(RUNAWAY_MODELS))))  # fmt: skip
        cursor = end
    out.append(_refusal_spike(seed, seconds, apps, span_min, first_s, last_s, ranges))
    return tuple(out)


def _refusal_spike(seed: int, seconds: np.ndarray, apps: np.ndarray, span_min: float, first_s: float,
                   last_s: float, ranges: Ranges) -> RefusalSpike:  # fmt: skip
    """The quality incident, from its own stream: a busy app, a duration, a share of refused answers and a
    start anywhere in the span, moved forward a minute at a time until the refusals are visible, like the
    others (past the end: from the span's start on). An app too quiet at that share to show VISIBLE_CALLS
    refusals anywhere is drawn again (with its duration and share)."""
    rng = np.random.default_rng([seed, QUALITY_STREAM])
    busy = [i for i in range(len(APPS)) if (apps == i).sum() / span_min >= MIN_CALLS_PER_MINUTE]
    for _ in range(100):
        target = int(rng.choice(busy))
        duration = float(rng.uniform(*ranges.duration_s))
        share = float(rng.uniform(*ranges.refusal_share))
        lo, hi = first_s + ranges.gap_s[0], last_s - duration
        if hi <= lo:
            break
        drawn = float(rng.uniform(lo, hi))
        steps = int((hi - lo) // 60.0) + 1
        for step in range(steps):
            start = lo + (drawn - lo + 60.0 * step) % (steps * 60.0)
            if start <= hi and _visible(seconds, apps == target, share, start):
                return RefusalSpike(APPS[target].name, round(start, 3), round(start + duration, 3), round(share, 3))
    raise ValueError(f"seed {seed}: no quality incident fits before {last_s:.0f} s; replay more")


def describe(incidents: Sequence[Incident], start_ms: int) -> list[dict[str, Any]]:
    """The incidents as JSON-ready dicts with absolute UTC times (``start_ms``: event time of offset 0)."""
    out = []
    for incident in incidents:
        d = incident.describe()
        d["start_ms"] = start_ms + int(d["start_s"] * 1000)
        d["end_ms"] = start_ms + int(d["end_s"] * 1000)
        out.append(d)
    return out
