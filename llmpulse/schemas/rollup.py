"""The one-minute rollup row, as the stream job writes it to ``llm_call_rollups_1m``.

A stream batch writes one *partial* row per (window, provider, model, app, team) it saw; ClickHouse adds
partial rows together (counts and sums) and merges the quantile sketches (``Map(Int16, UInt64)`` bucket
counts, summed with ``sumMap``). So any set of windows and dimensions can be re-aggregated exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel

#: The window length: the stream jobs aggregate events into one-minute windows (the ``*_1m`` tables) and the
#: alert rules evaluate those windows. Derive from this, never restate it; it is not a setting.
WINDOW_MS: Final = 60_000


class RollupRow(BaseModel):
    window_start: datetime
    provider: str
    model: str
    app: str
    team: str
    requests: int
    errors: int
    latency_sketch: dict[int, int]
    ttft_sketch: dict[int, int]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float
    unpriced_requests: int
