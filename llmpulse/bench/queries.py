"""Dashboard query latency on a store holding millions of calls (bulk-loaded through the sink)."""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llmpulse.bench.accuracy import max_relative_error
from llmpulse.bench.traffic import generate_chunks, now_ms, records
from llmpulse.clickhouse import queries
from llmpulse.clickhouse.chdb_store import ChdbStore
from llmpulse.clickhouse.migrate import migrate
from llmpulse.settings import Settings
from llmpulse.stream_jobs.chunks import Chunk
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink, Record

STANDARD = {
    "p95_per_model_per_minute_1d": queries.P95_PER_MODEL_PER_MINUTE_DAY,
    "cost_per_team_per_day_30d": queries.COST_PER_TEAM_PER_DAY_30D,
    "top_users_by_cost_30d": queries.TOP_USERS_BY_COST,
}
LOAD_CHUNK = 200_000


def load(store: ChdbStore, calls: int, prices_file: Path | None, progress: Callable[[int], None]) -> None:
    """Write ``calls`` workload events through the stream sink's own code (no Kafka) into ``store``."""
    sink = EventSink(store, Settings(max_event_age_s=10**9), PriceBook(prices_file))
    sink.clean_ids = None  # type: ignore[assignment]  # the traffic's ids hold no PII: cleaning stores the same
    done = 0
    offset = 0
    days = 29  # inside the pipeline's 30-day age limit, like a month of a real deployment
    for part in generate_chunks(calls, LOAD_CHUNK, windows=days * 1440, end_ms=now_ms() - 60_000, seed=23):
        recs = [Record(0, offset + i, ts, value) for i, (ts, value) in enumerate(records(part))]
        sink.write_chunk(Chunk("bench.load", 0, offset, offset + len(recs), recs))
        offset += len(recs)
        done += len(part)
        progress(done)


def time_queries(store: ChdbStore, repeats: int = 5) -> dict[str, Any]:
    newest = store.query("SELECT max(window_start) FROM llm_call_rollups_1m").scalar()
    if isinstance(newest, int):
        newest = datetime.fromtimestamp(newest, UTC)
    params = {
        "p95_per_model_per_minute_1d": {"start": newest.replace(tzinfo=None) - _days(1)},
        "cost_per_team_per_day_30d": {"start": newest.replace(tzinfo=None) - _days(30)},
        "top_users_by_cost_30d": {"start": newest.replace(tzinfo=None) - _days(30)},
    }
    out: dict[str, Any] = {}
    for name, sql in STANDARD.items():
        store.query(sql, params[name])  # warm-up
        times = []
        rows = 0
        for _ in range(repeats):
            t0 = time.perf_counter()
            rows = len(store.query(sql, params[name]).rows)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = {"median_ms": round(statistics.median(times), 1), "rows": rows}
    return out


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def query_store(path: Path, calls: int, prices_file: Path | None, progress: Callable[[int], None]) -> dict[str, Any]:
    """Open (or build, once) a store with ``calls`` calls and time the standard queries on it."""
    store = ChdbStore(path)
    try:
        migrate(store)
        have = int(store.query("SELECT count() FROM llm_calls").scalar())
        if have < calls:
            store.close()
            shutil.rmtree(path)
            store = ChdbStore(path)
            migrate(store)
            load(store, calls, prices_file, progress)
        stored = int(store.query("SELECT count() FROM llm_calls").scalar())
        result = time_queries(store)
        accuracy = max_relative_error(store)
    finally:
        store.close()
    return {"query_store_calls": stored, "query_ms": {k: v["median_ms"] for k, v in result.items()},
            "query_rows": {k: v["rows"] for k, v in result.items()}, "accuracy_query_store": accuracy}  # fmt: skip
