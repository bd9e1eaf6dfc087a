"""Writes chunks of one event kind's records to ClickHouse, replay-safe (see ``chunks.py`` for the protocol).
The same for every registered kind (``llmpulse.schemas.kinds``): only its contract and its table builder
(``kinds/``) differ.

Order per batch: decode, drop duplicates and build tables for each chunk -> record the ranges of all the
batch's chunks (one insert) -> per chunk, write the kind's tables (for calls: raw calls, rollup partials,
per-user cost, quality rollups) and dead letters, each with the chunk's deduplication token. While
ClickHouse is unreachable the write is retried with backoff, forever, and nothing is acknowledged, so
Kafka offsets are not committed for what is not stored (backpressure). A chunk ClickHouse keeps rejecting
for another reason goes to the dead-letter path whole, with the error, instead of wedging the stream.

A replayed chunk (cut at a recorded range after a restart or a rebalance) is logged with what ClickHouse
did with it: dropped as a duplicate (its data was stored before) or written (the earlier attempt stopped
between recording the range and writing the data). ClickHouse's ``DuplicatedInsertedBlocks`` counter
(``system.events``) tells the two apart; on a shared server it counts every client's inserts, so there a
"dropped" may also reflect another worker's replay at the same moment.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import orjson
import pyarrow as pa

from llmpulse.clickhouse.exceptions import StoreError, StoreUnavailable
from llmpulse.clickhouse.store import Store
from llmpulse.privacy.identity import id_cleaner
from llmpulse.quality.columns import QualityScorer
from llmpulse.schemas.kinds import CALL, EventKind
from llmpulse.settings import Settings
from llmpulse.stream_jobs.batch import Redact, gc_paused
from llmpulse.stream_jobs.chunks import Chunk
from llmpulse.stream_jobs.decode import DeadLetter, Decoded, Decoder, Source
from llmpulse.stream_jobs.dedup import RecentIds, positions
from llmpulse.stream_jobs.kinds import BuildContext, Built, builder, contract
from llmpulse.stream_jobs.kinds.base import CallDims
from llmpulse.stream_jobs.pricing import PriceBook

log = logging.getLogger(__name__)
R = TypeVar("R")

MAX_PAYLOAD_BYTES = 65_536
REJECT_ATTEMPTS = 3
TS = pa.timestamp("ms", tz="UTC")

#: raw payload -> (redacted payload, detections); PII never reaches a dead-letter row or topic
RedactBytes = Callable[[bytes], tuple[bytes, int]]


@dataclass(frozen=True)
class Record:
    """One Kafka record as the sink sees it (the Faust event stays with the caller)."""

    partition: int
    offset: int
    timestamp_ms: int
    value: bytes


@dataclass
class ChunkResult:
    token: str
    events: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    max_event_ts_ms: int = 0
    replayed: bool = False  # re-written with the token of an earlier write
    deduplicated: bool = False  # replayed, and dropped by ClickHouse as a duplicate


@dataclass
class Prepared:
    """A chunk decoded and turned into tables, ready to be written (or, with ``error``, to be rejected)."""

    chunk: Chunk[Record]
    records: list[tuple[Source, bytes]]
    decoded: Decoded | None
    tables: Built | None
    error: str = ""


@dataclass
class SinkStats:
    chunks: int = 0
    events: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    store_retries: int = 0
    replayed_chunks: int = 0  # re-written with the token of an earlier write (after a restart or rebalance)
    deduplicated_chunks: int = 0  # of those, dropped by ClickHouse as duplicates: their data was stored already


def dead_letter_json(d: DeadLetter) -> bytes:
    """The dead-letter topic's record value: the reason and the (redacted, capped) original."""
    return orjson.dumps({
        "reason": d.reason, "detail": d.detail, "topic": d.source.topic, "partition": d.source.partition,
        "offset": d.source.offset, "item_index": d.item_index, "event_id": d.event_id,
        "payload": d.payload[:MAX_PAYLOAD_BYTES].decode("utf-8", "replace"), "payload_bytes": len(d.payload),
    })  # fmt: skip


