"""The fast path and the contract agree: the Arrow schema and column checks (derived from ``LLMCallEvent``)
against the model's own JSON Schema, and the decoder's verdicts and values against the exact (pydantic)
validator on generated events, valid and broken."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmpulse.schemas.call import LLMCallEvent
from llmpulse.schemas.kinds import CALL, KINDS, EventKind
from llmpulse.stream_jobs.decode import Decoder, Source
from llmpulse.stream_jobs.exact import ExactValidator
from llmpulse.stream_jobs.kinds import contract

CONTRACT = contract(CALL)
FIELD_RULES = CONTRACT.rules

NOW = int(time.time() * 1000)
SRC = Source("llm.calls", 0, 7, NOW)
MAX_AGE_MS, MAX_FUTURE_MS = 86_400_000, 3_600_000
JSON_TYPES = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(), "string": pa.string(),
              "object": pa.map_(pa.string(), pa.string())}  # fmt: skip


def _json_schema_view(prop: dict[str, Any]) -> tuple[pa.DataType, bool, dict[str, Any]]:
    """(Arrow type, nullable, constraints) as the model's JSON Schema states them."""
    options = prop.get("anyOf", [prop])
    nullable = any(o.get("type") == "null" for o in options)
    (main,) = [o for o in options if o.get("type") != "null"]
    keys = {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt",
            "minLength": "min_length", "maxLength": "max_length"}  # fmt: skip
    constraints = {keys[k]: v for k, v in main.items() if k in keys}
    if "const" in main:
        constraints["allowed"] = (main["const"],)
    if "enum" in main:
        constraints["allowed"] = tuple(main["enum"])
    return JSON_TYPES[main["type"]], nullable, constraints


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_fast_path_schema_and_checks_match_the_model_json_schema(kind: EventKind) -> None:
    """For every registered kind (river's checks/ style: one suite, every implementation)."""
    rules, wire_schema = contract(kind).rules, contract(kind).wire_schema
    schema = kind.model.model_json_schema()
    props = schema["properties"]
    assert [r.name for r in rules] == list(props)
    assert wire_schema.names == [*props, "kafka_partition", "kafka_offset"]
    for rule in rules:
        arrow, nullable, constraints = _json_schema_view(props[rule.name])
        assert rule.arrow == arrow == wire_schema.field(rule.name).type, rule.name
        assert rule.optional == nullable, rule.name
        assert rule.required == (rule.name in kind.required or rule.name in schema.get("required", []))
        mine = {k: getattr(rule, k) for k in ("ge", "gt", "le", "lt", "min_length", "max_length", "allowed")}
        assert {k: v for k, v in mine.items() if v is not None} == constraints, rule.name
        if rule.kind is dict:
            assert props[rule.name]["additionalProperties"] == {"type": "string"}


# -- verdicts and values on generated events ---------------------------------------------------------

FIELDS = list(LLMCallEvent.model_fields)
# boundaries of every kind of constraint the model has, and values of the wrong type
ints = st.one_of(st.integers(-3, 3), st.integers(-(2**70), 2**70), st.sampled_from(
    [NOW, NOW - 2 * MAX_AGE_MS, NOW + 2 * MAX_FUTURE_MS, NOW + 500, NOW + 86_400_000, NOW + 86_400_001, 10**8,
     10**8 + 1, 86_400_000, 86_400_001, 2**63 - 1, 2**63]))  # fmt: skip
floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(
    [0.0, -0.0, -1e-9, 5.5, 86_400_000.0, 86_400_000.5, 1e300, 1e-300]))  # fmt: skip
texts = st.one_of(st.text(max_size=4), st.sampled_from(
    ["", "ok", "error", "OK", "x" * 128, "x" * 129, "\u00e9" * 128, "\u00e9" * 129, "\u2028", "a\\"]))  # fmt: skip
attribute_maps = st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6), st.integers(), st.none(),
                                                                 st.booleans(), st.floats(allow_nan=False)),
                                 max_size=5)  # fmt: skip
values = st.one_of(st.none(), st.booleans(), ints, floats, texts, attribute_maps, st.lists(st.integers(), max_size=2))
#: a field's own kind of value (at its boundaries) half the time, anything else otherwise
BY_KIND = {int: ints, float: st.one_of(floats, ints), str: texts, bool: st.booleans(), dict: attribute_maps}
FIELD_VALUES = {r.name: st.one_of(BY_KIND[r.kind], values) for r in FIELD_RULES} | {"extra": values}


def _valid(i: int) -> dict[str, Any]:
    return LLMCallEvent(event_id=f"e{i}", ts_ms=NOW - i, provider="openai", request_model="gpt-4o",
                        latency_ms=12.5 + i, session_id=f"s{i % 3}", team="t",
                        attributes={"feature": "chat", "region": "eu"}).to_wire()  # fmt: skip


