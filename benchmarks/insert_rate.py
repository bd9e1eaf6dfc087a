"""ClickHouse insert rate of the calls table: what one shard (or the embedded store) takes.

Blocks are built by the stream sink's own code from the benchmark workload (the Arrow tables a worker writes),
then inserted into a fresh embedded store (chdb: ClickHouse's engine in-process) exactly as the sink does:
one block per table per chunk, with the chunk's deduplication token. Only the inserts are timed. Replaying
every block with its token measures the cost of a duplicate (ClickHouse drops it).

    python -m benchmarks.insert_rate [--events 400000] [--block 5000,20000,100000] > result.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmpulse.bench.traffic import generate_chunks, now_ms, records
from llmpulse.clickhouse.chdb_store import ChdbStore
from llmpulse.clickhouse.migrate import migrate
from llmpulse.settings import Settings
from llmpulse.stream_jobs.chunks import Chunk
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink, Record


def blocks(events: int, block: int) -> list[dict[str, Any]]:
    """The sink's tables for ``events`` workload events, ``block`` events per chunk."""
    with tempfile.TemporaryDirectory() as scratch:
        store = ChdbStore(Path(scratch) / "prep")
        try:
            sink = EventSink(store, Settings(max_event_age_s=10**9), PriceBook(None))
            out, offset = [], 0
            for part in generate_chunks(events, block, windows=events // 2000 + 1, end_ms=now_ms() - 60_000):
                recs = [Record(0, offset + i, ts, value) for i, (ts, value) in enumerate(records(part))]
                prepared = sink.prepare(Chunk("bench.insert", 0, offset, offset + len(recs), recs))
                assert prepared.tables is not None
                t = prepared.tables
                out.append({"token": prepared.chunk.token, "calls": t.calls, "rollups": t.rollups,
                            "user_cost": t.user_cost})  # fmt: skip
                offset += len(recs)
        finally:
            store.close()
    return out


def measure(prepared: list[dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        store = ChdbStore(Path(scratch) / "store")
        try:
            migrate(store, Settings())
            rows = sum(b["calls"].num_rows for b in prepared)
            t0, c0 = time.perf_counter(), time.process_time()
            for b in prepared:
                store.insert("llm_calls", b["calls"], b["token"])
            calls_s, calls_cpu_s = time.perf_counter() - t0, time.process_time() - c0
            t0 = time.perf_counter()
            for b in prepared:
                store.insert("llm_call_rollups_1m", b["rollups"], b["token"])
                store.insert("llm_user_cost_1d", b["user_cost"], b["token"])
            rollups_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for b in prepared:  # a replay: every block again, same token
                store.insert("llm_calls", b["calls"], b["token"])
            replay_s = time.perf_counter() - t0
            stored = int(store.query("SELECT count() FROM llm_calls").scalar())
            size = store.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = 'llm_calls' "
                               "AND database = currentDatabase()").scalar()  # fmt: skip
        finally:
            store.close()
    return {
        "blocks": len(prepared), "rows": rows, "rows_per_block": round(rows / len(prepared)),
        "calls_insert_rows_per_s": round(rows / calls_s), "calls_inserts_per_s": round(len(prepared) / calls_s, 1),
        # CPU seconds of all the process's threads: what a shard's cores must give, whatever else runs here
        "calls_insert_rows_per_cpu_s": round(rows / calls_cpu_s),
        "calls_plus_rollups_rows_per_s": round(rows / (calls_s + rollups_s)),
        "replay_rows_per_s": round(rows / replay_s), "stored_after_replay": stored,
        "bytes_on_disk_per_call": round(int(size) / max(stored, 1), 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--block", default="5000,20000,100000", help="events per chunk, comma-separated")
    args = parser.parse_args()
    results = []
    for block in (int(x) for x in args.block.split(",")):
        results.append({"block_events": block, **measure(blocks(args.events, block))})
    print(json.dumps({
        "benchmark": "clickhouse_insert_rate", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "store": "chdb (embedded ClickHouse engine), one process, single-node MergeTree tables",
        "results": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
