"""Synthetic series for the detector tests: one point per minute, deterministic under a seed."""

from __future__ import annotations

import math
import random

MINUTE_MS = 60_000
DAY_MINUTES = 1440
START_MS = 1_700_000_000_000 - 1_700_000_000_000 % (DAY_MINUTES * MINUTE_MS)  # a UTC midnight


def timestamps(n: int) -> list[int]:
    return [START_MS + i * MINUTE_MS for i in range(n)]


def noisy(n: int, level: float = 100.0, sigma: float = 5.0, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0.0, sigma) for _ in range(n)]


def daily(
    n: int, level: float = 100.0, amplitude: float = 40.0, sigma: float = 3.0, seed: int = 0
) -> list[float]:
    """A daily cycle (peak in the afternoon) with noise."""
    rng = random.Random(seed)
    return [
        level + amplitude * math.sin(2 * math.pi * (i % DAY_MINUTES) / DAY_MINUTES) + rng.gauss(0.0, sigma)
        for i in range(n)
    ]


def flat(n: int, level: float = 42.0) -> list[float]:
    return [level] * n
