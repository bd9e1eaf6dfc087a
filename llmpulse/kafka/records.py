"""Packing events into Kafka record values: JSON arrays of event objects, each under a byte cap.

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
    """Encode ``events`` as few JSON-array record values as possible, each at most ``max_bytes``."""
    out = Packed()
    if not events:
        return out
    try:
        whole = orjson.dumps(events, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError: find the bad events one by one
        whole = None
    if whole is not None and len(whole) <= max_bytes:
        out.records.append((whole, len(events)))
        return out
    parts: list[bytes] = []
    size = 1  # "[": the joined length is 1 + sum(len(part) + 1)
    for event in events:
        try:
            if not isinstance(event, dict):
                raise TypeError("an event must be a JSON object")
            encoded = orjson.dumps(event, option=_OPTIONS)
        except TypeError:
            out.unserializable += 1
            continue
        if len(encoded) + 2 > max_bytes:
            out.too_large += 1
            continue
        if parts and size + len(encoded) + 1 > max_bytes:
            out.records.append((_join(parts), len(parts)))
            parts, size = [], 1
        parts.append(encoded)
        size += len(encoded) + 1  # the event and its "," or "]"
    if parts:
        out.records.append((_join(parts), len(parts)))
    return out


def _join(parts: list[bytes]) -> bytes:
    return b"[" + b",".join(parts) + b"]"
