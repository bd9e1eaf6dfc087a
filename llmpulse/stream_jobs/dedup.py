"""A bounded memory of recently seen event ids, to catch a client sending one call twice."""

from __future__ import annotations

from collections import deque


class RecentIds:
    """Remembers the last ``capacity`` event ids (as hashes). ``check_and_add`` says whether each is new."""

    def __init__(self, capacity: int = 500_000) -> None:
        self.capacity = capacity
        self._seen: set[int] = set()
        self._order: deque[int] = deque()

    def check_and_add(self, event_ids: list[str]) -> list[bool]:
        seen, order = self._seen, self._order
        fresh = []
        for event_id in event_ids:
            h = hash(event_id)
            if h in seen:
                fresh.append(False)
                continue
            seen.add(h)
            order.append(h)
            fresh.append(True)
        while len(order) > self.capacity:
            seen.discard(order.popleft())
        return fresh

    def __len__(self) -> int:
        return len(self._order)
