"""Small Arrow builders shared by the batch writers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def decimal_from_units(units: np.ndarray, precision: int, scale: int, valid: np.ndarray | None = None) -> pa.Array:
    """A decimal128 array whose unscaled integers are ``units`` (int64), e.g. pico-USD at scale 12."""
    lo = np.ascontiguousarray(units, dtype="<i8")
    hi = np.where(lo < 0, -1, 0).astype("<i8")
    data = pa.py_buffer(np.column_stack([lo, hi]).ravel().tobytes())
    validity = None
    null_count = 0
    if valid is not None and not bool(np.all(valid)):
        validity = pa.array(valid, type=pa.bool_()).buffers()[1]
        null_count = int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(lo), [validity, data], null_count=null_count)


def sketch_maps(group_ids: np.ndarray, keys: np.ndarray, n_groups: int) -> pa.Array:
    """Per group, a Map(int16 bucket -> uint64 count) of ``keys`` (one key per event, grouped by id)."""
    if len(keys) == 0:
        offsets = np.zeros(n_groups + 1, dtype=np.int32)
        return pa.MapArray.from_arrays(
            pa.array(offsets), pa.array([], pa.int16()), pa.array([], pa.uint64())
        )
    combined = group_ids.astype(np.int64) * 65536 + (keys.astype(np.int64) + 32768)
    uniq, counts = np.unique(combined, return_counts=True)
    gid = uniq // 65536
    bucket = (uniq % 65536 - 32768).astype(np.int16)
    offsets = np.searchsorted(gid, np.arange(n_groups + 1), side="left").astype(np.int32)
    return pa.MapArray.from_arrays(
        pa.array(offsets), pa.array(bucket, pa.int16()), pa.array(counts.astype(np.uint64), pa.uint64())
    )


def group_codes(*columns: pa.Array | np.ndarray) -> tuple[np.ndarray, list[pa.Array | np.ndarray], int]:
    """Group rows by key columns (Arrow string arrays or numpy ints): (group id per row, the key columns
    taken at each group's first row, group count). Strings are hash-encoded by Arrow, not sorted."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        if isinstance(col, np.ndarray):
            uniq, inv = np.unique(col, return_inverse=True)
            size = len(uniq)
        else:
            encoded = col.dictionary_encode()
            inv = encoded.indices.to_numpy(zero_copy_only=False)
            size = len(encoded.dictionary)
        combined = combined * max(size, 1) + inv.astype(np.int64)
    group_keys, group_ids = np.unique(combined, return_inverse=True)
    n = len(group_keys)
    firsts = np.zeros(n, dtype=np.int64)
    firsts[group_ids[::-1]] = np.arange(len(group_ids) - 1, -1, -1)
    per_group: list[pa.Array | np.ndarray] = [
        col[firsts] if isinstance(col, np.ndarray) else col.take(pa.array(firsts)) for col in columns
    ]
    return group_ids.astype(np.int64), per_group, n
