"""Robust running baselines: a rolling median level and a residual scale.

Both are river rolling / exponentially weighted statistics, so they pickle and cost O(log window).
"""

from __future__ import annotations

from river import stats

MAD_TO_STD = 1.4826  # median absolute deviation of a normal distribution, in standard deviations
_TINY = 1e-9


class RollingLevel:
    """Median of the last ``window`` learned values."""

    def __init__(self, window: int) -> None:
        self._median = stats.RollingQuantile(0.5, window)
        self._count = 0

    def get(self) -> float | None:
        return self._median.get() if self._count else None

    def learn_one(self, value: float) -> None:
        self._median.update(value)
        self._count += 1


class ResidualScale:
    """How far values usually sit from their expectation, in the units of the series.

    The larger of the rolling median absolute residual (as a standard deviation) and an exponentially
    weighted mean absolute residual. The median ignores outliers; the mean remembers that a series is
    spiky (so its spikes are less surprising) and keeps the scale above zero for series that are flat
    most of the time. A small fraction of the level is the floor.

    The mean is the plain mean of the residuals seen so far until there are about ``window`` of them
    (then it fades): an exponential mean started from the first residual would stay near it for hundreds
    of points, and a series whose first residuals are 0 (an error rate, mostly 0) would get a scale
    near 0 and alert on its first ordinary error.
    """

    def __init__(self, window: int, min_relative: float) -> None:
        self._median_abs = stats.RollingQuantile(0.5, window)
        self._fading = 2.0 / (window + 1)
        self._mean_abs = 0.0
        self._count = 0
        self.min_relative = min_relative

    @property
    def count(self) -> int:
        return self._count

    def get(self, level: float) -> float:
        floor = max(abs(level) * self.min_relative, _TINY)
        if not self._count:
            return floor
        robust = MAD_TO_STD * (self._median_abs.get() or 0.0)
        return max(robust, self._mean_abs, floor)

    def learn_one(self, residual: float) -> None:
        self._median_abs.update(abs(residual))
        self._count += 1
        # the plain mean of the residuals so far until there are about `window` of them, then an EW mean
        weight = max(1.0 / self._count, self._fading)
        self._mean_abs += weight * (abs(residual) - self._mean_abs)

    def __setstate__(self, state: dict[str, object]) -> None:
        """Reads a state pickled before the mean was a plain float (a river ``EWMean``), as saved states are."""
        mean = state.get("_mean_abs")
        if isinstance(mean, stats.EWMean):
            state["_fading"] = mean.fading_factor
            state["_mean_abs"] = float(mean.get())
        self.__dict__.update(state)
