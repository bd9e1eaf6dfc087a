"""A bounded memory of recently seen event ids, to catch a client sending one call twice.

Each id is remembered with the place it was first read from: (partition, offset, its rank among the record's
events). The same id at another place is a duplicate; at the same place it is the same record read again —
after a rebalance or a failed write the consumer seeks back to its committed offset and the worker gets
records it has already prepared — which must not be mistaken for a client's duplicate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np


def positions(partitions: np.ndarray, offsets: np.ndarray) -> list[int]:
    """The place of each event: a hash of (partition, offset, rank within its record). A record's events are
    contiguous and in order in a decoded table, so the rank counts from the start of each run."""
    n = len(offsets)
    if n == 0:
        return []
    p = np.asarray(partitions, dtype=np.int64)
    o = np.asarray(offsets, dtype=np.uint64)
    index = np.arange(n)
    change = np.ones(n, dtype=bool)
    change[1:] = (p[1:] != p[:-1]) | (o[1:] != o[:-1])
    rank = index - np.maximum.accumulate(np.where(change, index, 0))
    return [hash(t) for t in zip(p.tolist(), o.tolist(), rank.tolist(), strict=True)]


class RecentIds:
    """Remembers where each of the last ``capacity`` event ids (as hashes) was first seen. ``check_and_add``
    says, for each id, whether it is new — or seen before at the same place: a replay, not a duplicate."""

    def __init__(self, capacity: int = 500_000) -> None:
        self.capacity = capacity
        self._first: dict[int, int] = {}  # id hash -> where it was first seen
        self._order: deque[int] = deque()
        self._anonymous = 0

    def check_and_add(self, event_ids: Sequence[str], places: Sequence[int] | None = None) -> list[bool]:
        """``places`` (see ``positions``) tells a replay from a duplicate; without it every call is a new place."""
        if places is None:  # each id its own, never repeated place
            places = range(-self._anonymous - 1, -self._anonymous - 1 - len(event_ids), -1)
            self._anonymous += len(event_ids)
        first, order = self._first, self._order
        fresh = []
        for event_id, place in zip(event_ids, places, strict=True):
            h = hash(event_id)
            seen_at = first.get(h)
            if seen_at is None:
                first[h] = place
                order.append(h)
                fresh.append(True)
            else:
                fresh.append(seen_at == place)
        while len(order) > self.capacity:
            del first[order.popleft()]
        return fresh

    def __len__(self) -> int:
        return len(self._order)
