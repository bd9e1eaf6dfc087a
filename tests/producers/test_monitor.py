"""Monitor against the real broker: JSON-array records, exact counts, outages, size limits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from llmpulse.kafka import EmbeddedBroker, ensure_topics
from llmpulse.kafka.records import unpack
from llmpulse.producers import Monitor, MonitorConfigError
from llmpulse.schemas import FeedbackEvent, LLMCallEvent
from llmpulse.settings import Settings
from tests.fixtures.kafka import create_topic, read_events, read_records

REPO = Path(__file__).resolve().parents[2]


def wire(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"e{i}",
        "ts_ms": 1_700_000_000_000 + i,
        "latency_ms": 120.5,
        "provider": "openai",
        "request_model": "gpt-4o-mini",
        "input_tokens": 100,
        "output_tokens": 20,
        "team": "search",
        **extra,
    }


def accounted(stats: dict[str, Any]) -> int:
    return (
        stats["delivered"]
        + stats["failed_delivery"]
        + stats["dropped_buffer_full"]
        + stats["dropped_too_large"]
        + stats["dropped_closed"]
        + stats["serialization_errors"]
        + stats["buffered"]
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def time_records(monitor: Monitor, n: int, start: int = 0) -> list[float]:
    """Per-call cost of record() in seconds (the event dicts are built before timing)."""
    events = [wire(start + i) for i in range(n)]
    costs = []
    clock = time.perf_counter
    for event in events:
        t0 = clock()
        monitor.record(event)
        costs.append(clock() - t0)
    return costs


@pytest.mark.integration
def test_events_arrive_as_ndjson_records_with_exact_counts(kafka_bootstrap: str, fresh_topic: str) -> None:
    model_events = [
        LLMCallEvent(provider="anthropic", request_model="claude-sonnet-4", latency_ms=900.0, team="ads")
        for _ in range(345)
    ]
    with Monitor(kafka_bootstrap, fresh_topic, batch_events=500, linger_ms=20) as monitor:
        for i in range(2000):
            assert monitor.record(wire(i))
        for event in model_events:
            assert monitor.record(event)
        assert monitor.flush(15) == 0
        stats = monitor.stats()

    assert stats["recorded"] == 2345
    assert stats["delivered"] == 2345
    assert stats["buffered"] == 0
    assert accounted(stats) == 2345
    records = read_records(kafka_bootstrap, fresh_topic, min_records=5)
    decoded = [unpack(value) for _, value in records]
    assert all(b"\n" in value or len(unpack(value)) == 1 for _, value in records)  # NDJSON records
    assert all(1 <= len(batch) <= 500 for batch in decoded)
    events = [event for batch in decoded for event in batch]
    assert len(events) == 2345
    ids = {event["event_id"] for event in events}
    assert ids == {f"e{i}" for i in range(2000)} | {event.event_id for event in model_events}
    as_model = next(event for event in events if event["provider"] == "anthropic")
    assert LLMCallEvent.model_validate(as_model).request_model == "claude-sonnet-4"
    assert "response" not in as_model  # to_wire(): None fields are left out


@pytest.mark.integration
def test_records_spread_over_partitions(kafka_bootstrap: str, fresh_topic: str) -> None:
    with Monitor(kafka_bootstrap, fresh_topic, batch_events=10, linger_ms=5) as monitor:
        for i in range(400):
            monitor.record(wire(i))
            if i % 10 == 9:
                time.sleep(0.01)
        assert monitor.flush(15) == 0
    partitions = {partition for partition, _ in read_records(kafka_bootstrap, fresh_topic, min_records=40)}
    assert len(partitions) >= 2


@pytest.mark.integration
def test_flush_sends_a_partial_batch_and_stats_add_up(kafka_bootstrap: str, fresh_topic: str) -> None:
    monitor = Monitor(kafka_bootstrap, fresh_topic, batch_events=500, linger_ms=60_000)
    try:
        for i in range(7):
            monitor.record(wire(i))
        assert monitor.stats()["buffered"] == 7  # a long linger: nothing sent yet
        assert monitor.flush(10) == 0
        stats = monitor.stats()
        assert (stats["recorded"], stats["delivered"], stats["buffered"]) == (7, 7, 0)
    finally:
        assert monitor.close() == 0
    records = read_records(kafka_bootstrap, fresh_topic, min_records=1)
    assert [len(unpack(value)) for _, value in records] == [7]


@pytest.mark.integration
def test_broker_down_record_stays_cheap_drops_are_counted_and_the_rest_arrives(
    embedded_broker: EmbeddedBroker,
) -> None:
    topic = create_topic(embedded_broker.bootstrap, 3)
    monitor = Monitor(embedded_broker.bootstrap, topic, buffer_events=1_000, batch_events=100, linger_ms=10)
    try:
        for i in range(300):
            monitor.record(wire(i))
        assert monitor.flush(10) == 0

        embedded_broker.pause()
        costs = time_records(monitor, 10_000, start=300)
        time.sleep(0.5)
        down = monitor.stats()
        embedded_broker.resume()

        # A deque append, also while Kafka is unreachable: p99 is the contract; the max only has to
        # stay far below any network timeout (it includes GIL hand-offs to the sender thread).
        assert percentile(costs, 0.99) < 50e-6, f"p99 {percentile(costs, 0.99) * 1e6:.1f} us"
        assert max(costs) < 0.02, f"max {max(costs) * 1e3:.2f} ms"
        # Memory bound: deque (1,000) + librdkafka queue (10 records of 100) + one batch in hand.
        assert down["buffered"] <= 1_000 + 1_000 + 100
        assert down["dropped_buffer_full"] >= 10_000 - 2_100
        assert down["delivered"] == 300

        assert monitor.flush(30) == 0
        stats = monitor.stats()
    finally:
        monitor.close()
    assert stats["recorded"] == 10_300
    assert stats["failed_delivery"] == 0
    assert stats["delivered"] == 10_300 - stats["dropped_buffer_full"]
    assert accounted(stats) == 10_300
    events = read_events(embedded_broker.bootstrap, topic, min_events=stats["delivered"])
    assert len(events) == stats["delivered"]
    assert len({event["event_id"] for event in events}) == stats["delivered"]


@pytest.mark.integration
def test_a_long_outage_replaces_the_producer_without_losing_events(embedded_broker: EmbeddedBroker) -> None:
    topic = create_topic(embedded_broker.bootstrap, 3)
    with Monitor(embedded_broker.bootstrap, topic, batch_events=50, linger_ms=10, stall_timeout_s=1) as m:
        with embedded_broker.paused_for():
            for i in range(500):
                m.record(wire(i))
            time.sleep(3.0)  # longer than the stall timeout: the producer is replaced, records re-queued
            assert m.stats()["producer_restarts"] >= 1
        assert m.flush(30) == 0
        stats = m.stats()
    assert (stats["delivered"], stats["failed_delivery"], stats["dropped_buffer_full"]) == (500, 0, 0)
    events = read_events(embedded_broker.bootstrap, topic, min_events=500)
    assert {event["event_id"] for event in events} == {f"e{i}" for i in range(500)}


@pytest.mark.integration
def test_a_restarted_broker_gets_events_again(embedded_broker: EmbeddedBroker) -> None:
    topic = create_topic(embedded_broker.bootstrap, 3)
    with Monitor(embedded_broker.bootstrap, topic, batch_events=50, linger_ms=10, stall_timeout_s=2) as m:
        for i in range(100):
            m.record(wire(i))
        assert m.flush(10) == 0

        embedded_broker.restart()  # memory storage: the broker forgot the topic and the producer id
        ensure_topics(embedded_broker.bootstrap, [topic], 3)
        for i in range(100, 250):
            m.record(wire(i))
        assert m.flush(30) == 0
        stats = m.stats()
    assert stats["delivered"] == 250
    events = read_events(embedded_broker.bootstrap, topic, min_events=150)
    assert {event["event_id"] for event in events} == {f"e{i}" for i in range(100, 250)}


@pytest.mark.integration
def test_oversized_event_is_dropped_and_counted_others_arrive(kafka_bootstrap: str, fresh_topic: str) -> None:
    with Monitor(kafka_bootstrap, fresh_topic, batch_events=500) as monitor:
        monitor.record(wire(0))
        monitor.record(wire(1, prompt="x" * 10_000_000))  # 10 MB prompt
        monitor.record(wire(2))
        assert monitor.flush(15) == 0
        stats = monitor.stats()
    assert stats["dropped_too_large"] == 1
    assert stats["delivered"] == 2
    assert stats["internal_errors"] == 0
    events = read_events(kafka_bootstrap, fresh_topic, min_events=2)
    assert sorted(event["event_id"] for event in events) == ["e0", "e2"]


@pytest.mark.integration
def test_a_batch_too_large_for_one_record_is_split(kafka_bootstrap: str, fresh_topic: str) -> None:
    with Monitor(kafka_bootstrap, fresh_topic, batch_events=500, max_record_bytes=100_000) as monitor:
        for i in range(500):
            monitor.record(wire(i, prompt="p" * 2_000))  # ~1 MB of JSON in one batch
        assert monitor.flush(15) == 0
        assert monitor.stats()["delivered"] == 500
    records = read_records(kafka_bootstrap, fresh_topic, min_records=10)
    assert len(records) >= 10
    assert all(len(value) <= 100_000 for _, value in records)
    assert sum(len(unpack(value)) for _, value in records) == 500


@pytest.mark.integration
def test_unserializable_events_are_counted_not_fatal(kafka_bootstrap: str, fresh_topic: str) -> None:
    with Monitor(kafka_bootstrap, fresh_topic) as monitor:
        monitor.record(wire(0))
        monitor.record(wire(1, attributes={"bad": object()}))
        monitor.record(["not", "an", "event"])  # type: ignore[arg-type]
        monitor.record(wire(2))
        assert monitor.flush(15) == 0
        stats = monitor.stats()
    assert stats["serialization_errors"] == 2
    assert stats["delivered"] == 2
    assert accounted(stats) == stats["recorded"] == 4


@pytest.mark.integration
def test_other_pydantic_events_are_sent_as_dumps(kafka_bootstrap: str, fresh_topic: str) -> None:
    feedback = FeedbackEvent(call_id="e1", thumbs="down", team="ads")
    with Monitor(kafka_bootstrap, fresh_topic) as monitor:
        monitor.record(feedback)
        assert monitor.flush(15) == 0
    (event,) = read_events(kafka_bootstrap, fresh_topic, min_events=1)
    assert FeedbackEvent.model_validate(event) == feedback
    assert "comment" not in event


@pytest.mark.integration
def test_unreachable_kafka_close_gives_up_in_time_and_accounts_everything(fresh_topic: str) -> None:
    monitor = Monitor("127.0.0.1:9", fresh_topic, batch_events=10, linger_ms=5)
    for i in range(25):
        monitor.record(wire(i))
    time.sleep(0.2)
    started = time.monotonic()
    left = monitor.close(timeout_s=1.0)
    assert time.monotonic() - started < 5
    assert left == 25
    assert not monitor.record(wire(99))
    stats = monitor.stats()
    assert stats["delivered"] == 0
    assert stats["buffered"] == 0
    assert stats["failed_delivery"] + stats["dropped_closed"] == 26
    assert accounted(stats) == stats["recorded"] == 26


@pytest.mark.integration
def test_events_are_flushed_at_interpreter_exit(kafka_bootstrap: str, fresh_topic: str) -> None:
    script = textwrap.dedent(
        f"""
        from llmpulse.producers import Monitor
        monitor = Monitor({kafka_bootstrap!r}, {fresh_topic!r}, linger_ms=60_000)
        for i in range(42):
            monitor.record({{"event_id": f"x{{i}}", "ts_ms": 1, "latency_ms": 1.0,
                             "provider": "p", "request_model": "m"}})
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)
    events = read_events(kafka_bootstrap, fresh_topic, min_events=42)
    assert sorted(event["event_id"] for event in events) == sorted(f"x{i}" for i in range(42))


