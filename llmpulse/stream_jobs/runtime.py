"""What a stream worker holds: the store, the sink, the chunk planner, and the Faust-facing glue.

The Faust agents (one per registered event kind) only call ``handle``;
everything that can block (ClickHouse) runs in one worker
thread so the event loop keeps heart-beating the consumer group while ClickHouse is slow or down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from llmpulse.clickhouse.faults import GatedStore
from llmpulse.clickhouse.migrate import migrate
from llmpulse.clickhouse.store import Store, open_store
from llmpulse.settings import Settings
from llmpulse.stream_jobs.alerts import LeaderAlerts
from llmpulse.stream_jobs.chunks import ChunkPlanner
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink, Prepared, Record, dead_letter_json

log = logging.getLogger(__name__)
R = TypeVar("R")


class Progress:
    """Counts what the worker did and says so in the log every ``every_s`` seconds: events, records, dead
    letters, chunks replayed after a restart or rebalance (and how many ClickHouse dropped as duplicates)."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.records = self.events = self.dead = self.replayed = self.deduplicated = 0
        self.prepare_s = self.write_s = 0.0
        self._since = time.monotonic()

    def add(self, records: int, events: int, dead: int, prepare_s: float, write_s: float, *,
            replayed: int = 0, deduplicated: int = 0) -> None:  # fmt: skip
        self.records += records
        self.events += events
        self.dead += dead
        self.replayed += replayed
        self.deduplicated += deduplicated
        self.prepare_s += prepare_s
        self.write_s += write_s
        elapsed = time.monotonic() - self._since
        if elapsed >= self.every_s:
            replays = ""
            if self.replayed:
                replays = f"; {self.replayed} chunks replayed, {self.deduplicated} dropped by ClickHouse as duplicates"
            log.info("stored %d events (%.0f/s) from %d records, %d dead letters%s; busy preparing %.0f%%, "
                     "writing %.0f%% of the time", self.events, self.events / elapsed, self.records, self.dead,
                     replays, 100 * self.prepare_s / elapsed, 100 * self.write_s / elapsed)  # fmt: skip
            self.records = self.events = self.dead = self.replayed = self.deduplicated = 0
            self.prepare_s = self.write_s = 0.0
            self._since = time.monotonic()


@dataclass(frozen=True)
class FaustRecord(Record):
    event: Any = None  # the Faust event, to acknowledge once the record is stored


