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
    taken at each group's first row, group count). Strings are hash-encoded by Arrow, not sorted; a column
    given dictionary-encoded already (as ``dictionary_encode`` makes it, without nulls) is not encoded again,
    and its keys come back decoded."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    encoded_columns: list[pa.DictionaryArray | np.ndarray] = []
    for col in columns:
        if isinstance(col, np.ndarray):
            uniq, inv = np.unique(col, return_inverse=True)
            size = len(uniq)
            encoded_columns.append(col)
        else:
            encoded = col if isinstance(col, pa.DictionaryArray) and not col.null_count else col.dictionary_encode()
            inv = encoded.indices.to_numpy(zero_copy_only=False)
            size = len(encoded.dictionary)
            encoded_columns.append(encoded)
        combined = combined * max(size, 1) + inv.astype(np.int64)
    group_keys, group_ids = np.unique(combined, return_inverse=True)
    n = len(group_keys)
    firsts = np.zeros(n, dtype=np.int64)
    firsts[group_ids[::-1]] = np.arange(len(group_ids) - 1, -1, -1)
    at = pa.array(firsts)
    per_group: list[pa.Array | np.ndarray] = [
        col[firsts] if isinstance(col, np.ndarray) else col.dictionary.take(col.indices.take(at))
        for col in encoded_columns
    ]
    return group_ids.astype(np.int64), per_group, n


#: more distinct keys than this in one parse: the rows with a mapping take the exact path (n x keys masks)
MAX_STRUCT_KEYS = 256


def struct_to_map(col: pa.Array | pa.ChunkedArray | None, n: int) -> tuple[pa.MapArray, np.ndarray]:
    """A JSON object column as Arrow's JSON reader infers it (a struct with one child per key seen) ->
    ``map<string, string>``, and a mask of the rows whose object the map cannot hold exactly (a value that
    is not a string, or too many distinct keys). Absent or null objects become empty maps."""
    string_map = pa.map_(pa.string(), pa.string())
    bad = np.zeros(n, dtype=bool)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks else pa.nulls(n)
    if col is None or pa.types.is_null(col.type):
        return _empty_maps(n, string_map), bad
    present = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if not pa.types.is_struct(col.type) or col.type.num_fields > MAX_STRUCT_KEYS:
        return _empty_maps(n, string_map), present
    rows: list[np.ndarray] = []
    slots: list[np.ndarray] = []
    values: list[pa.Array] = []
    for j, child in enumerate(col.flatten()):  # flatten: a child is null where its parent is
        valid = np.asarray(child.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if not valid.any():
            continue
        if not pa.types.is_string(child.type):
            bad |= valid
            continue
        where = np.flatnonzero(valid)
        rows.append(where)
        slots.append(np.full(len(where), j, dtype=np.int64))
        values.append(child.filter(pa.array(valid)))
    if not rows:
        return _empty_maps(n, string_map), bad
    row = np.concatenate(rows)
    slot = np.concatenate(slots)
    order = np.argsort(row * (col.type.num_fields + 1) + slot, kind="stable")  # row-major, keys in order seen
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(row, minlength=n), out=offsets[1:])
    names = pa.array([col.type.field(j).name for j in range(col.type.num_fields)], pa.string())
    keys = names.take(pa.array(slot[order]))
    items = pa.concat_arrays(values).take(pa.array(order))
    return pa.MapArray.from_arrays(pa.array(offsets), keys, items), bad


def _empty_maps(n: int, type_: pa.DataType) -> pa.MapArray:
    offsets = pa.array(np.zeros(n + 1, dtype=np.int32))
    return pa.MapArray.from_arrays(offsets, pa.array([], pa.string()), pa.array([], pa.string()), type=type_)
