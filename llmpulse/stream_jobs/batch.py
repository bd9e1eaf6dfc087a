"""Validated events -> the three tables a chunk writes: raw calls, rollup partials, per-user daily cost.

Everything is columnar: Python touches each event once to pull its fields into lists; grouping, sketches,
cost and sums are numpy/Arrow. Oversized names and texts are capped and flagged, never rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from llmpulse.stream_jobs.arrow_util import decimal_from_units, group_codes, sketch_maps
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sketch import bucket_keys
from llmpulse.stream_jobs.windows import day_start, window_start

NAME_FIELDS = (
    "provider", "request_model", "response_model", "operation", "error_type", "finish_reason",
    "app", "team", "user_id", "session_id", "environment",
)  # fmt: skip
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
DEFAULTS: dict[str, Any] = {
    "response_model": "", "operation": "chat", "error_type": "", "finish_reason": "", "app": "", "team": "",
    "user_id": "", "session_id": "", "environment": "production",
}  # fmt: skip
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_CHARS = 1024
TS = pa.timestamp("ms", tz="UTC")

#: (text) -> (redacted text, detections); the privacy module provides it when text capture is on
Redact = Callable[[str], tuple[str, int]]


@dataclass
class BatchTables:
    calls: pa.Table
    rollups: pa.Table
    user_cost: pa.Table
    max_event_ts_ms: int


def _column(events: list[dict[str, Any]], name: str, default: Any, cap: int, flags: list[list[str]]) -> list[Any]:
    values = [e.get(name) or default for e in events]
    if values and max(map(len, values)) > cap:
        for i, v in enumerate(values):
            if len(v) > cap:
                values[i] = v[:cap]
                flags[i].append(f"capped:{name}")
    return values


def _text(events: list[dict[str, Any]], name: str, cap: int, redact: Redact | None,
          flags: list[list[str]], pii: np.ndarray) -> list[str | None]:  # fmt: skip
    out: list[str | None] = []
    for i, e in enumerate(events):
        text = e.get(name)
        if text is None or redact is None:
            out.append(None)
            continue
        if len(text) > cap:
            text = text[:cap]
            flags[i].append(f"capped:{name}")
        clean, found = redact(text)
        pii[i] += found
        out.append(clean)
    return out


def _attributes(events: list[dict[str, Any]], redact: Redact | None, flags: list[list[str]],
                pii: np.ndarray) -> list[list[tuple[str, str]]]:  # fmt: skip
    out: list[list[tuple[str, str]]] = []
    for i, e in enumerate(events):
        attrs = e.get("attributes")
        if not attrs:
            out.append([])
            continue
        items = list(attrs.items())
        if len(items) > MAX_ATTRIBUTES:
            items = items[:MAX_ATTRIBUTES]
            flags[i].append("capped:attributes")
        cleaned = []
        for k, v in items:
            if len(k) > MAX_ATTRIBUTE_CHARS or len(v) > MAX_ATTRIBUTE_CHARS:
                k, v = k[:MAX_ATTRIBUTE_CHARS], v[:MAX_ATTRIBUTE_CHARS]
                flags[i].append("capped:attributes")
            if redact is not None:
                v, found = redact(v)
                pii[i] += found
            cleaned.append((k, v))
        out.append(cleaned)
    return out


def build_tables(
    events: list[dict[str, Any]],
    sources: list[tuple[int, int]],
    prices: PriceBook,
    *,
    window_ms: int,
    max_name_chars: int,
    max_text_chars: int,
    redact: Redact | None,
) -> BatchTables:
    """The rows one chunk writes. ``redact`` is None when text capture is off: texts are then dropped."""
    n = len(events)
    flags: list[list[str]] = [[] for _ in range(n)]
    pii = np.zeros(n, dtype=np.int64)
    names = {f: _column(events, f, DEFAULTS.get(f, ""), max_name_chars, flags) for f in NAME_FIELDS}
    ts = np.fromiter((e["ts_ms"] for e in events), dtype=np.int64, count=n)
    latency = np.fromiter((e["latency_ms"] for e in events), dtype=np.float64, count=n)
    ttft_raw = [e.get("ttft_ms") for e in events]
    has_ttft = np.fromiter((t is not None for t in ttft_raw), dtype=bool, count=n)
    ttft = np.fromiter((t or 0.0 for t in ttft_raw), dtype=np.float64, count=n)
    tokens = {f: np.fromiter((e.get(f, 0) for e in events), dtype=np.int64, count=n) for f in TOKEN_FIELDS}
    is_error = np.fromiter((e.get("status") == "error" for e in events), dtype=bool, count=n)
    cost_units, priced, price_status = prices.price(
        names["provider"], names["request_model"], tokens["input_tokens"], tokens["output_tokens"],
        tokens["cache_read_tokens"], tokens["cache_write_tokens"], ts,
    )  # fmt: skip
    prompts = _text(events, "prompt", max_text_chars, redact, flags, pii)
    responses = _text(events, "response", max_text_chars, redact, flags, pii)
    attributes = _attributes(events, redact, flags, pii)

    str_cols = {f: pa.array(v, pa.string()) for f, v in names.items()}
    calls = pa.table({
        "event_id": pa.array([e["event_id"] for e in events], pa.string()),
        "ts": pa.array(ts, TS),
        "latency_ms": pa.array(latency),
        "ttft_ms": pa.array(ttft, mask=~has_ttft),
        "provider": str_cols["provider"],
        "model": str_cols["request_model"],
        "response_model": str_cols["response_model"],
        "operation": str_cols["operation"],
        "streaming": pa.array([bool(e.get("streaming", False)) for e in events]),
        "status": pa.array(np.where(is_error, "error", "ok").tolist(), pa.string()),
        "error_type": str_cols["error_type"],
        "finish_reason": str_cols["finish_reason"],
        **{f: pa.array(tokens[f].astype(np.uint32)) for f in TOKEN_FIELDS},
        "cost_usd": decimal_from_units(cost_units, 18, 12, priced),
        "price_status": pa.array(np.asarray(price_status, dtype=object).tolist(), pa.string()),
        "client_cost_usd": pa.array([e.get("client_cost_usd") for e in events], pa.float64()),
        "app": str_cols["app"],
        "team": str_cols["team"],
        "user_id": str_cols["user_id"],
        "session_id": str_cols["session_id"],
        "environment": str_cols["environment"],
        "attributes": pa.array(attributes, pa.map_(pa.string(), pa.string())),
        "prompt": pa.array(prompts, pa.string()),
        "response": pa.array(responses, pa.string()),
        "pii_detections": pa.array(np.minimum(pii, 65535).astype(np.uint16)),
        "flags": pa.array(flags, pa.list_(pa.string())),
        "schema_version": pa.array(np.ones(n, dtype=np.uint8)),
        "kafka_partition": pa.array(np.fromiter((s[0] for s in sources), dtype=np.uint32, count=n)),
        "kafka_offset": pa.array(np.fromiter((s[1] for s in sources), dtype=np.uint64, count=n)),
    })  # fmt: skip
    cost = np.where(priced, cost_units, 0)
    rollups = _rollups(ts, window_ms, str_cols, latency, ttft, has_ttft, is_error, tokens, cost, priced)
    user_cost = _user_cost(ts, str_cols, tokens, cost)
    return BatchTables(calls, rollups, user_cost, int(ts.max()) if n else 0)


def _sum_by(group_ids: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros(n_groups, dtype=values.dtype)
    np.add.at(out, group_ids, values)
    return out


def _rollups(ts: np.ndarray, window_ms: int, cols: dict[str, pa.Array], latency: np.ndarray, ttft: np.ndarray,
             has_ttft: np.ndarray, is_error: np.ndarray, tokens: dict[str, np.ndarray], cost: np.ndarray,
             priced: np.ndarray) -> pa.Table:  # fmt: skip
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
