"""What ``llmpulse demo`` replays, and how its alerts are checked against the incidents it injected.

The replay is the trace ``REPEATS`` times over (each repetition shifted by the trace's span). The first
repetition is history only: the alert evaluator learns every series from it, as it would from the rollups
a team already has. The incidents (``llmpulse.producers.incidents``, drawn from the seed) happen after it,
and the last ``TAIL_S`` seconds stay quiet so the last incident can resolve before the replay ends. The calls
carry short prompts and answers (not stored: the worker judges them for its quality signals) and a few get
feedback, so the quality incident (an app that starts refusing) shows in the quality rollups.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmpulse.producers.incidents import describe, draw_incidents
from llmpulse.producers.workload import Incident, Workload
from llmpulse.schemas.alert import AlertEvent
from llmpulse.schemas.rollup import WINDOW_MS
from llmpulse.settings import Settings

REPEATS = 3
TAIL_S = 8 * 60.0
FIRE_WITHIN_WINDOWS = 2  # an incident must alert within this many windows of its start ...
RESOLVE_WITHIN_WINDOWS = 5  # ... and its alerts resolve within this many windows of its end

#: The demo's apps have 10 to 50 calls a minute: its worker judges every answer (LLMPULSE_QUALITY_SAMPLE_RATE,
#: a setting a team at that volume would choose too; a value in the environment wins). At a tenth of the
#: answers, an app's refusals are too few a minute to tell from chance within two minutes.
QUALITY_SAMPLE_RATE = 1.0

#: which alerts answer which incident: kind, metrics (prefixes) and the dimension it hits
MATCHES: dict[str, tuple[str, tuple[str, ...]]] = {
    "latency_spike": ("anomaly", ("latency_", "ttft_")),
    "error_burst": ("anomaly", ("error_rate", "errors")),
    "runaway_spend": ("anomaly", ("cost_usd", "cost_per_hour_usd")),
    "refusal_spike": ("anomaly", ("refusal_rate", "thumbs_down_share")),
}


@dataclass(frozen=True)
class DemoPlan:
    workload: Workload
    n_events: int
    incidents: tuple[Incident, ...]
    history_s: float  # event time learned before any incident may start


def plan(seed: int, *, incidents: bool = True, trace: Path | None = None, events: int | None = None) -> DemoPlan:
    """The demo's workload for ``seed``: the trace ``REPEATS`` times, the seed's incidents after the first."""
    base = Workload(trace, seed=seed, texts=True)
    n = events if events is not None else REPEATS * len(base.trace)
    history_s = base.trace.span_us / 1e6
    drawn: tuple[Incident, ...] = ()
    if incidents:
        last_s = base.span_ms(n) / 1000 - TAIL_S
        drawn = draw_incidents(base, n, seed, history_s, last_s)
    return DemoPlan(Workload(trace, seed=seed, incidents=drawn, texts=True), n, drawn, history_s)


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with the demo's quality sample rate, unless they set one (from the environment)."""
    if "quality_sample_rate" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"quality_sample_rate": QUALITY_SAMPLE_RATE})


def _matches(incident: dict[str, Any], alert: AlertEvent) -> bool:
    kind, prefixes = MATCHES[incident["kind"]]
    return (
        alert.kind == kind
        and alert.metric.startswith(prefixes)
        and alert.dimensions == {incident["dimension"]: incident["value"]}
    )


def check(incidents: list[dict[str, Any]], alerts: list[AlertEvent]) -> dict[str, Any]:
    """Per incident: the first matching alert's delay (windows after the start's window) and the last
    resolve's delay (windows after the end's window); and the alerts that match no incident.

    ``incidents`` are ``describe()`` dicts (``start_ms``/``end_ms``); ``alerts`` are alert transitions.
    An incident is ``detected`` when a matching alert fires within ``FIRE_WITHIN_WINDOWS`` windows of its
    start, and ``resolved`` when every matching alert that fired during it resolves within
    ``RESOLVE_WITHIN_WINDOWS`` windows of its end.
    """
    used: set[str] = set()
    results = []
    for inc in incidents:
        s0 = inc["start_ms"] - inc["start_ms"] % WINDOW_MS
        e0 = inc["end_ms"] - inc["end_ms"] % WINDOW_MS
        fired = [a for a in alerts if a.status == "firing" and _matches(inc, a) and s0 <= a.window_start_ms <= e0]
        keys = {a.dedup_key: a.started_at_ms for a in fired}
        resolved = {
            a.dedup_key: a for a in alerts if a.status == "resolved" and keys.get(a.dedup_key) == a.started_at_ms
        }
        fire_delay = min(((a.window_start_ms - s0) // WINDOW_MS for a in fired), default=None)
        resolve_delays = [
            None if key not in resolved else (resolved[key].window_start_ms - e0) // WINDOW_MS for key in keys
        ]
        resolve_delay = None if not keys or None in resolve_delays else max(d for d in resolve_delays if d is not None)
        used |= {f"{k}:{t}" for k, t in keys.items()}
        results.append({
            **{k: inc[k] for k in ("kind", "dimension", "value", "start_ms", "end_ms")},
            "fire_delay_windows": fire_delay,
            "resolve_delay_windows": resolve_delay,
            "detected": fire_delay is not None and fire_delay <= FIRE_WITHIN_WINDOWS,
            "resolved": resolve_delay is not None and resolve_delay <= RESOLVE_WITHIN_WINDOWS,
            "alerts": sorted(keys),
        })  # fmt: skip
    others = sorted({
        a.dedup_key for a in alerts if a.status == "firing" and f"{a.dedup_key}:{a.started_at_ms}" not in used
    })  # fmt: skip
    return {"incidents": results, "other_alerts": others}


__all__ = ["DemoPlan", "check", "demo_settings", "describe", "plan"]
