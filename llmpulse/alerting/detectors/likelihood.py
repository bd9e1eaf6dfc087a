"""Anomaly likelihood: how unusual the recent average of raw surprise scores is for this series.

After Numenta's post-processing for HTM (Ahmad et al., "Unsupervised real-time anomaly detection for
streaming data", Neurocomputing 2017): keep a long-run estimate (mean, variance) of the short moving
average of raw scores; the likelihood of a new average is one minus its Gaussian tail probability. This
calibrates any raw score per series: a series that is always a bit surprising does not page, a quiet one
pages on its first real surprise. Scores are reported on a log scale on which 0.5 is a 1e-5 tail.
"""

from __future__ import annotations

import math
from collections import deque

_LOG_FLOOR = 1e-10
_SQRT2 = math.sqrt(2.0)


def tail_to_score(tail: float) -> float:
    """A tail probability on a 0-1 log scale: 1e-5 -> 0.5, 1e-10 -> 0.97, 0 -> 1.0, 0.5 -> 0.03."""
    return min(1.0, max(0.0, math.log(tail + _LOG_FLOOR) / math.log(_LOG_FLOOR)))


class AnomalyLikelihood:
    """Long-run Gaussian estimate of the moving average of raw scores, and the tail of the current one.

    ``observe`` records every raw score (the moving average always reflects what just happened);
    ``learn`` folds the current average into the long-run estimate, optionally clipped so that an
    anomaly teaches only that "this much happens", not its full size.
    """

    def __init__(self, history_points: int, average_points: int, min_std: float = 0.02) -> None:
        self.history_points = history_points
        self.average_points = average_points
        self.min_std = min_std
        self._recent: deque[float] = deque(maxlen=average_points)
        self._sum = 0.0  # of _recent
        self._n = 0
        self._mean = 0.0
        self._var = 0.0

    @property
    def n(self) -> int:
        return self._n

    def _std(self) -> float:
        return max(math.sqrt(self._var), self.min_std)

    def average_with(self, raw: float) -> float:
        """The moving average if ``raw`` were the newest score (does not change the state)."""
        recent = self._recent
        if len(recent) == self.average_points:
            return (self._sum - recent[0] + raw) / len(recent)
        return (self._sum + raw) / (len(recent) + 1)

    def tail(self, raw: float) -> float:
        """Probability, under the long-run estimate, of an average at least this high."""
        if self._n < 2:
            return 0.5
        z = (self.average_with(raw) - self._mean) / self._std()
        return 0.5 * math.erfc(z / _SQRT2)

    def score(self, raw: float) -> float:
        return tail_to_score(self.tail(raw))

    def observe(self, raw: float) -> None:
        if len(self._recent) == self.average_points:
            self._sum -= self._recent[0]
        self._recent.append(raw)
        self._sum += raw

    def learn(self, clip_z: float | None = None) -> None:
        """Fold the current moving average into the long-run mean and variance."""
        if not self._recent:
            return
        avg = self._sum / len(self._recent)
        if clip_z is not None and self._n >= 2:
            avg = min(avg, self._mean + clip_z * self._std())
        self._n += 1
        alpha = max(1.0 / self._n, 1.0 / self.history_points)
        diff = avg - self._mean
        self._mean += alpha * diff
        self._var = (1.0 - alpha) * (self._var + alpha * diff * diff)

    def __setstate__(self, state: dict[str, object]) -> None:
        """Reads states saved before the running sum was kept."""
        if "_sum" not in state:
            recent = state.get("_recent")
            state["_sum"] = float(sum(recent)) if isinstance(recent, deque) else 0.0
        self.__dict__.update(state)
