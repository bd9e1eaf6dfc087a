"""The metric catalogue: which metrics the alert rules can watch, over which dimensions, and how each
value is computed from the sums and sketches of the one-minute rollup tables: ``llm_call_rollups_1m``
(calls, errors, latency, tokens, cost) and ``llm_quality_rollups_1m`` (quality signals and feedback).

Pure: nothing here reads the store. A metric's ``sql`` is its definition as an aggregate over the rows of
its ``table``; ``llmpulse.alerting.series`` turns a cut of the catalogue into one query per table and reads
them. Rollup rows are partial: one window of one (provider, model, app, team) may have several rows, so
every metric is an aggregate over the rows of a group. Percentiles at any grouping come from merging the
DDSketches (``llmpulse_quantile(sumMap(latency_sketch), 0.95)``), never from averaging percentiles.

A *rate* names its ``trials``: the count metric it is a share of (errors per call, refusals per judged
answer, thumbs down per thumbs given). Count-aware rules test the rate's count against those trials.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

# the windows the rules evaluate are the stream jobs' windows
from llmpulse.stream_jobs.windows import WINDOW_MS as WINDOW_MS

MINUTE_MS = 60_000  # a unit: metrics per minute / per hour are scaled by the window's minutes
ROLLUP_DIMS = ("provider", "model", "app", "team")
BudgetScope = Literal["team", "app", "user"]

Dims = tuple[tuple[str, str], ...]  # sorted (dimension, value) pairs: one group of a series
Values = dict[str, float | None]  # metric -> value (None: no data, e.g. no TTFT in the window)


CALL_ROLLUPS = "llm_call_rollups_1m"
QUALITY_ROLLUPS = "llm_quality_rollups_1m"
#: each rollup table's count of calls (the ``calls`` shown beside a value in an alert's query)
TABLE_CALLS = {CALL_ROLLUPS: "sum(requests)", QUALITY_ROLLUPS: "sum(calls)"}


@dataclass(frozen=True)
class Metric:
    sql: str  # aggregate expression over rollup rows; {minutes} = window length in minutes
    additive: bool  # a volume summed over calls: a window without calls is 0, not "no data"
    help: str
    quantile: float | None = None  # a percentile of the window's calls (set by its few slowest calls)
    table: str = CALL_ROLLUPS  # the rollup table whose rows ``sql`` aggregates
    trials: str | None = None  # a rate: the count metric it is a share of (its denominator)
    typical_rate: float = 0.005  # a rate: its usual level before a series shows its own (a weak prior)
    calls: str = "requests"  # the count of calls the value is computed from (TTFT: the calls that streamed)

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
    "error_rate": Metric(_per_call("sum(errors)"), False, "errors / requests", trials="requests"),
    "latency_avg_ms": Metric(_per_call("sum(latency_sum_ms)"), False, "mean latency per call"),
    "latency_p50_ms": Metric(_quantile("latency_sketch", "0.5"), False, "median latency", 0.5),
    "latency_p95_ms": Metric(_quantile("latency_sketch", "0.95"), False, "95th percentile latency", 0.95),
    "latency_p99_ms": Metric(_quantile("latency_sketch", "0.99"), False, "99th percentile latency", 0.99),
    "ttft_p50_ms": Metric(
        _quantile("ttft_sketch", "0.5"), False, "median time to first token", 0.5, calls="ttft_calls"
    ),
    "ttft_p95_ms": Metric(
        _quantile("ttft_sketch", "0.95"), False, "95th percentile time to first token", 0.95, calls="ttft_calls"
    ),
    "ttft_p99_ms": Metric(
        _quantile("ttft_sketch", "0.99"), False, "99th percentile time to first token", 0.99, calls="ttft_calls"
    ),
    "ttft_calls": Metric("toFloat64(sum(ttft_count))", True, "calls with a time to first token (streamed)"),
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


def _count(column: str, help_text: str) -> Metric:
    return Metric(f"toFloat64(sum({column}))", True, help_text, table=QUALITY_ROLLUPS)


def _share(numerator: str, trials: str, help_text: str, typical_rate: float) -> Metric:
    """``numerator`` (columns summed) over the quality metric ``trials``."""
    denominator = QUALITY_COUNTS[trials]
    return Metric(f"if({denominator} = 0, NULL, ({numerator}) / {denominator})", False, help_text,
                  table=QUALITY_ROLLUPS, trials=trials, typical_rate=typical_rate)  # fmt: skip


#: the trials of the quality rates: calls, answers judged by the rule-based and by the model-based signals,
#: and thumbs given (feedback is counted in the minute it was given, on the judged call's dimensions)
QUALITY_COUNTS = {
    "quality_calls": "sum(calls)",
    "quality_sampled": "sum(quality_sampled)",
    "models_sampled": "sum(models_sampled)",
    "thumbs": "(sum(thumbs_up) + sum(thumbs_down))",
}
METRICS.update({
    "quality_calls": _count("calls", "calls in the window (quality rollups)"),
    "quality_sampled": _count("quality_sampled", "answers judged by the rule-based quality signals"),
    "models_sampled": _count("models_sampled", "answers also judged by the quality models"),
    "thumbs": Metric(f"toFloat64{QUALITY_COUNTS['thumbs']}", True, "thumbs up and down given in the window",
                     table=QUALITY_ROLLUPS),
    "thumbs_down": _count("thumbs_down", "thumbs down given in the window"),
    "refusals": _count("refusals", "answers judged as refusals"),
    "prompt_injections": _count("prompt_injections", "prompts judged as injection attempts"),
    "responses_with_pii": _count("response_pii", "answers in which PII was found (text capture on)"),
    "refusal_rate": _share("sum(refusals)", "quality_sampled", "refusals / judged answers", 0.02),
    "empty_answer_rate": _share("sum(empty_answers)", "quality_sampled", "empty answers / judged answers", 0.01),
    "prompt_injection_rate": _share(
        "sum(prompt_injections)", "quality_sampled", "injection attempts / judged prompts", 0.005
    ),
    "truncation_rate": _share("sum(truncated)", "quality_calls", "answers cut at the token limit / calls", 0.02),
    "toxic_rate": _share("sum(toxic)", "models_sampled", "toxic prompts or answers / model-judged calls", 0.01),
    "negative_sentiment_rate": _share(
        "sum(negative_sentiment)", "models_sampled", "negative prompts / model-judged calls", 0.1
    ),
    "irrelevant_rate": _share("sum(irrelevant)", "models_sampled", "irrelevant answers / model-judged calls", 0.05),
    "thumbs_down_share": _share("sum(thumbs_down)", "thumbs", "thumbs down / thumbs given (dissatisfaction)", 0.2),
    "response_pii_rate": _share("sum(response_pii)", "quality_calls", "answers with PII / calls", 0.005),
})  # fmt: skip
RATE_METRICS = tuple(name for name, m in METRICS.items() if m.trials is not None)


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


def window_minutes(window_ms: int = WINDOW_MS) -> int:
    """The window length in whole minutes (the rollups cannot be cut finer)."""
    if window_ms <= 0 or window_ms % MINUTE_MS:
        raise ValueError("window_ms must be a whole number of minutes")
    return window_ms // MINUTE_MS


def metric_sql(metric: str, window_ms: int = WINDOW_MS) -> str:
    """The aggregate expression of ``metric`` over the rollup rows of one group and window."""
    return METRICS[metric].sql.replace("{minutes}", str(window_minutes(window_ms)))


# ---------------------------------------------------------------- the alert's query text


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ts_literal(ms: int) -> str:
    return "'" + datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") + "'"


def series_sql(metric: str, spec: SeriesSpec, dims: Dims, start_ms: int, end_ms: int) -> str:
    """Human SQL (literal values, for the alert's ``query`` field) showing one series around an incident."""
    conds = [f"window_start >= {_ts_literal(start_ms)}", f"window_start < {_ts_literal(end_ms)}"]
    conds += [f"{dim} IN ({', '.join(_quote(v) for v in values)})" for dim, values in spec.where]
    conds += [f"{dim} = {_quote(value)}" for dim, value in dims]
    table = METRICS[metric].table
    return (
        f"SELECT window_start, {metric_sql(metric)} AS value, {TABLE_CALLS[table]} AS calls FROM {table} "
        f"WHERE {' AND '.join(conds)} GROUP BY window_start ORDER BY window_start"
    )


# ---------------------------------------------------------------- calendar (budgets)


def day_start_ms(ms: int) -> int:
    return ms - ms % 86_400_000


def month_start_ms(ms: int) -> int:
    d = datetime.fromtimestamp(ms / 1000, UTC)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)


def next_month_start_ms(ms: int) -> int:
    d = datetime.fromtimestamp(month_start_ms(ms) / 1000, UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)
