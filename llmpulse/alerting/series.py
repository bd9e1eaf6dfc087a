"""What the alert rules look at: metric values per grouping and window, and spend per team/app/user.

Everything is read from ClickHouse with ``{name:Type}`` parameters (never values formatted into SQL).
Rollup rows are partial: one window of one (provider, model, app, team) may have several rows, so every
metric is an aggregate over the rows of a group. Percentiles at any grouping come from merging the
DDSketches (``llmpulse_quantile(sumMap(latency_sketch), 0.95)``), never from averaging percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from llmpulse.clickhouse.store import Store

WINDOW_MS = 60_000  # llm_call_rollups_1m holds one-minute windows
ROLLUP_DIMS = ("provider", "model", "app", "team")
BudgetScope = Literal["team", "app", "user"]

Dims = tuple[tuple[str, str], ...]  # sorted (dimension, value) pairs: one group of a series
Values = dict[str, float | None]  # metric -> value (None: no data, e.g. no TTFT in the window)


@dataclass(frozen=True)
class Metric:
    sql: str  # aggregate expression over llm_call_rollups_1m rows; {minutes} = window length
    additive: bool  # a volume summed over calls: a window without calls is 0, not "no data"
    help: str
    quantile: float | None = None  # a percentile of the window's calls (set by its few slowest calls)

    def min_calls(self, tail_calls: int) -> int:
        """Calls a window needs so that at least ``tail_calls`` of them lie beyond the percentile (p95 from
        20 calls is the slowest call: one timeout sets it)."""
        if self.quantile is None:
            return 1
        return math.ceil(tail_calls / min(self.quantile, 1.0 - self.quantile) - 1e-9)


_REQ = "sum(requests)"
_PRICED = "(toInt64(sum(requests)) - toInt64(sum(unpriced_requests)))"
_COST = "toFloat64(sum(cost_usd))"
_TOKENS = "(sum(input_tokens) + sum(output_tokens))"


def _quantile(sketch: str, q: str) -> str:
    return f"llmpulse_quantile(sumMap({sketch}), {q})"


def _per_call(numerator: str) -> str:
    return f"if({_REQ} = 0, NULL, {numerator} / {_REQ})"


METRICS: dict[str, Metric] = {
    "requests": Metric(f"toFloat64({_REQ})", True, "calls in the window"),
    "errors": Metric("toFloat64(sum(errors))", True, "failed calls in the window"),
    "error_rate": Metric(_per_call("sum(errors)"), False, "errors / requests"),
    "latency_avg_ms": Metric(_per_call("sum(latency_sum_ms)"), False, "mean latency per call"),
    "latency_p50_ms": Metric(_quantile("latency_sketch", "0.5"), False, "median latency", 0.5),
    "latency_p95_ms": Metric(_quantile("latency_sketch", "0.95"), False, "95th percentile latency", 0.95),
    "latency_p99_ms": Metric(_quantile("latency_sketch", "0.99"), False, "99th percentile latency", 0.99),
    "ttft_p50_ms": Metric(_quantile("ttft_sketch", "0.5"), False, "median time to first token", 0.5),
    "ttft_p95_ms": Metric(_quantile("ttft_sketch", "0.95"), False, "95th percentile time to first token", 0.95),
    "ttft_p99_ms": Metric(_quantile("ttft_sketch", "0.99"), False, "99th percentile time to first token", 0.99),
    "input_tokens": Metric("toFloat64(sum(input_tokens))", True, "input tokens in the window"),
    "output_tokens": Metric("toFloat64(sum(output_tokens))", True, "output tokens in the window"),
    "reasoning_tokens": Metric("toFloat64(sum(reasoning_tokens))", True, "reasoning tokens in the window"),
    "cache_read_tokens": Metric("toFloat64(sum(cache_read_tokens))", True, "cache-read input tokens"),
    "total_tokens": Metric(f"toFloat64{_TOKENS}", True, "input + output tokens in the window"),
    "tokens_per_minute": Metric(f"{_TOKENS} / {{minutes}}", True, "input + output tokens per minute"),
    "output_tokens_per_call": Metric(_per_call("sum(output_tokens)"), False, "mean output tokens per call"),
    "cost_usd": Metric(_COST, True, "spend in the window (USD)"),
    "cost_per_hour_usd": Metric(f"{_COST} * 60 / {{minutes}}", True, "spend rate (USD per hour)"),
    "cost_per_call_usd": Metric(
        f"if({_PRICED} <= 0, NULL, {_COST} / {_PRICED})", False, "mean cost of a priced call (USD)"
    ),
    "unpriced_requests": Metric("toFloat64(sum(unpriced_requests))", True, "calls without a known price"),
}


@dataclass(frozen=True, order=True)
class SeriesSpec:
    """One way to cut the rollups: keep rows matching ``where``, one series per ``group_by`` values."""

    group_by: tuple[str, ...] = ()
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @staticmethod
    def of(group_by: Iterable[str] = (), where: dict[str, Iterable[str]] | None = None) -> SeriesSpec:
        filters = tuple(sorted((dim, tuple(sorted(set(vals)))) for dim, vals in (where or {}).items()))
        return SeriesSpec(tuple(sorted(set(group_by))), filters)

    def label(self) -> str:
        parts = [f"{d} in ({', '.join(v)})" for d, v in self.where]
        return f"by ({', '.join(self.group_by)})" + (f" where {' and '.join(parts)}" if parts else "")


@dataclass(frozen=True)
class Spend:
    """Money spent by one team/app/user up to the end of a window."""

    day_usd: float
    month_usd: float
    burn_usd_per_hour: dict[int, float] | None = None  # burn window (ms) -> rate; None: unknown


@dataclass(frozen=True)
class SpendSpec:
    scope: BudgetScope
    names: tuple[str, ...] | None = None  # None: every team/app/user
    day_floor_usd: float = 0.0  # users only: skip users below both floors (bounded result)
    month_floor_usd: float = 0.0
    burn_windows_ms: tuple[int, ...] = ()


@dataclass(frozen=True)
class Needs:
    """What one evaluation reads: metrics per series spec, spend per scope."""

    series: dict[SeriesSpec, frozenset[str]] = field(default_factory=dict)
    spend: tuple[SpendSpec, ...] = ()


@dataclass
class WindowMetrics:
    window_start_ms: int
    window_end_ms: int
    series: dict[SeriesSpec, dict[Dims, Values]] = field(default_factory=dict)
    spend: dict[BudgetScope, dict[str, Spend]] = field(default_factory=dict)

    def groups(self, spec: SeriesSpec) -> dict[Dims, Values]:
        return self.series.get(spec, {})


# ---------------------------------------------------------------- SQL builders


def _filter_sql(spec: SeriesSpec, params: dict[str, object]) -> str:
    clauses = []
    for dim, values in spec.where:
        names = []
        for i, value in enumerate(values):
            params[f"w_{dim}_{i}"] = value
            names.append(f"{{w_{dim}_{i}:String}}")
        clauses.append(f"{dim} IN ({', '.join(names)})")
    return "".join(f"\n  AND {c}" for c in clauses)


def series_query(
    spec: SeriesSpec, metrics: Iterable[str], start_ms: int, end_ms: int, window_ms: int = WINDOW_MS
) -> tuple[str, dict[str, object]]:
    """SQL + parameters: a row per (window, group) in [start_ms, end_ms): ``ws_ms``, dims, metrics."""
    wanted = sorted(set(metrics) | {"requests"})
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}")
    if window_ms % 60_000:
        raise ValueError("window_ms must be a whole number of minutes")
    params: dict[str, object] = {"start_ms": start_ms, "end_ms": end_ms, "window_s": window_ms // 1000}
    minutes = str(window_ms // 60_000)
    # output aliases carry a prefix: ClickHouse would substitute an alias named like a column
    # (``... AS requests``) into every other expression that reads that column
    cols = [f"{METRICS[m].sql.replace('{minutes}', minutes)} AS v_{m}" for m in wanted]
    dims = list(spec.group_by)
    sql = (
        "SELECT intDiv(toInt64(toUnixTimestamp(window_start)), {window_s:Int64}) * {window_s:Int64} * 1000"
        " AS ws_ms" + "".join(f", {d}" for d in dims) + ",\n  " + ",\n  ".join(cols) + "\n"
        "FROM llm_call_rollups_1m\n"
        "WHERE window_start >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')\n"
        "  AND window_start < fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')"
        + _filter_sql(spec, params)
        + "\nGROUP BY "
        + ", ".join(["ws_ms", *dims])
        + "\nORDER BY ws_ms"
    )
    return sql, params


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ts_literal(ms: int) -> str:
    return "'" + datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") + "'"


def series_sql(metric: str, spec: SeriesSpec, dims: Dims, start_ms: int, end_ms: int) -> str:
    """Human SQL (literal values, for the alert's ``query`` field) showing one series around an incident."""
    conds = [f"window_start >= {_ts_literal(start_ms)}", f"window_start < {_ts_literal(end_ms)}"]
    conds += [f"{dim} IN ({', '.join(_quote(v) for v in values)})" for dim, values in spec.where]
    conds += [f"{dim} = {_quote(value)}" for dim, value in dims]
    expr = METRICS[metric].sql.replace("{minutes}", "1")
    return (
        f"SELECT window_start, {expr} AS value, sum(requests) AS calls FROM llm_call_rollups_1m "
        f"WHERE {' AND '.join(conds)} GROUP BY window_start ORDER BY window_start"
    )


# ---------------------------------------------------------------- readers


def read_series(
    store: Store,
    spec: SeriesSpec,
    metrics: Iterable[str],
    start_ms: int,
    end_ms: int,
    window_ms: int = WINDOW_MS,
) -> dict[int, dict[Dims, Values]]:
    """window start (ms) -> group -> metric values, for windows in [start_ms, end_ms) that have rows."""
    sql, params = series_query(spec, metrics, start_ms, end_ms, window_ms)
    out: dict[int, dict[Dims, Values]] = {}
    for row in store.query(sql, params).dicts():
        ws = int(row.pop("ws_ms"))
        dims = tuple((d, str(row.pop(d))) for d in spec.group_by)
        out.setdefault(ws, {})[dims] = {k[2:]: None if v is None else float(v) for k, v in row.items()}
    return out


def day_start_ms(ms: int) -> int:
    return ms - ms % 86_400_000


def month_start_ms(ms: int) -> int:
    d = datetime.fromtimestamp(ms / 1000, UTC)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)


def next_month_start_ms(ms: int) -> int:
    d = datetime.fromtimestamp(month_start_ms(ms) / 1000, UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


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
