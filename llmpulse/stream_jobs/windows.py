"""Window assignment: tumbling windows in event time, as pure functions over integer milliseconds."""

from __future__ import annotations

import numpy as np

from llmpulse.schemas.rollup import WINDOW_MS

__all__ = ["WINDOW_MS", "day_start", "window_start"]


def window_start(ts_ms: np.ndarray, window_ms: int) -> np.ndarray:
    """Start (ms) of the tumbling window holding each timestamp."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    return ts - np.mod(ts, window_ms)


def day_start(ts_ms: np.ndarray) -> np.ndarray:
    return window_start(ts_ms, 86_400_000)
