"""The call kind's tables: raw calls (with their quality signals), one-minute rollup partials, per-user daily
cost, and the calls' share of the quality rollups. Its own cross-field rule: a duration, given directly or as
an end time within a day after the start.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.privacy.identity import ID_FIELDS
from llmpulse.schemas.call import MAX_DURATION_MS
from llmpulse.schemas.kinds import CALL
from llmpulse.stream_jobs.arrow_util import decimal_from_units, group_codes, sketch_maps
from llmpulse.stream_jobs.batch import TS, RowFlags, attributes, cap_strings, sum_by, texts
from llmpulse.stream_jobs.kinds.base import BuildContext, Built
from llmpulse.stream_jobs.sketch import bucket_keys
from llmpulse.stream_jobs.windows import WINDOW_MS, day_start, window_start
from llmpulse.stream_jobs.wire import field_rules

_RULES = field_rules(CALL.model, CALL.required)
#: captured free text: stored only with text capture on, and always redacted (a storage policy, not a type)
TEXT_FIELDS = ("prompt", "response")
TOKEN_FIELDS = tuple(r.name for r in _RULES if r.kind is int and r.name.endswith("_tokens"))
#: name-like fields (stored as sent, '' or the model's default when absent)
NAME_DEFAULTS: dict[str, str] = {
    r.name: r.default or "" for r in _RULES
    if r.kind is str and r.allowed is None and r.name not in (*TEXT_FIELDS, "event_id")
}  # fmt: skip
LOW_CARDINALITY = ("provider", "request_model", "response_model", "operation", "error_type", "finish_reason",
                   "app", "team", "environment")  # fmt: skip
#: the attribute that names a prompt version (a rollup dimension of the quality rollups)
PROMPT_VERSION = "prompt_version"
QUALITY_KEYS = ("provider", "model", "app", "team", "prompt_version")
#: model fields stored under another column name (every other field is a column of llm_calls by its own name)
STORED_AS = {"ts_ms": "ts", "request_model": "model", "end_ts_ms": "latency_ms"}


# -- the cross-field rule ------------------------------------------------------------------------------
def _nulls(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def check_rows(table: pa.Table) -> np.ndarray:
    """Fast path: an end time (given without a latency) must be within a day after the start."""
    ts = pc.fill_null(table["ts_ms"], 0).to_numpy()
    end = table["end_ts_ms"]
    duration = pc.fill_null(end, 0).to_numpy() - ts
    return _nulls(table["latency_ms"]) & ~_nulls(end) & ((duration < 0) | (duration > MAX_DURATION_MS))


def check_event(event: dict[str, Any]) -> tuple[str, str] | None:
    """Exact path: the same rule, and the latency derived from the end time."""
    if event.get("latency_ms") is None:
        duration = event["end_ts_ms"] - event["ts_ms"]
        if not 0 <= duration <= MAX_DURATION_MS:
            return "validation", "end_ts_ms must be within a day after ts_ms"
        event["latency_ms"] = float(duration)
    return None


def complete(table: pa.Table) -> pa.Table:
    """Fill latency_ms from end_ts_ms - ts_ms where only the end time was given."""
    latency = table["latency_ms"]
    if latency.null_count == 0:
        return table
    derived = pc.cast(pc.subtract(table["end_ts_ms"], table["ts_ms"]), pa.float64())
    index = table.schema.get_field_index("latency_ms")
    return table.set_column(index, "latency_ms", pc.coalesce(latency, derived))


# -- the tables ----------------------------------------------------------------------------------------
def build(wire: pa.Table, ctx: BuildContext) -> Built:
    """The rows one chunk of calls writes. Without ``ctx.redact`` (text capture off) texts are dropped, but
    the quality signals are still computed from them (on the sampled calls) before they are."""
    settings = ctx.settings
    n = wire.num_rows
    flags = RowFlags(n)
    pii = np.zeros(n, dtype=np.int64)
    response_pii = np.zeros(n, dtype=np.int64)
    names = {
        f: cap_strings(pc.fill_null(wire[f].combine_chunks(), default), f, settings.max_name_chars, flags)
        for f, default in NAME_DEFAULTS.items()
    }
    if ctx.clean_ids is not None:
        for f in ID_FIELDS:
            names[f], found = ctx.clean_ids(f, names[f])
            pii += found
            for i in np.flatnonzero(found).tolist():
                flags[i].append(f"pii:{f}")
    ts = wire["ts_ms"].to_numpy()
    latency = wire["latency_ms"].to_numpy()
    ttft_col = wire["ttft_ms"].combine_chunks()
    has_ttft = ~_nulls(ttft_col)
    ttft = pc.fill_null(ttft_col, 0.0).to_numpy()
    tokens = {f: pc.fill_null(wire[f], 0).to_numpy() for f in TOKEN_FIELDS}
    is_error = pc.equal(pc.fill_null(wire["status"], "ok"), "error").to_numpy()
    cost_units, priced, price_status = ctx.prices.price(
        names["provider"].to_pylist(), names["request_model"].to_pylist(), tokens["input_tokens"],
        tokens["output_tokens"], tokens["cache_read_tokens"], tokens["cache_write_tokens"], ts,
    )  # fmt: skip
    raw_prompts, raw_responses = wire["prompt"].combine_chunks(), wire["response"].combine_chunks()
    quality = ctx.quality.columns(wire["event_id"].combine_chunks(), names["request_model"], raw_prompts,
                                  raw_responses, names["finish_reason"]) if ctx.quality is not None else {}  # fmt: skip
    prompts = texts(raw_prompts, "prompt", settings.max_text_chars, ctx.redact, flags, pii)
    responses = texts(raw_responses, "response", settings.max_text_chars, ctx.redact, flags, response_pii)
    pii += response_pii
    attrs = attributes(wire["attributes"].combine_chunks(), ctx.redact_attributes, flags, pii)
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
        "tokens_estimated": pc.fill_null(wire["tokens_estimated"], False),
        "cost_usd": decimal_from_units(cost_units, 18, 12, priced),
        "price_status": pa.array(np.asarray(price_status, dtype=object), pa.string()).dictionary_encode(),
        "client_cost_usd": wire["client_cost_usd"],
        "app": low["app"], "team": low["team"], "user_id": names["user_id"],
        "session_id": names["session_id"], "environment": low["environment"],
        "attributes": attrs,
        "prompt": prompts, "response": responses,
        "pii_detections": pa.array(np.minimum(pii, 65535).astype(np.uint16)),
        "flags": flags.array(),
        **quality,
        "schema_version": pa.array(np.ones(n, dtype=np.uint8)),
        "kafka_partition": wire["kafka_partition"], "kafka_offset": wire["kafka_offset"],
    })  # fmt: skip
    cost = np.where(priced, cost_units, 0)
    windows = window_start(ts, WINDOW_MS)
    keys = {**names, **low}  # the rollup keys: the low-cardinality ones dictionary-encoded once, above
    tables = {
        "llm_calls": calls,
        "llm_call_rollups_1m": _rollups(windows, keys, latency, ttft, has_ttft, is_error, tokens, cost, priced, pii),
        "llm_user_cost_1d": _user_cost(ts, keys, tokens, cost),
    }
    if quality:
        version = pc.fill_null(pc.map_lookup(attrs, PROMPT_VERSION, "first"), "") if n else pa.array([], pa.string())
        tables["llm_quality_rollups_1m"] = _quality_rollups(windows, keys, version, quality, response_pii)
    return Built(tables, int(ts.max()) if n else 0)


def _rollups(windows: np.ndarray, cols: dict[str, pa.Array], latency: np.ndarray, ttft: np.ndarray,
             has_ttft: np.ndarray, is_error: np.ndarray, tokens: dict[str, np.ndarray], cost: np.ndarray,
             priced: np.ndarray, pii: np.ndarray) -> pa.Table:  # fmt: skip
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
        **{f: pa.array(sum_by(gid, tokens[f], n).astype(np.uint64)) for f in TOKEN_FIELDS},
        "cost_usd": decimal_from_units(sum_by(gid, cost, n), 38, 12),
        "unpriced_requests": pa.array(np.bincount(gid, weights=~priced, minlength=n).astype(np.uint64)),
        "pii_detections": pa.array(sum_by(gid, pii, n).astype(np.uint64)),
    })  # fmt: skip


def _user_cost(ts: np.ndarray, cols: dict[str, pa.Array], tokens: dict[str, np.ndarray], cost: np.ndarray) -> pa.Table:
    days = day_start(ts)
    gid, keys, n = group_codes(days, cols["app"], cols["team"], cols["user_id"])
    return pa.table({
        "day": pa.array(keys[0] // 86_400_000, pa.int32()).cast(pa.date32()),
        "app": keys[1], "team": keys[2], "user_id": keys[3],
        "requests": pa.array(np.bincount(gid, minlength=n).astype(np.uint64)),
        "input_tokens": pa.array(sum_by(gid, tokens["input_tokens"], n).astype(np.uint64)),
        "output_tokens": pa.array(sum_by(gid, tokens["output_tokens"], n).astype(np.uint64)),
        "cost_usd": decimal_from_units(sum_by(gid, cost, n), 38, 12),
    })  # fmt: skip


def _flag(col: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(col, False).to_numpy(zero_copy_only=False), dtype=np.uint64)


#: quality rollup column <- the call column it counts (True values)
QUALITY_COUNTS = {
    "quality_sampled": "quality_sampled", "models_sampled": "quality_models_sampled", "truncated": "truncated",
    "refusals": "refusal",
    "empty_answers": "empty_answer", "prompt_injections": "prompt_injection", "toxic": "toxic",
    "negative_sentiment": "negative_sentiment", "irrelevant": "irrelevant", "inconsistent_answers": "inconsistent",
}  # fmt: skip


def _quality_rollups(windows: np.ndarray, cols: dict[str, pa.Array], version: pa.Array,
                     quality: dict[str, pa.Array], response_pii: np.ndarray) -> pa.Table:  # fmt: skip
    gid, keys, n = group_codes(windows, cols["provider"], cols["request_model"], cols["app"], cols["team"], version)
    repeated = ~_nulls(quality["answer_agreement"])
    return pa.table({
        "window_start": pa.array(keys[0] // 1000, pa.timestamp("s", tz="UTC")),
        **{name: keys[i + 1] for i, name in enumerate(QUALITY_KEYS)},
        "calls": pa.array(np.bincount(gid, minlength=n).astype(np.uint64)),
        **{out: pa.array(sum_by(gid, _flag(quality[col]), n)) for out, col in QUALITY_COUNTS.items()},
        "repeated_prompts": pa.array(np.bincount(gid, weights=repeated, minlength=n).astype(np.uint64)),
        "response_pii": pa.array(np.bincount(gid, weights=response_pii > 0, minlength=n).astype(np.uint64)),
    })  # fmt: skip
