"""Helpers for the pipeline integration tests: a stack on the test broker with private topics."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from llmpulse.producers import Monitor
from llmpulse.producers.workload import Incident, Workload
from llmpulse.settings import Settings
from llmpulse.stack import Stack


def private_settings(bootstrap: str, tmp_path: Path, **extra: Any) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        kafka_bootstrap=bootstrap,
        data_dir=tmp_path / "data",
        calls_topic=f"calls-{tag}",
        dlq_topic=f"dlq-{tag}",
        alerts_topic=f"alerts-{tag}",
        feedback_topic=f"feedback-{tag}",
        evaluations_topic=f"evaluations-{tag}",
        consumer_group=f"group-{tag}",
        **extra,
    )


def workload_events(n: int, seed: int = 1, incidents: Sequence[Incident] = ()) -> list[dict[str, Any]]:
    workload = Workload(seed=seed, incidents=list(incidents))
    start = workload.start_ms_ending_now(n)
    return [event for _, event in workload.events(n, start_ms=start)]


def send_events(settings: Settings, events: list[dict[str, Any]]) -> None:
    monitor = Monitor(settings.kafka_bootstrap, topic=settings.calls_topic)
    for event in events:
        monitor.record(event)
    left = monitor.flush(60.0)
    stats = monitor.stats()
    monitor.close()
    assert left == 0 and stats["delivered"] == len(events), stats


def send_raw(settings: Settings, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for value in values:
        producer.produce(settings.calls_topic, value)
    assert producer.flush(30) == 0


def start_stack(settings: Settings, tmp_path: Path) -> Stack:
    stack = Stack(settings, log_dir=tmp_path / "logs")
    stack.start_broker()
    stack.start_worker()
    stack.wait_worker_ready()
    return stack


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 120.0, poll_s: float = 0.2) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout_s`` (generous: the machine is shared)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting for {what}"
        time.sleep(poll_s)


def log_has(path: Path, pattern: str) -> bool:
    """Whether a worker log contains a line matching ``pattern`` (a regular expression)."""
    return path.exists() and re.search(pattern, path.read_text(errors="replace")) is not None


def wait_stored(stack: Stack, at_least: int, timeout_s: float = 120.0) -> None:
    """After ``wait_caught_up``: wait until ``llm_calls`` holds ``at_least`` rows. The embedded broker reports a
    partition's end as the first offset of its last batch (+1), so a zero lag can come a batch early."""

    def enough() -> bool:
        with stack.reader() as store:
            return int(store.query("SELECT count() FROM llm_calls").scalar()) >= at_least

    wait_until(enough, f"{at_least} stored events", timeout_s)
