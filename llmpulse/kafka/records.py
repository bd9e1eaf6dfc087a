"""Packing events into Kafka record values: newline-delimited JSON objects (NDJSON), each under a byte cap.

The stream worker parses NDJSON records straight into Arrow columns (``pyarrow.json``), which is what keeps
its per-event cost low; it also accepts a single JSON object or a JSON array of objects from other producers.
orjson never writes a raw newline inside a value (it escapes them), so one line is exactly one event.

One record carries many events (that is what makes 50k events/s affordable downstream), but a record
must stay under the broker's message size limit (1 MiB by default), so a batch whose JSON is too large
is split, and an event that alone is too large is rejected (counted by the caller, never sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmpulse.kafka.config import MAX_RECORD_BYTES

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


@dataclass
class Packed:
    """The record values for one batch, and what could not go into any of them."""

    records: list[tuple[bytes, int]] = field(default_factory=list)  # (value, number of events)
    unserializable: int = 0
    too_large: int = 0


def pack(events: Sequence[dict[str, Any]], max_bytes: int = MAX_RECORD_BYTES) -> Packed:
    """Encode ``events`` as few NDJSON record values as possible, each at most ``max_bytes``."""
    out = Packed()
    if not events:
        return out
    whole: bytes | None
    try:
        whole = b"\n".join([orjson.dumps(e, option=_OPTIONS) for e in events])
        if any(not isinstance(e, dict) for e in events):
            whole = None
    except TypeError:  # orjson.JSONEncodeError is a TypeError: find the bad events one by one
        whole = None
    if whole is not None and len(whole) <= max_bytes:
        out.records.append((whole, len(events)))
        return out
    parts: list[bytes] = []
    size = -1  # the joined length is sum(len(part) + 1) - 1
    for event in events:
        try:
            if not isinstance(event, dict):
                raise TypeError("an event must be a JSON object")
            encoded = orjson.dumps(event, option=_OPTIONS)
        except TypeError:
            out.unserializable += 1
            continue
        if len(encoded) > max_bytes:
            out.too_large += 1
            continue
        if parts and size + len(encoded) + 1 > max_bytes:
            out.records.append((_join(parts), len(parts)))
            parts, size = [], -1
        parts.append(encoded)
        size += len(encoded) + 1  # the event and its newline
    if parts:
        out.records.append((_join(parts), len(parts)))
    return out


def _join(parts: list[bytes]) -> bytes:
    return b"\n".join(parts)


def unpack(value: bytes) -> list[Any]:
    """The events in a record value: NDJSON, one JSON object, or a JSON array (raises on bad JSON)."""
    head = value.lstrip()[:1]
    if head == b"[":
        decoded = orjson.loads(value)
        return decoded if isinstance(decoded, list) else [decoded]
    return [orjson.loads(line) for line in value.split(b"\n") if line.strip()]
