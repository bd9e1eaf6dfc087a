"""An event kind's contract as Arrow columns and vectorised checks, derived from its pydantic model and its
registration (``llmpulse.schemas.kinds``), not restated.

``Contract.rules`` reads each model field's type, optionality, default, bounds (``ge``/``le``/``gt``/``lt``),
lengths, allowed literal values and ``allow_inf_nan``; the Arrow schemas are built from them, and
``row_problems`` applies them to whole columns at once, with the kind's "one of these fields" rule and the
time window around the record's timestamp. Rows it flags are handed to the exact, per-event validator
(``exact.py``), which decides and explains. A kind's own extra cross-field rule (the call's duration) is in
its table module (``kinds/``), written once for each path. So the fast path never accepts what the contract
rejects, and a field added to a model reaches the fast path without a second edit (a type the fast path
cannot read raises at import; ``tests/stream_jobs/test_wire_parity.py`` checks every kind).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types as at
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from llmpulse.schemas.call import wire_typeddict
from llmpulse.schemas.kinds import EventKind

ATTRIBUTES = pa.map_(pa.string(), pa.string())
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


def _absent(table: pa.Table, name: str) -> np.ndarray:
    return _nulls(table[name]) if name in table.column_names else np.ones(table.num_rows, dtype=bool)


#: a kind's own extra rules: (columns) -> bad rows, and (event) -> (reason, detail) or None
RowCheck = Callable[[pa.Table], np.ndarray]
EventCheck = Callable[[dict[str, Any]], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Contract:
    """One event kind's contract in the terms both validation paths need."""

    kind: EventKind
    check_rows: RowCheck | None = None  # the kind's extra cross-field rule, vectorised (fast path)
    check_event: EventCheck | None = None  # the same rule on one event (exact path); may fill derived fields in
    complete: Callable[[pa.Table], pa.Table] | None = None  # fills derived fields in (fast path)
    rules: tuple[FieldRule, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", field_rules(self.kind.model, self.kind.required))

    @cached_property
    def by_name(self) -> dict[str, FieldRule]:
        return {r.name: r for r in self.rules}

    @cached_property
    def map_fields(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules if r.kind is dict)

    @cached_property
    def int_fields(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules if r.kind is int)

    @cached_property
    def parse_schema(self) -> pa.Schema:
        """What the JSON parser reads with a fixed type; mappings are inferred as structs, then mapped."""
        return pa.schema([(r.name, r.arrow) for r in self.rules if r.kind is not dict])

    @cached_property
    def wire_schema(self) -> pa.Schema:
        """A decoded batch: the event's fields in the model's order, and where each event came from."""
        return pa.schema([(r.name, r.arrow) for r in self.rules] +
                         [("kafka_partition", pa.uint32()), ("kafka_offset", pa.uint64())])  # fmt: skip

    @cached_property
    def typed(self) -> type:
        """The model's fields as a TypedDict (pydantic-core validates a list of them ~3x faster than models)."""
        return wire_typeddict(self.kind.model, self.kind.required)

    @cached_property
    def one_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.typed)

    @cached_property
    def list_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(list[self.typed])  # type: ignore[name-defined]

    def row_problems(self, table: pa.Table, record_ts_ms: np.ndarray, max_age_ms: int,
                     max_future_ms: int) -> np.ndarray:  # fmt: skip
        """True for each row that breaks a rule of the contract (the exact validator then says which).

        ``table`` has the ``parse_schema`` columns (a null is a missing field: records with a JSON null in
        them never come here, see ``decode.py``)."""
        bad = np.zeros(table.num_rows, dtype=bool)
        for rule in self.rules:
            if rule.kind is dict:
                continue
            col = table[rule.name]
            if rule.required:
                bad |= _nulls(col)
            bad |= _breaks(rule, col)
        ts = _numbers(table["ts_ms"], np.int64)
        bad |= (ts < record_ts_ms - max_age_ms) | (ts > record_ts_ms + max_future_ms)
        if self.kind.one_of:
            bad |= np.logical_and.reduce([_absent(table, name) for name in self.kind.one_of])
        if self.check_rows is not None:
            bad |= self.check_rows(table)
        return bad

    def event_problem(self, event: dict[str, Any], low: int, high: int) -> tuple[str, str] | None:
        """The rules pydantic does not check on the TypedDict: time window, 64-bit integers, one-of, the kind's own."""
        if not low <= event["ts_ms"] <= high:
            return "timestamp_out_of_range", "ts_ms is too far from the record's time"
        for name in self.int_fields:
            value = event.get(name)
            if value is not None and not _INT64[0] <= value <= _INT64[1]:
                return "validation", f"{name}: integer out of range"
        if self.kind.one_of and all(event.get(name) is None for name in self.kind.one_of):
            return "validation", f"{' or '.join(self.kind.one_of)} is required"
        return self.check_event(event) if self.check_event is not None else None


#: integer fields are stored as 64-bit columns: a larger number (the model sets no upper bound on some) is
#: rejected, as the fast path's Arrow parser rejects it, instead of failing the whole chunk later
_INT64 = (-(2**63), 2**63 - 1)
