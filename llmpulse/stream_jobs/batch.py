"""Validated events (Arrow columns) -> the three tables a chunk writes: raw calls, rollup partials and
per-user daily cost.

Columnar throughout: defaults, caps and flags are Arrow compute kernels; grouping, sketches, cost and sums
are numpy. Python touches single events only for captured text (redaction) and oversized values (capped and
flagged).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.privacy.identity import ID_FIELDS
from llmpulse.stream_jobs.arrow_util import decimal_from_units, group_codes, sketch_maps
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sketch import bucket_keys
from llmpulse.stream_jobs.windows import day_start, window_start
from llmpulse.stream_jobs.wire import ATTRIBUTES, NAME_DEFAULTS, TOKEN_FIELDS

LOW_CARDINALITY = ("provider", "request_model", "response_model", "operation", "error_type", "finish_reason",
                   "app", "team", "environment")  # fmt: skip
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_CHARS = 1024
TS = pa.timestamp("ms", tz="UTC")

#: (text) -> (redacted text, detections); PII never reaches the store
Redact = Callable[[str], tuple[str, int]]
#: (field, column) -> (column to store, detections per row): identity fields (llmpulse.privacy.identity)
CleanIds = Callable[[str, pa.Array], tuple[pa.Array, np.ndarray]]


@dataclass
class BatchTables:
    calls: pa.Table
    rollups: pa.Table
    user_cost: pa.Table
    max_event_ts_ms: int


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


def _cap_strings(col: pa.Array, name: str, cap: int, flags: list[list[str]] | None) -> pa.Array:
    lengths = pc.utf8_length(col)
    too_long = pc.greater(lengths, cap)
    if not pc.any(too_long).as_py():
        return col
    for i in np.flatnonzero(too_long.to_numpy(zero_copy_only=False)):
        if flags is not None:
            flags[i].append(f"capped:{name}")
    return pc.utf8_slice_codeunits(col, 0, cap)


def _texts(col: pa.Array, name: str, cap: int, redact: Redact | None, flags: list[list[str]],
           pii: np.ndarray) -> pa.Array:  # fmt: skip
    if redact is None:
        return pa.nulls(len(col), pa.string())
    if col.null_count == len(col):
        return col
    col = _cap_strings(col, name, cap, flags)
    out: list[str | None] = []
    for i, text in enumerate(col.to_pylist()):
        if text is None:
            out.append(None)
            continue
        clean, found = redact(text)
        pii[i] += found
        out.append(clean)
    return pa.array(out, pa.string())


def _attributes(col: pa.Array, redact: Redact | None, flags: list[list[str]], pii: np.ndarray) -> pa.Array:
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


def _capped_attributes(col: pa.Array, flags: list[list[str]]) -> pa.Array:
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


def build_tables(
    wire: pa.Table,
    prices: PriceBook,
    *,
    window_ms: int,
    max_name_chars: int,
    max_text_chars: int,
    redact: Redact | None,
    redact_attributes: Redact | None = None,
    clean_ids: CleanIds | None = None,
) -> BatchTables:
    """The rows one chunk writes (``wire``: ``wire.WIRE_SCHEMA``). Without ``redact`` (text capture off)
    texts are dropped."""
    n = wire.num_rows
    flags: list[list[str]] = [[] for _ in range(n)]
    pii = np.zeros(n, dtype=np.int64)
    names = {
        f: _cap_strings(pc.fill_null(wire[f].combine_chunks(), default), f, max_name_chars, flags)
        for f, default in NAME_DEFAULTS.items()
    }
    if clean_ids is not None:
        for f in ID_FIELDS:
            names[f], found = clean_ids(f, names[f])
            pii += found
            for i in np.flatnonzero(found):
                flags[i].append(f"pii:{f}")
    ts = wire["ts_ms"].to_numpy()
    latency = wire["latency_ms"].to_numpy()
    ttft_col = wire["ttft_ms"].combine_chunks()
    has_ttft = ~np.asarray(ttft_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    ttft = pc.fill_null(ttft_col, 0.0).to_numpy()
    tokens = {f: pc.fill_null(wire[f], 0).to_numpy() for f in TOKEN_FIELDS}
    is_error = pc.equal(pc.fill_null(wire["status"], "ok"), "error").to_numpy()
    cost_units, priced, price_status = prices.price(
        names["provider"].to_pylist(), names["request_model"].to_pylist(), tokens["input_tokens"],
        tokens["output_tokens"], tokens["cache_read_tokens"], tokens["cache_write_tokens"], ts,
    )  # fmt: skip
    prompts = _texts(wire["prompt"].combine_chunks(), "prompt", max_text_chars, redact, flags, pii)
    responses = _texts(wire["response"].combine_chunks(), "response", max_text_chars, redact, flags, pii)
    attributes = _attributes(wire["attributes"].combine_chunks(), redact_attributes, flags, pii)
    low = {f: names[f].dictionary_encode() for f in LOW_CARDINALITY}  # ClickHouse LowCardinality takes these as is
    calls = pa.table({
        "event_id": wire["event_id"],
        "ts": pa.array(ts, TS),
        "latency_ms": wire["latency_ms"],
        "ttft_ms": ttft_col,
        "provider": low["provider"], "model": low["request_model"],
        "response_model": low["response_model"], "operation": low["operation"],
        "streaming": pc.fill_null(wire["streaming"], False),
        "status": pa.DictionaryArray.from_arrays(pa.array(is_error.astype(np.int8)), pa.array(["ok", "error"])),
        "error_type": low["error_type"], "finish_reason": low["finish_reason"],
        **{f: pa.array(tokens[f].astype(np.uint32)) for f in TOKEN_FIELDS},
        "cost_usd": decimal_from_units(cost_units, 18, 12, priced),
        "price_status": pa.array(np.asarray(price_status, dtype=object), pa.string()).dictionary_encode(),
        "client_cost_usd": wire["client_cost_usd"],
        "app": low["app"], "team": low["team"], "user_id": names["user_id"],
        "session_id": names["session_id"], "environment": low["environment"],
        "attributes": attributes,
        "prompt": prompts, "response": responses,
        "pii_detections": pa.array(np.minimum(pii, 65535).astype(np.uint16)),
        "flags": pa.array(flags, pa.list_(pa.string())),
        "schema_version": pa.array(np.ones(n, dtype=np.uint8)),
        "kafka_partition": wire["kafka_partition"], "kafka_offset": wire["kafka_offset"],
    })  # fmt: skip
    cost = np.where(priced, cost_units, 0)
    rollups = _rollups(ts, window_ms, names, latency, ttft, has_ttft, is_error, tokens, cost, priced, pii)
    user_cost = _user_cost(ts, names, tokens, cost)
    return BatchTables(calls, rollups, user_cost, int(ts.max()) if n else 0)


def _sum_by(group_ids: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros(n_groups, dtype=values.dtype)
    np.add.at(out, group_ids, values)
    return out


def _rollups(ts: np.ndarray, window_ms: int, cols: dict[str, pa.Array], latency: np.ndarray, ttft: np.ndarray,
             has_ttft: np.ndarray, is_error: np.ndarray, tokens: dict[str, np.ndarray], cost: np.ndarray,
             priced: np.ndarray, pii: np.ndarray) -> pa.Table:  # fmt: skip
    windows = window_start(ts, window_ms)
    gid, keys, n = group_codes(windows, cols["provider"], cols["request_model"], cols["app"], cols["team"])
    return pa.table({
        "window_start": pa.array(keys[0] // 1000, pa.timestamp("s", tz="UTC")),
        "provider": keys[1], "model": keys[2], "app": keys[3], "team": keys[4],
        "requests": pa.array(np.bincount(gid, minlength=n).astype(np.uint64)),
        "errors": pa.array(np.bincount(gid, weights=is_error, minlength=n).astype(np.uint64)),
        "latency_sum_ms": pa.array(np.bincount(gid, weights=latency, minlength=n)),
        "latency_sketch": sketch_maps(gid, bucket_keys(latency), n),
        "ttft_count": pa.array(np.bincount(gid, weights=has_ttft, minlength=n).astype(np.uint64)),
        "ttft_sketch": sketch_maps(gid[has_ttft], bucket_keys(ttft[has_ttft]), n),
        **{f: pa.array(_sum_by(gid, tokens[f], n).astype(np.uint64)) for f in TOKEN_FIELDS},
        "cost_usd": decimal_from_units(_sum_by(gid, cost, n), 38, 12),
        "unpriced_requests": pa.array(np.bincount(gid, weights=~priced, minlength=n).astype(np.uint64)),
        "pii_detections": pa.array(_sum_by(gid, pii, n).astype(np.uint64)),
    })  # fmt: skip


def _user_cost(ts: np.ndarray, cols: dict[str, pa.Array], tokens: dict[str, np.ndarray], cost: np.ndarray) -> pa.Table:
    days = day_start(ts)
    gid, keys, n = group_codes(days, cols["app"], cols["team"], cols["user_id"])
    return pa.table({
        "day": pa.array(keys[0] // 86_400_000, pa.int32()).cast(pa.date32()),
        "app": keys[1], "team": keys[2], "user_id": keys[3],
        "requests": pa.array(np.bincount(gid, minlength=n).astype(np.uint64)),
        "input_tokens": pa.array(_sum_by(gid, tokens["input_tokens"], n).astype(np.uint64)),
        "output_tokens": pa.array(_sum_by(gid, tokens["output_tokens"], n).astype(np.uint64)),
        "cost_usd": decimal_from_units(_sum_by(gid, cost, n), 38, 12),
    })  # fmt: skip
