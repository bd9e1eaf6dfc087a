from __future__ import annotations

import time

import orjson
import pytest

from llmpulse.kafka.records import pack
from llmpulse.schemas import LLMCallEvent
from llmpulse.schemas.kinds import CALL
from llmpulse.stream_jobs.decode import Decoder, Source
from llmpulse.stream_jobs.exact import ExactValidator
from llmpulse.stream_jobs.kinds import contract

NOW = int(time.time() * 1000)
SRC = Source("llm.calls", 0, 42, NOW)


def good(**kw: object) -> dict:
    return LLMCallEvent(provider="openai", request_model="gpt-4o", latency_ms=10.0, ts_ms=NOW, **kw).to_wire()


def decoder() -> Decoder:
    return Decoder(contract(CALL), max_age_ms=86_400_000, max_future_ms=3_600_000)


def reasons(out) -> list[tuple[int, str]]:
    return [(d.item_index, d.reason) for d in out.dead]


def test_ndjson_record_takes_the_fast_path() -> None:
    value = pack([good(team="a"), good(team="b")]).records[0][0]
    assert value.count(b"\n") == 1
    out = decoder().decode([(SRC, value)])
    assert out.table["team"].to_pylist() == ["a", "b"] and out.dead == []
    assert out.table["kafka_offset"].to_pylist() == [42, 42]


@pytest.mark.parametrize("encode", [orjson.dumps, lambda evs: b"\n".join(orjson.dumps(e) for e in evs)])
def test_only_bad_elements_are_dead_letters(encode) -> None:
    elements = [good(), {"provider": "x"}, 7, {**good(), "schema_version": 9}, {**good(), "input_tokens": -1},
                {**good(), "ts_ms": NOW - 10 * 365 * 86_400_000}, good()]  # fmt: skip
    out = decoder().decode([(SRC, encode(elements))])
    assert out.events == 2
    assert reasons(out) == [(1, "validation"), (2, "not_an_event"), (3, "unknown_schema_version"),
                            (4, "validation"), (5, "timestamp_out_of_range")]  # fmt: skip
    assert all(d.source == SRC and d.payload for d in out.dead)
    assert "input_tokens" in out.dead[3].detail


def test_single_object_and_attributes() -> None:
    out = decoder().decode([(SRC, orjson.dumps(good(team="x", attributes={"k": "v"})))])
    assert out.table["team"].to_pylist() == ["x"]
    assert out.table["attributes"].to_pylist() == [[("k", "v")]]


def test_whole_record_problems() -> None:
    out = decoder().decode([(SRC, b'{"truncated": '), (SRC, b"42"), (SRC, b"\xff\xfe"), (SRC, b" [] ")])
    assert reasons(out) == [(-1, "malformed_json"), (-1, "not_an_event"), (-1, "malformed_json"),
                            (-1, "not_an_event")]  # fmt: skip
    assert out.events == 0


def test_nan_and_end_time() -> None:
    nan = b'{"event_id":"a","ts_ms":%d,"provider":"p","request_model":"m","latency_ms":NaN}' % NOW
    end = orjson.dumps({"event_id": "b", "ts_ms": NOW, "end_ts_ms": NOW + 250, "provider": "p",
                        "request_model": "m"})  # fmt: skip
    none = orjson.dumps({"event_id": "c", "ts_ms": NOW, "provider": "p", "request_model": "m"})
    out = decoder().decode([(SRC, nan), (SRC, end), (SRC, none)])
    assert out.table["latency_ms"].to_pylist() == [250.0]
    assert sorted((d.event_id, d.reason) for d in out.dead) == [("a", "validation"), ("c", "validation")]


def test_details_never_echo_values() -> None:
    secret = "alice@example.com"
    out = decoder().decode([(SRC, orjson.dumps([{**good(), "input_tokens": secret}]))])
    assert out.dead and secret not in out.dead[0].detail


WEIRD = [
    {"latency_ms": -1}, {"latency_ms": 86_400_001}, {"ttft_ms": -0.5}, {"output_tokens": 10**8 + 1},
    {"status": "OK"}, {"status": None}, {"schema_version": 1}, {"schema_version": 2}, {"event_id": ""},
    {"event_id": "x" * 129}, {"provider": ""}, {"client_cost_usd": -1.0}, {"client_cost_usd": 0.2},
    {"streaming": 1}, {"team": 5}, {"input_tokens": "12"}, {"input_tokens": 1.0}, {"input_tokens": True},
    {"ts_ms": -5}, {"latency_ms": None, "end_ts_ms": NOW - 1}, {"end_ts_ms": -1}, {"attributes": {"a": 1}},
    {"team": "caf\xe9"}, {"app": b"\xff\xfe"},
]  # fmt: skip


@pytest.mark.parametrize("change", WEIRD)
def test_fast_path_agrees_with_the_exact_validator(change: dict) -> None:
    event = {**good(), **change}
    event = {k: v for k, v in event.items() if v is not None or k != "status"}
    raw_app = event.pop("app") if isinstance(event.get("app"), bytes) else None
    value = orjson.dumps(event)
    if raw_app is not None:  # not UTF-8: no JSON encoder writes it, but a broken producer can
        value = value[:-1] + b',"app":"' + raw_app + b'"}'
    fast = decoder().decode([(SRC, value)])
    exact = ExactValidator(contract(CALL), 86_400_000, 3_600_000).validate([(SRC, value)])
    assert fast.events == len(exact.events)
    assert [d.reason for d in fast.dead] == [d.reason for d in exact.dead]


def test_many_records_parsed_together_keep_their_sources() -> None:
    records = []
    for offset in range(5):
        events = [good(team=f"t{offset}", event_id=f"{offset}-{i}") for i in range(offset + 1)]
        records.append((Source("llm.calls", offset % 2, offset, NOW), pack(events).records[0][0]))
    records.append((Source("llm.calls", 1, 9, NOW), orjson.dumps([good(team="array")])))
    out = decoder().decode(records)
    rows = out.table.select(["team", "kafka_partition", "kafka_offset"]).to_pylist()
    expected = [{"team": f"t{o}", "kafka_partition": o % 2, "kafka_offset": o} for o in range(5) for _ in range(o + 1)]
    assert rows == [*expected, {"team": "array", "kafka_partition": 1, "kafka_offset": 9}]


def test_one_bad_record_among_many_costs_only_itself() -> None:
    records = [(Source("llm.calls", 0, o, NOW), pack([good(event_id=f"e{o}")]).records[0][0]) for o in range(4)]
    records[2] = (records[2][0], orjson.dumps({**good(event_id="bad"), "team": 5}))
    out = decoder().decode(records)
    assert sorted(out.table["event_id"].to_pylist()) == ["e0", "e1", "e3"]
    assert [(d.event_id, d.reason) for d in out.dead] == [("bad", "validation")]


def test_ndjson_with_a_bad_line_and_a_broken_object_with_newlines() -> None:
    ndjson = orjson.dumps(good(event_id="a")) + b"\n{broken\n" + orjson.dumps(good(event_id="b"))
    broken = b'{"prompt": "first line\nsecond line'
    out = decoder().decode([(SRC, ndjson), (SRC, broken)])
    assert sorted(out.table["event_id"].to_pylist()) == ["a", "b"]
    assert [(d.item_index, d.reason) for d in out.dead] == [(1, "malformed_json"), (-1, "malformed_json")]
