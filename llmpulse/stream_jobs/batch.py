"""Column helpers every kind's table builder shares (``stream_jobs/kinds``): caps with flags, redaction of
captured text and attribute values, grouped sums, the GC pause.

Columnar throughout: defaults, caps and flags are Arrow compute kernels; grouping and sums are numpy.
Python touches single events only for captured text (redaction) and oversized values (capped and flagged).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.stream_jobs.wire import ATTRIBUTES

MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_CHARS = 1024
TS = pa.timestamp("ms", tz="UTC")

#: (text) -> (redacted text, detections); PII never reaches the store
Redact = Callable[[str], tuple[str, int]]


class RowFlags(defaultdict[int, list[str]]):
    """The flags of a batch's ``n`` rows, by row (``flags[i].append(flag)``). Most rows have none, so only the
    rows flagged hold a list: no Python list per row to build, nor to read back into Arrow."""

    def __init__(self, n: int) -> None:
        super().__init__(list)
        self.n = n

    def array(self) -> pa.Array:
        """The ``list<string>`` column: each row's flags in the order they were added ([] for none)."""
        rows = sorted(self)
        sizes = np.zeros(self.n, dtype=np.int32)
        sizes[rows] = [len(self[r]) for r in rows]
        offsets = np.zeros(self.n + 1, dtype=np.int32)
        np.cumsum(sizes, out=offsets[1:])
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array([f for r in rows for f in self[r]], pa.string()))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Batches hold hundreds of thousands of small objects; the cyclic GC would rescan them all
    many times over while the columns are built. Nothing here creates reference cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def cap_strings(col: pa.Array, name: str, cap: int, flags: RowFlags | None) -> pa.Array:
    lengths = pc.utf8_length(col)
    too_long = pc.greater(lengths, cap)
    if not pc.any(too_long).as_py():
        return col
    for i in np.flatnonzero(too_long.to_numpy(zero_copy_only=False)).tolist():
        if flags is not None:
            flags[i].append(f"capped:{name}")
    return pc.utf8_slice_codeunits(col, 0, cap)


def texts(col: pa.Array, name: str, cap: int, redact: Redact | None, flags: RowFlags,
           pii: np.ndarray) -> pa.Array:  # fmt: skip
    if redact is None:
        return pa.nulls(len(col), pa.string())
    if col.null_count == len(col):
        return col
    col = cap_strings(col, name, cap, flags)
    values = col.to_pylist()
    changed = False
    for i, text in enumerate(values):
        if text is None:
            continue
        clean, found = redact(text)
        pii[i] += found
        if clean != text:
            values[i], changed = clean, True
    return pa.array(values, pa.string()) if changed else col  # most texts hold no PII: no second copy


def attributes(col: pa.Array, redact: Redact | None, flags: RowFlags, pii: np.ndarray) -> pa.Array:
    """Caps (rare: per event) and redaction of the attribute values. Values repeat (a feature name, a region),
    so each distinct value is redacted once and the result mapped back to every entry that holds it."""
    col = pc.fill_null(col, pa.scalar([], ATTRIBUTES)) if col.null_count else col
    offsets = col.offsets.to_numpy(zero_copy_only=False)
    if offsets[0] != 0 or len(col.keys) != offsets[-1]:  # a slice: keys/items would be the whole parent's
        col = col.take(pa.array(np.arange(len(col))))
    if len(col.keys) == 0:
        return col
    sizes = np.diff(col.offsets.to_numpy(zero_copy_only=False))
    key_len = pc.max(pc.utf8_length(col.keys)).as_py() or 0
    value_len = pc.max(pc.utf8_length(col.items)).as_py() or 0
    if sizes.max() > MAX_ATTRIBUTES or max(key_len, value_len) > MAX_ATTRIBUTE_CHARS:
        col = _capped_attributes(col, flags)
        sizes = np.diff(col.offsets.to_numpy(zero_copy_only=False))
    if redact is None:
        return col
    encoded = col.items.dictionary_encode()
    redacted = [redact(value) for value in encoded.dictionary.to_pylist()]
    found = np.array([count for _, count in redacted], dtype=np.int64)
    if not found.any():
        return col
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    np.add.at(pii, np.repeat(np.arange(len(col)), sizes), found[codes])
    items = pa.array([text for text, _ in redacted], pa.string()).take(encoded.indices)
    return pa.MapArray.from_arrays(col.offsets, col.keys, items)


def _capped_attributes(col: pa.Array, flags: RowFlags) -> pa.Array:
    out: list[list[tuple[str, str]]] = []
    for i, items in enumerate(col.to_pylist()):
        if len(items) > MAX_ATTRIBUTES:
            items = items[:MAX_ATTRIBUTES]
            flags[i].append("capped:attributes")
        capped = []
        for k, v in items:
            if len(k) > MAX_ATTRIBUTE_CHARS or len(v) > MAX_ATTRIBUTE_CHARS:
                k, v = k[:MAX_ATTRIBUTE_CHARS], v[:MAX_ATTRIBUTE_CHARS]
                if "capped:attributes" not in flags[i]:
                    flags[i].append("capped:attributes")
            capped.append((k, v))
        out.append(capped)
    return pa.array(out, ATTRIBUTES)


def sum_by(group_ids: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros(n_groups, dtype=values.dtype)
    np.add.at(out, group_ids, values)
    return out


