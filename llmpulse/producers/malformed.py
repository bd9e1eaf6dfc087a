"""Bad Kafka records, each with the dead-letter reason the stream job must give it (for tests and the demo).

``malformed_records(seed, n)`` returns ``n`` pairs ``(reason, raw record value bytes)``, cycling through the
kinds below in a fixed order (so ``n >= len(KINDS)`` covers every kind); details (which field, where a
record is cut, ...) are drawn from ``seed``. Everything is deterministic under ``(seed, now_ms)``.

Reason codes (exactly the strings the stream job writes to the dead-letter topic) and what they mean:

- ``"malformed_json"``: the bytes are not JSON — syntax errors, truncation, invalid UTF-8, an empty value.
- ``"not_an_event"``: valid JSON that is neither an object nor an array of objects (a scalar; also a scalar
  element inside an array).
- ``"unknown_schema_version"``: an object whose ``schema_version`` is present and is not 1 (checked before
  validation, so a future producer's events are recognisable as such).
- ``"validation"``: an object that fails the event contract (wrong types, negative tokens, a missing
  required field: ``event_id``, ``ts_ms``, ``provider``, ``request_model``, or both ``latency_ms`` and
  ``end_ts_ms``), and a ``NaN`` latency. ``NaN`` is not strict JSON (RFC 8259), but the stream job's parser
  (pydantic-core, like Python's ``json``) reads it as a float, and the contract refuses non-finite numbers;
  a strict parser such as orjson would call the record ``"malformed_json"`` instead.
- ``"timestamp_out_of_range"``: a valid event whose ``ts_ms`` is older than ``max_event_age_s`` or further
  ahead than ``max_event_future_s`` (settings): years away, seconds or microseconds instead of milliseconds.
- ``"duplicate_event_id"``: an event whose ``event_id`` the worker has seen recently (the stream job's sink
  checks this after decoding). The record here repeats an id with *different content*, which is a dead letter
  under any deduplication policy.

A record value that is a JSON array is judged element by element: only the bad element is a dead letter
(with its reason); the good elements next to it are processed normally. The ``mixed_array*`` and
``duplicate_in_array`` kinds are such arrays, with exactly one bad element each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from llmpulse.schemas.call import LLMCallEvent

MALFORMED_JSON = "malformed_json"
NOT_AN_EVENT = "not_an_event"
VALIDATION = "validation"
UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
DUPLICATE_EVENT_ID = "duplicate_event_id"
REASONS = (
    MALFORMED_JSON,
    NOT_AN_EVENT,
    VALIDATION,
    UNKNOWN_SCHEMA_VERSION,
    TIMESTAMP_OUT_OF_RANGE,
    DUPLICATE_EVENT_ID,
)

YEAR_MS = 365 * 86_400_000
Event = dict[str, Any]


class _Maker:
    """Valid events (from ``LLMCallEvent``) to break, numbered so every event id is distinct."""

    def __init__(self, rng: np.random.Generator, seed: int, now_ms: int) -> None:
        self.rng = rng
        self.seed = seed
        self.now_ms = now_ms
        self.count = 0

    def event(self) -> Event:
        self.count += 1
        rng = self.rng
        provider, model = [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku-20241022")][
            int(rng.integers(2))
        ]
        return LLMCallEvent.model_validate(
            {
                "event_id": f"malformed-{self.seed}-{self.count}",
                "ts_ms": self.now_ms - int(rng.integers(1_000, 3_600_000)),
                "latency_ms": round(float(rng.uniform(100.0, 5_000.0)), 3),
                "provider": provider,
                "request_model": model,
                "input_tokens": int(rng.integers(1, 8_000)),
                "output_tokens": int(rng.integers(1, 1_000)),
                "app": "malformed-test",
                "team": "qa",
            }
        ).to_wire()

    def pick(self, options: list[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


# each kind: (name, maker) -> (reason, bytes)


def _syntax_error(m: _Maker) -> tuple[str, bytes]:
    raw = _dumps(m.event())
    broken = m.pick(
        [
            raw[:-1] + b",}",  # trailing comma
            raw.replace(b'"', b"'"),  # single quotes
            raw.replace(b'"provider"', b"provider", 1),  # unquoted key
            raw.replace(b":", b"=", 1),  # not a colon
        ]
    )
    return MALFORMED_JSON, broken


def _truncated(m: _Maker) -> tuple[str, bytes]:
    raw = _dumps(m.event())  # a proper prefix of an object is never valid JSON
    return MALFORMED_JSON, raw[: int(m.rng.integers(1, len(raw) - 1))]


def _not_utf8(m: _Maker) -> tuple[str, bytes]:
    raw = _dumps(m.event())
    return MALFORMED_JSON, raw.replace(b'"malformed-test"', b'"malformed-\xff\xfe"')


def _empty(m: _Maker) -> tuple[str, bytes]:
    return MALFORMED_JSON, m.pick([b"", b"   ", b"\n"])


def _nan_latency(m: _Maker) -> tuple[str, bytes]:
    event = m.event()
    event["latency_ms"] = 0.0
    raw = _dumps(event).replace(b'"latency_ms":0.0', b'"latency_ms":NaN')
    return VALIDATION, raw


def _scalar(m: _Maker) -> tuple[str, bytes]:
    return NOT_AN_EVENT, m.pick([b"42", b'"llm call"', b"null", b"true", b"-1.5"])


def _wrong_type(m: _Maker) -> tuple[str, bytes]:
    event = m.event()
    key, bad = m.pick(
        [
            ("input_tokens", "lots"),
            ("provider", 42),
            ("latency_ms", "fast"),
            ("streaming", "sometimes"),
            ("ts_ms", "yesterday"),
            ("attributes", ["not", "a", "map"]),
            ("output_tokens", 12.5),
        ]
    )
    event[key] = bad
    return VALIDATION, _dumps(event)


def _negative_tokens(m: _Maker) -> tuple[str, bytes]:
    event = m.event()
    key = m.pick(["input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens"])
    event[key] = -int(m.rng.integers(1, 1_000))
    return VALIDATION, _dumps(event)


def _missing_field(m: _Maker) -> tuple[str, bytes]:
    event = m.event()
    missing = m.pick([("provider",), ("request_model",), ("event_id",), ("ts_ms",), ("latency_ms",)])
    for key in missing:
        event.pop(key, None)  # no latency_ms and no end_ts_ms: the call has no duration
    return VALIDATION, _dumps(event)


def _unknown_schema_version(m: _Maker) -> tuple[str, bytes]:
    event = m.event()
    event["schema_version"] = m.pick([0, 2, 99])
    return UNKNOWN_SCHEMA_VERSION, _dumps(event)


def _timestamp_years_away(m: _Maker) -> tuple[str, bytes]:
    event = m.event()
    years = int(m.rng.integers(2, 10))
    event["ts_ms"] = m.now_ms + m.pick([1, -1]) * years * YEAR_MS
    return TIMESTAMP_OUT_OF_RANGE, _dumps(event)


def _timestamp_wrong_unit(m: _Maker) -> tuple[str, bytes]:
    event = m.event()
    event["ts_ms"] = m.pick([event["ts_ms"] // 1000, event["ts_ms"] * 1000])  # seconds or microseconds
    return TIMESTAMP_OUT_OF_RANGE, _dumps(event)


def _mixed_array(m: _Maker) -> tuple[str, bytes]:
    bad = m.event()
    bad["input_tokens"] = -int(m.rng.integers(1, 1_000))
    batch = [m.event(), bad, m.event()]
    return VALIDATION, _dumps(batch)


def _mixed_array_scalar(m: _Maker) -> tuple[str, bytes]:
    batch: list[Any] = [m.event(), m.event(), m.pick(["oops", 7, None])]
    return NOT_AN_EVENT, _dumps(batch)


def _duplicate_in_array(m: _Maker) -> tuple[str, bytes]:
    first = m.event()
    second = m.event()
    second["event_id"] = first["event_id"]  # same id, different content
    return DUPLICATE_EVENT_ID, _dumps([first, m.event(), second])


KINDS: tuple[tuple[str, Callable[[_Maker], tuple[str, bytes]]], ...] = (
    ("syntax_error", _syntax_error),
    ("truncated", _truncated),
    ("not_utf8", _not_utf8),
    ("empty", _empty),
    ("nan_latency", _nan_latency),
    ("scalar", _scalar),
    ("wrong_type", _wrong_type),
    ("negative_tokens", _negative_tokens),
    ("missing_field", _missing_field),
    ("unknown_schema_version", _unknown_schema_version),
    ("timestamp_years_away", _timestamp_years_away),
    ("timestamp_wrong_unit", _timestamp_wrong_unit),
    ("mixed_array", _mixed_array),
    ("mixed_array_scalar", _mixed_array_scalar),
    ("duplicate_in_array", _duplicate_in_array),
)


def malformed_records(seed: int, n: int, *, now_ms: int | None = None) -> list[tuple[str, bytes]]:
    """``n`` bad record values with their expected dead-letter reason (see the module docstring).

    Record ``j`` is of kind ``KINDS[j % len(KINDS)]``. ``now_ms`` (default: now) anchors the timestamps: the
    events that are not meant to be out of range lie within the hour before it.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    maker = _Maker(
        np.random.default_rng(seed), seed, time.time_ns() // 1_000_000 if now_ms is None else now_ms
    )
    return [KINDS[j % len(KINDS)][1](maker) for j in range(n)]
