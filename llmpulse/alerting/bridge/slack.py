"""Slack incoming webhook destination: one Block Kit message per alert transition.

The message (limits from Slack's Block Kit reference are enforced by truncation):

- ``text``: the notification fallback, ``[FIRING critical] <summary>``;
- ``header`` (plain_text ≤ 150): severity emoji, status and metric;
- ``section`` (mrkdwn ≤ 3000): the summary;
- ``section`` with ``fields`` (≤ 10, each ≤ 2000): metric, observed, expected, dimensions, window, …;
- ``section`` with the SQL to look at the series (if the alert carries one);
- ``context``: alert_id and dedup_key.

The webhook answers ``ok`` (200), 429 with ``Retry-After``, 4xx such as ``invalid_payload`` /
``channel_not_found`` (permanent), or 5xx (retried).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import SecretStr

from llmpulse.alerting.bridge import formatting
from llmpulse.alerting.bridge.http import JsonPoster, Sleep, Throttle
from llmpulse.alerting.bridge.redact import protect
from llmpulse.schemas.alert import AlertEvent

HEADER_MAX = 150
TEXT_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
FALLBACK_MAX = 3000
SLACK_MIN_INTERVAL_S = 1.0  # incoming webhooks: about one message per second

SEVERITY_EMOJI = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}
RESOLVED_EMOJI = ":white_check_mark:"


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped as its formatting guide asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": formatting.truncate(text or " ", limit)}


def _field(label: str, value: str) -> dict[str, Any]:
    return _mrkdwn(f"*{label}*\n{escape_mrkdwn(value)}", FIELD_MAX)


def build_message(alert: AlertEvent) -> dict[str, Any]:
    """The webhook body for one alert transition."""
    firing = alert.status == "firing"
    status = "FIRING" if firing else "RESOLVED"
    emoji = SEVERITY_EMOJI[alert.severity] if firing else RESOLVED_EMOJI
    header = f"{emoji} {status} · {alert.severity} · {alert.metric}"
    summary = escape_mrkdwn(alert.summary) if firing else f"*Resolved* — {escape_mrkdwn(alert.summary)}"

    fields = [
        _field("Metric", alert.metric),
        _field("Observed", formatting.number(alert.observed)),
        _field("Expected", formatting.expected(alert)),
        _field("Dimensions", formatting.dimensions(alert)),
        _field("Window", formatting.window(alert)),
        _field("Kind", alert.kind + (f" ({alert.rule})" if alert.rule else "")),
    ]
    if alert.team:
        fields.append(_field("Team", alert.team))
    if not firing:
        fields.append(_field("Lasted", formatting.duration(alert)))

    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": formatting.truncate(header, HEADER_MAX), "emoji": True},
        },
        {"type": "section", "text": _mrkdwn(summary, TEXT_MAX)},
        {"type": "section", "fields": fields[:FIELDS_MAX]},
    ]
    if alert.query:
        fence = "```"
        room = TEXT_MAX - len("*SQL*\n") - 2 * len(fence)
        sql = formatting.truncate(escape_mrkdwn(alert.query.replace(fence, "'''")), room)
        blocks.append({"type": "section", "text": _mrkdwn(f"*SQL*\n{fence}{sql}{fence}", TEXT_MAX)})
    context = f"alert_id `{alert.alert_id}` · dedup_key `{alert.dedup_key}`"
    blocks.append({"type": "context", "elements": [_mrkdwn(escape_mrkdwn(context), TEXT_MAX)]})

    fallback = f"[{status} {alert.severity}] {escape_mrkdwn(alert.summary)}"  # text is mrkdwn too
    return {"text": formatting.truncate(fallback, FALLBACK_MAX), "blocks": blocks}


class SlackDestination:
    """Posts Block Kit messages to one incoming webhook (the URL is a secret)."""

    def __init__(
        self,
        name: str,
        webhook_url: SecretStr,
        *,
        timeout_s: float = 10.0,
        min_interval_s: float = SLACK_MIN_INTERVAL_S,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.name = name
        self._webhook_url = webhook_url
        protect(webhook_url.get_secret_value())
        self._poster = JsonPoster(
            name, timeout_s=timeout_s, throttle=Throttle(min_interval_s=min_interval_s), sleep=sleep
        )

    def send(self, alert: AlertEvent) -> None:
        self._poster.post(self._webhook_url.get_secret_value(), build_message(alert))

    def close(self) -> None:
        self._poster.close()

    def __repr__(self) -> str:
        return f"SlackDestination(name={self.name!r})"
