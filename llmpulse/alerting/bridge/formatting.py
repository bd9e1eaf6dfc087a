"""Human renderings of alert fields, shared by the Slack, PagerDuty and console destinations."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from llmpulse.schemas.alert import AlertEvent


def iso_ms(ms: int) -> str:
    """UTC ISO 8601 with milliseconds, e.g. ``2026-11-27T10:00:00.000+00:00``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 1 or value == 0:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"


def dimensions(alert: AlertEvent) -> str:
    if not alert.dimensions:
        return "(all)"
    return ", ".join(f"{k}={v}" for k, v in sorted(alert.dimensions.items()))


def expected(alert: AlertEvent) -> str:
    parts = []
    if alert.expected is not None:
        parts.append(number(alert.expected))
    if alert.lower is not None or alert.upper is not None:
        parts.append(f"band {number(alert.lower)} to {number(alert.upper)}")
    if alert.threshold is not None:
        parts.append(f"threshold {number(alert.threshold)}")
    return ", ".join(parts) if parts else "n/a"


def window(alert: AlertEvent) -> str:
    start = datetime.fromtimestamp(alert.window_start_ms / 1000, tz=UTC)
    end = datetime.fromtimestamp(alert.window_end_ms / 1000, tz=UTC)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC"
    return f"{start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC"


def duration(alert: AlertEvent) -> str:
    """How long the incident lasted (for a resolve): ``emitted_at - started_at``."""
    seconds = max(0, (alert.emitted_at_ms - alert.started_at_ms) // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters; an ellipsis marks a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def console_line(alert: AlertEvent) -> str:
    """One readable line per alert."""
    status = "FIRING" if alert.status == "firing" else "RESOLVED"
    team = f" team={alert.team}" if alert.team else ""
    return (
        f"{iso_ms(alert.emitted_at_ms)} {status:<8} {alert.severity:<8} {alert.metric} "
        f"[{dimensions(alert)}] observed={number(alert.observed)} expected={expected(alert)}{team} "
        f"— {alert.summary} (alert_id={alert.alert_id})"
    )
