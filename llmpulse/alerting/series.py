"""Reading the alert rules' inputs from ClickHouse: metric values per grouping and window, and spend per
team/app/user. What the metrics are is the catalogue's (``llmpulse.alerting.metrics``); this module only
turns a cut of it into queries and reads them: one query per rollup table the metrics come from (the same
builder for each), merged per window and group.

Everything is read with ``{name:Type}`` parameters (never values formatted into SQL).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from llmpulse.alerting.metrics import (
    CALL_ROLLUPS,
    METRICS,
    WINDOW_MS,
    Dims,
    Needs,
    SeriesSpec,
    Spend,
    SpendSpec,
    Values,
    WindowMetrics,
    day_start_ms,
    metric_sql,
    month_start_ms,
    window_minutes,
)
from llmpulse.clickhouse.store import Store


def _filter_sql(spec: SeriesSpec, params: dict[str, object]) -> str:
    clauses = []
    for dim, values in spec.where:
        names = []
        for i, value in enumerate(values):
            params[f"w_{dim}_{i}"] = value
            names.append(f"{{w_{dim}_{i}:String}}")
        clauses.append(f"{dim} IN ({', '.join(names)})")
    return "".join(f"\n  AND {c}" for c in clauses)


def _by_table(metrics: Iterable[str]) -> dict[str, list[str]]:
    """The metrics (and ``requests``: every rule reads its calls) by the rollup table they come from."""
    wanted = sorted(set(metrics) | {"requests"})
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}")
    tables: dict[str, list[str]] = {}
    for m in wanted:
        tables.setdefault(METRICS[m].table, []).append(m)
    return tables


def series_query(
    spec: SeriesSpec, metrics: Iterable[str], start_ms: int, end_ms: int, window_ms: int = WINDOW_MS,
    table: str = CALL_ROLLUPS,
) -> tuple[str, dict[str, object]]:
    """SQL + parameters: a row per (window, group) in [start_ms, end_ms): ``ws_ms``, dims, metrics, for the
    metrics of one rollup ``table`` (``series_queries``: every table the metrics need)."""
    metrics = list(metrics)
    if table == CALL_ROLLUPS:
        metrics.append("requests")
    wanted = sorted(set(metrics))
    wrong = [m for m in wanted if m not in METRICS or METRICS[m].table != table]
    if wrong:
        raise ValueError(f"metrics {wrong} are not read from {table}")
    window_minutes(window_ms)  # a whole number of minutes
    params: dict[str, object] = {"start_ms": start_ms, "end_ms": end_ms, "window_s": window_ms // 1000}
    # output aliases carry a prefix: ClickHouse would substitute an alias named like a column
    # (``... AS requests``) into every other expression that reads that column
    cols = [f"{metric_sql(m, window_ms)} AS v_{m}" for m in wanted]
    dims = list(spec.group_by)
    sql = (
        "SELECT intDiv(toInt64(toUnixTimestamp(window_start)), {window_s:Int64}) * {window_s:Int64} * 1000"
        " AS ws_ms" + "".join(f", {d}" for d in dims) + ",\n  " + ",\n  ".join(cols) + "\n"
        f"FROM {table}\n"
        "WHERE window_start >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')\n"
        "  AND window_start < fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')"
        + _filter_sql(spec, params)
        + "\nGROUP BY "
        + ", ".join(["ws_ms", *dims])
        + "\nORDER BY ws_ms"
    )
    return sql, params


def series_queries(
    spec: SeriesSpec, metrics: Iterable[str], start_ms: int, end_ms: int, window_ms: int = WINDOW_MS
) -> list[tuple[str, dict[str, object]]]:
    """One ``series_query`` per rollup table the metrics come from (the calls' table always: ``requests``)."""
    return [series_query(spec, ms, start_ms, end_ms, window_ms, table) for table, ms in _by_table(metrics).items()]


def read_series(
    store: Store,
    spec: SeriesSpec,
    metrics: Iterable[str],
    start_ms: int,
    end_ms: int,
    window_ms: int = WINDOW_MS,
) -> dict[int, dict[Dims, Values]]:
    """window start (ms) -> group -> metric values, for windows in [start_ms, end_ms) that have rows (in any
    table read: a group with feedback but no calls in a window has its feedback metrics only)."""
    out: dict[int, dict[Dims, Values]] = {}
    for sql, params in series_queries(spec, metrics, start_ms, end_ms, window_ms):
        for row in store.query(sql, params).dicts():
            ws = int(row.pop("ws_ms"))
            dims = tuple((d, str(row.pop(d))) for d in spec.group_by)
            values = out.setdefault(ws, {}).setdefault(dims, {})
            values.update({k[2:]: None if v is None else float(v) for k, v in row.items()})
    return dict(sorted(out.items()))


def _burn_cols(spec: SpendSpec, params: dict[str, object]) -> str:
    cols = []
    for i, burn_ms in enumerate(spec.burn_windows_ms):
        params[f"burn_{i}"] = burn_ms
        cols.append(
            f",\n  toFloat64(sumIf(cost_usd, window_start >= fromUnixTimestamp64Milli("
            f"{{end_ms:Int64}} - {{burn_{i}:Int64}}, 'UTC'))) AS burn_{i}"
        )
    return "".join(cols)


def _names_sql(column: str, names: tuple[str, ...] | None, params: dict[str, object]) -> str:
    if names is None:
        return f"\n  AND {column} != ''"
    holders = []
    for i, name in enumerate(names):
        params[f"n_{i}"] = name
        holders.append(f"{{n_{i}:String}}")
    return f"\n  AND {column} IN ({', '.join(holders)})"


def spend_query(spec: SpendSpec, window_start_ms: int, window_end_ms: int) -> tuple[str, dict[str, object]]:
    """SQL + parameters: spend today / this month (UTC) up to the window's end, per team, app or user."""
    day0, month0 = day_start_ms(window_start_ms), month_start_ms(window_start_ms)
    params: dict[str, object] = {"end_ms": window_end_ms, "day_ms": day0, "month_ms": month0}
    if spec.scope == "user":
        params.update(
            day=_iso_day(day0),
            month=_iso_day(month0),
            day_floor=spec.day_floor_usd,
            month_floor=spec.month_floor_usd,
        )
        sql = (
            "SELECT user_id AS subject,\n"
            "  toFloat64(sumIf(cost_usd, day = {day:Date})) AS day_usd,\n"
            "  toFloat64(sum(cost_usd)) AS month_usd\n"
            "FROM llm_user_cost_1d\n"
            "WHERE day >= {month:Date} AND day <= {day:Date}"
            + _names_sql("user_id", spec.names, params)
            + "\nGROUP BY user_id\n"
            "HAVING day_usd >= {day_floor:Float64} OR month_usd >= {month_floor:Float64}"
        )
        return sql, params
    oldest = min([month0, *(window_end_ms - b for b in spec.burn_windows_ms)])
    params["oldest_ms"] = oldest
    sql = (
        f"SELECT {spec.scope} AS subject,\n"
        "  toFloat64(sumIf(cost_usd, window_start >= fromUnixTimestamp64Milli({day_ms:Int64}, 'UTC')))"
        " AS day_usd,\n"
        "  toFloat64(sumIf(cost_usd, window_start >= fromUnixTimestamp64Milli({month_ms:Int64}, 'UTC')))"
        " AS month_usd" + _burn_cols(spec, params) + "\n"
        "FROM llm_call_rollups_1m\n"
        "WHERE window_start >= fromUnixTimestamp64Milli({oldest_ms:Int64}, 'UTC')\n"
        "  AND window_start < fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')"
        + _names_sql(spec.scope, spec.names, params)
        + f"\nGROUP BY {spec.scope}"
    )
    return sql, params


def _iso_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def read_spend(store: Store, spec: SpendSpec, window_start_ms: int, window_end_ms: int) -> dict[str, Spend]:
    """subject -> spend so far today and this month (UTC), plus the burn rate per burn window (team/app)."""
    sql, params = spend_query(spec, window_start_ms, window_end_ms)
    out: dict[str, Spend] = {}
    for row in store.query(sql, params).dicts():
        burn = None
        if spec.scope != "user":
            burn = {b: float(row[f"burn_{i}"]) * 3_600_000 / b for i, b in enumerate(spec.burn_windows_ms)}
        out[str(row["subject"])] = Spend(float(row["day_usd"]), float(row["month_usd"]), burn)
    return out


def read_windows(
    store: Store, needs: Needs, start_ms: int, end_ms: int, window_ms: int = WINDOW_MS
) -> list[WindowMetrics]:
    """Every window in [start_ms, end_ms), in order, empty ones included (they matter to the lifecycle)."""
    by_spec = {
        spec: read_series(store, spec, m, start_ms, end_ms, window_ms) for spec, m in needs.series.items()
    }
    windows = []
    for ws in range(start_ms, end_ms, window_ms):
        wm = WindowMetrics(ws, ws + window_ms)
        wm.series = {spec: rows.get(ws, {}) for spec, rows in by_spec.items()}
        for spend_spec in needs.spend:
            wm.spend.setdefault(spend_spec.scope, {}).update(
                read_spend(store, spend_spec, ws, ws + window_ms)
            )
        windows.append(wm)
    return windows


def read_window(
    store: Store, needs: Needs, window_start_ms: int, window_ms: int = WINDOW_MS
) -> WindowMetrics:
    """One closed window."""
    return read_windows(store, needs, window_start_ms, window_start_ms + window_ms, window_ms)[0]


def earliest_window_ms(store: Store) -> int | None:
    """Start of the oldest window in the rollups (None: no rollups yet)."""
    value = store.query(
        "SELECT toInt64(toUnixTimestamp(min(window_start))) * 1000 AS ms, count() AS n "
        "FROM llm_call_rollups_1m"
    ).rows
    if not value or not value[0][1]:
        return None
    return int(value[0][0])
