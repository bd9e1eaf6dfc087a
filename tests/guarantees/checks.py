"""The checks every guarantee test ends with: exact tables, the dead letters expected (and no others), alerts
stored once, and proof from the workers' logs that replays and deduplication really happened."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llmpulse.clickhouse.store import Store

#: the promise (README, Guarantees): rollup quantiles within 0.5% of the exact ones over llm_calls
QUANTILE_TOLERANCE = 0.005

_REPLAYED = re.compile(r"chunk \S+ replayed with its recorded token(: dropped by ClickHouse as a duplicate)?")


def assert_exact(store: Store, events: list[dict[str, Any]], dead_letters: Mapping[str, int] | None = None) -> None:
    """Each valid event stored once; rollups and per-user cost equal a recomputation from llm_calls; the dead
    letters are exactly ``dead_letters`` (reason -> count; none by default)."""
    count, unique = store.query("SELECT count(), uniqExact(event_id) FROM llm_calls").rows[0]
    assert count == unique == len(events), (count, unique, len(events))
    stored = {r[0] for r in store.query("SELECT event_id FROM llm_calls").rows}
    assert stored == {e["event_id"] for e in events}
    reasons = dict(store.query("SELECT reason, count() FROM llm_dead_letters GROUP BY reason").rows)
    assert reasons == dict(dead_letters or {}), f"dead letters {reasons}, expected {dict(dead_letters or {})}"
    assert_rollups_match(store)


def assert_rollups_match(store: Store) -> None:
    """Rollups and per-user cost equal a recomputation from llm_calls (counts, tokens, cost exact; p95 within
    the promised 0.5%), in total and per (window, provider, model, app, team)."""
    raw = store.query("SELECT count(), countIf(status = 'error'), sum(input_tokens), sum(output_tokens), "
                      "sum(cache_read_tokens), sum(cost_usd) FROM llm_calls").rows[0]  # fmt: skip
    rolled = store.query("SELECT sum(requests), sum(errors), sum(input_tokens), sum(output_tokens), "
                         "sum(cache_read_tokens), sum(cost_usd) FROM llm_call_rollups_1m").rows[0]  # fmt: skip
    assert [str(x) for x in raw] == [str(x) for x in rolled], f"llm_calls {raw} != llm_call_rollups_1m {rolled}"
    users = store.query("SELECT sum(requests), sum(cost_usd) FROM llm_user_cost_1d").rows[0]
    assert [str(x) for x in users] == [str(raw[0]), str(raw[5])], f"llm_user_cost_1d {users} != llm_calls {raw}"
    mismatched = store.query(f"""
        SELECT count() FROM
          (SELECT window_start, provider, model, app, team, sum(requests) AS n, sum(errors) AS e,
                  sum(output_tokens) AS o, sum(cost_usd) AS c,
                  llmpulse_quantile(sumMap(latency_sketch), 0.95) AS p95
           FROM llm_call_rollups_1m GROUP BY window_start, provider, model, app, team) AS r
        FULL OUTER JOIN
          (SELECT toStartOfMinute(ts) AS window_start, provider, model, app, team, count() AS n,
                  countIf(status = 'error') AS e, sum(output_tokens) AS o, sum(cost_usd) AS c,
                  quantileExact(0.95)(latency_ms) AS p95
           FROM llm_calls GROUP BY window_start, provider, model, app, team) AS x
        USING (window_start, provider, model, app, team)
        WHERE r.n != x.n OR r.e != x.e OR r.o != x.o OR r.c != x.c
           OR abs(r.p95 - x.p95) > {QUANTILE_TOLERANCE} * x.p95
    """).scalar()
    assert mismatched == 0


def wait_alerts_evaluated(read: Callable[[], Store], timeout_s: float = 180.0) -> None:
    """Wait until the leader has evaluated the window of the newest stored event (the stream must be idle:
    the watermark then closes every window)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with read() as store:
            newest, evaluated = store.query(
                "SELECT (SELECT toUnixTimestamp64Milli(toDateTime64(toStartOfMinute(max(ts)), 3)) FROM llm_calls), "
                "(SELECT toUnixTimestamp64Milli(max(last_window_start)) FROM llm_alert_state)").rows[0]  # fmt: skip
        if evaluated is not None and newest is not None and int(evaluated) >= int(newest):
            return
        assert time.monotonic() < deadline, f"alerts not evaluated up to the last window: {evaluated} < {newest}"
        time.sleep(0.5)


def assert_alerts_once(store: Store) -> int:
    """At least one alert fired; every incident fired at most once and resolved at most once; no transition
    stored twice. Returns the number of alert rows."""
    fired = store.query("SELECT count() FROM llm_alerts WHERE status = 'firing'").scalar()
    assert fired > 0, "no alert fired: the check below would prove nothing"
    rows = store.query("SELECT dedup_key, started_at, status, count() FROM llm_alerts FINAL "
                       "GROUP BY dedup_key, started_at, status HAVING count() > 1").rows  # fmt: skip
    assert rows == []
    raw = store.query("SELECT count(), uniqExact(alert_id) FROM llm_alerts").rows[0]
    assert raw[0] == raw[1]
    return int(raw[0])


def replays_in_logs(log_dir: Path) -> tuple[int, int]:
    """(chunks replayed with their recorded token, of which ClickHouse dropped as duplicates), from every
    worker log under ``log_dir`` (the sink logs each replayed chunk)."""
    replayed = deduplicated = 0
    for path in sorted(log_dir.glob("worker-*.log")):
        for match in _REPLAYED.finditer(path.read_text(errors="replace")):
            replayed += 1
            deduplicated += match.group(1) is not None
    return replayed, deduplicated
