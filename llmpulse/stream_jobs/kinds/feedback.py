"""The feedback kind's tables: each judgement (``llm_feedback``) attributed to its call's model, app, team and
prompt version, and its share of the quality rollups (counted in the minute it was given)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.stream_jobs.arrow_util import group_codes
from llmpulse.stream_jobs.batch import TS, texts
from llmpulse.stream_jobs.kinds.base import CALL_DIMS, BuildContext, Built, judged
from llmpulse.stream_jobs.windows import WINDOW_MS, window_start

#: model fields stored under another column name (every other field is a column of llm_feedback by its own name)
STORED_AS = {"ts_ms": "ts"}


def build(wire: pa.Table, ctx: BuildContext) -> Built:
    n = wire.num_rows
    ids = ("user_id", "app", "team")
    j = judged(wire, ctx, ids, ids)
    dims, ts = j.dims, j.ts
    thumbs = pc.fill_null(wire["thumbs"], "").combine_chunks()
    rating = wire["rating"].combine_chunks()
    comments = texts(wire["comment"].combine_chunks(), "comment", ctx.settings.max_text_chars, ctx.redact, j.flags,
                     j.pii)  # fmt: skip
    rows = pa.table({
        "event_id": wire["event_id"], "call_id": wire["call_id"], "ts": pa.array(ts, TS),
        "thumbs": thumbs.dictionary_encode(), "rating": pc.cast(rating, pa.uint8()), "comment": comments,
        "user_id": j.names["user_id"], **j.row_tail(wire),
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
