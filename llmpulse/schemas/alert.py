"""The alert event: what the stream jobs emit on ``llm.alerts`` and store in ``llm_alerts``.

One incident has one ``dedup_key`` (kind + metric + dimensions + rule); it is fired once and resolved once.
``alert_id`` identifies one transition (``<dedup_key>:<status>:<incident start>``), so writing the same
transition twice (a worker restart, two workers) is recognisable and harmless.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llmpulse.schemas.call import SCHEMA_VERSION

AlertKind = Literal["threshold", "budget", "anomaly", "drift"]
Severity = Literal["info", "warning", "error", "critical"]
AlertStatus = Literal["firing", "resolved"]


class AlertEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    alert_id: str = Field(description="one transition of one incident; stable across replays")
    dedup_key: str = Field(description="one incident: PagerDuty dedup_key, Slack thread key")
    kind: AlertKind
    severity: Severity = "warning"
    status: AlertStatus
    rule: str = Field("", description="name of the rule or budget that produced it")
    metric: str = Field(description="e.g. latency_p95_ms, error_rate, cost_usd, requests")
    dimensions: dict[str, str] = Field(default_factory=dict, description="e.g. {'model': 'gpt-4o'}")
    observed: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    threshold: float | None = None
    window_start_ms: int = Field(description="start of the window that triggered this transition")
    window_end_ms: int
    started_at_ms: int = Field(description="when the incident began (first anomalous window start)")
    emitted_at_ms: int
    summary: str = Field(description="one human line, no PII")
    query: str = Field("", description="SQL to look at the series in ClickHouse")
    team: str = Field("", description="owning team for routing ('' = none)")
