"""The bridge end to end on the real broker: commits only after delivery, retries, outages, restarts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from llmpulse.alerting.bridge import (
    Bridge,
    Dispatcher,
    Ledger,
    RetryPolicy,
    RoutingConfig,
    build_destinations,
)
from llmpulse.alerting.bridge.service import BridgeStats
from llmpulse.cli.bridge import run_bridge
from llmpulse.schemas.alert import AlertEvent
from tests.fixtures.http_fakes import FakePagerDuty, FakeSlack

pytestmark = pytest.mark.integration

FAST = RetryPolicy(base_delay_s=0.1, max_delay_s=0.5)
Produce = Callable[[str, list[AlertEvent]], None]


def committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset on partition 0 (negative = none)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return int(c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset)
    finally:
        c.close()


def wait_until(predicate: Callable[[], bool], timeout_s: float = 45.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Running:
    """run_bridge in a thread, stopped on exit."""

    def __init__(
        self,
        routing: RoutingConfig,
        env: dict[str, str],
        ledger: Path,
        bootstrap: str,
        topic: str,
        group: str,
    ) -> None:
        self.stop = threading.Event()
        self.stats: BridgeStats | None = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.stats = run_bridge(
                    routing,
                    bootstrap=bootstrap,
                    ledger_path=ledger,
                    topic=topic,
                    group=group,
                    env=env,
                    retry=FAST,
                    stop_event=self.stop,
                    max_seconds=120,
                )
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def close(self) -> BridgeStats:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        if self.error:
            raise self.error
        assert self.stats is not None
        return self.stats


@pytest.fixture
def group() -> str:
    return f"llmpulse-bridge-test-{uuid.uuid4().hex[:8]}"


def test_delivers_each_alert_to_its_routes_then_commits(
    kafka_bootstrap: str,
    alerts_topic: str,
    produce: Produce,
    routing: RoutingConfig,
    env: dict[str, str],
    group: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    warn = make_alert("firing", key="threshold:error_rate:app=a", severity="warning", metric="error_rate")
    produce(alerts_topic, [make_alert("firing"), warn, make_alert("resolved")])
    assert committed(kafka_bootstrap, group, alerts_topic) < 0

    stats = run_bridge(
        routing,
        bootstrap=kafka_bootstrap,
        ledger_path=tmp_path / "ledger.sqlite3",
        topic=alerts_topic,
        group=group,
        env=env,
        once=True,
        max_seconds=60,
    )

    assert fake_pagerduty.rejected == [] and fake_slack.rejected == []
    assert fake_pagerduty.actions() == ["trigger", "resolve"]  # the warning is not paged
    assert [m["text"].split("]")[0] for m in fake_slack.messages] == [
        "[FIRING critical",
        "[FIRING warning",
        "[RESOLVED critical",
    ]
    assert stats.consumed == 3 and stats.committed == 3 and stats.delivery.sent == 5
    assert committed(kafka_bootstrap, group, alerts_topic) == 3


def test_429_retry_after_is_honoured_then_delivered(
    kafka_bootstrap: str,
    alerts_topic: str,
    produce: Produce,
    routing: RoutingConfig,
    env: dict[str, str],
    group: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    fake_pagerduty.fail_next(429, body='{"status": "throttled"}', headers={"Retry-After": "2"})
    produce(alerts_topic, [make_alert("firing")])
    run_bridge(
        routing,
        bootstrap=kafka_bootstrap,
        ledger_path=tmp_path / "l.sqlite3",
        topic=alerts_topic,
        group=group,
        env=env,
        retry=FAST,
        once=True,
        max_seconds=60,
    )

    limited, accepted = fake_pagerduty.requests
    assert (limited.status, accepted.status) == (429, 202)
    assert accepted.at - limited.at >= 2.0  # not before Retry-After, although the backoff base is 0.1 s
    assert fake_pagerduty.actions() == ["trigger"] and len(fake_slack.messages) == 1
    assert committed(kafka_bootstrap, group, alerts_topic) == 1


def test_5xx_is_retried_with_backoff_then_delivered(
    kafka_bootstrap: str,
    alerts_topic: str,
    produce: Produce,
    routing: RoutingConfig,
    env: dict[str, str],
    group: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    fake_pagerduty.fail_next(503, times=3, body='{"status": "unavailable"}')
    produce(alerts_topic, [make_alert("firing")])
    stats = run_bridge(
        routing,
        bootstrap=kafka_bootstrap,
        ledger_path=tmp_path / "l.sqlite3",
        topic=alerts_topic,
        group=group,
        env=env,
        retry=FAST,
        once=True,
        max_seconds=60,
    )

    assert [r.status for r in fake_pagerduty.requests] == [503, 503, 503, 202]
    assert fake_pagerduty.actions() == ["trigger"]
    assert len(fake_slack.messages) == 1  # Slack took it at the first attempt and is not sent it again
    assert stats.retries == 3 and stats.committed == 1
    gaps = [b.at - a.at for a, b in zip(fake_pagerduty.requests, fake_pagerduty.requests[1:], strict=False)]
    assert all(g >= 0.04 for g in gaps)  # backoff, not a hot loop


def test_destination_down_loses_nothing_and_commits_nothing_until_it_is_back(
    kafka_bootstrap: str,
    alerts_topic: str,
    produce: Produce,
    routing: RoutingConfig,
    env: dict[str, str],
    group: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    fake_pagerduty.stop()  # connection refused
    keys = [f"threshold:latency_p95_ms:model=m{i}" for i in range(3)]
    produce(alerts_topic, [make_alert("firing", key=k) for k in keys])
    bridge = Running(routing, env, tmp_path / "l.sqlite3", kafka_bootstrap, alerts_topic, group)
    try:
        wait_until(lambda: len(fake_slack.messages) == 1, what="Slack to get the first alert")
        time.sleep(3.0)  # PagerDuty stays down: retries, nothing committed, nothing read past the alert
        assert committed(kafka_bootstrap, group, alerts_topic) < 0
        assert len(fake_slack.messages) == 1
        fake_pagerduty.start()
        wait_until(lambda: len(fake_pagerduty.events) == 3, what="PagerDuty to get all three")
        wait_until(lambda: committed(kafka_bootstrap, group, alerts_topic) == 3, what="the commit")
    finally:
        stats = bridge.close()
    assert [e["dedup_key"] for e in fake_pagerduty.events] == keys
    assert len(fake_slack.messages) == 3
    assert stats.retries >= 3 and stats.delivery.transient_errors >= 3


def test_restart_mid_incident_pages_once_and_resolves_once(
    kafka_bootstrap: str,
    alerts_topic: str,
    produce: Produce,
    routing: RoutingConfig,
    env: dict[str, str],
    group: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    ledger_path = tmp_path / "ledger.sqlite3"

    class Killed(BaseException):
        pass

    def kill(*args: object) -> None:
        raise Killed  # dies after delivering, before committing the offset

    # First bridge: delivers the trigger, then dies before its commit.
    produce(alerts_topic, [make_alert("firing")])
    dests = build_destinations(routing, env)
    ledger = Ledger(ledger_path)
    first = Bridge(
        Dispatcher(routing, dests, ledger),
        bootstrap=kafka_bootstrap,
        topic=alerts_topic,
        group=group,
        retry=FAST,
    )
    first._commit = kill  # type: ignore[method-assign, assignment]
    with pytest.raises(Killed):
        first.run(max_seconds=60)
    ledger.close()
    assert fake_pagerduty.actions() == ["trigger"]
    assert committed(kafka_bootstrap, group, alerts_topic) < 0

    # The incident goes on (a second firing transition of it) and resolves; a new bridge replays all.
    produce(alerts_topic, [make_alert("firing", started_at_ms=1_795_000_120_000), make_alert("resolved")])
    stats = run_bridge(
        routing,
        bootstrap=kafka_bootstrap,
        ledger_path=ledger_path,
        topic=alerts_topic,
        group=group,
        env=env,
        retry=FAST,
        once=True,
        max_seconds=60,
    )

    assert fake_pagerduty.rejected == []
    assert fake_pagerduty.actions() == ["trigger", "resolve"]  # exactly one of each
    assert fake_pagerduty.open_alerts == {}
    assert [m["text"].split("]")[0] for m in fake_slack.messages] == [
        "[FIRING critical",
        "[RESOLVED critical",
    ]
    assert stats.consumed == 3 and stats.committed == 3
    assert committed(kafka_bootstrap, group, alerts_topic) == 3


def test_invalid_records_are_skipped_and_committed(
    kafka_bootstrap: str,
    alerts_topic: str,
    produce: Produce,
    routing: RoutingConfig,
    env: dict[str, str],
    group: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    make_alert: Callable[..., AlertEvent],
) -> None:
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(alerts_topic, value=b"{not json")
    producer.produce(alerts_topic, value=b'{"alert_id": "x"}')
    assert producer.flush(30) == 0
    produce(alerts_topic, [make_alert("firing", severity="info")])
    stats = run_bridge(
        routing,
        bootstrap=kafka_bootstrap,
        ledger_path=tmp_path / "l.sqlite3",
        topic=alerts_topic,
        group=group,
        env=env,
        once=True,
        max_seconds=60,
    )
    assert stats.invalid == 2 and stats.committed == 3
    assert len(fake_slack.messages) == 1


def test_several_partitions_are_drained_and_committed_each(
    kafka_bootstrap: str,
    fresh_topic: str,
    produce: Produce,
    routing: RoutingConfig,
    env: dict[str, str],
    group: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    keys = [f"anomaly:cost_usd:team=t{i}" for i in range(6)]
    produce(fresh_topic, [make_alert(s, key=k) for k in keys for s in ("firing", "resolved")])
    stats = run_bridge(
        routing, bootstrap=kafka_bootstrap, ledger_path=tmp_path / "l.sqlite3", topic=fresh_topic,
        group=group, env=env, once=True, max_seconds=90,
    )  # fmt: skip
    assert stats.committed == 12
    for k in keys:  # keyed by dedup_key: one incident stays in order on one partition
        assert fake_pagerduty.actions(k) == ["trigger", "resolve"]
    c = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    try:
        offsets = c.committed([TopicPartition(fresh_topic, p) for p in range(3)], timeout=10)
    finally:
        c.close()
    assert sum(max(tp.offset, 0) for tp in offsets) == 12
