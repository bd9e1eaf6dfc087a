"""Malformed records: each fails for exactly the reason it claims, by the contract and by the stream job."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from llmpulse.producers.malformed import KINDS, REASONS, malformed_records
from llmpulse.schemas.call import WIRE_REQUIRED_CALL_FIELDS, LLMCallEvent, check_duration, wire_typeddict
from llmpulse.schemas.kinds import CALL
from llmpulse.settings import get_settings
from llmpulse.stream_jobs.decode import Decoder, Source
from llmpulse.stream_jobs.dedup import RecentIds
from llmpulse.stream_jobs.kinds import contract

NOW = 1_795_000_000_000
SETTINGS = get_settings()
MAX_AGE_MS = SETTINGS.max_event_age_s * 1000
MAX_FUTURE_MS = SETTINGS.max_event_future_s * 1000
WIRE: TypeAdapter[Any] = TypeAdapter(wire_typeddict(LLMCallEvent, WIRE_REQUIRED_CALL_FIELDS))


def contract_reason(obj: Any) -> str | None:
    """The reason one decoded element is a dead letter, judged from the schema contract alone."""
    if not isinstance(obj, dict):
        return "not_an_event"
    if "schema_version" in obj and obj["schema_version"] != 1:
        with pytest.raises(ValidationError):
            LLMCallEvent.model_validate(obj)
        return "unknown_schema_version"
    try:
        event = WIRE.validate_python(obj)
        check_duration(event["ts_ms"], event.get("latency_ms"), event.get("end_ts_ms"))
    except (ValidationError, ValueError):
        return "validation"
    LLMCallEvent.model_validate(obj)  # a valid wire event is a valid model too
    if not NOW - MAX_AGE_MS <= obj["ts_ms"] <= NOW + MAX_FUTURE_MS:
        return "timestamp_out_of_range"
    return None


def judge(raw: bytes) -> list[str]:
    """Dead-letter reasons of one record by the contract: strict-ish JSON first, then element by element."""
    try:
        parsed = json.loads(raw)  # accepts NaN like the stream job's parser; rejects everything else
    except (ValueError, UnicodeDecodeError):
        return ["malformed_json"]
    if not isinstance(parsed, dict | list):
        return ["not_an_event"]
    elements = parsed if isinstance(parsed, list) else [parsed]
    reasons = [r for r in map(contract_reason, elements) if r is not None]
    seen: dict[str, Any] = {}
    for element in elements:
        if isinstance(element, dict) and contract_reason(element) is None:
            if element["event_id"] in seen and seen[element["event_id"]] != element:
                reasons.append("duplicate_event_id")
            seen.setdefault(element["event_id"], element)
    return reasons


@pytest.fixture(scope="module")
def records() -> list[tuple[str, bytes]]:
    return malformed_records(seed=5, n=3 * len(KINDS), now_ms=NOW)


def test_deterministic_and_covers_every_reason(records: list[tuple[str, bytes]]) -> None:
    assert malformed_records(seed=5, n=3 * len(KINDS), now_ms=NOW) == records
    assert malformed_records(seed=6, n=3 * len(KINDS), now_ms=NOW) != records
    assert malformed_records(seed=5, n=4, now_ms=NOW) == records[:4]
    assert {reason for reason, _ in records} == set(REASONS)
    assert all(isinstance(raw, bytes) for _, raw in records)
    assert malformed_records(seed=1, n=0) == []


def test_each_record_fails_for_its_reason_by_the_contract(records: list[tuple[str, bytes]]) -> None:
    for j, (reason, raw) in enumerate(records):
        assert judge(raw) == [reason], (KINDS[j % len(KINDS)][0], raw[:200])


def test_malformed_json_is_not_json(records: list[tuple[str, bytes]]) -> None:
    for reason, raw in records:
        if reason == "malformed_json":
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(raw)


def test_nan_latency_is_the_literal_token(records: list[tuple[str, bytes]]) -> None:
    nan = [raw for j, (_, raw) in enumerate(records) if KINDS[j % len(KINDS)][0] == "nan_latency"]
    assert nan and all(b'"latency_ms":NaN' in raw for raw in nan)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(nan[0])  # not strict JSON; a lenient parser reads a float the contract refuses
    with pytest.raises(ValidationError, match="latency_ms"):
        LLMCallEvent.model_validate(json.loads(nan[0]))


def test_arrays_hold_exactly_one_dead_letter(records: list[tuple[str, bytes]]) -> None:
    arrays = [(reason, orjson.loads(raw)) for reason, raw in records if raw.startswith(b"[")]
    assert len(arrays) == 9
    for reason, elements in arrays:
        good = [e for e in elements if isinstance(e, dict) and contract_reason(e) is None]
        assert len(good) == len(elements) - (0 if reason == "duplicate_event_id" else 1)
        for e in good:
            LLMCallEvent.model_validate(e)


def test_the_stream_job_gives_the_same_reasons(records: list[tuple[str, bytes]]) -> None:
    """The worker's decoder (and its sink's duplicate check) dead-letters exactly the bad element."""
    decoder = Decoder(contract(CALL), MAX_AGE_MS, MAX_FUTURE_MS)
    for j, (reason, raw) in enumerate(records):
        decoded = decoder.decode([(Source("llm.calls", 0, j, NOW), raw)])
        fresh = RecentIds().check_and_add(decoded.table["event_id"].to_pylist())
        got = [d.reason for d in decoded.dead] + ["duplicate_event_id" for ok in fresh if not ok]
        assert got == [reason], (KINDS[j % len(KINDS)][0], raw[:200], decoded.dead)
        elements = orjson.loads(raw) if raw.startswith(b"[") else None
        if elements is not None:
            assert decoded.events == len(elements) - (0 if reason == "duplicate_event_id" else 1)
