"""End-to-end throughput on the embedded stack, and the raw-consume ceiling on the same records."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from llmpulse.kafka.config import consumer_config
from llmpulse.kafka.records import unpack
from llmpulse.producers import Monitor
from llmpulse.settings import Settings
from llmpulse.stack import Stack


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def warm_up(stack: Stack, settings: Settings, events: list[dict[str, Any]]) -> None:
    """Send a few events and wait until they are stored: the consumer group is assigned and everything
    is loaded before the clock starts."""
    monitor = Monitor(stack.bootstrap, topic=settings.calls_topic)
    for event in events:
        monitor.record({**event, "event_id": f"warmup-{event['event_id']}"})
    monitor.close(30.0)
    stack.wait_caught_up(timeout_s=120, poll_s=0.2)


def run_pipeline(stack: Stack, settings: Settings, events: list[dict[str, Any]], poll_s: float = 0.1) -> dict[str, Any]:
    """Produce ``events`` through the Monitor as fast as it takes them; time until all are stored."""
    with stack.reader() as store:
        before = int(store.query("SELECT count() FROM llm_calls").scalar())
    monitor = Monitor(stack.bootstrap, topic=settings.calls_topic, buffer_events=len(events) + 1)
    t0 = time.perf_counter()
    for event in events:
        monitor.record(event)
    produced_at = time.perf_counter()
    left = monitor.flush(300.0)
    flushed_at = time.perf_counter()
    want = before + len(events)
    with stack.reader() as store:
        deadline = time.monotonic() + 1800
        while True:  # the last call row and its rollup visible in ClickHouse
            calls, rolled = store.query("SELECT (SELECT count() FROM llm_calls), "
                                        "(SELECT sum(requests) FROM llm_call_rollups_1m)").rows[0]  # fmt: skip
            if int(calls) >= want and int(rolled) >= want:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {calls} of {want} calls visible after 30 minutes")
            time.sleep(poll_s)
    stored_at = time.perf_counter()
    calls, rolled = int(calls) - before, int(rolled) - before
    stats = monitor.stats()
    monitor.close(10.0)
    stack.wait_caught_up(timeout_s=600, poll_s=0.5)  # and committed, before anything else is measured
    elapsed = stored_at - t0
    return {
        "events": len(events),
        "pipeline_eps": round(len(events) / elapsed),
        "pipeline_seconds": round(elapsed, 3),
        "produce_seconds": round(flushed_at - t0, 3),
        "record_loop_seconds": round(produced_at - t0, 3),
        "calls_stored": calls,
        "rollup_requests": rolled,
        "undelivered": left + stats["dropped_buffer_full"] + stats["failed_delivery"],
    }


def raw_consume_eps(bootstrap: str, settings: Settings, expected_events: int) -> dict[str, Any]:
    # (the topic also holds the warm-up events: counted and timed like the rest)
    """confluent-kafka reading the same records from the start and decoding them, nothing else."""
    cfg = consumer_config(bootstrap, f"bench-raw-{time.time_ns()}", settings,
                          extra={"fetch.max.bytes": 64 * 1024 * 1024, "enable.partition.eof": True})  # fmt: skip
    consumer = Consumer(cfg)
    meta = consumer.list_topics(settings.calls_topic, timeout=10)
    partitions = list(meta.topics[settings.calls_topic].partitions)
    consumer.assign([TopicPartition(settings.calls_topic, p, 0) for p in partitions])
    events = 0
    eof: set[int] = set()
    t0 = 0.0
    while len(eof) < len(partitions):
        for msg in consumer.consume(1000, timeout=1.0):
            if not t0:
                t0 = time.perf_counter()  # from the first record: group set-up is not consuming
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition() or 0)
                continue
            events += len(unpack(msg.value() or b""))
    elapsed = time.perf_counter() - t0
    consumer.close()
    return {"raw_consume_eps": round(events / elapsed), "raw_consume_events": events,
            "raw_consume_complete": events >= expected_events}  # fmt: skip
