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
    """The place of each event, packed in one integer: (offset, partition, rank within its record). A record's
    events are contiguous and in order in a decoded table, so the rank counts from the start of each run.
    Exact for offsets below 2**36, 4,096 partitions and 65,536 events per record; beyond, two places that
    differ by a multiple of 2**64 would look alike, which would also need the same event id at both."""
    n = len(offsets)
    if n == 0:
        return []
    p = np.asarray(partitions, dtype=np.uint64)
    o = np.asarray(offsets, dtype=np.uint64)
    index = np.arange(n)
    change = np.ones(n, dtype=bool)
    change[1:] = (p[1:] != p[:-1]) | (o[1:] != o[:-1])
    rank = (index - np.maximum.accumulate(np.where(change, index, 0))).astype(np.uint64)
    packed: list[int] = ((o << np.uint64(28)) ^ (p << np.uint64(16)) ^ rank).tolist()
    return packed


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
        hashes = [hash(event_id) for event_id in event_ids]
        if first.keys().isdisjoint(hashes) and len(set(hashes)) == len(hashes):  # all new: the common case
            first.update(zip(hashes, places, strict=True))
            order.extend(hashes)
            fresh = [True] * len(hashes)
        else:
            fresh = []
            for h, place in zip(hashes, places, strict=True):
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
