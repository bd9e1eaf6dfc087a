"""Event-time watermark: the time up to which every window is complete, read from the sink's records.

Each partition has written data up to some event time (``llm_sink_chunks.max_event_ts``). The watermark
is the slowest active partition minus the allowed lateness; a partition far behind the newest one is idle
(no traffic), not slow, and is ignored. When nothing at all has been written for ``idle_close_s`` seconds
of wall time, the stream is idle and every window up to the newest event closes.
"""

from __future__ import annotations

from llmpulse.clickhouse.store import Store

LATENESS_MS = 10_000
IDLE_GAP_MS = 300_000


def read_watermark(store: Store, topic: str, window_ms: int, idle_close_s: float = 10.0) -> int | None:
    result = store.query(
        "SELECT kafka_partition, toUnixTimestamp64Milli(max(max_event_ts)), "
        "dateDiff('millisecond', max(written_at), now64(3)) FROM llm_sink_chunks "
        "WHERE topic = {t:String} AND max_event_ts > toDateTime64(0, 3, 'UTC') GROUP BY kafka_partition",
        {"t": topic},
    )
    if not result.rows:
        return None
    newest = max(int(r[1]) for r in result.rows)
    idle_ms = min(int(r[2]) for r in result.rows)
    if idle_ms >= idle_close_s * 1000:
        return newest - newest % window_ms + window_ms
    active = [int(r[1]) for r in result.rows if newest - int(r[1]) <= IDLE_GAP_MS]
    return min(active) - LATENESS_MS