@st.composite
def events(draw: st.DrawFn, i: int, broken: bool) -> dict[str, Any]:
    event = _valid(i)
    if draw(st.booleans()):  # the plain attributes case: many string pairs
        event["attributes"] = draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=6))
    if not broken:
        return event
    for name in draw(st.lists(st.sampled_from([*FIELDS, "extra"]), min_size=1, max_size=2, unique=True)):
        event[name] = draw(FIELD_VALUES[name])
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=1)):
        event.pop(name, None)
    return event


@st.composite
def records(draw: st.DrawFn) -> bytes:
    """One to three events, one of them changed: a single bad row sends its whole record to the exact path,
    so a fast-path mistake shows only when the other rows are good."""
    count = draw(st.integers(1, 3))
    broken = draw(st.integers(0, count - 1))
    # json, not orjson: integers beyond 64 bits are valid JSON too
    return b"\n".join(json.dumps(draw(events(i, i == broken)), separators=(",", ":")).encode() for i in range(count))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _compare(raw: bytes) -> None:
    fast = Decoder(CONTRACT, MAX_AGE_MS, MAX_FUTURE_MS).decode([(SRC, raw)])
    exact = ExactValidator(CONTRACT, MAX_AGE_MS, MAX_FUTURE_MS).validate([(SRC, raw)])
    assert [(d.item_index, d.reason, d.event_id) for d in fast.dead] == [
        (d.item_index, d.reason, d.event_id) for d in exact.dead
    ]
    rows = fast.table.to_pylist()
    assert len(rows) == len(exact.events)
    for row, event in zip(rows, exact.events, strict=True):
        for name in FIELDS:
            got = row[name]
            if name == "attributes":
                assert dict(got or {}) == event.get(name, {})
            else:
                assert _same(got, event.get(name)), (name, got, event.get(name))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_decoder_agrees_with_the_exact_validator(raw: bytes) -> None:
    _compare(raw)


def test_hand_picked_edge_cases_agree() -> None:
    base = orjson.dumps(_valid(0))[:-1]
    for tail in [b',"attributes":{"a":"x","a":"y"}}', b',"team":"a","team":"b"}', b',"attributes":{"a":null}}',
                 b',"team":null}', b',"ttft_ms":null}', b',"latency_ms":1e400}', b',"team":"\\ud800"}',
                 b',"attributes":{"":"empty key"}}', b',"attributes":"not an object"}', b',"ts_ms":1.0}',
                 b',"extra":{"deep":[1,"a"]}}', b',"attributes":{"n":{"k":"v"}}}',
                 b',"end_ts_ms":9223372036854775808}', b',"end_ts_ms":-9223372036854775809}']:  # fmt: skip
        _compare(base + tail)


def test_a_number_beyond_64_bits_costs_only_its_event() -> None:
    """The model sets no upper bound on end_ts_ms; the columns are 64-bit: the event is a dead letter, the
    record's other events are stored (it used to fail the whole chunk)."""
    good, bad = orjson.dumps(_valid(1)), orjson.dumps(_valid(2))[:-1] + b',"end_ts_ms":9223372036854775808}'
    out = Decoder(CONTRACT, MAX_AGE_MS, MAX_FUTURE_MS).decode([(SRC, good + b"\n" + bad)])
    assert out.table["event_id"].to_pylist() == ["e1"]
    assert [(d.event_id, d.reason, d.detail) for d in out.dead] == [
        ("e2", "validation", "end_ts_ms: integer out of range")
    ]


def test_attributes_and_sessions_take_the_fast_path() -> None:
    """Realistic events (attributes, sessions, errors, streaming) never reach the per-event validator."""
    decoder = Decoder(CONTRACT, MAX_AGE_MS, MAX_FUTURE_MS)
    calls: list[int] = []
    validate = decoder.exact.validate
    decoder.exact.validate = lambda recs: calls.append(len(recs)) or validate(recs)  # type: ignore[method-assign]
    evs = [_valid(i) | {"status": "error", "error_type": "RateLimitError"} if i % 9 == 0 else _valid(i)
           for i in range(50)]  # fmt: skip
    raw = b"\n".join(orjson.dumps(e) for e in evs)
    out = decoder.decode([(SRC, raw)])
    assert out.events == 50 and not out.dead
    assert calls == [0]
    assert out.table["attributes"].to_pylist()[0] == [("feature", "chat"), ("region", "eu")]
    assert out.table["session_id"].to_pylist()[:3] == ["s0", "s1", "s2"]
