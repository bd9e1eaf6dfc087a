"""Cutting a partition's records into chunks whose boundaries survive a crash.

A chunk is a contiguous offset range [start, end) of one partition, written to ClickHouse as one block per
table with the deduplication token ``topic/partition/start-end``. Before its data, each chunk's range is
recorded in ``llm_sink_chunks``. After a crash the records after the last committed offset are read
again; the planner then cuts them at exactly the recorded boundaries, so every block is rewritten with
its old token and ClickHouse drops it as a duplicate: at-least-once delivery, exactly-once effect.
Past the recorded ranges, a chunk is simply what one stream batch brought of that partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class HasOffset(Protocol):
    @property
    def offset(self) -> int: ...


T = TypeVar("T", bound=HasOffset)


@dataclass
class Chunk(Generic[T]):
    topic: str
    partition: int
    start: int
    end: int  # exclusive
    items: list[T]
    replayed: bool = False  # cut at a recorded range: a re-write with the token of an earlier write

    @property
    def token(self) -> str:
        return f"{self.topic}/{self.partition}/{self.start}-{self.end}"


@dataclass
class _PartitionState(Generic[T]):
    planned: list[tuple[int, int]]  # recorded ranges not yet rewritten, in order
    held: list[T] = field(default_factory=list)
    next_offset: int = -1  # one past the newest record added (-1: none yet)


class ChunkPlanner(Generic[T]):
    """Per partition: which records form the next chunk(s), and which must wait for more records."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._parts: dict[int, _PartitionState[T]] = {}

    def partitions(self) -> list[int]:
        return list(self._parts)

    def knows(self, partition: int) -> bool:
        return partition in self._parts

    def start_partition(self, partition: int, recorded: Sequence[tuple[int, int]]) -> None:
        """Begin (or begin again, after an assignment) with the ranges recorded for this partition."""
        self._parts[partition] = _PartitionState(planned=sorted(recorded))

    def rewound(self, partition: int, first_offset: int) -> bool:
        """Records of a known partition start before what it already read: the consumer was sought back (a
        rebalance whose first records were still the old assignment's). The plan must be made again from there,
        or records already written under one token would be cut into another."""
        state = self._parts.get(partition)
        return state is not None and first_offset < state.next_offset

    def forget(self, partition: int) -> list[T]:
        """The partition was revoked: drop its state; returns the records that were held."""
        state = self._parts.pop(partition, None)
        return state.held if state else []

    def add(self, partition: int, items: Sequence[T]) -> list[Chunk[T]]:
        """Feed one batch's records of a partition (offset order); returns the chunks now complete.

        Records that fall in a recorded range that is not complete yet are held for the next batch.
        """
        state = self._parts[partition]
        pending = [*state.held, *items]
        state.held = []
        if pending:
            state.next_offset = max(state.next_offset, pending[-1].offset + 1)
        chunks: list[Chunk[T]] = []
        while pending:
            first = pending[0].offset
            # recorded ranges entirely before what we read were written and committed: nothing to redo
            while state.planned and state.planned[0][1] <= first:
                state.planned.pop(0)
            if not state.planned:
                chunks.append(Chunk(self.topic, partition, first, pending[-1].offset + 1, pending))
                break
            start, end = state.planned[0]
            if first < start:  # records before the first recorded range (not expected): a chunk of their own
                cut = next((i for i, x in enumerate(pending) if x.offset >= start), len(pending))
                chunks.append(Chunk(self.topic, partition, first, pending[cut - 1].offset + 1, pending[:cut]))
                pending = pending[cut:]
                continue
            cut = next((i for i, x in enumerate(pending) if x.offset >= end), len(pending))
            if cut == len(pending) and pending[-1].offset < end - 1:
                state.held = pending  # the recorded range is not complete yet
                break
            chunks.append(Chunk(self.topic, partition, start, end, pending[:cut], replayed=True))
            state.planned.pop(0)
            pending = pending[cut:]
        return chunks

    def held(self, partition: int) -> list[T]:
        state = self._parts.get(partition)
        return list(state.held) if state else []
