"""The feedback kind's tables: each judgement (``llm_feedback``) attributed to its call's model, app, team and
prompt version, and its share of the quality rollups (counted in the minute it was given)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.stream_jobs.arrow_util import group_codes
from llmpulse.stream_jobs.batch import TS, cap_strings, texts
from llmpulse.stream_jobs.kinds.base import CALL_DIMS, BuildContext, Built, attribute_to_calls
from llmpulse.stream_jobs.windows import WINDOW_MS, window_start

#: model fields stored under another column name (every other field is a column of llm_feedback by its own name)
STORED_AS = {"ts_ms": "ts"}


def build(wire: pa.Table, ctx: BuildContext) -> Built:
    settings = ctx.settings
    n = wire.num_rows
    flags: list[list[str]] = [[] for _ in range(n)]
    pii = np.zeros(n, dtype=np.int64)
    names = {f: cap_strings(pc.fill_null(wire[f].combine_chunks(), ""), f, settings.max_name_chars, flags)
             for f in ("user_id", "app", "team")}  # fmt: skip
    if ctx.clean_ids is not None:
        for f in names:
            names[f], found = ctx.clean_ids(f, names[f])
            pii += found
    dims = attribute_to_calls(wire, ctx, names)
    ts = wire["ts_ms"].to_numpy()
    thumbs = pc.fill_null(wire["thumbs"], "").combine_chunks()
    rating = wire["rating"].combine_chunks()
    comments = texts(wire["comment"].combine_chunks(), "comment", settings.max_text_chars, ctx.redact, flags, pii)
    rows = pa.table({
        "event_id": wire["event_id"], "call_id": wire["call_id"], "ts": pa.array(ts, TS),
        "thumbs": thumbs.dictionary_encode(), "rating": pc.cast(rating, pa.uint8()), "comment": comments,
        "user_id": names["user_id"], "attributed": dims["attributed"], "call_ts": dims["call_ts"],
        **{name: dims[name] for name in CALL_DIMS},
        "pii_detections": pa.array(np.minimum(pii, 65535).astype(np.uint16)),
        "flags": pa.array(flags, pa.list_(pa.string())),
        "schema_version": pa.array(np.ones(n, dtype=np.uint8)),
        "kafka_partition": wire["kafka_partition"], "kafka_offset": wire["kafka_offset"],
    })  # fmt: skip
    windows = window_start(ts, WINDOW_MS)
    gid, keys, groups = group_codes(windows, *(dims[name] for name in CALL_DIMS))
    rated = ~np.asarray(rating.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    ratings = pc.fill_null(rating, 0).to_numpy(zero_copy_only=False).astype(np.float64)
    up = np.asarray(pc.equal(thumbs, "up").to_numpy(zero_copy_only=False), dtype=bool)
    down = np.asarray(pc.equal(thumbs, "down").to_numpy(zero_copy_only=False), dtype=bool)

    def count(weights: np.ndarray) -> pa.Array:
        return pa.array(np.bincount(gid, weights=weights, minlength=groups).astype(np.uint64))

    rollups = pa.table({
        "window_start": pa.array(keys[0] // 1000, pa.timestamp("s", tz="UTC")),
        **{name: keys[i + 1] for i, name in enumerate(CALL_DIMS)},
        "feedback": pa.array(np.bincount(gid, minlength=groups).astype(np.uint64)),
        "thumbs_up": count(up), "thumbs_down": count(down), "ratings": count(rated),
        "rating_sum": pa.array(np.bincount(gid, weights=ratings, minlength=groups)),
    })  # fmt: skip
    return Built({"llm_feedback": rows, "llm_quality_rollups_1m": rollups}, int(ts.max()) if n else 0)