@pytest.mark.integration
def test_a_forked_child_sends_its_own_events(kafka_bootstrap: str, fresh_topic: str) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from llmpulse.producers import Monitor
        def event(name):
            return {{"event_id": name, "ts_ms": 1, "latency_ms": 1.0, "provider": "p", "request_model": "m"}}
        monitor = Monitor({kafka_bootstrap!r}, {fresh_topic!r}, linger_ms=5)
        monitor.record(event("parent-before"))
        assert monitor.flush(10) == 0
        pid = os.fork()
        if pid == 0:  # like a gunicorn worker: the child records and closes on its own
            code = 1
            try:
                for i in range(10):
                    monitor.record(event(f"child-{{i}}"))
                code = 0 if monitor.close(10) == 0 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        monitor.record(event("parent-after"))
        assert monitor.close(10) == 0
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)
    events = read_events(kafka_bootstrap, fresh_topic, min_events=12)
    expected = {"parent-before", "parent-after"} | {f"child-{i}" for i in range(10)}
    assert sorted(event["event_id"] for event in events) == sorted(expected)


def test_no_bootstrap_is_a_config_error() -> None:
    with pytest.raises(MonitorConfigError, match="no Kafka bootstrap servers"):
        Monitor(settings=Settings(kafka_bootstrap=None, embedded_broker_port=0))


def test_bad_sizes_are_config_errors() -> None:
    with pytest.raises(MonitorConfigError, match="batch_events"):
        Monitor("127.0.0.1:9", batch_events=0)
