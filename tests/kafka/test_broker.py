"""The embedded broker: starts, answers Kafka, round-trips records, pauses, and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from llmpulse.kafka import (
    BrokerBinaryNotFound,
    BrokerStartError,
    EmbeddedBroker,
    KafkaUnavailable,
    consumer_config,
    ensure_topics,
    producer_config,
    wait_for_kafka,
)
from llmpulse.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def process_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a reaped or dead process is gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.integration
def test_start_creates_topics_idempotently(embedded_broker: EmbeddedBroker) -> None:
    assert embedded_broker.running
    assert embedded_broker.bootstrap == f"127.0.0.1:{embedded_broker.port}"
    assert embedded_broker.port > 0

    created = ensure_topics(embedded_broker.bootstrap, ["a.calls", "a.alerts"], partitions=3)
    again = ensure_topics(embedded_broker.bootstrap, ["a.calls", "a.more"], partitions=2)

    assert sorted(created) == ["a.alerts", "a.calls"]
    assert again == ["a.more"]
    topics = AdminClient({"bootstrap.servers": embedded_broker.bootstrap}).list_topics(timeout=5).topics
    assert len(topics["a.calls"].partitions) == 3
    assert len(topics["a.more"].partitions) == 2


@pytest.mark.integration
def test_produce_consume_round_trip(kafka_bootstrap: str, fresh_topic: str) -> None:
    settings = Settings()
    producer = Producer(producer_config(kafka_bootstrap, settings))
    delivered: list[int] = []
    for i in range(30):
        producer.produce(
            fresh_topic,
            f"value-{i}".encode(),
            on_delivery=lambda err, msg: delivered.append(0 if err else 1),
        )
    assert producer.flush(10) == 0
    assert delivered == [1] * 30

    consumer = Consumer(consumer_config(kafka_bootstrap, "round-trip", settings))
    partitions = consumer.list_topics(fresh_topic, timeout=5).topics[fresh_topic].partitions
    consumer.assign([TopicPartition(fresh_topic, p, 0) for p in partitions])
    seen: set[bytes] = set()
    deadline = time.monotonic() + 15
    while len(seen) < 30 and time.monotonic() < deadline:
        for msg in consumer.consume(100, timeout=0.5):
            assert msg.error() is None
            value = msg.value()
            assert isinstance(value, bytes)
            seen.add(value)
    consumer.close()
    assert seen == {f"value-{i}".encode() for i in range(30)}


@pytest.mark.integration
def test_stop_leaves_no_process_and_frees_the_port(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_dir=tmp_path)
    pid = broker.pid
    assert pid is not None and process_alive(pid)

    broker.stop()
    broker.stop()  # twice is fine

    assert not process_alive(pid)
    assert not broker.running
    with pytest.raises(KafkaUnavailable, match=rf"cannot reach Kafka at {broker.bootstrap} within 0.5s"):
        wait_for_kafka(broker.bootstrap, 0.5)
    assert "starting tansu" in (tmp_path / "tansu.log").read_text()


@pytest.mark.integration
def test_context_manager_stops_a_paused_broker() -> None:
    with EmbeddedBroker() as broker:
        pid = broker.pid
        log_dir = broker.log_dir
        broker.pause()
    assert pid is not None and not process_alive(pid)
    assert not log_dir.exists()  # its own temp dir is removed


@pytest.mark.integration
def test_pause_makes_kafka_unreachable_until_resume(embedded_broker: EmbeddedBroker) -> None:
    with embedded_broker.paused_for():
        assert embedded_broker.paused
        started = time.monotonic()
        with pytest.raises(KafkaUnavailable, match="cannot reach Kafka"):
            wait_for_kafka(embedded_broker.bootstrap, 1.0)
        assert time.monotonic() - started < 5
    assert not embedded_broker.paused
    wait_for_kafka(embedded_broker.bootstrap, 10.0)


@pytest.mark.integration
def test_restart_keeps_the_port_and_loses_the_data(embedded_broker: EmbeddedBroker) -> None:
    port, old_pid = embedded_broker.port, embedded_broker.pid
    ensure_topics(embedded_broker.bootstrap, ["kept.or.not"], 1)

    embedded_broker.restart()

    assert embedded_broker.port == port
    assert embedded_broker.pid != old_pid
    assert old_pid is not None and not process_alive(old_pid)
    topics = AdminClient({"bootstrap.servers": embedded_broker.bootstrap}).list_topics(timeout=5).topics
    assert "kept.or.not" not in topics  # memory storage


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerBinaryNotFound, match="missing or not executable"):
        EmbeddedBroker(binary=str(tmp_path / "no-such-tansu"))


def test_binary_that_exits_reports_its_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "fake-tansu"
    fake.write_text("#!/bin/sh\necho 'fake broker: cannot bind, giving up'\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerStartError, match="exited with code 3") as info:
        EmbeddedBroker(binary=str(fake), log_dir=tmp_path / "logs")
    assert "fake broker: cannot bind, giving up" in str(info.value)


def test_broker_that_never_answers_times_out_with_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "silent-tansu"
    fake.write_text("#!/bin/sh\necho 'silent broker up'\nexec sleep 60\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerStartError, match="did not listen") as info:
        EmbeddedBroker(binary=str(fake), log_dir=tmp_path / "logs", start_timeout_s=1.0)
    assert "silent broker up" in str(info.value)


SCRIPT = textwrap.dedent(
    """
    import sys, time
    from llmpulse.kafka import EmbeddedBroker
    broker = EmbeddedBroker()
    print(broker.pid, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_no_orphan_broker_when_the_owner_is_signalled(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    owner = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        # the owner takes signals as a foreground program does: a test run started in the background by a
        # shell without job control inherits SIGINT ignored, and the owner would then never see the Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline().decode().strip()
        assert line.isdigit(), f"owner did not report a broker pid: {line!r}"
        broker_pid = int(line)
        assert process_alive(broker_pid)

        owner.send_signal(sig)
        owner.wait(30)

        assert wait_gone(broker_pid), f"tansu {broker_pid} outlived its owner after {sig.name}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
