"""Rule logic shared by the engine: threshold and detector decisions, and building the alert event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from llmpulse.alerting.detectors import Detection
from llmpulse.alerting.lifecycle import Signal, Transition, alert_id
from llmpulse.alerting.metrics import METRICS, Dims, SeriesSpec, series_sql
from llmpulse.schemas.alert import AlertEvent, AlertKind, Severity

QUERY_CONTEXT_MS = 3_600_000  # the alert's SQL shows the hour before the incident too


@dataclass(frozen=True)
class SeriesRef:
    """What an incident key stands for (kept with the state, to resolve it even without data)."""

    kind: AlertKind
    rule: str
    metric: str
    spec: SeriesSpec
    dims: Dims
    severity: Severity
    team: str
    threshold: float | None = None
    op: str = ""


def compare(op: str, value: float, limit: float) -> bool:
    if op == ">":
        return value > limit
    if op == ">=":
        return value >= limit
    if op == "<":
        return value < limit
    if op == "<=":
        return value <= limit
    raise ValueError(f"unknown operator {op!r}")


def threshold_signal(
    op: str, value: float | None, limit: float, resolve_value: float | None, enough_data: bool
) -> Signal:
    """BREACH past ``limit``; BETWEEN while still past ``resolve_value`` (hysteresis); else CLEAR.

    A window without data (no value, or fewer calls than the rule's ``min_requests``) is CLEAR.
    """
    if value is None or not enough_data:
        return Signal.CLEAR
    if compare(op, value, limit):
        return Signal.BREACH
    if resolve_value is not None and compare(op, value, resolve_value):
        return Signal.BETWEEN
    return Signal.CLEAR


def _outside_band(detection: Detection, value: float, direction: Literal["up", "down", "both"]) -> bool:
    """The value is outside the detector's normal band on a watched side (False without a band)."""
    above = detection.upper is not None and value > detection.upper
    below = detection.lower is not None and value < detection.lower
    return {"up": above, "down": below, "both": above or below}[direction]


def detection_signal(
    detection: Detection,
    value: float,
    direction: Literal["up", "down", "both"],
    learned: int,
    warmup: int,
    outside_band: bool = True,
    open_incident: bool = False,
) -> Signal:
    """BREACH when the detector flags the point after its warm-up, it moved the watched way, and (with
    ``outside_band``) the value itself is outside the detector's normal band, so the alert never reads
    "latency 4,300 ms, normal 2,900 to 5,000".

    While an incident is open (``open_incident``), a value still outside the band on a watched side is
    still a BREACH even when the detector no longer flags it: a spike detector flags the start of a
    change, and its score fades while the change lasts. So the alert resolves once the value is back in
    the normal band, not while the incident goes on."""
    if open_incident and not detection.warming_up and _outside_band(detection, value, direction):
        return Signal.BREACH
    if not detection.anomalous or detection.warming_up or learned < warmup:
        return Signal.CLEAR
    if direction != "both" and detection.direction is not None and detection.direction != direction:
        return Signal.CLEAR
    if outside_band:
        has_band = detection.upper is not None or detection.lower is not None
        if has_band and not _outside_band(detection, value, direction):
            return Signal.CLEAR
    return Signal.BREACH


def dims_text(dims: Dims) -> str:
    return ", ".join(f"{d}={v}" for d, v in dims) if dims else "all traffic"


def fmt_value(metric: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if metric in METRICS and METRICS[metric].trials is not None:  # a rate: errors, refusals, thumbs down, ...
        return f"{value * 100:.2f}%"
    if metric.endswith("_ms"):
        return f"{value:,.0f} ms"
    if "usd" in metric:
        return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"
    if value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def utc_hhmm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def summary(
    ref: SeriesRef,
    transition: Transition,
    observed: float | None,
    expected: float | None,
    lower: float | None,
    upper: float | None,
) -> str:
    what = f"{ref.metric} of {dims_text(ref.dims)}"
    if transition.status == "resolved":
        flaps = f"; {transition.flaps} re-breach(es) absorbed" if transition.flaps else ""
        return (
            f"Resolved: {what} back to normal ({fmt_value(ref.metric, observed)}) after the incident "
            f"that started {utc_hhmm(transition.started_at_ms)}{flaps}"
        )
    if ref.kind == "threshold":
        return (
            f"{what} is {fmt_value(ref.metric, observed)} ({ref.op} {fmt_value(ref.metric, ref.threshold)})"
        )
    label = "Anomaly" if ref.kind == "anomaly" else "Drift"
    band = ""
    if lower is not None and upper is not None:
        band = f", normal {fmt_value(ref.metric, lower)} to {fmt_value(ref.metric, upper)}"
    expect = f" (expected about {fmt_value(ref.metric, expected)}{band})" if expected is not None else ""
    return f"{label}: {what} is {fmt_value(ref.metric, observed)}{expect}"


def build_event(
    ref: SeriesRef,
    key: str,
    transition: Transition,
    window_start_ms: int,
    window_end_ms: int,
    now_ms: int,
    observed: float | None = None,
    detection: Detection | None = None,
) -> AlertEvent:
    expected = detection.expected if detection else None
    lower = detection.lower if detection else None
    upper = detection.upper if detection else None
    team = dict(ref.dims).get("team", ref.team)
    return AlertEvent(
        alert_id=alert_id(key, transition.status, transition.started_at_ms),
        dedup_key=key,
        kind=ref.kind,
        severity=ref.severity,
        status=transition.status,
        rule=ref.rule,
        metric=ref.metric,
        dimensions=dict(ref.dims),
        observed=observed,
        expected=expected,
        lower=lower,
        upper=upper,
        threshold=ref.threshold,
        window_start_ms=window_start_ms,
        window_end_ms=window_end_ms,
        started_at_ms=transition.started_at_ms,
        emitted_at_ms=now_ms,
        summary=summary(ref, transition, observed, expected, lower, upper),
        query=series_sql(
            ref.metric, ref.spec, ref.dims, transition.started_at_ms - QUERY_CONTEXT_MS, window_end_ms
        ),
        team=team,
    )
