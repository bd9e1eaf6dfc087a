"""The sink against the real ClickHouse engine (chdb): exact tables, and replays that change nothing."""

from __future__ import annotations

import time
from decimal import Decimal

import orjson
import pyarrow as pa

from llmpulse.clickhouse.store import Store
from llmpulse.producers.workload import Workload
from llmpulse.settings import Settings
from llmpulse.stream_jobs.chunks import ChunkPlanner
from llmpulse.stream_jobs.decode import Source
from llmpulse.stream_jobs.kinds.call import build
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink, Record

TOPIC = "llm.calls"


def records(n_records: int, per_record: int = 50, seed: int = 0) -> list[Record]:
    workload = Workload(seed=seed)
    n = n_records * per_record
    events = [e for _, e in workload.events(n, start_ms=workload.start_ms_ending_now(n))]
    now = int(time.time() * 1000)
    return [Record(0, i, now, orjson.dumps(events[i * per_record:(i + 1) * per_record])) for i in range(n_records)]


def totals(store: Store) -> tuple:
    calls = store.query("SELECT count(), sum(cost_usd), sum(output_tokens) FROM llm_calls").rows[0]
    rolled = store.query("SELECT sum(requests), sum(cost_usd), sum(output_tokens) FROM llm_call_rollups_1m").rows[0]
    users = store.query("SELECT sum(requests), sum(cost_usd) FROM llm_user_cost_1d").rows[0]
    return calls, rolled, users


def sink_for(store: Store) -> EventSink:
    return EventSink(store, Settings(), PriceBook())


def write_all(sink: EventSink, planner: ChunkPlanner[Record], recs: list[Record], batch: int) -> None:
    for i in range(0, len(recs), batch):
        for chunk in planner.add(0, recs[i:i + batch]):
            sink.write_chunk(chunk)


def test_tables_agree_exactly(store: Store) -> None:
    sink = sink_for(store)
    planner: ChunkPlanner[Record] = ChunkPlanner(TOPIC)
    planner.start_partition(0, [])
    write_all(sink, planner, records(40), batch=7)
    calls, rolled, users = totals(store)
    assert calls[0] == rolled[0] == users[0] == 2000
    assert calls[1] == rolled[1] == users[1] and Decimal(calls[1]) > 0
    assert calls[2] == rolled[2]


def test_replay_after_a_crash_recuts_identically_and_counts_once(store: Store) -> None:
    recs = records(40)
    first = sink_for(store)
    planner: ChunkPlanner[Record] = ChunkPlanner(TOPIC)
    planner.start_partition(0, [])
    write_all(first, planner, recs[:30], batch=7)  # 30 records written in chunks of 7
    before = totals(store)
    # "crash": offsets were committed only up to 14; a new worker reads from there in other batch sizes
    second = sink_for(store)
    replanner: ChunkPlanner[Record] = ChunkPlanner(TOPIC)
    replanner.start_partition(0, second.recorded_ranges(TOPIC, 0, 14))
    write_all(second, replanner, recs[14:30], batch=5)
    assert totals(store) == before
    write_all(second, replanner, recs[30:], batch=5)
    calls, rolled, users = totals(store)
    assert calls[0] == rolled[0] == users[0] == 2000
    assert store.query("SELECT count() FROM llm_calls").scalar() == store.query(
        "SELECT uniqExact(event_id) FROM llm_calls").scalar()  # fmt: skip


def test_partial_write_is_completed_by_the_replay(store: Store) -> None:
    recs = records(10)
    sink = sink_for(store)
    planner: ChunkPlanner[Record] = ChunkPlanner(TOPIC)
    planner.start_partition(0, [])
    chunk = planner.add(0, recs)[0]
    # the crash hit after the range and the raw rows were written, before the rollups
    decoded = sink.decoder.decode([(Source(TOPIC, r.partition, r.offset, r.timestamp_ms), r.value)
                                   for r in chunk.items])  # fmt: skip
    built = build(decoded.table, sink.context)
    store.insert("llm_sink_chunks", intent_of(chunk.start, chunk.end), chunk.token)
    store.insert("llm_calls", built.tables["llm_calls"], chunk.token)
    replay = sink_for(store)
    replanner: ChunkPlanner[Record] = ChunkPlanner(TOPIC)
    replanner.start_partition(0, replay.recorded_ranges(TOPIC, 0, 0))
    for c in replanner.add(0, recs):
        replay.write_chunk(c)
    calls, rolled, _ = totals(store)
    assert calls[0] == rolled[0] == 500


def intent_of(start: int, end: int) -> pa.Table:
    return pa.table({"topic": [TOPIC], "kafka_partition": pa.array([0], pa.uint32()),
                     "start_offset": pa.array([start], pa.uint64()), "end_offset": pa.array([end], pa.uint64()),
                     "records": pa.array([end - start], pa.uint32())})  # fmt: skip


def test_duplicate_event_ids_are_dead_letters(store: Store) -> None:
    recs = records(2, per_record=10)
    sink = sink_for(store)
    planner: ChunkPlanner[Record] = ChunkPlanner(TOPIC)
    planner.start_partition(0, [])
    twice = [recs[0], recs[1], Record(0, 2, recs[0].timestamp_ms, recs[0].value)]
    result = sink.write_chunk(planner.add(0, twice)[0])
    assert result.events == 20
    assert [d.reason for d in result.dead] == ["duplicate_event_id"] * 10
    assert store.query("SELECT count() FROM llm_dead_letters WHERE reason = 'duplicate_event_id'").scalar() == 10
