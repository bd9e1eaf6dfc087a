"""Alerts on answer quality: the quality metrics of the catalogue, read from ``llm_quality_rollups_1m`` by the
same series reader as the call metrics, and the default count-aware rules on them (refusals per app,
dissatisfaction per app and model, toxic answers per app, answers with PII per app)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from llmpulse.alerting.config import AlertConfigError, default_config, parse_alert_config
from llmpulse.alerting.engine import AlertEngine, needs
from llmpulse.alerting.metrics import (
    CALL_ROLLUPS,
    METRICS,
    QUALITY_ROLLUPS,
    RATE_METRICS,
    Dims,
    SeriesSpec,
    Values,
    WindowMetrics,
    series_sql,
)
from llmpulse.alerting.rules import fmt_value
from llmpulse.alerting.series import read_series, series_queries
from llmpulse.clickhouse.store import Store
from llmpulse.schemas.alert import AlertEvent
from tests.alerting.test_series import rollup, write_rollups

T0 = int(datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp() * 1000)
W = 60_000
BY_APP = SeriesSpec.of(["app"])
BY_MODEL = SeriesSpec.of(["model"])
QUALITY_SUMS = ("calls", "quality_sampled", "models_sampled", "truncated", "refusals", "empty_answers",
                "prompt_injections", "toxic", "negative_sentiment", "irrelevant", "repeated_prompts",
                "inconsistent_answers", "response_pii", "feedback", "thumbs_up", "thumbs_down", "ratings")  # fmt: skip


def quality_row(window_start_ms: int, *, app: str = "chat", model: str = "gpt-4o", **sums: int) -> dict[str, Any]:
    """One partial row of llm_quality_rollups_1m (the sums not given are 0)."""
    unknown = set(sums) - set(QUALITY_SUMS)
    assert not unknown, unknown
    return {"window_start": window_start_ms // 1000, "provider": "openai", "model": model, "app": app,
            "team": "search", "prompt_version": "", "rating_sum": 0.0,
            **{name: sums.get(name, 0) for name in QUALITY_SUMS}}  # fmt: skip


def write_quality(store: Store, rows: list[dict[str, Any]]) -> None:
    starts = pa.array([r["window_start"] for r in rows], pa.timestamp("s", tz="UTC"))
    columns: dict[str, pa.Array] = {"window_start": starts}
    for name in ("provider", "model", "app", "team", "prompt_version"):
        columns[name] = pa.array([r[name] for r in rows], pa.string())
    for name in QUALITY_SUMS:
        columns[name] = pa.array([r[name] for r in rows], pa.uint64())
    columns["rating_sum"] = pa.array([r["rating_sum"] for r in rows], pa.float64())
    store.insert(QUALITY_ROLLUPS, pa.table(columns))


def test_the_quality_rates_name_their_trials() -> None:
    assert {"refusal_rate", "thumbs_down_share", "toxic_rate", "response_pii_rate", "error_rate"} <= set(RATE_METRICS)
    assert METRICS["refusal_rate"].trials == "quality_sampled"  # judged answers, not all calls
    assert METRICS["toxic_rate"].trials == "models_sampled"  # the model tier's (smaller) sample
    assert METRICS["thumbs_down_share"].trials == "thumbs"  # thumbs given, up or down
    assert METRICS["error_rate"].trials == "requests"
    for name in RATE_METRICS:
        trials = METRICS[name].trials
        assert trials is not None and METRICS[trials].additive and METRICS[trials].table == METRICS[name].table
    assert METRICS["refusal_rate"].table == QUALITY_ROLLUPS and METRICS["error_rate"].table == CALL_ROLLUPS


def test_one_reader_for_both_tables(store: Store) -> None:
    write_rollups(store, [rollup(T0, [100.0] * 40, app="chat"), rollup(T0, [100.0] * 10, app="search", model="o3")])
    write_quality(store, [
        quality_row(T0, app="chat", calls=30, quality_sampled=30, refusals=3, models_sampled=4, toxic=1,
                    response_pii=2, thumbs_up=3, thumbs_down=1),
        quality_row(T0, app="chat", calls=10, quality_sampled=10, refusals=1, thumbs_down=2),  # another partial
        quality_row(T0 + W, app="feedback-only", thumbs_up=1, thumbs_down=3),  # feedback, no calls this minute
    ])  # fmt: skip
    rates = ["refusal_rate", "thumbs_down_share", "toxic_rate", "response_pii_rate", "error_rate"]
    wanted = rates + [str(METRICS[m].trials) for m in rates]  # what the engine reads for rate rules
    queries = series_queries(BY_APP, wanted, T0, T0 + 2 * W)
    assert sorted(sql.split("FROM ")[1].split()[0] for sql, _ in queries) == sorted([CALL_ROLLUPS, QUALITY_ROLLUPS])
    got = read_series(store, BY_APP, wanted, T0, T0 + 2 * W)
    chat = got[T0][(("app", "chat"),)]
    assert chat["requests"] == 40 and chat["error_rate"] == 0.0  # from the calls' table
    assert chat["refusal_rate"] == pytest.approx(4 / 40) and chat["quality_sampled"] == 40
    assert chat["thumbs_down_share"] == pytest.approx(3 / 6) and chat["thumbs"] == 6
    assert chat["toxic_rate"] == pytest.approx(1 / 4) and chat["models_sampled"] == 4
    assert chat["response_pii_rate"] == pytest.approx(2 / 40)
    search = got[T0][(("app", "search"),)]
    assert search["requests"] == 10 and "refusal_rate" not in search  # no quality rows: no quality values
    late = got[T0 + W][(("app", "feedback-only"),)]
    assert late == {"thumbs_down_share": 0.75, "thumbs": 4.0, "quality_sampled": 0.0, "models_sampled": 0.0,
                    "quality_calls": 0.0, "refusal_rate": None, "toxic_rate": None,
                    "response_pii_rate": None}  # fmt: skip
    sql = series_sql("refusal_rate", BY_APP, (("app", "chat"),), T0, T0 + W)
    assert f"FROM {QUALITY_ROLLUPS}" in sql and "sum(calls) AS calls" in sql
    assert store.query(sql).rows[0][1] == pytest.approx(0.1)  # the alert's query runs as written


def test_rate_rules_take_rates_and_only_rates() -> None:
    with pytest.raises(AlertConfigError, match="'rate' tests a count out of its trials"):
        parse_alert_config('[[anomaly.rule]]\nname = "x"\ndetector = "rate"\nmetrics = ["refusals"]\n')
    with pytest.raises(AlertConfigError, match="refusal_rate: use detector 'rate'"):
        parse_alert_config('[[anomaly.rule]]\nname = "x"\ndetector = "level"\nmetrics = ["refusal_rate"]\n')
    config = parse_alert_config('[[anomaly.rule]]\nname = "x"\ndetector = "rate"\nmetrics = ["thumbs_down_share"]\n'
                                'group_by = [["app"], ["model"]]\n')  # fmt: skip
    got = needs(config).series
    assert got[BY_APP] == got[BY_MODEL] == {"thumbs_down_share", "thumbs"}  # the rate and its trials


def test_defaults_watch_quality_per_app_and_model() -> None:
    rules = {(r.name, m, tuple(g)) for r in default_config().anomaly.rule for m in r.metrics for g in r.group_by}
    assert {
        ("refusal-rate", "refusal_rate", ("app",)),
        ("dissatisfaction", "thumbs_down_share", ("app",)),
        ("dissatisfaction", "thumbs_down_share", ("model",)),
        ("toxic-rate", "toxic_rate", ("app",)),
        ("response-pii", "response_pii_rate", ("app",)),
    } <= rules
    assert fmt_value("refusal_rate", 0.125) == "12.50%" and fmt_value("thumbs_down_share", 0.5) == "50.00%"


def _quality_window(i: int, groups: dict[Dims, Values], spec: SeriesSpec = BY_APP) -> WindowMetrics:
    return WindowMetrics(T0 + i * W, T0 + (i + 1) * W, {spec: groups})


def _feed(engine: AlertEngine, windows: list[WindowMetrics]) -> list[AlertEvent]:
    events: list[AlertEvent] = []
    for wm in windows:
        events += engine.on_window(wm.window_start_ms, wm.window_end_ms, wm)
    return events


def _judged(app: str, judged: int, refusals: int) -> tuple[Dims, Values]:
    return (("app", app),), {"requests": float(judged), "quality_sampled": float(judged),
                             "refusal_rate": refusals / judged if judged else None}  # fmt: skip


def _normal_refusals(rng: np.random.Generator, windows: int, judged: int = 30, p: float = 0.01) -> list[WindowMetrics]:
    return [_quality_window(i, dict([_judged("chat", judged, int(rng.binomial(judged, p)))])) for i in range(windows)]


def test_an_app_that_starts_refusing_pages_a_handful_does_not() -> None:
    rng = np.random.default_rng(11)
    history = _normal_refusals(rng, 40)  # about 30 answers judged a minute, 1% refusals
    engine = AlertEngine(default_config())
    assert _feed(engine, history) == []
    # two refusals of three answers judged: 67%, but three answers say little
    assert _feed(engine, [_quality_window(40, dict([_judged("chat", 3, 2)]))]) == []
    spike = [_quality_window(41 + i, dict([_judged("chat", 30, 10)])) for i in range(3)]  # a third refused
    fired = _feed(engine, spike)
    assert [(e.rule, e.metric, e.dimensions, e.status) for e in fired] == [
        ("refusal-rate", "refusal_rate", {"app": "chat"}, "firing")
    ]
    assert fired[0].window_start_ms == spike[0].window_start_ms  # in the first window of the spike
    assert "refusal_rate of app=chat is 33.33%" in fired[0].summary
    back = [_quality_window(44 + i, dict([_judged("chat", 30, 0)])) for i in range(6)]
    assert [(e.rule, e.status) for e in _feed(engine, back)] == [("refusal-rate", "resolved")]


def test_refusals_are_judged_out_of_the_answers_judged_not_all_calls() -> None:
    """2 refusals of 6 answers judged (among 300 calls) are two refusals, not a third of 300 calls."""
    rng = np.random.default_rng(12)
    engine = AlertEngine(default_config())

    def window(i: int, judged: int, refusals: int) -> WindowMetrics:
        values: Values = {"requests": 300.0, "quality_sampled": float(judged), "refusal_rate": refusals / judged}
        return _quality_window(i, {(("app", "chat"),): values})

    assert _feed(engine, [window(i, 30, int(rng.binomial(30, 0.01))) for i in range(40)]) == []
    assert _feed(engine, [window(40, 6, 2)]) == []
    assert [e.metric for e in _feed(engine, [window(41, 30, 12)])] == ["refusal_rate"]


@pytest.mark.parametrize(
    ("metric", "trials", "spec", "rule", "normal", "per_window", "incident"),
    [
        ("thumbs_down_share", "thumbs", BY_MODEL, "dissatisfaction", 0.15, 20, 0.6),  # satisfaction drops
        ("toxic_rate", "models_sampled", BY_APP, "toxic-rate", 0.01, 40, 0.3),
        ("response_pii_rate", "quality_calls", BY_APP, "response-pii", 0.002, 50, 0.2),
    ],
)
def test_other_quality_rates_page_on_a_spike_against_their_own_baseline(
    metric: str, trials: str, spec: SeriesSpec, rule: str, normal: float, per_window: int, incident: float
) -> None:
    rng = np.random.default_rng(13)
    dims: Dims = ((spec.group_by[0], "x"),)
    engine = AlertEngine(default_config())

    def window(i: int, p: float) -> WindowMetrics:
        count = int(rng.binomial(per_window, p))
        return _quality_window(i, {dims: {"requests": float(per_window), trials: float(per_window),
                                          metric: count / per_window}}, spec)  # fmt: skip

    assert _feed(engine, [window(i, normal) for i in range(60)]) == []  # its own baseline: no alert
    fired = _feed(engine, [window(60 + i, incident) for i in range(2)])
    assert [(e.rule, e.metric, e.dimensions, e.status) for e in fired] == [(rule, metric, dict(dims), "firing")]
