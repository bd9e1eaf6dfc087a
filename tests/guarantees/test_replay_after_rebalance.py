"""A rebalance gives a worker back records it had already prepared: reading them again is a replay, not a
client sending duplicates. Runs the worker's runtime (the code the Faust agent calls) on the real ClickHouse
engine; Faust's part is played by the calls it makes on a rebalance (``forget_all``, then the same records
again from the committed offset)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from llmpulse.clickhouse.store import Store
from llmpulse.settings import Settings
from llmpulse.stream_jobs.dedup import RecentIds, positions
from llmpulse.stream_jobs.runtime import Runtime
from tests.guarantees.checks import assert_exact
from tests.stream_jobs.pipeline_helpers import workload_events


@dataclass
class Message:
    """What the runtime reads of a Faust message."""

    partition: int
    offset: int
    timestamp: float
    value: bytes
    refs: int = 0
    generation_id: int = 1

    def incref(self) -> None:
        self.refs += 1


@dataclass
class Event:
    message: Message


@dataclass
class Consumer:
    """Acknowledgements and dead letters, as the Faust agent would see them."""

    acked: list[int] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)

    async def ack(self, event: Any) -> None:
        self.acked.append(event.message.offset)

    async def send_dead(self, values: list[bytes]) -> None:
        self.dead.extend(orjson.loads(v) for v in values)


def records(events: list[dict[str, Any]], per_record: int) -> list[bytes]:
    return [b"\n".join(orjson.dumps(e) for e in events[i:i + per_record]) for i in range(0, len(events), per_record)]


def deliver(values: list[bytes], first_offset: int = 0, generation: int = 1) -> list[Event]:
    now = time.time()
    return [Event(Message(0, first_offset + i, now, v, generation_id=generation)) for i, v in enumerate(values)]


def opened_runtime(store: Store, tmp_path: Path) -> tuple[Settings, Runtime]:
    """A runtime on ``store`` with a topic of its own and alerting off, opened."""
    settings = Settings(data_dir=tmp_path / "data", calls_topic=f"calls-{uuid.uuid4().hex[:8]}", alerts_enabled=False)
    runtime = Runtime(settings, store=store)
    runtime.open()
    return settings, runtime


def test_records_read_again_after_a_rebalance_are_not_duplicates(store: Store, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", calls_topic=f"calls-{uuid.uuid4().hex[:8]}", alerts_enabled=False)
    events = workload_events(400, seed=61)
    values = records(events, per_record=20)  # 20 records of 20 events
    values.append(values[0])  # offset 20: a client sends record 0 again, a real duplicate of 20 events
    resent = {e["event_id"] for e in events[:20]}
    runtime = Runtime(settings, store=store)
    runtime.open()
    consumer = Consumer()

    async def run() -> None:
        # offsets 0-9 are prepared, written and acknowledged; the next commit has not happened yet
        await runtime.handle(settings.calls_topic, deliver(values[:10]), consumer.ack, consumer.send_dead)
        await runtime.drain()
        assert sorted(consumer.acked) == list(range(10))
        # a second worker joins: Faust starts a rebalance and seeks back to the committed offset (0)
        runtime.forget_all()
        await runtime.handle(settings.calls_topic, deliver(values), consumer.ack, consumer.send_dead)
        await runtime.drain()
        # it leaves again: another rebalance, offsets committed up to 10 this time
        runtime.forget_all()
        await runtime.handle(settings.calls_topic, deliver(values[10:], first_offset=10), consumer.ack,
                             consumer.send_dead)
        await runtime.drain()

    asyncio.run(run())
    try:
        spurious = [d for d in consumer.dead if d["reason"] != "duplicate_event_id" or d["event_id"] not in resent]
        assert spurious == [], f"{len(spurious)} spurious dead letters, e.g. {spurious[:1]}"
        assert {d["event_id"] for d in consumer.dead} == resent  # the real duplicates are still caught
        assert_exact(store, events, dead_letters={"duplicate_event_id": 20})
        stats = runtime.sink.stats if runtime.sink is not None else None
        assert stats is not None and stats.replayed_chunks >= 2  # both re-reads were replays
        assert stats.deduplicated_chunks >= 1  # offsets 0-9 were stored before: ClickHouse dropped them
    finally:
        runtime.close()


def test_recent_ids_tell_a_replay_from_a_duplicate() -> None:
    recent = RecentIds()
    places = positions(np.array([0, 0, 0, 1]), np.array([5, 5, 6, 5]))  # record 0/5 holds "a" twice
    assert recent.check_and_add(["a", "a", "b", "c"], places) == [True, False, True, True]
    assert recent.check_and_add(["a", "a", "b", "c"], places) == [True, False, True, True]  # read again: same
    assert recent.check_and_add(["b", "c"], places[:2]) == [False, False]  # the same ids elsewhere: duplicates
    assert recent.check_and_add(["d", "d"]) == [True, False]  # no places: every call is a new place


def test_records_of_the_old_assignment_then_a_seek_back_are_stored_once(store: Store, tmp_path: Path) -> None:
    """After a rebalance starts, a batch can still hold records fetched under the old assignment (continuing
    past what was written), and only then come the records from the committed offset. Each record must keep
    the token it was first written with; before the fix, the seek back cut records 5-14 into a second chunk
    (stored twice in the rollups)."""
    settings, runtime = opened_runtime(store, tmp_path)
    events = workload_events(400, seed=62)
    values = records(events, per_record=20)
    consumer = Consumer()

    async def run() -> None:
        await runtime.handle(settings.calls_topic, deliver(values[:5]), consumer.ack, consumer.send_dead)
        await runtime.handle(settings.calls_topic, deliver(values[5:10], 5), consumer.ack, consumer.send_dead)
        await runtime.drain()
        runtime.forget_all()  # a rebalance starts; offsets were committed up to 5
        # no generation given (as in the runtime's own callers): the old batch is processed, then the seek back
        await runtime.handle(settings.calls_topic, deliver(values[10:15], 10), consumer.ack, consumer.send_dead)
        await runtime.handle(settings.calls_topic, deliver(values[5:], 5), consumer.ack, consumer.send_dead)
        await runtime.drain()

    asyncio.run(run())
    try:
        assert consumer.dead == []
        assert_exact(store, events)
        assert runtime.sink.stats.replayed_chunks >= 2  # [5,10) and [10,15) were re-cut at their recorded ranges
    finally:
        runtime.close()


def test_records_fetched_before_the_rebalance_are_skipped_unacknowledged(store: Store, tmp_path: Path) -> None:
    settings, runtime = opened_runtime(store, tmp_path)
    events = workload_events(200, seed=63)
    values = records(events, per_record=20)
    consumer = Consumer()
    generation = [1]

    async def run() -> None:
        await runtime.handle(settings.calls_topic, deliver(values[:5]), consumer.ack, consumer.send_dead,
                             lambda: generation[0])  # fmt: skip
        await runtime.drain()
        runtime.forget_all()
        generation[0] = 2  # the partition may belong to another worker now: old records are not written
        await runtime.handle(settings.calls_topic, deliver(values[5:], 5, generation=1), consumer.ack,
                             consumer.send_dead, lambda: generation[0])  # fmt: skip
        await runtime.drain()
        assert sorted(consumer.acked) == list(range(5))
        await runtime.handle(settings.calls_topic, deliver(values[5:], 5, generation=2), consumer.ack,
                             consumer.send_dead, lambda: generation[0])  # fmt: skip
        await runtime.drain()

    asyncio.run(run())
    try:
        assert sorted(consumer.acked) == list(range(10))
        assert_exact(store, events)
    finally:
        runtime.close()
