"""Packing events into NDJSON record values under a byte cap."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from llmpulse.kafka.records import pack, unpack


def event(i: int, size: int = 0) -> dict[str, Any]:
    return {"event_id": f"e{i}", "provider": "p", "request_model": "m", "prompt": "x" * size}


def test_a_small_batch_is_one_record() -> None:
    packed = pack([event(i) for i in range(10)])
    assert len(packed.records) == 1
    value, count = packed.records[0]
    assert count == 10
    assert [e["event_id"] for e in unpack(value)] == [f"e{i}" for i in range(10)]


def test_a_large_batch_is_split_in_order_under_the_cap() -> None:
    events = [event(i, 900) for i in range(50)]
    packed = pack(events, max_bytes=5_000)
    assert len(packed.records) > 5
    assert all(len(value) <= 5_000 for value, _ in packed.records)
    decoded = [e for value, _ in packed.records for e in unpack(value)]
    assert decoded == events
    assert sum(count for _, count in packed.records) == 50


def test_too_large_and_unserializable_events_are_counted_not_sent() -> None:
    packed = pack([event(0), event(1, 10_000), {"bad": {1, 2}}, event(3)], max_bytes=5_000)  # type: ignore[list-item]
    assert packed.too_large == 1
    assert packed.unserializable == 1
    assert [e["event_id"] for value, _ in packed.records for e in unpack(value)] == ["e0", "e3"]


def test_nothing_to_pack() -> None:
    packed = pack([])
    assert (packed.records, packed.too_large, packed.unserializable) == ([], 0, 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3_000), max_size=40), st.integers(1_000, 20_000))
def test_every_fitting_event_lands_in_exactly_one_record(sizes: list[int], cap: int) -> None:
    events = [event(i, size) for i, size in enumerate(sizes)]
    packed = pack(events, max_bytes=cap)
    sent = [e for value, _ in packed.records for e in unpack(value)]
    fits = [e for e in events if len(orjson.dumps(e)) <= cap]
    assert sent == fits
    assert packed.too_large == len(events) - len(fits)
    assert all(len(value) <= cap for value, _ in packed.records)
