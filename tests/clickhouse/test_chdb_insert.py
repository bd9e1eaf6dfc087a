"""The embedded store's inserts (Arrow IPC stream, ``ArrowStream`` input) store exactly what the earlier
``INSERT … SELECT FROM Python(table)`` stored, for every table the sink writes, and keep ClickHouse's
deduplication by token that replays rely on."""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from llmpulse.bench import traffic
from llmpulse.clickhouse import chdb_store
from llmpulse.clickhouse.chdb_store import ChdbStore
from llmpulse.clickhouse.store import Store, check_ident, check_token
from llmpulse.schemas.kinds import KINDS
from llmpulse.settings import Settings
from llmpulse.stream_jobs.chunks import Chunk
from llmpulse.stream_jobs.decode import DeadLetter, Source
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink, Record
from tests.stream_jobs.test_kind_tables import FULL

NOW = int(time.time() * 1000)


def python_insert(store: ChdbStore, table: str, data: pa.Table, token: str) -> None:
    """The earlier insert path: chdb's Python() table function over the Arrow table."""
    cols = ", ".join(check_ident(c) for c in data.column_names)
    arrow_data = data  # noqa: F841  # read by name by Python(arrow_data)
    store._session.query(
        f"INSERT INTO {check_ident(table)} ({cols}) SETTINGS optimize_on_insert = 0, "
        f"insert_deduplication_token = '{check_token(token)}' SELECT {cols} FROM Python(arrow_data)", "CSV")


def odd_calls() -> list[dict[str, Any]]:
    """Calls with what the benchmark traffic lacks: nulls, an unpriced model, an end time instead of a
    latency, non-ASCII text and ids, a long attribute value, a bad event (a dead letter)."""
    base = copy.deepcopy(FULL["call"])
    out = []
    for i in range(40):
        event = {**base, "event_id": f"odd-{i}", "ts_ms": NOW - i * 1000}
        if i % 4 == 0:
            event.pop("ttft_ms"), event.pop("client_cost_usd"), event.pop("latency_ms")
        if i % 4 == 1:
            event.update(request_model="model-nobody-prices", provider="acme", status="error", error_type="timeout")
        if i % 4 == 2:
            event.update(user_id="usuário-ß-東京", session_id="", prompt="naïve café 😀 " * 20, response=None)
        if i % 4 == 3:
            event["attributes"] = {"prompt_version": "v2", "long": "x" * 5000, "é": "ü"}
        out.append(event)
    out.append({**base, "event_id": "bad", "ts_ms": "not a time"})
    return out


def built_tables(store: Store) -> list[tuple[str, pa.Table]]:
    """Every table the sinks of every kind build, from benchmark traffic and odd events."""
    settings = Settings(capture_text=True)
    out: list[tuple[str, pa.Table]] = []
    for name, kind in KINDS.items():
        sink = EventSink(store, settings, PriceBook(), kind=kind, redact=lambda text: (text, 0))
        if name == "call":
            events = traffic.generate(3_000, windows=5, end_ms=NOW, capture=True) + odd_calls()
        else:
            events = [{**FULL[name], "event_id": f"{name}-{i}", "call_id": f"c{i}"} for i in range(50)]
        values = [orjson.dumps(e) for e in events]
        records = [Record(0, i, NOW, v) for i, v in enumerate(values)]
        prepared = sink.prepare(Chunk(f"t-{name}", 0, 0, len(records), records))
        assert prepared.tables is not None and prepared.decoded is not None, prepared.error
        out += [(t, block) for t, block in prepared.tables.tables.items()]
        dead = prepared.decoded.dead or [DeadLetter(Source(f"t-{name}", 0, 7, NOW), -1, "validation", "x", "e",
                                                    b'{"bad": "\xc3\xa9"}')]  # fmt: skip
        out.append(("llm_dead_letters", sink._dead_table(f"t-{name}", dead)))
    return out


def stored(store: Store, table: str, columns: list[str]) -> list[str]:
    cols = ", ".join(check_ident(c) for c in columns)
    return sorted(repr(row) for row in store.query(f"SELECT {cols} FROM {check_ident(table)}").rows)


