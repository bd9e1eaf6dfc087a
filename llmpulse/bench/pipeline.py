"""End-to-end throughput on the embedded stack with alerting on, and the decode ceiling on the same records.

The store first gets a history of ``warm-up`` windows (written through the sink's own code, as the worker
would have written it), so every default detector is past its warm-up when the timed run starts; the worker's
alert evaluator evaluates that history before the clock starts. The timed run then sends events whose event
time runs over ``windows`` one-minute windows, and a watcher samples how far alert evaluation trails the newest
closed window.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from llmpulse.alerting.config import load_alert_config
from llmpulse.bench import traffic
from llmpulse.clickhouse.migrate import migrate
from llmpulse.clickhouse.store import Store, open_store
from llmpulse.kafka.config import consumer_config
from llmpulse.producers import Monitor
from llmpulse.schemas.kinds import CALL
from llmpulse.settings import Settings
from llmpulse.stack import Stack
from llmpulse.stream_jobs.chunks import Chunk
from llmpulse.stream_jobs.decode import Decoder, Source
from llmpulse.stream_jobs.kinds import contract
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink, Record
from llmpulse.stream_jobs.watermark import read_watermark

WINDOW_MS = traffic.WINDOW_MS
HISTORY_TOPIC = "bench.history"


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MiB."""
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024.0
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warmup_windows(settings: Settings) -> int:
    """Windows every default detector learns before it may alert (the config the worker loads)."""
    anomaly = load_alert_config(settings.alerts_file).anomaly
    rules = [r.warmup_windows for r in anomaly.rule if r.warmup_windows is not None]
    return max([anomaly.warmup_windows, *rules]) if anomaly.enabled else 0


