"""10,000+ hostile records at a running worker: nothing crashes, every item is stored or dead-lettered."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmpulse.producers import Monitor
from llmpulse.stack import Stack
from tests.stream_jobs.pipeline_helpers import private_settings, workload_events

pytestmark = [pytest.mark.integration, pytest.mark.guarantees]

NOW = int(time.time() * 1000)
BASE = workload_events(50, seed=41)
NASTY = ["'; DROP TABLE llm_calls; --", 'quo"te', "back\\slash", "ctl\x00\x01\x1f\x7f", "tab\tnew\nline",
         "{json}", "emoji 🚀", "\u202eRTL", "a" * 1000, " ", "NULL", "\\N"]  # fmt: skip
FIELD_VALUES = {
    "input_tokens": [-1, 0, 10**9, 2**63, 1.5, "12", None, True],
    "latency_ms": [-5.0, 0.0, 1e300, 86_400_001.0, "fast", None],
    "ts_ms": [0, NOW - 10 * 365 * 86_400_000, NOW + 10 * 365 * 86_400_000, NOW, -1, "now"],
    "schema_version": [0, 2, 99, "1", None],
    "status": ["ok", "error", "OK", "", None],
    "team": NASTY, "request_model": NASTY, "provider": NASTY, "user_id": NASTY, "app": NASTY,
    "attributes": [{}, {"k": "v"}, {"k": 1}, {"x" * 2000: "y"}, [], "str", {str(i): "v" for i in range(100)}],
}  # fmt: skip


@st.composite
def hostile_item(draw: st.DrawFn) -> tuple[str, Any]:
    """('raw', bytes) for one opaque record, or ('event', dict) for one JSON event (maybe broken)."""
    kind = draw(st.sampled_from(["bytes", "truncated", "nested", "nan", "mutated", "mutated", "mutated",
                                 "valid", "duplicate", "scalar", "long"]))  # fmt: skip
    base = dict(draw(st.sampled_from(BASE)))
    base["event_id"] = f"fz-{draw(st.integers(0, 10**12))}"
    base["ts_ms"] = NOW - draw(st.integers(0, 3_600_000))
    if kind == "bytes":
        return "raw", draw(st.binary(min_size=0, max_size=300))
    if kind == "truncated":
        raw = orjson.dumps(base)
        return "raw", raw[: draw(st.integers(1, len(raw) - 1))]
    if kind == "nested":
        depth = draw(st.integers(50, 3000))
        return "raw", b'{"a":' * depth + b"1" + b"}" * depth
    if kind == "nan":
        token = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]))
        return "raw", orjson.dumps(base).replace(b'"latency_ms":', b'"latency_ms":' + token + b',"x":', 1)
    if kind == "scalar":
        return "raw", draw(st.sampled_from([b"1", b'"s"', b"null", b"true", b"[]", b"[1,2]"]))
    if kind == "long":
        base[draw(st.sampled_from(["prompt", "team", "user_id", "error_type"]))] = "x" * draw(
            st.integers(10_000, 400_000))
        return "event", base
    if kind == "duplicate":
        base["event_id"] = f"dup-{draw(st.integers(0, 20))}"
        return "event", base
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 3))):
            field = draw(st.sampled_from(sorted(FIELD_VALUES)))
            value = draw(st.sampled_from(FIELD_VALUES[field]))
            if value is None:
                base.pop(field, None)
            else:
                base[field] = value
    return "event", base


def collect(n: int) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(hostile_item())
    def gather(item: tuple[str, Any]) -> None:
        items.append(item)

    gather()
    return items


def to_records(items: list[tuple[str, Any]]) -> list[tuple[bytes, int]]:
    """(record value, items it counts as): opaque records count 1; event groups are JSON arrays."""
    records: list[tuple[bytes, int]] = []
    group: list[Any] = []
    for kind, value in items:
        if kind == "raw":
            records.append((value, 2 if value == b"[1,2]" else 1))  # each array element is one item
            continue
        group.append(value)
        if len(group) == 7:
            records.append((orjson.dumps(group), len(group)))
            group = []
    if group:
        records.append((orjson.dumps(group), len(group)))
    return records


def test_hostile_records_are_stored_or_dead_lettered(kafka_bootstrap: str, tmp_path: Path) -> None:
    items = collect(10_000)
    assert len(items) >= 10_000
    records = to_records(items)
    settings_ = private_settings(kafka_bootstrap, tmp_path)
    sent_items = sum(n for _, n in records)
    with Stack(settings_, log_dir=tmp_path / "logs") as stack:
        stack.start_broker()
        worker = stack.start_worker()
        stack.wait_worker_ready()
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000})
        for value, _ in records:
            producer.produce(settings_.calls_topic, value)
            producer.poll(0)
        assert producer.flush(60) == 0
        # a 10 MB event through the app's Monitor: too large for a Kafka record, dropped *and counted*
        monitor = Monitor(kafka_bootstrap, topic=settings_.calls_topic)
        monitor.record({**BASE[0], "event_id": "huge", "prompt": "p" * 10_000_000})
        monitor.flush(30)
        assert monitor.stats()["dropped_too_large"] == 1
        monitor.close()
        stack.wait_caught_up(timeout_s=600)
        assert worker.poll() is None, "the worker crashed"
        with stack.reader() as store:
            stored = int(store.query("SELECT count() FROM llm_calls").scalar())
            dead = int(store.query("SELECT count() FROM llm_dead_letters").scalar())
            reasons_all = store.query("SELECT reason, count() FROM llm_dead_letters GROUP BY reason").rows
            assert stored + dead == sent_items, reasons_all
            reasons = dict(store.query("SELECT reason, count() FROM llm_dead_letters GROUP BY reason").rows)
            assert {"malformed_json", "validation", "not_an_event", "duplicate_event_id"} <= set(reasons)
            assert store.query("SELECT count() FROM llm_dead_letters WHERE detail = ''").scalar() == 0
            # values go in as binary columns: what was sent is what is stored, quotes and all
            nasty = {r[0] for r in store.query("SELECT DISTINCT team FROM llm_calls").rows}
            assert "'; DROP TABLE llm_calls; --" in nasty and "ctl\x00\x01\x1f\x7f" in nasty
            assert store.query("SELECT max(length(team)), countIf(has(flags, 'capped:team')) "
                               "FROM llm_calls").rows[0][0] <= 256  # fmt: skip
            assert store.query("SELECT count() FROM llm_calls WHERE has(flags, 'capped:team')").scalar() > 0
            assert store.query("SELECT count() FROM llm_calls WHERE isNaN(latency_ms) OR isInfinite(latency_ms) "
                               "OR input_tokens > 100000000").scalar() == 0  # fmt: skip
        dlq = _topic_reasons(kafka_bootstrap, settings_.dlq_topic)
        assert sum(dlq.values()) == dead, (dlq, reasons_all)
    assert not math.isnan(stored)


def _topic_reasons(bootstrap: str, topic: str) -> dict[str, int]:
    """Dead letters on the topic, by reason (read from the start of every partition)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"count-{time.time_ns()}",
                        "enable.partition.eof": True})  # fmt: skip
    parts = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    reasons: dict[str, int] = {}
    done: set[int] = set()
    while len(done) < len(parts):
        for msg in consumer.consume(500, timeout=2.0):
            if msg.error():
                done.add(msg.partition())
                continue
            reason = orjson.loads(msg.value())["reason"]
            reasons[reason] = reasons.get(reason, 0) + 1
    consumer.close()
    return reasons
