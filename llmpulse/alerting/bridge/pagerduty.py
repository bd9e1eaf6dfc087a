"""PagerDuty Events API v2 destination: ``trigger`` on firing, ``resolve`` on resolved, one dedup_key.

Event shape (POST ``/v2/enqueue``)::

    {"routing_key": <32-char integration key>, "event_action": "trigger", "dedup_key": <incident>,
     "payload": {"summary": ≤1024, "source": "llmpulse", "severity": critical|error|warning|info,
                 "timestamp": ISO 8601, "component": <metric>, "group": <team>, "class": <kind>,
                 "custom_details": {...}},
     "client": "llmpulse"}

A resolve carries only routing_key, event_action and dedup_key. PagerDuty answers 202
``{"status": "success", "dedup_key": ...}``, 400 ``invalid event`` (permanent), 429 or 5xx (retried).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from pydantic import SecretStr

from llmpulse.alerting.bridge import formatting
from llmpulse.alerting.bridge.http import JsonPoster, Sleep, Throttle
from llmpulse.alerting.bridge.redact import protect
from llmpulse.alerting.routing_config import PAGERDUTY_EVENTS_URL
from llmpulse.schemas.alert import AlertEvent, Severity

SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
PAGERDUTY_MIN_INTERVAL_S = 0.5  # the Events API allows about 120 events per minute per integration key

# Our severities are PagerDuty's four, spelled the same; the map makes that a checked decision.
SEVERITY: dict[Severity, str] = {
    "critical": "critical",
    "error": "error",
    "warning": "warning",
    "info": "info",
}


def pagerduty_dedup_key(dedup_key: str) -> str:
    """The incident key as PagerDuty accepts it (≤ 255 chars); long keys keep a prefix and a hash."""
    if len(dedup_key) <= DEDUP_KEY_MAX:
        return dedup_key
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()
    return f"{dedup_key[: DEDUP_KEY_MAX - len(digest) - 1]}:{digest}"


def build_event(alert: AlertEvent, routing_key: str, source: str = "llmpulse") -> dict[str, Any]:
    """The Events API v2 body for one alert transition."""
    dedup_key = pagerduty_dedup_key(alert.dedup_key)
    if alert.status == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    details: dict[str, Any] = {
        "alert_id": alert.alert_id,
        "metric": alert.metric,
        "dimensions": dict(alert.dimensions),
        "observed": alert.observed,
        "expected": alert.expected,
        "lower": alert.lower,
        "upper": alert.upper,
        "threshold": alert.threshold,
        "window_start": formatting.iso_ms(alert.window_start_ms),
        "window_end": formatting.iso_ms(alert.window_end_ms),
        "incident_started": formatting.iso_ms(alert.started_at_ms),
        "rule": alert.rule,
        "team": alert.team,
    }
    if alert.query:
        details["query"] = alert.query
    payload: dict[str, Any] = {
        "summary": formatting.truncate(alert.summary or alert.metric, SUMMARY_MAX),
        "source": source,
        "severity": SEVERITY[alert.severity],
        "timestamp": formatting.iso_ms(alert.emitted_at_ms),
        "component": alert.metric,
        "class": alert.kind,
        "custom_details": {k: v for k, v in details.items() if v is not None and v != ""},
    }
    if alert.team:
        payload["group"] = alert.team
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": payload,
        "client": "llmpulse",
    }


class PagerDutyDestination:
    """Sends trigger/resolve events for one integration (the routing key is a secret)."""

    def __init__(
        self,
        name: str,
        routing_key: SecretStr,
        *,
        events_url: str = PAGERDUTY_EVENTS_URL,
        source: str = "llmpulse",
        timeout_s: float = 10.0,
        min_interval_s: float = PAGERDUTY_MIN_INTERVAL_S,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.name = name
        self._routing_key = routing_key
        self._events_url = events_url
        self._source = source
        protect(routing_key.get_secret_value())
        self._poster = JsonPoster(
            name, timeout_s=timeout_s, throttle=Throttle(min_interval_s=min_interval_s), sleep=sleep
        )

    def send(self, alert: AlertEvent) -> None:
        event = build_event(alert, self._routing_key.get_secret_value(), self._source)
        self._poster.post(self._events_url, event)

    def close(self) -> None:
        self._poster.close()

    def __repr__(self) -> str:
        return f"PagerDutyDestination(name={self.name!r})"
