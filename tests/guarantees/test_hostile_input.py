"""10,000 hostile records at a running worker, half NDJSON (the Arrow fast path and its fallback), half JSON
objects, arrays and junk (the exact validator): nothing crashes, every item is stored or dead-lettered, and
every event id is accounted for — each valid event stored exactly once, checked id by id against the store."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmpulse.producers import Monitor
from llmpulse.stack import Stack
from tests.fixtures.kafka import read_records
from tests.guarantees.checks import assert_rollups_match
from tests.stream_jobs.pipeline_helpers import private_settings, wait_until, workload_events

pytestmark = [pytest.mark.integration, pytest.mark.guarantees]

RECORDS_PER_PATH = 5_000
MAX_RECORD_BYTES = 900_000
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


@dataclass
class Item:
    """One element of a record: an event (``kind`` valid | long | dup | mutated) or opaque bytes (raw)."""

    kind: str
    event: dict[str, Any] = field(default_factory=dict)
    raw: bytes = b""


@st.composite
def event_item(draw: st.DrawFn, kinds: tuple[str, ...] = ("valid", "valid", "mutated", "mutated", "dup")) -> Item:
    kind = "long" if draw(st.integers(0, 99)) == 0 else draw(st.sampled_from(kinds))
    event = dict(draw(st.sampled_from(BASE)))
    event["ts_ms"] = NOW - draw(st.integers(0, 3_600_000))
    if kind == "dup":
        event["event_id"] = f"dup-{draw(st.integers(0, 20))}"
    elif kind == "long":  # stored, cut to the configured cap and flagged
        event[draw(st.sampled_from(["prompt", "team", "user_id", "error_type"]))] = "x" * draw(
            st.integers(10_000, 100_000))  # fmt: skip
    elif kind == "mutated":
        for _ in range(draw(st.integers(1, 3))):
            name = draw(st.sampled_from(sorted(FIELD_VALUES)))
            value = draw(st.sampled_from(FIELD_VALUES[name]))
            if value is None:
                event.pop(name, None)
            else:
                event[name] = value
    return Item(kind, event)


@st.composite
def raw_item(draw: st.DrawFn, one_line: bool) -> Item:
    """Bytes that are not a well-formed event: random, truncated, deeply nested, NaN, scalars."""
    kind = draw(st.sampled_from(["bytes", "truncated", "nested", "nan", "scalar"]))
    event = dict(draw(st.sampled_from(BASE)))
    if kind == "bytes":
        raw = draw(st.binary(min_size=0, max_size=300))
        if one_line:  # an NDJSON line: no newline in it, and not blank (a blank line is no item)
            raw = b"#" + raw.replace(b"\n", b" ")
    elif kind == "truncated":
        whole = orjson.dumps(event)
        raw = whole[: draw(st.integers(1, len(whole) - 1))]
    elif kind == "nested":
        depth = draw(st.integers(50, 3000))
        raw = b'{"a":' * depth + b"1" + b"}" * depth
    elif kind == "nan":
        token = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]))
        raw = orjson.dumps(event).replace(b'"latency_ms":', b'"latency_ms":' + token + b',"x":', 1)
    else:
        raw = draw(st.sampled_from([b"1", b'"s"', b"null", b"true", b"[]", b"[1,2]"]))
    return Item("raw", raw=raw)


Record = tuple[str, list[Item]]  # (shape: ndjson | array | object | raw, items)


@st.composite
def ndjson_record(draw: st.DrawFn) -> Record:
    """What Monitor sends: one event per line. Half the records are clean (the Arrow fast path takes them
    whole); the others mix in broken values and broken lines (the fast path must hand them over)."""
    clean = draw(st.booleans())
    first = draw(event_item(("valid", "dup") if clean else ("valid", "mutated", "dup")))
    line = event_item(("valid", "valid", "dup")) if clean else st.one_of(event_item(), raw_item(one_line=True))
    return "ndjson", [first, *draw(st.lists(line, min_size=0, max_size=11))]


@st.composite
def json_record(draw: st.DrawFn) -> Record:
    """What other producers send: a JSON array of events, one JSON object, or anything at all."""
    shape = draw(st.sampled_from(["array", "array", "object", "raw"]))
    if shape == "raw":
        return shape, [draw(raw_item(one_line=False))]
    if shape == "object":
        return shape, [draw(event_item())]
    return shape, draw(st.lists(event_item(), min_size=1, max_size=7))


def collect(strategy: st.SearchStrategy[Record], n: int) -> list[Record]:
    """``n`` records, drawn ten per example (hypothesis' cost is mostly per example)."""
    out: list[Record] = []

    @settings(max_examples=n // 10, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(strategy, min_size=10, max_size=10))
    def gather(records: list[Record]) -> None:
        out.extend(records)

    gather()
    assert len(out) >= n, f"hypothesis produced {len(out)} records, not {n}"
    return out[:n]


def raw_items(raw: bytes) -> int:
    """Items a raw record or line stands for: the elements of a non-empty JSON array, else one."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return 1
    return len(value) if isinstance(value, list) and value else 1


@dataclass
class Sent:
    values: list[bytes] = field(default_factory=list)
    items: int = 0
    ids: Counter[str] = field(default_factory=Counter)  # event id -> times sent
    must_store: set[str] = field(default_factory=set)  # well-formed events no rule rejects
    fast_candidates: int = 0  # NDJSON records of well-formed, valid events only


def encode(records: list[Record], sent: Sent) -> None:
    """Give every event a unique id (duplicates share a small pool) and write the record values."""
    for shape, items in records:
        parts: list[bytes] = []
        for item in items:
            if item.kind == "raw":
                parts.append(item.raw)
                sent.items += raw_items(item.raw)
                continue
            if item.kind != "dup":
                item.event["event_id"] = f"fz-{sent.items}"
            sent.items += 1
            sent.ids[item.event["event_id"]] += 1
            if item.kind != "mutated":
                sent.must_store.add(item.event["event_id"])
            parts.append(orjson.dumps(item.event))
        value = b"[" + b",".join(parts) + b"]" if shape == "array" else b"\n".join(parts)
        assert len(value) <= MAX_RECORD_BYTES, len(value)
        if shape == "ndjson" and all(i.kind in ("valid", "dup") for i in items):
            sent.fast_candidates += 1
        sent.values.append(value)


def test_hostile_records_are_stored_or_dead_lettered(kafka_bootstrap: str, tmp_path: Path) -> None:
    records = collect(ndjson_record(), RECORDS_PER_PATH) + collect(json_record(), RECORDS_PER_PATH)
    sent = Sent()
    encode(records, sent)
    assert len(sent.values) == 2 * RECORDS_PER_PATH == 10_000
    assert sent.fast_candidates > RECORDS_PER_PATH // 4  # the fast path gets plenty of whole records
    settings_ = private_settings(kafka_bootstrap, tmp_path)
    with Stack(settings_, log_dir=tmp_path / "logs") as stack:
        stack.start_broker()
        worker = stack.start_worker()
        stack.wait_worker_ready()
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000})
        failed: list[str] = []
        for value in sent.values:
            producer.produce(settings_.calls_topic, value, on_delivery=lambda err, _: failed.append(str(err)) if err
                             else None)  # fmt: skip
            producer.poll(0)
        assert producer.flush(60) == 0 and failed == [], failed[:3]
        # counted on the broker by reading them back (the embedded broker's high watermark undercounts)
        assert len(read_records(kafka_bootstrap, settings_.calls_topic, min_records=10_000, timeout_s=120)) == 10_000
        # a 10 MB event through the app's Monitor: too large for a Kafka record, dropped *and counted*
        monitor = Monitor(kafka_bootstrap, topic=settings_.calls_topic)
        monitor.record({**BASE[0], "event_id": "huge", "prompt": "p" * 10_000_000})
        monitor.flush(30)
        assert monitor.stats()["dropped_too_large"] == 1
        monitor.close()
        stack.wait_caught_up(timeout_s=600)
        wait_until(lambda: accounted(stack) >= sent.items, f"{sent.items} items stored or dead-lettered", 300)
        assert worker.poll() is None, "the worker crashed"
        with stack.reader() as store:
            stored_ids = Counter(dict(store.query("SELECT event_id, count() FROM llm_calls GROUP BY event_id").rows))
            dead_ids = Counter(dict(store.query("SELECT event_id, count() FROM llm_dead_letters "
                                                "GROUP BY event_id").rows))  # fmt: skip
            reasons = dict(store.query("SELECT reason, count() FROM llm_dead_letters GROUP BY reason").rows)
            stored, dead = sum(stored_ids.values()), sum(dead_ids.values())
            assert stored + dead == sent.items, (stored, dead, sent.items, reasons)
            # id by id: each sent event is stored once or dead-lettered, a valid one always stored, exactly once
            assert max(stored_ids.values()) == 1
            assert set(stored_ids) <= set(sent.ids), "stored an event nobody sent"
            assert sent.must_store <= set(stored_ids), f"{len(sent.must_store - set(stored_ids))} valid events lost"
            unaccounted = {i: n for i, n in sent.ids.items() if stored_ids[i] + dead_ids[i] != n}
            assert not unaccounted, list(unaccounted.items())[:5]
            dups = {i: n for i, n in sent.ids.items() if i.startswith("dup-")}
            assert sum(dups.values()) - len(dups) == reasons["duplicate_event_id"]
            assert {"malformed_json", "validation", "not_an_event", "duplicate_event_id"} <= set(reasons)
            assert store.query("SELECT count() FROM llm_dead_letters WHERE detail = ''").scalar() == 0
            # values go in as binary columns: what was sent is what is stored, quotes and all
            nasty = {r[0] for r in store.query("SELECT DISTINCT team FROM llm_calls").rows}
            assert "'; DROP TABLE llm_calls; --" in nasty and "ctl\x00\x01\x1f\x7f" in nasty
            assert store.query("SELECT max(length(team)) FROM llm_calls").scalar() <= 256
            assert store.query("SELECT count() FROM llm_calls WHERE has(flags, 'capped:team')").scalar() > 0
            assert store.query("SELECT count() FROM llm_calls WHERE isNaN(latency_ms) OR isInfinite(latency_ms) "
                               "OR input_tokens > 100000000").scalar() == 0  # fmt: skip
            assert_rollups_match(store)
        assert topic_reasons(kafka_bootstrap, settings_.dlq_topic, dead) == reasons


def accounted(stack: Stack) -> int:
    """Items stored or dead-lettered so far."""
    with stack.reader() as store:
        return int(store.query("SELECT (SELECT count() FROM llm_calls) + (SELECT count() FROM llm_dead_letters)")
                   .scalar())  # fmt: skip


def topic_reasons(bootstrap: str, topic: str, at_least: int) -> dict[str, int]:
    """Dead letters on the topic, by reason: every record read back from the start (not up to the broker's
    high watermark, which the embedded broker undercounts)."""
    values = read_records(bootstrap, topic, min_records=at_least, timeout_s=120, idle_s=2.0)
    return dict(Counter(orjson.loads(v)["reason"] for _, v in values))
