"""A time-of-day profile: what a series usually does at this point of its season (a day by default).

The season is cut into buckets (15 minutes by default). Per bucket the profile keeps the mean of each of
the last few seasons; the expectation is the median of those means (one odd day does not move it),
interpolated linearly between neighbouring bucket centres so that a smooth daily curve is not a staircase.
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

    def _locate(self, ts_ms: int) -> tuple[int, int, float]:
        season, offset = divmod(ts_ms, self.period_ms)
        bucket, inside = divmod(offset, self.bucket_ms)
        return season, bucket, inside / self.bucket_ms

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
        season, bucket, frac = self._locate(ts_ms)
        here = self.bucket_expectation(season, bucket)
        if here is None:
            return None
        # Interpolate towards the neighbour on the side of the point (bucket centre at frac 0.5). The
        # neighbour after the last bucket is the next season's first: this season's one is in the past.
        if frac >= 0.5:
            nb, weight = bucket + 1, frac - 0.5
        else:
            nb, weight = bucket - 1, 0.5 - frac
        there = self.bucket_expectation(season + 1 if nb == self.buckets else season, nb)
        if there is None:
            return here
        return here + weight * (there - here)

    def learn_one(self, ts_ms: int, value: float) -> None:
        season, bucket, _ = self._locate(ts_ms)
        cells = self._cells.setdefault(bucket, [])
        if cells and cells[-1][0] == season:
            cells[-1][1] += value
            cells[-1][2] += 1
        else:
            cells.append([season, value, 1])
            if len(cells) > self.memory + 1:
                del cells[0]