class EventSink:
    """The sink of one event kind (default: calls)."""

    def __init__(self, store: Store, settings: Settings, prices: PriceBook, *, kind: EventKind = CALL,
                 redact: Redact | None = None, redact_bytes: RedactBytes | None = None,
                 stop: threading.Event | None = None) -> None:  # fmt: skip
        self.kind = kind
        self.store = store
        self.settings = settings
        self.prices = prices
        self.redact = redact if settings.capture_text else None
        self.redact_attributes = redact  # free-form attributes are kept, so they are always redacted
        self.redact_bytes = redact_bytes
        self.clean_ids = id_cleaner(settings).clean_column  # identity fields: no raw PII, whatever the options
        self.decoder = Decoder(contract(kind), settings.max_event_age_s * 1000, settings.max_event_future_s * 1000)
        self.build = builder(kind)
        self.context = BuildContext(
            settings, prices, redact=self.redact, redact_attributes=redact, clean_ids=self.clean_ids,
            quality=QualityScorer(settings.quality_sample_rate, settings.quality_model_sample_rate),
            lookup_calls=self.lookup_calls,
        )
        self.recent = RecentIds()
        self.stats = SinkStats()
        self.stop = stop or threading.Event()

    # -- the chunk protocol -------------------------------------------------------------------------
    def recorded_ranges(self, topic: str, partition: int, from_offset: int) -> list[tuple[int, int]]:
        rows = self._retry(
            lambda: self.store.query(
                "SELECT start_offset, end_offset FROM llm_sink_chunks FINAL WHERE topic = {t:String} "
                "AND kafka_partition = {p:UInt32} AND end_offset > {o:UInt64} ORDER BY start_offset",
                {"t": topic, "p": partition, "o": from_offset},
            ).rows,
            "read the recorded chunk ranges",
        )
        return [(int(s), int(e)) for s, e in rows]

    def write_chunk(self, chunk: Chunk[Record]) -> ChunkResult:
        """Prepare and store one chunk (the worker runs the two steps in different threads)."""
        return self.store_batch([self.prepare(chunk)])[0]

    def store_batch(self, batch: list[Prepared]) -> list[ChunkResult]:
        """Record the ranges of all the batch's chunks (one insert), then write each chunk's data."""
        self._record_ranges(batch)
        return [self.store_chunk(prepared) for prepared in batch]

    def _record_ranges(self, batch: list[Prepared]) -> None:
        if not batch:
            return
        chunks = [p.chunk for p in batch]
        max_ts = [p.tables.max_event_ts_ms if p.tables is not None else 0 for p in batch]
        ranges = pa.table({
            "topic": [c.topic for c in chunks], "kafka_partition": pa.array([c.partition for c in chunks], pa.uint32()),
            "start_offset": pa.array([c.start for c in chunks], pa.uint64()),
            "end_offset": pa.array([c.end for c in chunks], pa.uint64()),
            "max_event_ts": pa.array(max_ts, TS), "records": pa.array([len(c.items) for c in chunks], pa.uint32()),
        })  # fmt: skip
        token = "ranges:" + hashlib.sha1("|".join(c.token for c in chunks).encode()).hexdigest()
        self._retry(lambda: self.store.insert("llm_sink_chunks", ranges, token), "record the chunk ranges")

    def prepare(self, chunk: Chunk[Record]) -> Prepared:
        """Decode, validate, deduplicate and build the chunk's tables: CPU work (and, for judgements of calls,
        one query for the calls' dimensions)."""
        topic = chunk.topic
        records = [(Source(topic, r.partition, r.offset, r.timestamp_ms), r.value) for r in chunk.items]
        try:
            with gc_paused():
                decoded = self.decoder.decode(records)
                self._drop_duplicates(decoded, topic)
                tables = self._tables(decoded)
        except Exception as exc:  # a bug, not bad input (that is dead-lettered per event): keep the records
            log.exception("processing chunk %s failed: dead-lettering its records", chunk.token)
            return Prepared(chunk, records, None, None, f"{type(exc).__name__}: {exc}")
        return Prepared(chunk, records, decoded, tables)

    def store_chunk(self, prepared: Prepared) -> ChunkResult:
        """Write a prepared chunk's data, each table with the chunk's token (its range is recorded already)."""
        chunk, records, decoded = prepared.chunk, prepared.records, prepared.decoded
        if decoded is None:
            result = self._reject(chunk, records, "processing_error", prepared.error)
            self._count(result)
            return result
        result = ChunkResult(chunk.token, decoded.events, decoded.dead)
        duplicates_before = self._duplicate_blocks() if chunk.replayed else None
        for attempt in range(1, REJECT_ATTEMPTS + 1):
            try:
                result.max_event_ts_ms = self._write(chunk, decoded, prepared.tables)
                if chunk.replayed:
                    self._count_replay(chunk, duplicates_before, result)
                break
            except StoreError as exc:
                if attempt == REJECT_ATTEMPTS:
                    log.error("ClickHouse rejected chunk %s %d times (%s): dead-lettering it", chunk.token,
                              attempt, str(exc)[:300])  # fmt: skip
                    result = self._reject(chunk, records, "store_rejected", str(exc))
                    break
                log.warning("ClickHouse rejected chunk %s (attempt %d): %s", chunk.token, attempt, str(exc)[:300])
        self._count(result)
        return result

    def _duplicate_blocks(self) -> int | None:
        """ClickHouse's count of inserted blocks it dropped as duplicates (None if it cannot be read)."""
        try:
            value = self.store.query(
                "SELECT sum(value) FROM system.events WHERE event = 'DuplicatedInsertedBlocks'").scalar()
        except StoreError:  # no right to read system.events, or ClickHouse away: the replay is still counted
            return None
        return int(value or 0)

    def _count_replay(self, chunk: Chunk[Record], before: int | None, result: ChunkResult) -> None:
        self.stats.replayed_chunks += 1
        result.replayed = True
        after = self._duplicate_blocks() if before is not None else None
        if before is None or after is None:
            log.info("chunk %s replayed with its recorded token (ClickHouse's duplicate count unreadable)",
                     chunk.token)  # fmt: skip
        elif after > before:
            self.stats.deduplicated_chunks += 1
            result.deduplicated = True
            log.info("chunk %s replayed with its recorded token: dropped by ClickHouse as a duplicate "
                     "(%d blocks)", chunk.token, after - before)  # fmt: skip
        else:
            log.info("chunk %s replayed with its recorded token: written (not stored before)", chunk.token)

    def _count(self, result: ChunkResult) -> None:
        self.stats.chunks += 1
        self.stats.events += result.events
        self.stats.dead_letters.update(d.reason for d in result.dead)

    def _drop_duplicates(self, decoded: Decoded, topic: str) -> None:
        table = decoded.table
        places = positions(table["kafka_partition"].to_numpy(), table["kafka_offset"].to_numpy())
        fresh = np.array(self.recent.check_and_add(table["event_id"].to_pylist(), places), dtype=bool)
        if fresh.all():
            return
        for row in decoded.table.filter(pa.array(~fresh)).to_pylist():
            src = Source(topic, row["kafka_partition"], row["kafka_offset"], 0)
            event = {k: v for k, v in row.items() if v is not None and not k.startswith("kafka_")}
            decoded.dead.append(DeadLetter(src, -1, "duplicate_event_id",
                                           "an event with this event_id was seen already",
                                           row["event_id"], orjson.dumps(event)))  # fmt: skip
        decoded.table = decoded.table.filter(pa.array(fresh))

    def _tables(self, decoded: Decoded) -> Built | None:
        if not decoded.events:
            return None
        built = self.build(decoded.table, self.context)
        unknown = set(built.tables) - set(self.kind.tables)
        if unknown:
            raise RuntimeError(f"the {self.kind.name} builder made tables it does not register: {sorted(unknown)}")
        return built

    def lookup_calls(self, ids: list[str], since_ms: int) -> dict[str, CallDims]:
        """The stored calls among ``ids`` made since ``since_ms`` (retried while ClickHouse is away)."""
        rows = self._retry(
            lambda: self.store.query(
                "SELECT event_id, toUnixTimestamp64Milli(any(ts)), any(provider), any(model), any(app), any(team), "
                "any(attributes['prompt_version']) FROM llm_calls WHERE event_id IN "
                "(SELECT arrayJoin(JSONExtract({ids:String}, 'Array(String)'))) "
                "AND ts >= fromUnixTimestamp64Milli({since:Int64}) GROUP BY event_id",
                {"ids": orjson.dumps(ids).decode(), "since": since_ms},
            ).rows,
            "look up the judged calls",
        )
        return {str(r[0]): CallDims(int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6])) for r in rows}

    def _write(self, chunk: Chunk[Record], decoded: Decoded, tables: Built | None) -> int:
        token = chunk.token
        max_ts = tables.max_event_ts_ms if tables else 0
        if tables is not None:
            for name in self.kind.tables:
                block = tables.tables.get(name)
                if block is not None:
                    self._retry(lambda: self.store.insert(name, block, token), f"write {name}")  # noqa: B023
        if decoded.dead:
            dead = self._dead_table(chunk.topic, decoded.dead)
            self._retry(lambda: self.store.insert("llm_dead_letters", dead, token), "write dead letters")
        return max_ts

    def _reject(self, chunk: Chunk[Record], records: list[tuple[Source, bytes]], reason: str,
                error: str) -> ChunkResult:  # fmt: skip
        dead = [DeadLetter(src, -1, reason, error[:500], "", raw) for src, raw in records]
        table = self._dead_table(chunk.topic, dead)
        self._retry(lambda: self.store.insert("llm_dead_letters", table, chunk.token + "#rejected"),
                    "write dead letters")  # fmt: skip
        return ChunkResult(chunk.token, 0, dead)

    def redacted(self, dead: list[DeadLetter]) -> list[DeadLetter]:
        if self.redact_bytes is None:
            return dead
        out = []
        for d in dead:
            payload, _ = self.redact_bytes(d.payload[:MAX_PAYLOAD_BYTES])
            out.append(DeadLetter(d.source, d.item_index, d.reason, d.detail, d.event_id, payload))
        return out

    def _dead_table(self, topic: str, dead: list[DeadLetter]) -> pa.Table:
        now = int(time.time() * 1000)
        clean = self.redacted(dead)
        return pa.table({
            "received_at": pa.array(np.full(len(dead), now, dtype=np.int64), TS),
            "topic": [topic] * len(dead),
            "kafka_partition": pa.array([d.source.partition for d in dead], pa.uint32()),
            "kafka_offset": pa.array([d.source.offset for d in dead], pa.uint64()),
            "item_index": pa.array([d.item_index for d in dead], pa.int32()),
            "reason": [d.reason for d in dead],
            "detail": [d.detail for d in dead],
            "event_id": [d.event_id for d in dead],
            "payload": [d.payload[:MAX_PAYLOAD_BYTES].decode("utf-8", "replace") for d in clean],
            "payload_bytes": pa.array([len(d.payload) for d in dead], pa.uint64()),
        })  # fmt: skip

    def _retry(self, fn: Callable[[], R], what: str) -> R:
        """Retry while ClickHouse is unreachable (forever, with backoff); other errors propagate."""
        delay, down_since = 0.2, 0.0
        while True:
            try:
                result = fn()
                if down_since:
                    log.warning("ClickHouse is back after %.0f s; resuming", time.monotonic() - down_since)
                return result
            except StoreUnavailable as exc:
                if not down_since:
                    down_since = time.monotonic()
                self.stats.store_retries += 1
                log.error("ClickHouse unavailable, cannot %s; holding offsets and retrying in %.1f s: %s",
                          what, delay, str(exc)[:200])  # fmt: skip
                if self.stop.wait(delay):
                    raise
                delay = min(delay * 2, 5.0)
