"""The call event as Arrow columns, and the event contract's rules as vectorised checks — both derived from
the pydantic model ``LLMCallEvent`` (``llmpulse.schemas.call``), not restated.

``FIELD_RULES`` reads each model field's type, optionality, default, bounds (``ge``/``le``/``gt``/``lt``),
lengths, allowed literal values and ``allow_inf_nan``; ``PARSE_SCHEMA`` and ``WIRE_SCHEMA`` are built from
them, and ``row_problems`` applies them to whole columns at once. Rows it flags are handed to the exact,
per-event validator (``exact.py``), which decides and explains; the cross-field rules (a duration, the time
window around the record's timestamp) are the only ones written out here. So the fast path never accepts
what the contract rejects, and a field added to the model reaches the fast path without a second edit (a
type the fast path cannot read raises at import; ``tests/stream_jobs/test_wire_parity.py`` checks both).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types as at
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from llmpulse.schemas.call import MAX_DURATION_MS, WIRE_REQUIRED_CALL_FIELDS, LLMCallEvent

ATTRIBUTES = pa.map_(pa.string(), pa.string())
#: captured free text: stored only with text capture on, and always redacted (a storage policy, not a type)
TEXT_FIELDS = ("prompt", "response")
_CONSTRAINTS = {"ge": at.Ge, "gt": at.Gt, "le": at.Le, "lt": at.Lt, "min_length": at.MinLen, "max_length": at.MaxLen}
_ARROW = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}


@dataclass(frozen=True)
class FieldRule:
    """What the contract says about one field, in the terms a column check needs."""

    name: str
    kind: type  # int, float, bool, str or dict (a str -> str mapping)
    arrow: pa.DataType
    optional: bool  # None is a valid value
    required: bool  # must be on the wire
    default: Any
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    finite: bool = False  # allow_inf_nan=False
    allowed: tuple[Any, ...] | None = None  # Literal[...] values


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(bare type, optional, constraint metadata) of an annotation like ``Annotated[float, Field(...)] | None``."""
    optional = False
    metadata: list[Any] = []
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        if len(args) != 1:
            raise TypeError(f"the fast path reads no union type: {annotation!r}")
        annotation = args[0]
    if get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, optional, metadata


def _rule(name: str, info: FieldInfo, required: bool) -> FieldRule:
    annotation, optional, metadata = _unwrap(info.annotation)
    metadata = [*info.metadata, *metadata]
    allowed: tuple[Any, ...] | None = None
    if get_origin(annotation) is Literal:
        allowed = get_args(annotation)
        kinds = {type(v) for v in allowed}
        if len(kinds) != 1:
            raise TypeError(f"{name}: a Literal of one type only, got {annotation!r}")
        annotation = kinds.pop()
    if get_origin(annotation) is dict:
        if get_args(annotation) != (str, str):
            raise TypeError(f"{name}: the fast path reads dict[str, str] only, got {annotation!r}")
        kind: type = dict
        arrow: pa.DataType = ATTRIBUTES
    elif annotation in _ARROW:
        kind, arrow = annotation, _ARROW[annotation]
    else:
        raise TypeError(f"{name}: the fast path has no column type for {annotation!r}")
    bounds: dict[str, Any] = {}
    for item in metadata:
        attr = next((a for a, cls in _CONSTRAINTS.items() if isinstance(item, cls)), None)
        if attr is not None:
            bounds[attr] = getattr(item, attr)
        elif hasattr(item, "allow_inf_nan"):
            bounds["finite"] = bounds.get("finite", False) or item.allow_inf_nan is False
        else:
            raise TypeError(f"{name}: the fast path cannot check the constraint {item!r}")
    default = None if info.default_factory is not None or info.is_required() else info.default
    return FieldRule(name, kind, arrow, optional, required, default, allowed=allowed, **bounds)


def field_rules(model: type[BaseModel], required: tuple[str, ...]) -> tuple[FieldRule, ...]:
    return tuple(_rule(n, info, n in required or info.is_required()) for n, info in model.model_fields.items())


