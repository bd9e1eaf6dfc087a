"""The standard questions, as parameterised SQL: used by the demo, the benchmark and the docs."""

from __future__ import annotations

from typing import Any

from llmpulse.clickhouse.store import Store

P95_BY_MODEL = """
SELECT model, sum(requests) AS requests,
       llmpulse_quantile(sumMap(latency_sketch), 0.5) AS p50_ms,
       llmpulse_quantile(sumMap(latency_sketch), 0.95) AS p95_ms,
       llmpulse_quantile(sumMap(latency_sketch), 0.99) AS p99_ms,
       llmpulse_quantile(sumMap(ttft_sketch), 0.95) AS ttft_p95_ms,
       sum(errors) AS errors, errors / requests AS error_rate
FROM llm_call_rollups_1m GROUP BY model ORDER BY requests DESC"""

COST_BY_TEAM = """
SELECT team, sum(requests) AS requests, sum(cost_usd) AS cost_usd, sum(unpriced_requests) AS unpriced
FROM llm_call_rollups_1m GROUP BY team ORDER BY cost_usd DESC"""

# the benchmark's dashboard queries (issue: each under 200 ms at 10 million calls)
P95_PER_MODEL_PER_MINUTE_DAY = """
SELECT window_start, model, llmpulse_quantile(sumMap(latency_sketch), 0.95) AS p95_ms
FROM llm_call_rollups_1m
WHERE window_start >= {start:DateTime} AND window_start < {start:DateTime} + INTERVAL 1 DAY
GROUP BY window_start, model ORDER BY window_start, model"""

COST_PER_TEAM_PER_DAY_30D = """
SELECT toDate(window_start) AS day, team, sum(cost_usd) AS cost_usd
FROM llm_call_rollups_1m
WHERE window_start >= {start:DateTime} AND window_start < {start:DateTime} + INTERVAL 30 DAY
GROUP BY day, team ORDER BY day, team"""

TOP_USERS_BY_COST = """
SELECT user_id, team, sum(cost_usd) AS cost_usd, sum(requests) AS requests
FROM llm_user_cost_1d
WHERE day >= toDate({start:DateTime}) AND day < toDate({start:DateTime}) + 30
GROUP BY user_id, team ORDER BY cost_usd DESC LIMIT 20"""


def p95_by_model(store: Store) -> list[dict[str, Any]]:
    return store.query(P95_BY_MODEL).dicts()


def cost_by_team(store: Store) -> list[dict[str, Any]]:
    return store.query(COST_BY_TEAM).dicts()


def totals(store: Store) -> dict[str, int]:
    row = store.query(
        "SELECT (SELECT count() FROM llm_calls) AS calls, (SELECT count() FROM llm_dead_letters) AS dead, "
        "(SELECT count() FROM llm_rollups_1m_v) AS rollups"
    ).rows[0]
    return {"calls_stored": int(row[0]), "dead_letters": int(row[1]), "rollup_rows": int(row[2])}


def dead_letters_by_reason(store: Store) -> dict[str, int]:
    return {str(r): int(n) for r, n in store.query(
        "SELECT reason, count() FROM llm_dead_letters GROUP BY reason ORDER BY reason").rows}  # fmt: skip
