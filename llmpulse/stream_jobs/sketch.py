"""DDSketch-style log-bucket quantile sketch over numpy: mergeable, exact counts, 0.5% relative error.

Bucket ``k`` holds values in (g^(k-1), g^k] with g = (1+a)/(1-a), a = 0.005, and represents them by
2·g^k/(g+1): any value is within a of its representative. Quantiles use the nearest-rank rule of
ClickHouse's ``quantileExact`` (element floor(q·n), 0-based), so a sketch quantile is within 0.5% of the
exact quantile. The SQL twins are ``llmpulse_sketch_value`` / ``llmpulse_quantile`` (migration 0001).
A sketch is stored in ClickHouse as ``Map(Int16, UInt64)``; ``sumMap`` merges sketches exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

RELATIVE_ACCURACY = 0.005
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
LOG_GAMMA = math.log(GAMMA)
ZERO_KEY = -32768  # values below MIN_VALUE (incl. 0)
MIN_VALUE = 1e-6
MAX_KEY = 32767


def bucket_keys(values: np.ndarray) -> np.ndarray:
    """Bucket key of each value (float array, finite and >= 0) as int16."""
    v = np.asarray(values, dtype=np.float64)
    keys = np.full(v.shape, ZERO_KEY, dtype=np.int32)
    pos = v >= MIN_VALUE
    keys[pos] = np.clip(np.ceil(np.log(v[pos]) / LOG_GAMMA), ZERO_KEY + 1, MAX_KEY)
    return keys.astype(np.int16)


def key_value(key: int) -> float:
    """The value a bucket stands for."""
    if key == ZERO_KEY:
        return 0.0
    return 2.0 * GAMMA**key / (GAMMA + 1.0)


class Sketch:
    """A mergeable quantile sketch: a map bucket key -> count (``initialize / add / merge / result``)."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = dict(counts or {})

    @classmethod
    def of(cls, values: Iterable[float] | np.ndarray) -> Sketch:
        sketch = cls()
        sketch.add(np.asarray(list(values) if not isinstance(values, np.ndarray) else values))
        return sketch

    def add(self, values: np.ndarray) -> None:
        if len(values) == 0:
            return
        keys, counts = np.unique(bucket_keys(values), return_counts=True)
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
            self.counts[k] = self.counts.get(k, 0) + c

    def merge(self, other: Sketch) -> None:
        for k, c in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + c

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float | None:
        n = self.count
        if n == 0:
            return None
        rank = min(int(q * n), n - 1)
        seen = 0
        for k in sorted(self.counts):
            seen += self.counts[k]
            if seen > rank:
                return key_value(k)
        return key_value(max(self.counts))  # unreachable: the loop always passes rank

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sketch) and self.counts == other.counts

    def __repr__(self) -> str:
        return f"Sketch(n={self.count}, buckets={len(self.counts)})"


def exact_quantile(values: np.ndarray, q: float) -> float:
    """The nearest-rank quantile ClickHouse's quantileExact returns (for tests and benchmarks)."""
    s = np.sort(np.asarray(values, dtype=np.float64))
    return float(s[min(int(q * len(s)), len(s) - 1)])