FIELD_RULES = field_rules(LLMCallEvent, WIRE_REQUIRED_CALL_FIELDS)
RULES = {r.name: r for r in FIELD_RULES}
TOKEN_FIELDS = tuple(r.name for r in FIELD_RULES if r.kind is int and r.name.endswith("_tokens"))
#: name-like fields (stored as sent, '' or the model's default when absent)
NAME_FIELDS = tuple(r.name for r in FIELD_RULES
                    if r.kind is str and r.allowed is None and r.name not in (*TEXT_FIELDS, "event_id"))  # fmt: skip
NAME_DEFAULTS: dict[str, str] = {n: RULES[n].default or "" for n in NAME_FIELDS}
MAP_FIELDS = tuple(r.name for r in FIELD_RULES if r.kind is dict)
#: NOT NULL on the wire: JSON null is rejected for these (Arrow cannot tell null from absent)
NON_NULL_FIELDS = tuple(r.name for r in FIELD_RULES if not r.optional)

#: what the JSON parser reads with a fixed type; mappings (attributes) are inferred as structs, then mapped
PARSE_SCHEMA = pa.schema([(r.name, r.arrow) for r in FIELD_RULES if r.kind is not dict])
#: a decoded batch: the event's fields in the model's order, and where each event came from
WIRE_SCHEMA = pa.schema(
    [(r.name, r.arrow) for r in FIELD_RULES] + [("kafka_partition", pa.uint32()), ("kafka_offset", pa.uint64())]
)


def _nulls(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _numbers(col: pa.ChunkedArray | pa.Array, dtype: type) -> np.ndarray:
    return np.asarray(pc.fill_null(col, 0).to_numpy(), dtype=dtype)


def _breaks(rule: FieldRule, col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True where a present value breaks the field's own constraints."""
    bad = np.zeros(len(col), dtype=bool)
    if rule.kind in (int, float):
        values = _numbers(col, np.float64 if rule.kind is float else np.int64)
        if rule.ge is not None:
            bad |= ~(values >= rule.ge)  # NaN fails every comparison
        if rule.gt is not None:
            bad |= ~(values > rule.gt)
        if rule.le is not None:
            bad |= ~(values <= rule.le)
        if rule.lt is not None:
            bad |= ~(values < rule.lt)
        if rule.finite:
            bad |= ~np.isfinite(values)
    elif rule.kind is str and (rule.min_length is not None or rule.max_length is not None):
        lengths = _numbers(pc.utf8_length(col), np.int64)
        if rule.min_length is not None:
            bad |= lengths < rule.min_length
        if rule.max_length is not None:
            bad |= lengths > rule.max_length
    if rule.allowed is not None:
        inside = pc.fill_null(pc.is_in(col, pa.array(rule.allowed, rule.arrow)), True)
        bad |= ~np.asarray(inside.to_numpy(zero_copy_only=False), dtype=bool)
    return bad & ~_nulls(col)


def row_problems(table: pa.Table, record_ts_ms: np.ndarray, max_age_ms: int, max_future_ms: int) -> np.ndarray:
    """True for each row that breaks a rule of the contract (the exact validator then says which).

    ``table`` has the ``PARSE_SCHEMA`` columns (a null is a missing field: records with a JSON null in them
    never come here, see ``decode.py``)."""
    bad = np.zeros(table.num_rows, dtype=bool)
    for rule in FIELD_RULES:
        if rule.kind is dict:
            continue
        col = table[rule.name]
        if rule.required:
            bad |= _nulls(col)
        bad |= _breaks(rule, col)
    # the cross-field rules (exact.py's ``_cross_field``, ``schemas.call.check_duration``)
    ts = _numbers(table["ts_ms"], np.int64)
    bad |= (ts < record_ts_ms - max_age_ms) | (ts > record_ts_ms + max_future_ms)
    end = table["end_ts_ms"]
    duration = _numbers(end, np.int64) - ts
    bad |= _nulls(table["latency_ms"]) & (_nulls(end) | (duration < 0) | (duration > MAX_DURATION_MS))
    return bad


def with_latency(table: pa.Table) -> pa.Table:
    """Fill latency_ms from end_ts_ms - ts_ms where only the end time was given."""
    latency = table["latency_ms"]
    if latency.null_count == 0:
        return table
    derived = pc.cast(pc.subtract(table["end_ts_ms"], table["ts_ms"]), pa.float64())
    index = table.schema.get_field_index("latency_ms")
    return table.set_column(index, "latency_ms", pc.coalesce(latency, derived))