def preload_history(settings: Settings, events: int, windows: int, end_ms: int,
                    progress: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Write ``events`` over ``windows`` windows ending at ``end_ms`` through the sink (no Kafka), before
    the worker opens the store. Recorded under another topic: the worker's watermark ignores it."""
    store = open_store(settings, own=True)
    try:
        migrate(store)
        sink = EventSink(store, settings, PriceBook(settings.prices_file))
        # the traffic's ids hold no PII, so cleaning them would store the same values: skipped in this
        # untimed set-up step (the timed runs go through the worker, which cleans every id)
        sink.clean_ids = None  # type: ignore[assignment]
        offset = 0
        for part in traffic.generate_chunks(events, 100_000, windows=windows, end_ms=end_ms, seed=5):
            recs = [Record(0, offset + i, ts, value) for i, (ts, value) in enumerate(traffic.records(part))]
            sink.write_chunk(Chunk(HISTORY_TOPIC, 0, offset, offset + len(recs), recs))
            offset += len(recs)
            if progress is not None:
                progress(sink.stats.events)
        return sink.stats.events
    finally:
        store.close()


def evaluated_until(store: Store) -> int | None:
    """Start of the newest window the alert evaluator has evaluated (epoch ms)."""
    value = store.query("SELECT toUnixTimestamp64Milli(max(last_window_start)), count() FROM llm_alert_state").rows
    return int(value[0][0]) if value and int(value[0][1]) else None


def closed_until(store: Store, settings: Settings) -> int | None:
    """Start of the newest closed window (the one just before the watermark's window)."""
    watermark = read_watermark(store, settings.calls_topic, WINDOW_MS)
    return None if watermark is None else watermark - watermark % WINDOW_MS - WINDOW_MS


def wait_evaluated(stack: Stack, settings: Settings, until_ms: int, timeout_s: float = 900.0) -> float:
    """Wait until alert evaluation has reached the window starting at ``until_ms``; returns the seconds waited."""
    t0 = time.monotonic()
    with stack.reader() as store:
        while True:
            done = evaluated_until(store)
            if done is not None and done >= until_ms:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout_s:
                raise TimeoutError(f"alert evaluation reached {done}, not {until_ms}, after {timeout_s:g} s")
            time.sleep(0.5)


class AlertWatch:
    """Samples, while the timed run goes on, how many closed windows alert evaluation is behind."""

    def __init__(self, stack: Stack, settings: Settings, every_s: float = 1.0) -> None:
        self.stack, self.settings, self.every_s = stack, settings, every_s
        self.lag_windows: list[int] = []
        self.first_evaluated: int | None = None
        self.last_evaluated: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-alert-watch", daemon=True)

    def __enter__(self) -> AlertWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10.0)

    def _run(self) -> None:
        with self.stack.reader() as store:
            while not self._stop.is_set():
                try:
                    done, closed = evaluated_until(store), closed_until(store, self.settings)
                except Exception:  # a slow endpoint under load: try again
                    done = closed = None
                if done is not None:
                    self.first_evaluated = done if self.first_evaluated is None else self.first_evaluated
                    self.last_evaluated = done
                    if closed is not None:
                        self.lag_windows.append(max(0, (closed - done) // WINDOW_MS))
                self._stop.wait(self.every_s)

    @property
    def windows_evaluated(self) -> int:
        if self.first_evaluated is None or self.last_evaluated is None:
            return 0
        return (self.last_evaluated - self.first_evaluated) // WINDOW_MS


def warm_up(stack: Stack, settings: Settings, events: list[dict[str, Any]]) -> None:
    """Send a few events and wait until they are stored: the consumer group is assigned and everything
    is loaded before the clock starts."""
    monitor = Monitor(stack.bootstrap, topic=settings.calls_topic)
    for event in events:
        monitor.record({**event, "event_id": f"warmup-{event['event_id']}"})
    monitor.close(30.0)
    stack.wait_caught_up(timeout_s=120, poll_s=0.2)


def stored_calls(stack: Stack) -> int:
    with stack.reader() as store:
        return int(store.query("SELECT count() FROM llm_calls").scalar())


def run_pipeline(stack: Stack, settings: Settings, events: list[dict[str, Any]], poll_s: float = 0.1,
                 prefix: str = "pipeline") -> dict[str, Any]:  # fmt: skip
    """Produce ``events`` through the Monitor as fast as it takes them; time until all are stored, while
    alert evaluation runs in the worker; then until evaluation has caught up with the last window."""
    with stack.reader() as store:
        before = int(store.query("SELECT count() FROM llm_calls").scalar())
        rolled_before = int(store.query("SELECT sum(requests) FROM llm_call_rollups_1m").scalar() or 0)
    monitor = Monitor(stack.bootstrap, topic=settings.calls_topic, buffer_events=len(events) + 1)
    worker = stack.workers[0].pid
    with AlertWatch(stack, settings) as watch:
        cpu0 = cpu_seconds(worker)
        t0 = time.perf_counter()
        for event in events:
            monitor.record(event)
        produced_at = time.perf_counter()
        left = monitor.flush(300.0)
        flushed_at = time.perf_counter()
        want = before + len(events)
        with stack.reader() as store:
            # the last call row, then its rollup, visible in ClickHouse; count() is read from metadata, the
            # rollup sum scans the table, so it is asked only once the rows are there (polling is load too)
            calls = _wait_for(store, "SELECT count() FROM llm_calls", want, poll_s)
            rolled = _wait_for(store, "SELECT sum(requests) FROM llm_call_rollups_1m", rolled_before + len(events),
                               poll_s)  # fmt: skip
        stored_at = time.perf_counter()
        cpu = cpu_seconds(worker) - cpu0
    last_window = max(e["ts_ms"] for e in events[-1000:])
    catch_up = wait_evaluated(stack, settings, last_window - last_window % WINDOW_MS)
    stats = monitor.stats()
    monitor.close(10.0)
    stack.wait_caught_up(timeout_s=600, poll_s=0.5)  # and committed, before anything else is measured
    elapsed = stored_at - t0
    span = (max(e["ts_ms"] for e in events) - min(e["ts_ms"] for e in events)) / WINDOW_MS
    return {
        f"{prefix}_events": len(events),
        f"{prefix}_eps": round(len(events) / elapsed),
        f"{prefix}_seconds": round(elapsed, 3),
        # CPU the worker used per event (all its threads, alerting included): less sensitive to other load
        f"{prefix}_worker_cpu_us_per_event": round(cpu / len(events) * 1e6, 2),
        f"{prefix}_event_time_windows": round(span),
        f"{prefix}_produce_seconds": round(flushed_at - t0, 3),
        f"{prefix}_record_loop_seconds": round(produced_at - t0, 3),
        f"{prefix}_calls_stored": int(calls) - before,
        f"{prefix}_rollup_requests": int(rolled) - rolled_before,
        f"{prefix}_undelivered": left + stats["dropped_buffer_full"] + stats["failed_delivery"],
        f"{prefix}_alert_windows_evaluated": watch.windows_evaluated,
        f"{prefix}_alert_lag_windows_max": max(watch.lag_windows, default=-1),
        f"{prefix}_alert_catch_up_seconds": round(catch_up, 1),
    }


def _wait_for(store: Store, sql: str, want: int, poll_s: float, timeout_s: float = 1800.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        have = int(store.query(sql).scalar() or 0)
        if have >= want:
            return have
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sql}: {have} of {want} after {timeout_s:g} s")
        time.sleep(poll_s)


def raw_consume_eps(bootstrap: str, settings: Settings, expected_events: int) -> dict[str, Any]:
    """The ceiling: confluent-kafka reading the calls topic from the start and decoding it with the worker's
    own decoder (the same threaded Arrow parse and contract checks, in batches of the worker's size, per
    partition), nothing else: no tables, no ClickHouse, no alerting. Counts the warm-up events too."""
    cfg = consumer_config(bootstrap, f"bench-raw-{time.time_ns()}", settings,
                          extra={"fetch.max.bytes": 64 * 1024 * 1024, "enable.partition.eof": True})  # fmt: skip
    consumer = Consumer(cfg)
    meta = consumer.list_topics(settings.calls_topic, timeout=10)
    partitions = list(meta.topics[settings.calls_topic].partitions)
    consumer.assign([TopicPartition(settings.calls_topic, p, 0) for p in partitions])
    decoder = Decoder(contract(CALL), settings.max_event_age_s * 1000, settings.max_event_future_s * 1000)
    events = dead = 0
    eof: set[int] = set()
    t0 = cpu0 = 0.0
    while len(eof) < len(partitions):
        batch: dict[int, list[tuple[Source, bytes]]] = defaultdict(list)
        for msg in consumer.consume(settings.batch_max_records, timeout=1.0):
            if not t0:
                t0, cpu0 = time.perf_counter(), time.process_time()  # group set-up is not consuming
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition() or 0)
                continue
            _, ts = msg.timestamp()
            source = Source(settings.calls_topic, msg.partition() or 0, msg.offset() or 0, ts)
            batch[source.partition].append((source, msg.value() or b""))
        for records in batch.values():
            decoded = decoder.decode(records)
            events += decoded.events
            dead += len(decoded.dead)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    consumer.close()
    return {"raw_consume_eps": round(events / elapsed), "raw_consume_events": events,
            "raw_consume_cpu_us_per_event": round(cpu / max(events, 1) * 1e6, 2),
            "raw_consume_dead_letters": dead, "raw_consume_complete": events >= expected_events}  # fmt: skip