class Runtime:
    def __init__(self, settings: Settings, store: Store | None = None, bootstrap: str | None = None) -> None:
        self.settings = settings
        self.bootstrap = bootstrap or settings.kafka_bootstrap or ""
        self._store = store
        self.sinks: dict[str, EventSink] = {}  # topic -> the sink of the kind it carries
        self.alerts: LeaderAlerts | None = None
        self.planners: dict[str, ChunkPlanner[FaustRecord]] = {
            topic: ChunkPlanner(topic) for topic in settings.event_topics()
        }
        self.stop = threading.Event()
        # three threads: preparing chunk n+1 (Python, CPU) overlaps writing chunk n (ClickHouse, which
        # releases the GIL); alert evaluation never holds up the sink
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmpulse-store")
        self._prepare_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmpulse-prepare")
        self._alerts_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmpulse-alerts")
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False  # set when the worker stops: no new write may start (see ``stop_writing``)
        self._slots: asyncio.Semaphore | None = None
        self.progress = Progress(every_s=10.0)

    # -- lifecycle ----------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the store, apply migrations, build the sink (runs in the worker process)."""
        store = self._store or open_store(self.settings)
        self._store = store
        applied = migrate(store)
        if self.settings.store_fault_file is not None:
            store = GatedStore(store, self.settings.store_fault_file)
            self._store = store
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        redact, redact_bytes = _redactors()
        prices = PriceBook(self.settings.prices_file)
        self.sinks = {
            topic: EventSink(store, self.settings, prices, kind=kind, redact=redact, redact_bytes=redact_bytes,
                             stop=self.stop)
            for topic, kind in self.settings.event_topics().items()
        }  # fmt: skip
        if self.settings.alerts_enabled:
            self.alerts = LeaderAlerts(store, self.settings, self.bootstrap)
        log.info("stream worker ready: store %s", store.describe())

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("runtime not opened")
        return self._store

    def close(self) -> None:
        self.stop.set()
        for pool in (self._prepare_pool, self._alerts_pool, self._pool):
            pool.shutdown(wait=True)
        if self._store is not None:
            self._store.close()

    async def run(self, fn: Callable[..., R], *args: Any, pool: ThreadPoolExecutor | None = None) -> R:
        """Run blocking work off the event loop (default: the store thread)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool or self._pool, fn, *args)

    async def run_alerts(self) -> int:
        return await self.run(self.evaluate_alerts, pool=self._alerts_pool)

    def evaluate_alerts(self) -> int:
        """The leader's periodic alert evaluation (runs in its own thread)."""
        if self.alerts is None:
            return 0
        try:
            return self.alerts.tick()
        except Exception:
            log.exception("alert evaluation failed; retrying on the next tick")
            return 0

    # -- rebalances ---------------------------------------------------------------------------------
    def forget_all(self) -> None:
        """A rebalance began: Faust will seek every partition back to its committed offset, so records
        held for an incomplete chunk will come again. Drop them unacknowledged, and re-plan later.

        Records already prepared but not yet committed come again too; the sink's memory of recent event ids
        knows where each id was read (``dedup.RecentIds``), so they are a replay, not duplicates."""
        for planner in self.planners.values():
            for partition in list(planner.partitions()):
                planner.forget(partition)

    @property
    def sink(self) -> EventSink:
        """The calls' sink."""
        return self.sinks[self.settings.calls_topic]

    # -- the agents ---------------------------------------------------------------------------------
    async def handle(
        self,
        topic: str,
        events: Sequence[Any],
        ack: Callable[[Any], Awaitable[Any]],
        send_dead: Callable[[list[bytes]], Awaitable[Any]],
        generation: Callable[[], int] | None = None,
    ) -> None:
        """One stream batch of one topic: cut chunks and prepare them; their writes finish in the background
        (at most two at a time), and only then are their dead letters sent and their records acknowledged.

        ``generation`` gives the consumer group generation: records fetched before the latest rebalance (a
        batch gathers records over time) are skipped unacknowledged, like Faust's own iteration does, since
        their partition may belong to another worker now; they come again from the committed offset."""
        sink = self.sinks.get(topic)
        if sink is None:
            raise RuntimeError(f"runtime not opened, or {topic!r} carries no registered event kind")
        planner = self.planners[topic]
        current = generation() if generation is not None else None
        by_partition: dict[int, list[FaustRecord]] = defaultdict(list)
        stale = 0
        for ev in events:
            msg = ev.message
            # Acknowledge only what is stored: take_events acks the whole batch when it moves on, even
            # after an exception, so each record holds one more reference until its chunk is written.
            msg.incref()
            if current is not None and getattr(msg, "generation_id", current) != current:
                stale += 1
                continue
            by_partition[msg.partition].append(
                FaustRecord(msg.partition, msg.offset, int(msg.timestamp * 1000), msg.value, ev)
            )
        if stale:
            log.info("%d record(s) fetched before the last rebalance skipped: they are read again from the "
                     "committed offset", stale)  # fmt: skip
        if self._stopping:  # leaving the group: these records stay unacknowledged for the next owner
            return
        ready = []
        for partition, recs in by_partition.items():
            recs.sort(key=lambda r: r.offset)
            if planner.rewound(partition, recs[0].offset):
                log.info("partition %d: read again from offset %d (the consumer was sought back): re-planning",
                         partition, recs[0].offset)  # fmt: skip
                planner.forget(partition)
            if not planner.knows(partition):
                # (Re)started after a rebalance: this worker's own writes still in flight may cover these records;
                # their ranges must be recorded before the re-cut, or the same records get a second token.
                await self.drain()
                ranges = await self.run(sink.recorded_ranges, topic, partition, recs[0].offset)
                log.info("partition %d: reading from offset %d, %d recorded chunk(s) to re-cut", partition,
                         recs[0].offset, len(ranges))  # fmt: skip
                planner.start_partition(partition, ranges)
            ready.extend(planner.add(partition, recs))
        if not ready:
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(2)
        started = time.monotonic()
        prepared = [await self.run(sink.prepare, chunk, pool=self._prepare_pool) for chunk in ready]
        busy = time.monotonic() - started
        await self._slots.acquire()
        if self._stopping or (generation is not None and generation() != current):
            # stopping, or a rebalance began while this batch was prepared: it is not written (nor acknowledged)
            self._slots.release()
            return
        task = asyncio.create_task(self._finish(sink, prepared, busy, ack, send_dead))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _finish(self, sink: EventSink, batch: list[Prepared], busy: float,
                      ack: Callable[[Any], Awaitable[Any]],
                      send_dead: Callable[[list[bytes]], Awaitable[Any]]) -> None:  # fmt: skip
        try:
            started = time.monotonic()
            results = await self.run(sink.store_batch, batch)
            records = sum(len(p.chunk.items) for p in batch)
            events = sum(r.events for r in results)
            dead = [d for r in results for d in r.dead]
            self.progress.add(records, events, len(dead), busy, time.monotonic() - started,
                              replayed=sum(r.replayed for r in results),
                              deduplicated=sum(r.deduplicated for r in results))  # fmt: skip
            if dead:
                await send_dead([dead_letter_json(d) for d in sink.redacted(dead)])
            for prepared in batch:
                for rec in prepared.chunk.items:
                    await ack(getattr(rec, "event", None))
        except Exception:  # the records stay unacknowledged: they come again after a restart
            log.exception("a batch was not stored; its records stay unacknowledged")
        finally:
            if self._slots is not None:
                self._slots.release()

    async def stop_writing(self) -> None:
        """The worker is stopping: start no new write and finish the ones in flight, before the consumer
        leaves the group. Otherwise a write could land after the next owner of its partition has read the
        recorded chunk ranges, and that owner would cut the same records differently: stored twice."""
        self._stopping = True
        await self.drain()

    async def drain(self) -> None:
        """Wait for the writes in flight (tests, shutdown)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)


def _redactors() -> tuple[Any, Any]:
    """The PII redactor for texts and dead-letter payloads (llmpulse.privacy)."""
    try:
        from llmpulse.privacy import default_redactor
    except ImportError:  # pragma: no cover - the privacy module ships with llmpulse
        return None, None
    redactor = default_redactor()

    def redact(text: str) -> tuple[str, int]:
        result = redactor.redact(text)
        return result.text, sum(result.counts.values())

    def redact_bytes(data: bytes) -> tuple[bytes, int]:
        clean, counts = redactor.redact_bytes(data)
        return clean, sum(counts.values())

    return redact, redact_bytes
