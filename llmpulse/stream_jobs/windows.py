"""Window assignment: tumbling windows in event time, as pure functions over integer milliseconds."""

from __future__ import annotations

import numpy as np

#: The tumbling window length: the stream jobs aggregate calls into one-minute windows
#: (``llm_call_rollups_1m``) and the alert rules evaluate those windows. Derive from this, never restate it.
WINDOW_MS = 60_000


def window_start(ts_ms: np.ndarray, window_ms: int) -> np.ndarray:
    """Start (ms) of the tumbling window holding each timestamp."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    return ts - np.mod(ts, window_ms)


def day_start(ts_ms: np.ndarray) -> np.ndarray:
    return window_start(ts_ms, 86_400_000)
