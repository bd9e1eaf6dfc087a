"""How far the rollup quantiles are from the exact quantiles over the raw rows."""

from __future__ import annotations

from llmpulse.clickhouse.store import Store

QUANTILES = (0.5, 0.95, 0.99)


def _compare(store: Store, rollup_keys: str, raw_keys: str, using: str) -> float:
    approx = ", ".join(f"llmpulse_quantile(sumMap(latency_sketch), {q}) AS a{i}" for i, q in enumerate(QUANTILES))
    # one exact state for the three levels (quantilesExact: the same values as quantileExact at each): the
    # raw rows' latencies held once, not three times, in the engine serving the query (the worker's, when
    # the store is embedded)
    exact = f"quantilesExact({', '.join(map(str, QUANTILES))})(latency_ms) AS e"
    errors = ", ".join(f"max(abs(a{i} - e[{i + 1}]) / e[{i + 1}])" for i in range(len(QUANTILES)))
    sql = (f"SELECT greatest({errors}) FROM (SELECT {rollup_keys}, {approx} FROM llm_call_rollups_1m "
           f"GROUP BY {using}) AS r JOIN (SELECT {raw_keys}, {exact} FROM llm_calls GROUP BY {using}) AS e "
           f"USING ({using})")  # fmt: skip
    return float(store.query(sql).scalar() or 0.0)


def max_relative_error(store: Store) -> dict[str, float]:
    """Per (minute window, model) and re-aggregated per (day, team) and per model over everything."""
    per_window = _compare(store, "window_start, model", "toStartOfMinute(ts) AS window_start, model",
                          "window_start, model")  # fmt: skip
    per_team_day = _compare(store, "toDate(window_start) AS day, team", "toDate(ts) AS day, team", "day, team")
    per_model = _compare(store, "model", "model", "model")
    return {
        "p99_rel_error_max": round(max(per_window, per_team_day, per_model), 6),
        "rel_error_per_window_model": round(per_window, 6),
        "rel_error_per_day_team": round(per_team_day, 6),
        "rel_error_per_model_all": round(per_model, 6),
    }
