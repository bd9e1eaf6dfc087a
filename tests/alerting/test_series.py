"""Series readers against the real engine (chdb): groupings, filters, merged-sketch percentiles, spend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from llmpulse.alerting.metrics import WINDOW_MS, Needs, SeriesSpec, SpendSpec, series_sql, window_minutes
from llmpulse.alerting.series import (
    earliest_window_ms,
    read_series,
    read_spend,
    read_window,
    read_windows,
    series_query,
)
from llmpulse.clickhouse.store import Store
from llmpulse.schemas.rollup import WINDOW_MS as ROLLUP_WINDOW_MS
from llmpulse.stream_jobs import windows
from llmpulse.stream_jobs.sketch import Sketch

T0 = int(datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp() * 1000)  # a window start
MIN = 60_000

_SKETCH = pa.map_(pa.int16(), pa.uint64())
_ROLLUP_SCHEMA = pa.schema(
    [
        ("window_start", pa.timestamp("s", tz="UTC")),
        ("provider", pa.string()),
        ("model", pa.string()),
        ("app", pa.string()),
        ("team", pa.string()),
        ("requests", pa.uint64()),
        ("errors", pa.uint64()),
        ("latency_sum_ms", pa.float64()),
        ("latency_sketch", _SKETCH),
        ("ttft_count", pa.uint64()),
        ("ttft_sketch", _SKETCH),
        ("input_tokens", pa.uint64()),
        ("output_tokens", pa.uint64()),
        ("cache_read_tokens", pa.uint64()),
        ("cache_write_tokens", pa.uint64()),
        ("reasoning_tokens", pa.uint64()),
        ("cost_usd", pa.float64()),
        ("unpriced_requests", pa.uint64()),
    ]
)


def rollup(
    window_start_ms: int,
    latencies: list[float] | np.ndarray,
    *,
    model: str = "gpt-4o",
    provider: str = "openai",
    app: str = "chat",
    team: str = "search",
    errors: int = 0,
    cost_usd: float = 0.0,
    input_tokens: int = 0,
    output_tokens: int = 0,
    ttfts: list[float] | None = None,
    unpriced: int = 0,
) -> dict[str, Any]:
    """One partial rollup row, as the stream job writes it (the sketch built by the pipeline's Sketch)."""
    lat = np.asarray(latencies, dtype=np.float64)
    return {
        "window_start": window_start_ms // 1000,
        "provider": provider,
        "model": model,
        "app": app,
        "team": team,
        "requests": len(lat),
        "errors": errors,
        "latency_sum_ms": float(lat.sum()),
        "latency_sketch": list(Sketch.of(lat).counts.items()),
        "ttft_count": len(ttfts or []),
        "ttft_sketch": list(Sketch.of(ttfts or []).counts.items()),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": cost_usd,
        "unpriced_requests": unpriced,
    }


def write_rollups(store: Store, rows: list[dict[str, Any]]) -> None:
    if rows:
        table = pa.table({f.name: [r[f.name] for r in rows] for f in _ROLLUP_SCHEMA}, schema=_ROLLUP_SCHEMA)
        store.insert("llm_call_rollups_1m", table)


def write_user_cost(store: Store, day: date, user_id: str, cost_usd: float, *, team: str = "search") -> None:
    table = pa.table(
        {
            "day": pa.array([day], pa.date32()),
            "app": ["chat"],
            "team": [team],
            "user_id": [user_id],
            "requests": pa.array([1], pa.uint64()),
            "input_tokens": pa.array([0], pa.uint64()),
            "output_tokens": pa.array([0], pa.uint64()),
            "cost_usd": [cost_usd],
        }
    )
    store.insert("llm_user_cost_1d", table)


BY_MODEL = SeriesSpec.of(["model"])


def test_percentile_of_a_grouping_merges_sketches_not_percentiles(store: Store) -> None:
    rng = np.random.default_rng(7)
    fast = rng.uniform(100, 200, 95)  # team search: fast calls
    slow = rng.uniform(5000, 6000, 5)  # team ads: a few slow calls
    write_rollups(
        store,
        [rollup(T0, fast, team="search"), rollup(T0, slow, team="ads"), rollup(T0, [150.0], model="o3")],
    )
    got = read_series(store, BY_MODEL, ["latency_p95_ms", "latency_p50_ms"], T0, T0 + MIN)
    values = got[T0][(("model", "gpt-4o"),)]
    merged = Sketch.of(np.concatenate([fast, slow]))
    assert values["requests"] == 100
    assert values["latency_p95_ms"] == pytest.approx(merged.quantile(0.95), rel=1e-9)
    assert values["latency_p50_ms"] == pytest.approx(merged.quantile(0.5), rel=1e-9)
    # averaging the per-team p95s would be far off: (~200 + ~6000) / 2
    averaged = (Sketch.of(fast).quantile(0.95) + Sketch.of(slow).quantile(0.95)) / 2  # type: ignore[operator]
    assert abs(values["latency_p95_ms"] - averaged) > 1000  # type: ignore[operator]
    assert set(got[T0]) == {(("model", "gpt-4o"),), (("model", "o3"),)}


def test_filters_groupings_and_derived_metrics(store: Store) -> None:
    write_rollups(
        store,
        [
            rollup(
                T0, [100.0] * 40, team="search", errors=2, cost_usd=0.4, input_tokens=400, output_tokens=800
            ),
            rollup(T0, [100.0] * 60, team="search", errors=0, cost_usd=0.6, output_tokens=1200, unpriced=10),
            rollup(T0, [100.0] * 10, team="ads", errors=5, cost_usd=9.0),
            rollup(T0, [100.0] * 10, team="search", model="o3", errors=10, cost_usd=5.0),
        ],
    )
    spec = SeriesSpec.of(["team"], {"model": ["gpt-4o"]})
    metrics = ["error_rate", "cost_usd", "cost_per_call_usd", "tokens_per_minute", "output_tokens_per_call"]
    got = read_series(store, spec, metrics, T0, T0 + MIN)[T0]
    search = got[(("team", "search"),)]
    assert search["requests"] == 100
    assert search["error_rate"] == pytest.approx(0.02)
    assert search["cost_usd"] == pytest.approx(1.0)
    assert search["cost_per_call_usd"] == pytest.approx(1.0 / 90)  # 10 calls had no price
    assert search["tokens_per_minute"] == pytest.approx(2400)
    assert search["output_tokens_per_call"] == pytest.approx(20)
    assert got[(("team", "ads"),)]["error_rate"] == pytest.approx(0.5)
    everything = read_series(store, SeriesSpec.of(), ["error_rate"], T0, T0 + MIN)[T0][()]
    assert everything["requests"] == 120 and everything["error_rate"] == pytest.approx(17 / 120)


def test_values_are_parameters_not_sql(store: Store) -> None:
    odd = "o'brien; DROP TABLE llm_calls --"
    write_rollups(store, [rollup(T0, [10.0] * 3, model=odd)])
    sql, params = series_query(SeriesSpec.of([], {"model": [odd]}), ["requests"], T0, T0 + MIN)
    assert odd not in sql and odd in params.values()
    got = read_series(store, SeriesSpec.of([], {"model": [odd]}), ["requests"], T0, T0 + MIN)
    assert got[T0][()]["requests"] == 3
    assert store.query("EXISTS TABLE llm_calls").scalar() == 1


def test_window_bounds_and_empty_windows(store: Store) -> None:
    write_rollups(
        store, [rollup(T0, [1.0]), rollup(T0 + 2 * MIN, [1.0] * 2), rollup(T0 + 3 * MIN, [1.0] * 9)]
    )
    windows = read_windows(store, Needs({BY_MODEL: frozenset({"requests"})}), T0, T0 + 3 * MIN)
    assert [w.window_start_ms for w in windows] == [T0, T0 + MIN, T0 + 2 * MIN]
    counts = [sum(v["requests"] or 0 for v in w.groups(BY_MODEL).values()) for w in windows]
    assert counts == [1, 0, 2]  # the window at T0+3min is outside [start, end)
    one = read_window(store, Needs({BY_MODEL: frozenset({"requests"})}), T0 + 3 * MIN)
    assert one.groups(BY_MODEL) == {(("model", "gpt-4o"),): {"requests": 9.0}}
    assert earliest_window_ms(store) == T0


def test_earliest_window_of_an_empty_store(store: Store) -> None:
    assert earliest_window_ms(store) is None


def test_team_spend_today_this_month_and_burn(store: Store) -> None:
    yesterday = T0 - 86_400_000
    write_rollups(
        store,
        [
            rollup(yesterday, [1.0], team="search", cost_usd=50.0),
            rollup(T0 - 120 * MIN, [1.0], team="search", cost_usd=10.0),  # today, 2 h ago
            rollup(T0 - 30 * MIN, [1.0], team="search", cost_usd=6.0),  # within the last hour
            rollup(T0, [1.0], team="search", cost_usd=3.0),  # the evaluated window itself
            rollup(T0 + MIN, [1.0], team="search", cost_usd=1000.0),  # the future: not counted
            rollup(T0, [1.0], team="ads", cost_usd=1.0),
        ],
    )
    spend = read_spend(store, SpendSpec("team", None, burn_windows_ms=(3_600_000,)), T0, T0 + MIN)
    search = spend["search"]
    assert search.day_usd == pytest.approx(19.0)
    assert search.month_usd == pytest.approx(69.0)
    assert search.burn_usd_per_hour == {3_600_000: pytest.approx(9.0)}
    only_ads = read_spend(store, SpendSpec("team", ("ads",)), T0, T0 + MIN)
    assert set(only_ads) == {"ads"}


def test_user_spend_from_the_daily_table_with_a_floor(store: Store) -> None:
    today = date(2026, 11, 27)
    write_user_cost(store, today, "u-big", 4.0)
    write_user_cost(store, today, "u-big", 1.0)  # partial rows add up
    write_user_cost(store, date(2026, 11, 2), "u-big", 20.0)
    write_user_cost(store, today, "u-small", 0.1)
    write_user_cost(store, date(2026, 10, 31), "u-small", 99.0)  # last month
    spend = read_spend(store, SpendSpec("user", None, day_floor_usd=1.0, month_floor_usd=1e300), T0, T0 + MIN)
    assert set(spend) == {"u-big"}
    assert spend["u-big"].day_usd == pytest.approx(5.0)
    assert spend["u-big"].month_usd == pytest.approx(25.0)
    assert spend["u-big"].burn_usd_per_hour is None


def test_one_window_length_for_the_store_and_the_rules() -> None:
    """The stream jobs' windows, the settings' default and the windows the rules read are one length."""
    assert WINDOW_MS == windows.WINDOW_MS == ROLLUP_WINDOW_MS
    sql, params = series_query(SeriesSpec.of(["model"]), ["tokens_per_minute"], T0, T0 + WINDOW_MS)
    assert params["window_s"] * 1000 == WINDOW_MS
    assert f"/ {window_minutes()}" in sql
    with pytest.raises(ValueError, match="whole number of minutes"):
        series_query(SeriesSpec.of(), ["requests"], T0, T0 + MIN, window_ms=90_000)
    human = series_sql("cost_per_hour_usd", SeriesSpec.of(["model"]), (("model", "m"),), T0, T0 + MIN)
    assert f"* 60 / {window_minutes()}" in human and "{minutes}" not in human
