"""The exact-count checks every guarantee test ends with."""

from __future__ import annotations

from typing import Any

from llmpulse.clickhouse.store import Store


def assert_exact(store: Store, events: list[dict[str, Any]]) -> None:
    """Each valid event stored once; rollups and per-user cost equal a recomputation from llm_calls."""
    count, unique = store.query("SELECT count(), uniqExact(event_id) FROM llm_calls").rows[0]
    assert count == unique == len(events)
    stored = {r[0] for r in store.query("SELECT event_id FROM llm_calls").rows}
    assert stored == {e["event_id"] for e in events}
    raw = store.query("SELECT count(), countIf(status = 'error'), sum(input_tokens), sum(output_tokens), "
                      "sum(cache_read_tokens), sum(cost_usd) FROM llm_calls").rows[0]  # fmt: skip
    rolled = store.query("SELECT sum(requests), sum(errors), sum(input_tokens), sum(output_tokens), "
                         "sum(cache_read_tokens), sum(cost_usd) FROM llm_call_rollups_1m").rows[0]  # fmt: skip
    assert [str(x) for x in raw] == [str(x) for x in rolled]
    users = store.query("SELECT sum(requests), sum(cost_usd) FROM llm_user_cost_1d").rows[0]
    assert [str(x) for x in users] == [str(raw[0]), str(raw[5])]
    mismatched = store.query("""
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
        WHERE r.n != x.n OR r.e != x.e OR r.o != x.o OR r.c != x.c OR abs(r.p95 - x.p95) > 0.005 * x.p95
    """).scalar()
    assert mismatched == 0


def assert_alerts_once(store: Store) -> None:
    """Every incident fired at most once and resolved at most once; no transition stored twice."""
    rows = store.query("SELECT dedup_key, started_at, status, count() FROM llm_alerts FINAL "
                       "GROUP BY dedup_key, started_at, status HAVING count() > 1").rows  # fmt: skip
    assert rows == []
    raw = store.query("SELECT count(), uniqExact(alert_id) FROM llm_alerts").rows[0]
    assert raw[0] == raw[1]
