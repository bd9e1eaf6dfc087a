"""The evaluation kind's tables: each result (``llm_evaluations``) attributed to its call's model, app, team
and prompt version, and per-minute rollups by evaluation name (counted in the minute it was given)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.stream_jobs.arrow_util import group_codes
from llmpulse.stream_jobs.batch import TS, texts
from llmpulse.stream_jobs.kinds.base import CALL_DIMS, BuildContext, Built, judged
from llmpulse.stream_jobs.windows import WINDOW_MS, window_start

LABELS = pa.map_(pa.string(), pa.uint64())
#: model fields stored under another column name (every other field is a column of llm_evaluations by its own name)
STORED_AS = {"ts_ms": "ts"}


def build(wire: pa.Table, ctx: BuildContext) -> Built:
    n = wire.num_rows
    j = judged(wire, ctx, ("name", "label", "evaluator", "app", "team"), ("app", "team"))
    names, dims, ts = j.names, j.dims, j.ts
    score = wire["score"].combine_chunks()
    explanations = texts(wire["explanation"].combine_chunks(), "explanation", ctx.settings.max_text_chars,
                         ctx.redact_attributes, j.flags, j.pii)  # fmt: skip
    rows = pa.table({
        "event_id": wire["event_id"], "call_id": wire["call_id"], "ts": pa.array(ts, TS),
        "name": names["name"].dictionary_encode(), "score": score, "label": names["label"].dictionary_encode(),
        "explanation": explanations, "evaluator": names["evaluator"].dictionary_encode(), **j.row_tail(wire),
    })  # fmt: skip
    windows = window_start(ts, WINDOW_MS)
    gid, keys, groups = group_codes(windows, *(dims[name] for name in CALL_DIMS), names["name"])
    scored = ~np.asarray(score.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    scores = pc.fill_null(score, 0.0).to_numpy(zero_copy_only=False)
    labels: list[dict[str, int]] = [{} for _ in range(groups)]
    for g, label in zip(gid.tolist(), names["label"].to_pylist(), strict=True):
        if label:
            labels[g][label] = labels[g].get(label, 0) + 1
    rollups = pa.table({
        "window_start": pa.array(keys[0] // 1000, pa.timestamp("s", tz="UTC")),
        **{name: keys[i + 1] for i, name in enumerate(CALL_DIMS)}, "name": keys[len(CALL_DIMS) + 1],
        "evaluations": pa.array(np.bincount(gid, minlength=groups).astype(np.uint64)),
        "scored": pa.array(np.bincount(gid, weights=scored, minlength=groups).astype(np.uint64)),
        "score_sum": pa.array(np.bincount(gid, weights=scores, minlength=groups)),
        "labels": pa.array([list(m.items()) for m in labels], LABELS),
    })  # fmt: skip
    return Built({"llm_evaluations": rows, "llm_evaluation_rollups_1m": rollups}, int(ts.max()) if n else 0)
