"""The call event as Arrow columns, and the event contract's rules as vectorised checks.

``WIRE_SCHEMA`` is the column layout every decoded batch has. ``row_problems`` applies the rules of
``LLMCallEvent`` (required fields, ranges, allowed values, the time window around the record's timestamp)
to whole columns at once; rows it flags are handed to the exact, per-event validator (``exact.py``), which
decides and explains. So the fast path never accepts what the contract rejects.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.schemas.call import MAX_DURATION_MS, MAX_TOKENS, SCHEMA_VERSION

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
NAME_FIELDS = ("provider", "request_model", "response_model", "operation", "error_type", "finish_reason",
               "app", "team", "user_id", "session_id", "environment")  # fmt: skip
ATTRIBUTES = pa.map_(pa.string(), pa.string())

#: what the JSON parser reads (Arrow's JSON reader has no map type: attributes take the exact path)
PARSE_SCHEMA = pa.schema(
    [("schema_version", pa.int64()), ("event_id", pa.string()), ("ts_ms", pa.int64()),
     ("latency_ms", pa.float64()), ("end_ts_ms", pa.int64()), ("ttft_ms", pa.float64()),
     ("streaming", pa.bool_()), ("status", pa.string()), ("client_cost_usd", pa.float64()),
     ("prompt", pa.string()), ("response", pa.string())]
    + [(f, pa.int64()) for f in TOKEN_FIELDS]
    + [(f, pa.string()) for f in NAME_FIELDS]
)  # fmt: skip
#: a decoded batch: the parsed fields, attributes, and where each event came from
WIRE_SCHEMA = pa.schema(
    [*PARSE_SCHEMA, ("attributes", ATTRIBUTES), ("kafka_partition", pa.uint32()), ("kafka_offset", pa.uint64())]
)


def _nulls(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(col, 0.0).to_numpy(), dtype=np.float64)


def _ints(col: pa.ChunkedArray, fill: int = 0) -> np.ndarray:
    return np.asarray(pc.fill_null(col, fill).to_numpy(), dtype=np.int64)


def _lengths(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.utf8_length(col), 0).to_numpy(), dtype=np.int64)


def row_problems(table: pa.Table, record_ts_ms: np.ndarray, max_age_ms: int, max_future_ms: int) -> np.ndarray:
    """True for each row that breaks a rule of the contract (the exact validator then says which)."""
    bad = np.zeros(table.num_rows, dtype=bool)
    id_len = _lengths(table["event_id"])
    bad |= (id_len < 1) | (id_len > 128)
    for name in ("provider", "request_model"):
        bad |= _lengths(table[name]) < 1
    ts = _ints(table["ts_ms"], -1)
    bad |= (ts < record_ts_ms - max_age_ms) | (ts > record_ts_ms + max_future_ms) | (ts < 0)
    no_latency = _nulls(table["latency_ms"])
    latency = _floats(table["latency_ms"])
    bad |= ~no_latency & ~((latency >= 0) & (latency <= MAX_DURATION_MS))  # NaN fails both
    end = table["end_ts_ms"]
    duration = _ints(end) - ts
    bad |= no_latency & (_nulls(end) | (duration < 0) | (duration > MAX_DURATION_MS))
    bad |= ~_nulls(end) & (_ints(end) < 0)
    ttft = _floats(table["ttft_ms"])
    bad |= ~_nulls(table["ttft_ms"]) & ~((ttft >= 0) & (ttft <= MAX_DURATION_MS))
    for name in TOKEN_FIELDS:
        tokens = _ints(table[name])
        bad |= (tokens < 0) | (tokens > MAX_TOKENS)
    bad |= _ints(table["schema_version"], SCHEMA_VERSION) != SCHEMA_VERSION
    status = pc.fill_null(table["status"], "ok")
    bad |= ~np.asarray(pc.is_in(status, pa.array(["ok", "error"])).to_numpy(zero_copy_only=False), dtype=bool)
    cost = _floats(table["client_cost_usd"])
    bad |= ~_nulls(table["client_cost_usd"]) & ~(cost >= 0) | np.isinf(cost)
    return bad


def with_latency(table: pa.Table) -> pa.Table:
    """Fill latency_ms from end_ts_ms - ts_ms where only the end time was given."""
    latency = table["latency_ms"]
    if latency.null_count == 0:
        return table
    derived = pc.cast(pc.subtract(table["end_ts_ms"], table["ts_ms"]), pa.float64())
    index = table.schema.get_field_index("latency_ms")
    return table.set_column(index, "latency_ms", pc.coalesce(latency, derived))
