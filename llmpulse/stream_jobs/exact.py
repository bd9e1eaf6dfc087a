"""The exact validator: one record -> validated events of one kind, or dead letters with a reason. Never raises.

This is the contract's own judge (pydantic-core against a TypedDict twin of the kind's model); the fast,
columnar path in ``decode.py`` sends it every record it cannot vouch for. A record is one JSON object, a
JSON array of objects, or newline-delimited objects (NDJSON); a bad element costs only itself. The
cross-field rules and the time range (judged against the record's Kafka timestamp, so a replay judges the
same way) are checked here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pydantic_core
from pydantic import ValidationError

from llmpulse.stream_jobs.wire import Contract

MAX_DETAIL_CHARS = 500


@dataclass(frozen=True)
class Source:
    """Where a record came from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int  # the record's Kafka timestamp (producer create time)


@dataclass(frozen=True)
class DeadLetter:
    source: Source
    item_index: int  # -1: the whole record
    reason: str  # malformed_json | not_an_event | validation | unknown_schema_version | ...
    detail: str
    event_id: str
    payload: bytes


@dataclass
class Validated:
    events: list[dict[str, Any]] = field(default_factory=list)
    sources: list[tuple[int, int]] = field(default_factory=list)  # (partition, offset) per event
    dead: list[DeadLetter] = field(default_factory=list)


def _describe(errors: list[Any]) -> tuple[str, str]:
    """(reason, detail) from pydantic errors; never echoes input values (they may hold PII)."""
    reason = "validation"
    parts = []
    for err in errors:
        loc = [str(x) for x in err.get("loc", ()) if not isinstance(x, int)]
        if loc and loc[0] == "schema_version":
            reason = "unknown_schema_version"
        parts.append(f"{'.'.join(loc) or '<event>'}: {err.get('msg', err.get('type'))}")
    return reason, "; ".join(parts)[:MAX_DETAIL_CHARS]


def _event_id_of(obj: Any) -> str:
    if isinstance(obj, dict):
        value = obj.get("event_id")
        if isinstance(value, str):
            return value[:128]
    return ""


class ExactValidator:
    """Validates records one by one. ``max_age_ms``/``max_future_ms`` bound ts_ms around the record time."""

    def __init__(self, contract: Contract, max_age_ms: int, max_future_ms: int) -> None:
        self.contract = contract
        self._one = contract.one_adapter
        self._list = contract.list_adapter
        self.max_age_ms = max_age_ms
        self.max_future_ms = max_future_ms

    def validate(self, records: list[tuple[Source, bytes]]) -> Validated:
        out = Validated()
        for source, raw in records:
            if _is_ndjson(raw):
                for index, line in enumerate(raw.split(b"\n")):
                    if line.strip():
                        self._validate_record(source, line, out, index)
            else:
                self._validate_record(source, raw, out)
        return out

    def _validate_record(self, source: Source, raw: bytes, out: Validated, line: int | None = None) -> None:
        def dead(index: int, reason: str, detail: str, obj: Any, payload: bytes) -> None:
            where = index if line is None else line  # an NDJSON line is its record's element
            out.dead.append(DeadLetter(source, where, reason, detail, _event_id_of(obj), payload))

        if raw is None:
            dead(-1, "not_an_event", "empty record", None, b"")
            return
        head = raw.lstrip()[:1]
        if head not in (b"[", b"{"):
            try:
                pydantic_core.from_json(raw)
            except ValueError as exc:
                dead(-1, "malformed_json", str(exc)[:MAX_DETAIL_CHARS], None, raw)
                return
            dead(-1, "not_an_event", "a record is a JSON object or an array of objects", None, raw)
            return
        try:
            items = self._list.validate_json(raw) if head == b"[" else [self._one.validate_json(raw)]
            bad: dict[int, list[Any]] = {}
            if not items:
                dead(-1, "not_an_event", "an empty array holds no event", None, raw)
                return
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
            if any(e["type"] == "json_invalid" for e in errors):
                dead(-1, "malformed_json", errors[0].get("msg", "invalid JSON")[:MAX_DETAIL_CHARS], None, raw)
                return
            parsed = pydantic_core.from_json(raw, allow_inf_nan=True)
            elements = parsed if isinstance(parsed, list) else [parsed]
            bad = {}
            for err in errors:
                loc = err.get("loc", ())
                index = loc[0] if head == b"[" and loc and isinstance(loc[0], int) else 0
                trimmed = dict(err)
                trimmed["loc"] = loc[1:] if head == b"[" else loc
                bad.setdefault(index, []).append(trimmed)
            good_elements = [el for i, el in enumerate(elements) if i not in bad]
            items = self._list.validate_python(good_elements) if good_elements else []
            for index in sorted(bad):
                element = elements[index] if index < len(elements) else None
                if not isinstance(element, dict):
                    dead(index, "not_an_event", "array element is not a JSON object", element, _dump(element))
                    continue
                reason, detail = _describe(bad[index])
                dead(index, reason, detail, element, _dump(element))
        good_index = [i for i in range(len(items) + len(bad)) if i not in bad]
        low = source.timestamp_ms - self.max_age_ms
        high = source.timestamp_ms + self.max_future_ms
        for index, event in zip(good_index, items, strict=True):
            problem = self.contract.event_problem(event, low, high)
            if problem is not None:
                dead(index, problem[0], problem[1], event, _dump(event))
                continue
            out.events.append(event)
            out.sources.append((source.partition, source.offset))


def _is_ndjson(raw: bytes | None) -> bool:
    """Several JSON objects, one per line: the record as a whole is not JSON, but some of its lines are
    objects (a pretty-printed object, or a broken one with newlines in it, is one record, not lines)."""
    if not raw or raw.lstrip()[:1] != b"{" or b"\n" not in raw.strip():
        return False
    try:
        pydantic_core.from_json(raw, allow_inf_nan=True)
    except ValueError:
        return any(_is_object(line) for line in raw.split(b"\n"))
    return False


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(pydantic_core.from_json(line, allow_inf_nan=True), dict)
    except ValueError:
        return False


def _dump(obj: Any) -> bytes:
    try:
        return pydantic_core.to_json(obj, inf_nan_mode="constants")
    except Exception:  # not serialisable: keep its repr
        return repr(obj).encode("utf-8", "replace")
