"""Context novelty: has the series ever moved like this before?

After the idea of NAB's Contextual Anomaly Detector (contextOSE, Smirnov 2016): quantise each value into a
few coarse levels, remember which short sequences of levels (contexts) the series has produced, and call a
point novel when the context it completes was never seen. A noisy series soon has seen all its moves and
goes quiet; a jump to a level never visited, a move the series never made (a fall where it only ever
rose), or a pattern that breaks its rhythm is news, whatever its size in standard deviations.

- Levels: ``levels`` equal slices of the range seen so far (running min and max of every value), plus
  one level below and one above it for values more than a slice outside the range (a value just past
  the edge, as noise sets a new record, stays in the edge slice). The range only grows, so the coarse
  picture is stable once the series has shown its range. A value outside it is novel by construction.
- Contexts: the current level with the previous 1, 2, ..., ``order`` levels. ``score`` is the fraction
  of those contexts never seen before: 0 for a familiar move, 1 when even the one-step move is new.
- Memory: at most ``memory`` contexts, least recently seen forgotten first (O(1) per series), so a move
  the series has not made for a long time becomes news again.
"""

from __future__ import annotations

import math
from collections import deque


class ContextNovelty:
    def __init__(self, levels: int = 8, order: int = 3, memory: int = 4096) -> None:
        if levels < 1 or order < 1 or memory < 1:
            raise ValueError("levels, order and memory must be positive")
        self.levels = levels
        self.order = order
        self.memory = memory
        self._low: float | None = None
        self._high = 0.0
        self._recent: deque[int] = deque(maxlen=order)
        self._seen: dict[tuple[int, ...], None] = {}  # insertion order = recency

    def level(self, value: float) -> int:
        """The coarse level of ``value``: 0..levels-1 inside the range seen, -1 below, ``levels`` above."""
        if self._low is None:
            return 0
        span = self._high - self._low
        if span <= 0.0:
            return 0 if value == self._low else (self.levels if value > self._low else -1)
        level = math.floor(self.levels * (value - self._low) / span)
        if level > self.levels or level < -1:  # more than a level's width outside the range
            return self.levels if level > 0 else -1
        return min(max(level, 0), self.levels - 1)

    def _contexts(self, level: int) -> list[tuple[int, ...]]:
        past = tuple(self._recent)
        return [(*past[len(past) - k :], level) for k in range(1, len(past) + 1)]

    def score(self, value: float) -> float:
        """Fraction of the contexts ``value`` completes that were never seen (0 before any history);
        1 for a value more than a level's width outside the range seen."""
        level = self.level(value)
        if not self._recent:
            return 0.0
        if level < 0 or level >= self.levels:
            return 1.0
        contexts = self._contexts(level)
        return sum(c not in self._seen for c in contexts) / len(contexts)

    def learn_one(self, value: float) -> None:
        level = self.level(value)
        seen = self._seen
        for context in self._contexts(level):
            seen.pop(context, None)
            seen[context] = None
        while len(seen) > self.memory:
            del seen[next(iter(seen))]
        self._recent.append(level)
        if self._low is None:
            self._low = self._high = value
        else:
            self._low = min(self._low, value)
            self._high = max(self._high, value)

    @property
    def size(self) -> int:
        """Contexts remembered (bounded by ``memory``)."""
        return len(self._seen)
