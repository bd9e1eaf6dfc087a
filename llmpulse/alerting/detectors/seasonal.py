"""A time-of-day profile: what a series usually does at this point of its season (a day by default).

The season is cut into buckets (15 minutes by default). Per bucket the profile keeps the mean of each of
the last few seasons; the expectation is the median of those means (one odd day does not move it). No
interpolation between buckets: steps in real traffic (jobs, batch windows, business hours) start on
round times, which bucket edges match, and a smooth daily curve changes little within 15 minutes.
Time comes from the points' own timestamps (UTC milliseconds), so the profile does not care about the
sampling rate or gaps.
"""

from __future__ import annotations

import statistics


class SeasonalProfile:
    def __init__(self, period_ms: int, bucket_ms: int, memory: int) -> None:
        if period_ms % bucket_ms:
            raise ValueError("the period must be a whole number of buckets")
        self.period_ms = period_ms
        self.bucket_ms = bucket_ms
        self.memory = memory
        self.buckets = period_ms // bucket_ms
        # bucket -> [[season index, sum, count], ...], oldest first, at most memory + 1 seasons
        self._cells: dict[int, list[list[float]]] = {}
        # bucket -> (season, expectation): past seasons' cells no longer change once a season is under way
        self._memo: dict[int, tuple[int, float | None]] = {}

    def _locate(self, ts_ms: int) -> tuple[int, int]:
        season, offset = divmod(ts_ms, self.period_ms)
        return season, offset // self.bucket_ms

    def bucket_expectation(self, season: int, bucket: int) -> float | None:
        """Median over past seasons (before ``season``) of the bucket's mean."""
        cells = self._cells.get(bucket % self.buckets)
        if not cells:
            return None
        past = [s / c for idx, s, c in cells if idx < season and c > 0]
        if not past:
            return None
        return statistics.median(past[-self.memory :])

    def expected(self, ts_ms: int) -> float | None:
        season, bucket = self._locate(ts_ms)
        memo = getattr(self, "_memo", None)
        if memo is None:  # a state saved before the memo existed
            memo = self._memo = {}
        hit = memo.get(bucket)
        if hit is not None and hit[0] == season:
            return hit[1]
        value = self.bucket_expectation(season, bucket)
        memo[bucket] = (season, value)
        return value

    def learn_one(self, ts_ms: int, value: float) -> None:
        season, bucket = self._locate(ts_ms)
        cells = self._cells.setdefault(bucket, [])
        if cells and cells[-1][0] > season:  # a point from an earlier season: its memo may be stale
            getattr(self, "_memo", {}).pop(bucket, None)
        if cells and cells[-1][0] == season:
            cells[-1][1] += value
            cells[-1][2] += 1
        else:
            cells.append([season, value, 1])
            if len(cells) > self.memory + 1:
                del cells[0]
