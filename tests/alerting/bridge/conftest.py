"""Fixtures for the bridge tests: the fake Slack / PagerDuty servers, alerts, a topic, a producer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Producer

from llmpulse.alerting.routing_config import RoutingConfig
from llmpulse.schemas.alert import AlertEvent
from tests.fixtures.http_fakes import (
    PAGERDUTY_ROUTING_KEY,
    FakePagerDuty,
    FakeSlack,
    fake_pagerduty,
    fake_slack,
)

__all__ = ["fake_pagerduty", "fake_slack"]

T0 = 1_795_000_000_000  # 2026-11-18, ms


def alert(status: str = "firing", *, key: str = "threshold:latency_p95_ms:model=gpt-4o:p95-slow",
          started_at_ms: int = T0, **fields: Any) -> AlertEvent:  # fmt: skip
    """An alert transition; alert_id follows the contract ``<dedup_key>:<status>:<incident start>``."""
    base: dict[str, Any] = {
        "alert_id": f"{key}:{status}:{started_at_ms}",
        "dedup_key": key,
        "kind": "threshold",
        "severity": "critical",
        "status": status,
        "rule": "p95-slow",
        "metric": "latency_p95_ms",
        "dimensions": {"model": "gpt-4o", "app": "support-bot"},
        "observed": 2412.5,
        "expected": 800.0,
        "threshold": 1500.0,
        "window_start_ms": started_at_ms,
        "window_end_ms": started_at_ms + 60_000,
        "started_at_ms": started_at_ms,
        "emitted_at_ms": started_at_ms + 61_000 + (600_000 if status == "resolved" else 0),
        "summary": "p95 latency of gpt-4o is 2,412 ms (expected 800 ms, threshold 1,500 ms)",
        "query": "SELECT minute, latency_p95_ms FROM llm_rollups_1m_v WHERE model = 'gpt-4o'",
        "team": "search",
    }
    base.update(fields)
    return AlertEvent.model_validate(base)


@pytest.fixture
def make_alert() -> Callable[..., AlertEvent]:
    return alert


SLACK_ENV = "LLMPULSE_TEST_SLACK_WEBHOOK_URL"
PD_ENV = "LLMPULSE_TEST_PAGERDUTY_ROUTING_KEY"


@pytest.fixture
def routing(fake_pagerduty: FakePagerDuty) -> RoutingConfig:
    """critical/error → PagerDuty + Slack; everything → Slack."""
    return RoutingConfig.from_toml_dict(
        {
            "routing": {
                "routes": [
                    {"match": {"severity": ["critical", "error"]}, "destinations": ["pagerduty:default"]},
                    {"destinations": ["slack:default"]},
                ]
            },
            "destinations": {
                "slack": {"default": {"webhook_url_env": SLACK_ENV}},
                "pagerduty": {
                    "default": {"routing_key_env": PD_ENV, "events_url": fake_pagerduty.events_url}
                },
            },
        }
    )


@pytest.fixture
def env(fake_slack: FakeSlack) -> dict[str, str]:
    return {SLACK_ENV: fake_slack.webhook_url, PD_ENV: PAGERDUTY_ROUTING_KEY}


@pytest.fixture
def alerts_topic(topic_factory: Callable[..., str]) -> str:
    """A new one-partition topic on the shared broker (tests/fixtures/kafka.py)."""
    return topic_factory(partitions=1)


@pytest.fixture
def produce(kafka_bootstrap: str) -> Callable[[str, list[AlertEvent]], None]:
    def send(topic: str, alerts: list[AlertEvent]) -> None:
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
        for a in alerts:
            producer.produce(topic, key=a.dedup_key.encode(), value=a.model_dump_json().encode())
        assert producer.flush(30) == 0

    return send
