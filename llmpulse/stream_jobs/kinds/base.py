"""What a kind's table builder is given and gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.quality.columns import QualityScorer
from llmpulse.settings import Settings
from llmpulse.stream_jobs.batch import Redact, RowFlags, cap_strings
from llmpulse.stream_jobs.pricing import PriceBook

#: (field, column) -> (column to store, detections per row): identity fields (llmpulse.privacy.identity)
CleanIds = Callable[[str, pa.Array], tuple[pa.Array, np.ndarray]]


@dataclass(frozen=True)
class CallDims:
    """The dimensions of a stored call, to attribute feedback and evaluations to."""

    ts_ms: int
    provider: str
    model: str
    app: str
    team: str
    prompt_version: str


#: (call ids, earliest call time in ms) -> the stored calls among them (the sink retries while the store is away)
LookupCalls = Callable[[list[str], int], dict[str, CallDims]]


@dataclass
class BuildContext:
    settings: Settings
    prices: PriceBook
    redact: Redact | None = None  # captured text; None = text capture off (texts are dropped)
    redact_attributes: Redact | None = None  # free-form values that are always kept, so always redacted
    clean_ids: CleanIds | None = None
    quality: QualityScorer | None = None
    lookup_calls: LookupCalls | None = None


@dataclass
class Built:
    tables: dict[str, pa.Table] = field(default_factory=dict)  # table name -> rows (the kind's tables, in order)
    max_event_ts_ms: int = 0


#: the call dimensions a judgement (feedback, evaluation) is attributed to
CALL_DIMS = ("provider", "model", "app", "team", "prompt_version")


def attribute_to_calls(wire: pa.Table, ctx: BuildContext, fallback: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """For each judged call (``call_id``): its stored dimensions (``CALL_DIMS``), ``call_ts`` and
    ``attributed``; a call not found (too old, not stored yet, or unknown) gets ``fallback``'s app and team as
    sent on the judgement, and empty provider, model and prompt version."""
    ids = wire["call_id"].to_pylist()
    n = len(ids)
    found: dict[str, CallDims] = {}
    if ids and ctx.lookup_calls is not None:
        earliest = int(pc.min(wire["ts_ms"]).as_py()) - ctx.settings.feedback_lookback_days * 86_400_000
        found = ctx.lookup_calls(sorted(set(ids)), earliest)
    dims = [found.get(i) for i in ids]
    out: dict[str, pa.Array] = {}
    for name in CALL_DIMS:
        default = fallback[name].to_pylist() if name in fallback else [""] * n
        out[name] = pa.array([getattr(d, name) if d is not None else default[k] for k, d in enumerate(dims)],
                             pa.string())  # fmt: skip
    out["call_ts"] = pa.array([d.ts_ms if d is not None else None for d in dims], pa.timestamp("ms", tz="UTC"))
    out["attributed"] = pa.array([d is not None for d in dims], pa.bool_())
    return out


@dataclass
class Judged:
    """What the builders of judgements (feedback, evaluations) share: capped names (with flags and PII counts),
    the judged calls' dimensions and the event times."""

    names: dict[str, pa.Array]
    dims: dict[str, pa.Array]
    ts: np.ndarray
    flags: RowFlags
    pii: np.ndarray

    def row_tail(self, wire: pa.Table) -> dict[str, pa.Array | pa.ChunkedArray]:
        """The columns every judgement row ends with."""
        return {
            "attributed": self.dims["attributed"], "call_ts": self.dims["call_ts"],
            **{name: self.dims[name] for name in CALL_DIMS},
            "pii_detections": pa.array(np.minimum(self.pii, 65535).astype(np.uint16)),
            "flags": self.flags.array(),
            "schema_version": pa.array(np.ones(len(self.ts), dtype=np.uint8)),
            "kafka_partition": wire["kafka_partition"], "kafka_offset": wire["kafka_offset"],
        }  # fmt: skip


def judged(wire: pa.Table, ctx: BuildContext, names: tuple[str, ...], ids: tuple[str, ...]) -> Judged:
    """Cap the ``names`` columns (absent = ''), clean the identity fields among them (``ids``), and attribute
    each judgement to its call (``attribute_to_calls``, with the judgement's own app and team to fall back on)."""
    n = wire.num_rows
    flags = RowFlags(n)
    pii = np.zeros(n, dtype=np.int64)
    capped = {f: cap_strings(pc.fill_null(wire[f].combine_chunks(), ""), f, ctx.settings.max_name_chars, flags)
              for f in names}  # fmt: skip
    if ctx.clean_ids is not None:
        for f in ids:
            capped[f], found = ctx.clean_ids(f, capped[f])
            pii += found
    return Judged(capped, attribute_to_calls(wire, ctx, capped), wire["ts_ms"].to_numpy(), flags, pii)
