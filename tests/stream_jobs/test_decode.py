from __future__ import annotations

import time

import orjson

from llmpulse.schemas import LLMCallEvent
from llmpulse.stream_jobs.decode import Decoder, Source

NOW = int(time.time() * 1000)
SRC = Source("llm.calls", 0, 42, NOW)


def good(**kw: object) -> dict:
    return LLMCallEvent(provider="openai", request_model="gpt-4o", latency_ms=10.0, ts_ms=NOW, **kw).to_wire()


def decoder() -> Decoder:
    return Decoder(max_age_ms=86_400_000, max_future_ms=3_600_000)


def test_batch_record_all_good() -> None:
    out = decoder().decode([(SRC, orjson.dumps([good(), good()]))])
    assert len(out.events) == 2 and out.dead == []
    assert out.sources == [(0, 42), (0, 42)]


def test_single_object_record() -> None:
    out = decoder().decode([(SRC, orjson.dumps(good(team="x")))])
    assert [e["team"] for e in out.events] == ["x"]


def test_only_bad_elements_are_dead_letters() -> None:
    elements = [good(), {"provider": "x"}, 7, {**good(), "schema_version": 9}, {**good(), "input_tokens": -1},
                {**good(), "ts_ms": NOW - 10 * 365 * 86_400_000}, good()]  # fmt: skip
    out = decoder().decode([(SRC, orjson.dumps(elements))])
    assert len(out.events) == 2
    assert [(d.item_index, d.reason) for d in out.dead] == [
        (1, "validation"), (2, "not_an_event"), (3, "unknown_schema_version"), (4, "validation"),
        (5, "timestamp_out_of_range"),
    ]  # fmt: skip
    assert all(d.source == SRC and d.payload for d in out.dead)
    assert "input_tokens" in out.dead[3].detail


def test_whole_record_problems() -> None:
    out = decoder().decode([(SRC, b'{"truncated": '), (SRC, b"42"), (SRC, b"\xff\xfe"), (SRC, b" [] ")])
    assert [(d.item_index, d.reason) for d in out.dead] == [(-1, "malformed_json"), (-1, "not_an_event"),
                                                            (-1, "malformed_json"), (-1, "not_an_event")]  # fmt: skip
    assert out.events == []


def test_nan_and_end_time() -> None:
    nan = b'[{"event_id":"a","ts_ms":%d,"provider":"p","request_model":"m","latency_ms":NaN}]' % NOW
    end = orjson.dumps([{"event_id": "b", "ts_ms": NOW, "end_ts_ms": NOW + 250, "provider": "p",
                         "request_model": "m"}])  # fmt: skip
    none = orjson.dumps([{"event_id": "c", "ts_ms": NOW, "provider": "p", "request_model": "m"}])
    out = decoder().decode([(SRC, nan), (SRC, end), (SRC, none)])
    assert [e["latency_ms"] for e in out.events] == [250.0]
    assert [(d.event_id, d.reason) for d in out.dead] == [("a", "validation"), ("c", "validation")]


def test_details_never_echo_values() -> None:
    secret = "alice@example.com"
    out = decoder().decode([(SRC, orjson.dumps([{**good(), "input_tokens": secret}]))])
    assert out.dead and secret not in out.dead[0].detail