def test_arrow_stream_inserts_store_what_python_inserts_stored(store: Store) -> None:
    if not isinstance(store, ChdbStore):
        pytest.skip("the embedded store's insert path")
    blocks = built_tables(store)
    assert {t for t, _ in blocks} >= {"llm_calls", "llm_call_rollups_1m", "llm_user_cost_1d",
                                      "llm_quality_rollups_1m", "llm_dead_letters"}  # fmt: skip
    for i, (table, block) in enumerate(blocks):
        python_insert(store, table, block, f"old-{i}")
        before = stored(store, table, block.column_names)
        store.command(f"TRUNCATE TABLE {check_ident(table)}")
        store.insert(table, block, f"new-{i}")
        after = stored(store, table, block.column_names)
        store.command(f"TRUNCATE TABLE {check_ident(table)}")
        assert len(before) == block.num_rows, table
        differ = sorted(set(before) ^ set(after))
        assert (table, len(differ), differ[:3]) == (table, 0, [])


def test_a_token_seen_before_drops_the_insert_whichever_path_wrote_it(store: Store) -> None:
    """A replay (the same rows, cut the same way, with the same token) is dropped, also when the first write
    went through the earlier Python() path (a worker upgraded between the two)."""
    if not isinstance(store, ChdbStore):
        pytest.skip("the embedded store's insert path")
    n = 6
    table = pa.table({
        "received_at": pa.array([NOW] * n, pa.timestamp("ms", tz="UTC")), "topic": ["t"] * n,
        "kafka_partition": pa.array(range(n), pa.uint32()), "kafka_offset": pa.array([0] * n, pa.uint64()),
        "item_index": pa.array([0] * n, pa.int32()), "reason": ["r"] * n, "detail": ["d"] * n,
        "event_id": ["e"] * n, "payload": ["p"] * n, "payload_bytes": pa.array([1] * n, pa.uint64()),
    })  # fmt: skip
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=2))
    assert rechunked.column(0).num_chunks == 3

    def rows() -> int:
        return int(store.query("SELECT count() FROM llm_dead_letters").scalar())

    def duplicates() -> int:
        query = "SELECT sum(value) FROM system.events WHERE event = 'DuplicatedInsertedBlocks'"
        return int(store.query(query).scalar() or 0)

    expected = 0
    for i, data in enumerate((table, rechunked)):
        store.insert("llm_dead_letters", data, f"tok-{i}")
        dropped = duplicates()
        store.insert("llm_dead_letters", data, f"tok-{i}")
        expected += n
        assert rows() == expected and duplicates() > dropped
        python_insert(store, "llm_dead_letters", data, f"old-{i}")
        store.insert("llm_dead_letters", data, f"old-{i}")
        expected += n
        assert rows() == expected
    store.insert("llm_dead_letters", table, "tok-new")
    assert rows() == expected + n


def engine_dirty_bytes(store: ChdbStore) -> int:
    """Pages the engine's allocator (jemalloc) keeps after they were freed: resident - active - metadata."""
    text = store._session.query("SELECT * FROM system.jemalloc_stats", "TSV").bytes().decode()
    found = re.search(r"active: (\d+), metadata: (\d+).*?resident: (\d+)", text)
    assert found, "jemalloc_stats no longer reports active/metadata/resident"
    return int(found[3]) - int(found[1]) - int(found[2])


def test_a_write_hands_the_engines_freed_memory_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chdb_store, "PURGE_EVERY_S", 3600.0)
    store = ChdbStore(tmp_path / "data")
    try:
        store.command("CREATE TABLE scratch (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
        store.command("INSERT INTO scratch SELECT number, repeat('x', 200) FROM numbers(1000000)")
        kept = engine_dirty_bytes(store)
        assert kept > 64 << 20  # the premise: freed pages stay with the allocator (for 5 s)
        store.insert("scratch", pa.table({"a": pa.array([1], pa.uint64()), "s": ["y"]}))
        assert engine_dirty_bytes(store) > kept // 2  # the last purge was less than PURGE_EVERY_S ago: none
        store._purged_at = float("-inf")
        store.insert("scratch", pa.table({"a": pa.array([2], pa.uint64()), "s": ["z"]}))
        assert engine_dirty_bytes(store) < 16 << 20
    finally:
        store.close()
