"""llmpulse's Superset dashboards as code: writes the import bundle in ``bundle/`` (run it after editing).

Five dashboards, one per audience, on the documented tables and views of the ``llmpulse`` database:
Engineering, Spend, Alerts, Safety, Quality & UX. Percentiles come from the rollups' quantile sketches at
whatever time grain and grouping a chart asks for (``llmpulse_quantile(sumMap(latency_sketch), q)``), so they
are exact to the sketch's 0.5%, never averages of percentiles; rates are sums over sums at the chart's grain
(``sum(refusals) / sum(quality_sampled)``), never averages of per-minute rates. Each dashboard has a time range
filter and dimension filters (model, provider, team, app, prompt version where they apply).

    python infra/superset/make_bundle.py          # rewrites infra/superset/bundle/
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
BUNDLE = HERE / "bundle"
NAMESPACE = uuid.UUID("6f1c1f0e-5a39-4c55-9c62-2f1b7c1e0a11")
DATABASE = "llmpulse"
# the password is filled in at import time (setup.py); the bundle never holds one
URI_PLACEHOLDER = "clickhousedb://reader:XXXXXXXXXX@127.0.0.1:8123/llmpulse"


def uid(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


@dataclass
class Dataset:
    name: str
    dttm: str
    columns: dict[str, str]  # name -> ClickHouse type
    metrics: dict[str, str]  # name -> SQL expression
    sql: str | None = None  # a virtual dataset's query
    formats: dict[str, str] = field(default_factory=dict)  # metric -> d3 format

    @property
    def uuid(self) -> str:
        return uid(f"dataset:{self.name}")


ROLLUPS = Dataset(
    "llm_call_rollups_1m", "window_start",
    {"window_start": "DateTime", "provider": "String", "model": "String", "app": "String", "team": "String"},
    {
        "total_requests": "sum(requests)",
        "total_errors": "sum(errors)",
        "error_rate": "sum(errors) / nullIf(sum(requests), 0)",
        "latency_p50_ms": "llmpulse_quantile(sumMap(latency_sketch), 0.5)",
        "latency_p95_ms": "llmpulse_quantile(sumMap(latency_sketch), 0.95)",
        "latency_p99_ms": "llmpulse_quantile(sumMap(latency_sketch), 0.99)",
        "ttft_p50_ms": "llmpulse_quantile(sumMap(ttft_sketch), 0.5)",
        "ttft_p95_ms": "llmpulse_quantile(sumMap(ttft_sketch), 0.95)",
        "output_tokens_per_s": "sum(output_tokens) / nullIf(sum(latency_sum_ms) / 1000, 0)",
        "total_input_tokens": "sum(input_tokens)",
        "total_output_tokens": "sum(output_tokens)",
        "spend_usd": "toFloat64(sum(cost_usd))",
        "unpriced_calls": "sum(unpriced_requests)",
        "total_pii_detections": "sum(pii_detections)",
    },
    formats={"error_rate": ".2%", "spend_usd": "$,.2f", "output_tokens_per_s": ",.1f"},
)
CALLS = Dataset(
    "llm_calls", "ts",
    {"ts": "DateTime64(3)", "provider": "String", "model": "String", "app": "String", "team": "String",
     "status": "String", "error_type": "String", "user_id": "String", "pii_detections": "UInt16"},
    {"calls": "count()", "calls_with_pii": "countIf(pii_detections > 0)"},
)  # fmt: skip
DEAD_LETTERS = Dataset(
    "llm_dead_letters", "received_at",
    {"received_at": "DateTime64(3)", "reason": "String", "topic": "String"},
    {"dead_letters": "count()"},
)
USER_COST = Dataset(
    "llm_user_cost_1d", "day",
    {"day": "Date", "app": "String", "team": "String", "user_id": "String"},
    {"spend_usd": "toFloat64(sum(cost_usd))", "total_requests": "sum(requests)"},
    formats={"spend_usd": "$,.2f"},
)
INCIDENTS = Dataset(
    "llm_incidents", "fired_at",
    {"fired_at": "DateTime64(3)", "resolved_at": "DateTime64(3)", "ended_at": "DateTime64(3)", "kind": "String",
     "severity": "String", "rule": "String", "metric": "String", "team": "String", "dimensions": "String",
     "is_open": "UInt8", "summary": "String", "incident": "String"},
    {"incidents": "count()", "open_incidents": "countIf(is_open = 1)"},
    sql="""-- one row per incident (an alert that fired, and maybe resolved), from llm_alerts
SELECT dedup_key, kind, severity, rule, metric, team, dimensions, fired_at, resolved_at,
       ifNull(resolved_at, greatest(last_end, now64(3))) AS ended_at, isNull(resolved_at) AS is_open, summary,
       concat(metric, ' ', dimension_values) AS incident
FROM (
    SELECT a.dedup_key AS dedup_key, any(a.kind) AS kind, any(a.severity) AS severity, any(a.rule) AS rule,
           any(a.metric) AS metric, any(a.team) AS team, toString(any(a.dimensions)) AS dimensions,
           arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), mapKeys(any(a.dimensions)),
                                      mapValues(any(a.dimensions))), ',') AS dimension_values,
           minIf(a.window_end, a.status = 'firing') AS fired_at, max(a.window_end) AS last_end,
           if(countIf(a.status = 'resolved') > 0, maxIf(a.window_end, a.status = 'resolved'), NULL) AS resolved_at,
           argMax(a.summary, a.emitted_at) AS summary
    FROM llm_alerts AS a FINAL
    GROUP BY a.dedup_key, a.started_at
    HAVING countIf(a.status = 'firing') > 0
)""",
)  # fmt: skip
BUDGETS = Dataset(
    "llm_budget_burn", "as_of",
    {"as_of": "DateTime64(3)", "budget": "String", "subject": "String", "team": "String", "metric": "String",
     "spent_usd": "Float64", "limit_usd": "Float64", "burn": "Float64", "projected_usd": "Float64"},
    {"budgets": "count()"},
    sql="""-- each budget period's latest spend against its limit, from the budget alerts in llm_alerts
SELECT a.rule AS budget, toString(a.dimensions) AS subject, any(a.team) AS team, a.metric AS metric,
       max(a.window_end) AS as_of, max(a.observed) AS spent_usd, max(a.upper) AS limit_usd,
       max(a.observed) / nullIf(max(a.upper), 0) AS burn, max(a.expected) AS projected_usd
FROM llm_alerts AS a FINAL
WHERE a.kind = 'budget'
GROUP BY a.rule, a.dimensions, a.metric, a.started_at""",
    formats={"burn": ".1%"},
)  # fmt: skip
PII_TYPES = Dataset(
    "llm_pii_by_type", "ts",
    {"ts": "DateTime64(3)", "app": "String", "team": "String", "model": "String", "pii_type": "String"},
    {"detections": "count()"},
    sql="""-- redacted PII by type: the typed placeholders llmpulse left in attributes and captured texts
SELECT ts, app, team, model, pii_type
FROM llm_calls
ARRAY JOIN extractAll(concat(arrayStringConcat(mapValues(attributes), ' '), ' ', ifNull(prompt, ''), ' ',
                             ifNull(response, '')),
                      '<(EMAIL|PHONE|CREDIT_CARD|IBAN|US_SSN|NATIONAL_ID|IP_ADDRESS|SECRET|PERSON)>') AS pii_type
WHERE pii_detections > 0""",
)  # fmt: skip
# the rates of llm_quality_1m_v (migration 0003), as sums over sums so they hold at any grain and grouping: rule
# signals over the calls judged, model signals over the calls the models judged, truncation over all calls
QUALITY = Dataset(
    "llm_quality_rollups_1m", "window_start",
    {"window_start": "DateTime", "provider": "String", "model": "String", "app": "String", "team": "String",
     "prompt_version": "String"},
    {
        "total_calls": "sum(calls)",
        "judged_calls": "sum(quality_sampled)",
        "model_judged_calls": "sum(models_sampled)",
        "truncation_rate": "sum(truncated) / nullIf(sum(calls), 0)",
        "refusal_rate": "sum(refusals) / nullIf(sum(quality_sampled), 0)",
        "empty_answer_rate": "sum(empty_answers) / nullIf(sum(quality_sampled), 0)",
        "prompt_injection_attempts": "sum(prompt_injections)",
        "prompt_injection_rate": "sum(prompt_injections) / nullIf(sum(quality_sampled), 0)",
        "toxic_calls": "sum(toxic)",
        "toxic_rate": "sum(toxic) / nullIf(sum(models_sampled), 0)",
        "negative_sentiment_rate": "sum(negative_sentiment) / nullIf(sum(models_sampled), 0)",
        "irrelevant_rate": "sum(irrelevant) / nullIf(sum(models_sampled), 0)",
        "inconsistency_rate": "sum(inconsistent_answers) / nullIf(sum(repeated_prompts), 0)",
        "responses_with_pii": "sum(response_pii)",
        "feedback_count": "sum(feedback)",
        "thumbs_up_share": "sum(thumbs_up) / nullIf(sum(thumbs_up) + sum(thumbs_down), 0)",
        "mean_rating": "sum(rating_sum) / nullIf(sum(ratings), 0)",
    },
    formats={name: ".1%" for name in ("truncation_rate", "refusal_rate", "empty_answer_rate", "prompt_injection_rate",
                                      "toxic_rate", "negative_sentiment_rate", "irrelevant_rate",
                                      "inconsistency_rate", "thumbs_up_share")} | {"mean_rating": ",.2f"},
)  # fmt: skip
EVALUATIONS = Dataset(
    "llm_evaluation_rollups_1m", "window_start",
    {"window_start": "DateTime", "provider": "String", "model": "String", "app": "String", "team": "String",
     "prompt_version": "String", "name": "String"},
    {"evaluation_count": "sum(evaluations)", "mean_score": "sum(score_sum) / nullIf(sum(scored), 0)"},
    formats={"mean_score": ",.3f"},
)  # fmt: skip
SESSIONS = Dataset(
    "llm_sessions_v", "last_ts",
    {"session_id": "String", "app": "String", "team": "String", "model": "String", "first_ts": "DateTime64(3)",
     "last_ts": "DateTime64(3)", "calls": "UInt64", "errors": "UInt64", "last_status": "String",
     "abandoned": "Bool"},
    {"sessions": "count()", "calls_per_session": "sum(calls) / nullIf(count(), 0)",
     "abandoned_sessions": "countIf(abandoned)", "abandonment_rate": "countIf(abandoned) / nullIf(count(), 0)"},
    formats={"calls_per_session": ",.2f", "abandonment_rate": ".1%"},
)  # fmt: skip
FLAGGED = Dataset(
    "llm_flagged_calls", "ts",
    {"ts": "DateTime64(3)", "event_id": "String", "provider": "String", "model": "String", "app": "String",
     "team": "String", "prompt_version": "String", "flagged": "String", "toxicity_prompt": "Float32",
     "toxicity_response": "Float32"},
    {"flagged_calls": "count()"},
    sql="""-- the calls judged toxic or a prompt injection (no texts: look a call up by its event_id)
SELECT ts, event_id, provider, model, app, team, attributes['prompt_version'] AS prompt_version,
       arrayStringConcat(arrayFilter(f -> f != '', [if(toxic, 'toxic', ''),
                                                    if(prompt_injection, 'prompt injection', '')]), ', ') AS flagged,
       toxicity_prompt, toxicity_response
FROM llm_calls
WHERE toxic OR prompt_injection""",
)  # fmt: skip
DATASETS = [ROLLUPS, CALLS, DEAD_LETTERS, USER_COST, INCIDENTS, BUDGETS, PII_TYPES, QUALITY, EVALUATIONS, SESSIONS,
            FLAGGED]


@dataclass
class Chart:
    title: str
    dataset: Dataset
    viz: str
    params: dict[str, Any]
    width: int = 4
    height: int = 50

    @property
    def uuid(self) -> str:
        return uid(f"chart:{self.title}")


def time_filter(ds: Dataset) -> dict[str, Any]:
    return {"clause": "WHERE", "subject": ds.dttm, "operator": "TEMPORAL_RANGE", "comparator": "No filter",
            "expressionType": "SIMPLE"}  # fmt: skip


def sql_filter(expression: str) -> dict[str, Any]:
    return {"clause": "WHERE", "expressionType": "SQL", "sqlExpression": expression}


def timeseries(title: str, ds: Dataset, metrics: list[str], groupby: list[str], *, kind: str = "line",
               grain: str = "PT1M", fmt: str = "SMART_NUMBER", filters: list[dict[str, Any]] = (),  # type: ignore[assignment]
               width: int = 6) -> Chart:  # fmt: skip
    viz = "echarts_timeseries_line" if kind == "line" else "echarts_timeseries_bar"
    params = {"x_axis": ds.dttm, "time_grain_sqla": grain, "metrics": metrics, "groupby": groupby,
              "adhoc_filters": [time_filter(ds), *filters], "order_desc": True, "row_limit": 10000,
              "truncate_metric": True, "show_legend": True, "legendType": "scroll", "legendOrientation": "top",
              "rich_tooltip": True, "y_axis_format": fmt, "x_axis_time_format": "smart_date",
              "tooltipTimeFormat": "smart_date", "color_scheme": "supersetColors", "only_total": True,
              "zoomable": True, "markerEnabled": False}  # fmt: skip
    if kind == "bar":
        params.update({"stack": "Stack", "orientation": "vertical"})
    else:
        params.update({"seriesType": "line"})
    return Chart(title, ds, viz, params, width=width)


def categorical_bar(title: str, ds: Dataset, x: str, metrics: list[str], groupby: list[str] = (),  # type: ignore[assignment]
                    filters: list[dict[str, Any]] = (), fmt: str = "SMART_NUMBER", width: int = 6,  # type: ignore[assignment]
                    stack: bool = True) -> Chart:  # fmt: skip
    """Bars per ``x``, one per ``groupby`` value: stacked for counts, side by side (``stack=False``) for means."""
    params = {"x_axis": x, "metrics": metrics, "groupby": list(groupby), "adhoc_filters": [time_filter(ds), *filters],
              "row_limit": 10000, "order_desc": True, "stack": "Stack" if stack else None, "orientation": "vertical",
              "show_legend": True, "legendType": "scroll", "legendOrientation": "top", "rich_tooltip": True,
              "y_axis_format": fmt, "color_scheme": "supersetColors", "x_axis_sort_asc": True,
              "only_total": True, "truncate_metric": True}  # fmt: skip
    return Chart(title, ds, "echarts_timeseries_bar", params, width=width)


def table(title: str, ds: Dataset, groupby: list[str], metrics: list[str], *, sort: str | None = None,
          limit: int = 100, width: int = 6, filters: list[dict[str, Any]] = ()) -> Chart:  # type: ignore[assignment]  # fmt: skip
    params = {"query_mode": "aggregate", "groupby": groupby, "metrics": metrics, "all_columns": [],
              "percent_metrics": [], "adhoc_filters": [time_filter(ds), *filters], "row_limit": limit,
              "server_page_length": 10, "order_desc": True, "table_timestamp_format": "smart_date",
              "show_cell_bars": True, "color_pn": True}  # fmt: skip
    if sort:
        params["timeseries_limit_metric"] = sort
    return Chart(title, ds, "table", params, width=width)


def raw_table(title: str, ds: Dataset, columns: list[str], order: str, *, width: int = 12,
              filters: list[dict[str, Any]] = (),  # type: ignore[assignment]
              formats: dict[str, str] | None = None) -> Chart:  # fmt: skip
    params = {"column_config": {c: {"d3NumberFormat": f} for c, f in (formats or {}).items()},
              "query_mode": "raw", "all_columns": columns, "groupby": [], "metrics": [], "percent_metrics": [],
              "order_by_cols": [f'["{order}", false]'], "adhoc_filters": [time_filter(ds), *filters],
              "row_limit": 1000, "server_page_length": 10, "table_timestamp_format": "%Y-%m-%d %H:%M",
              "show_cell_bars": False}  # fmt: skip
    return Chart(title, ds, "table", params, width=width)


def pie(title: str, ds: Dataset, groupby: list[str], metric: str, fmt: str = "SMART_NUMBER", width: int = 6) -> Chart:
    params = {"groupby": groupby, "metric": metric, "adhoc_filters": [time_filter(ds)], "row_limit": 100,
              "sort_by_metric": True, "show_legend": True, "legendType": "scroll", "legendOrientation": "top",
              "label_type": "key_percent", "number_format": fmt, "show_labels": True, "labels_outside": True,
              "donut": True, "innerRadius": 40, "outerRadius": 70, "color_scheme": "supersetColors"}  # fmt: skip
    return Chart(title, ds, "pie", params, width=width)


def big_number(title: str, ds: Dataset, metric: str, subtitle: str, filters: list[dict[str, Any]] = (),  # type: ignore[assignment]
               width: int = 3, fmt: str = "SMART_NUMBER") -> Chart:  # fmt: skip
    params = {"metric": metric, "adhoc_filters": [time_filter(ds), *filters], "header_font_size": 0.4,
              "subheader_font_size": 0.15, "y_axis_format": fmt, "subheader": subtitle}  # fmt: skip
    return Chart(title, ds, "big_number_total", params, width=width)


@dataclass
class Dashboard:
    title: str
    slug: str
    rows: list[list[Chart]]
    filters: list[str]  # dimension columns offered as filters (besides the time range)

    @property
    def charts(self) -> list[Chart]:
        return [c for row in self.rows for c in row]


DASHBOARDS = [
    Dashboard("LLM Engineering", "llmpulse-engineering", [
        [big_number("Requests", ROLLUPS, "total_requests", "LLM calls in the time range"),
         big_number("Error rate", ROLLUPS, "error_rate", "errors / requests"),
         timeseries("Requests per minute by model", ROLLUPS, ["total_requests"], ["model"], width=6)],
        [timeseries("Error rate by provider", ROLLUPS, ["error_rate"], ["provider"], fmt=".1%"),
         categorical_bar("Errors by provider and error type", CALLS, "provider", ["calls"], ["error_type"],
                         filters=[sql_filter("status = 'error'")])],
        [table("Latency, TTFT and throughput per model", ROLLUPS, ["model"],
               ["total_requests", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms",
                "output_tokens_per_s", "error_rate"], sort="total_requests", width=12)],
        [timeseries("p95 latency by model (ms)", ROLLUPS, ["latency_p95_ms"], ["model"], grain="PT5M"),
         timeseries("p95 time to first token by model (ms)", ROLLUPS, ["ttft_p95_ms"], ["model"], grain="PT5M")],
        [timeseries("Output tokens per second by model", ROLLUPS, ["output_tokens_per_s"], ["model"], grain="PT5M"),
         categorical_bar("Dead letters by reason", DEAD_LETTERS, "reason", ["dead_letters"])],
    ], ["model", "provider", "team", "app"]),
    Dashboard("LLM Spend", "llmpulse-spend", [
        [big_number("Spend (USD)", ROLLUPS, "spend_usd", "priced calls, cache-aware"),
         big_number("Unpriced calls", ROLLUPS, "unpriced_calls", "models without a known price"),
         timeseries("Cost by team (USD per 5 minutes)", ROLLUPS, ["spend_usd"], ["team"], kind="bar", grain="PT5M",
                    fmt="$,.2f")],
        [pie("Cost by app", ROLLUPS, ["app"], "spend_usd", fmt="$,.2f"),
         categorical_bar("Cost by model", ROLLUPS, "model", ["spend_usd"], fmt="$,.2f")],
        [table("Top users by cost", USER_COST, ["user_id", "team", "app"], ["spend_usd", "total_requests"],
               sort="spend_usd", limit=20),
         raw_table("Budget burn against limits", BUDGETS,
                   ["budget", "subject", "metric", "spent_usd", "limit_usd", "burn", "projected_usd", "as_of"],
                   "burn", width=6, formats={"spent_usd": "$,.2f", "limit_usd": "$,.2f", "burn": ".0%",
                                             "projected_usd": "$,.2f"})],
        [categorical_bar("Unpriced calls by model", ROLLUPS, "model", ["unpriced_calls"], width=12)],
    ], ["team", "app", "model", "provider"]),
    Dashboard("LLM Alerts", "llmpulse-alerts", [
        [big_number("Open incidents", INCIDENTS, "open_incidents", "fired and not resolved"),
         big_number("Incidents fired", INCIDENTS, "incidents", "in the time range"),
         categorical_bar("Open incidents by severity and team", INCIDENTS, "severity", ["open_incidents"], ["team"])],
        [Chart("Incident timeline", INCIDENTS, "gantt_chart", {
            "start_time": "fired_at", "end_time": "ended_at", "y_axis": "incident", "series": "kind",
            "subcategories": False, "tooltip_columns": ["severity", "team", "summary"],
            "adhoc_filters": [time_filter(INCIDENTS)], "order_by_cols": ['["fired_at", true]'], "row_limit": 1000,
            "color_scheme": "supersetColors", "show_legend": True, "legendType": "plain",
            "legendOrientation": "top", "zoomable": True, "x_axis_time_format": "smart_date",
            "tooltipTimeFormat": "smart_date", "y_axis_title_margin": 50}, width=12, height=60)],
        [raw_table("Incidents", INCIDENTS, ["fired_at", "resolved_at", "kind", "severity", "metric", "dimensions",
                                            "team", "summary"], "fired_at")],
        [timeseries("Incidents fired per 5 minutes by kind", INCIDENTS, ["incidents"], ["kind"], kind="bar",
                    grain="PT5M", width=12)],
    ], ["team", "kind", "severity"]),
    Dashboard("LLM Safety", "llmpulse-safety", [
        [big_number("PII detections", ROLLUPS, "total_pii_detections", "items redacted before storage"),
         big_number("Calls with PII", CALLS, "calls_with_pii", "calls whose texts or attributes held PII"),
         pie("PII detections by type", PII_TYPES, ["pii_type"], "detections")],
        [timeseries("PII detections by app", ROLLUPS, ["total_pii_detections"], ["app"], kind="bar", grain="PT5M"),
         categorical_bar("PII by app and type", PII_TYPES, "app", ["detections"], ["pii_type"])],
        [big_number("Toxic rate", QUALITY, "toxic_rate", "toxic / calls the models judged", fmt=".1%"),
         big_number("Prompt-injection attempts", QUALITY, "prompt_injection_attempts", "among the calls judged"),
         big_number("Responses with PII", QUALITY, "responses_with_pii", "answers that held PII (redacted)"),
         big_number("Flagged calls", FLAGGED, "flagged_calls", "toxic or prompt injection")],
        [timeseries("Toxic rate by app", QUALITY, ["toxic_rate"], ["app"], grain="PT5M", fmt=".1%"),
         timeseries("Toxic rate by model", QUALITY, ["toxic_rate"], ["model"], grain="PT5M", fmt=".1%")],
        [timeseries("Prompt-injection attempts by app", QUALITY, ["prompt_injection_attempts"], ["app"], kind="bar",
                    grain="PT5M"),
         timeseries("Prompt-injection rate by model", QUALITY, ["prompt_injection_rate"], ["model"], grain="PT5M",
                    fmt=".1%")],
        [timeseries("Responses with PII by app", QUALITY, ["responses_with_pii"], ["app"], kind="bar", grain="PT5M"),
         timeseries("PII detections by model", ROLLUPS, ["total_pii_detections"], ["model"], kind="bar",
                    grain="PT5M")],
        [raw_table("Latest calls flagged toxic or prompt injection", FLAGGED,
                   ["ts", "flagged", "app", "model", "provider", "team", "prompt_version", "toxicity_prompt",
                    "toxicity_response", "event_id"], "ts", formats={"toxicity_prompt": ".2f",
                                                                     "toxicity_response": ".2f"})],
    ], ["app", "team", "model"]),
    Dashboard("LLM Quality & UX", "llmpulse-quality", [
        [big_number("Feedback", QUALITY, "feedback_count", "thumbs and ratings given"),
         big_number("Thumbs-up share", QUALITY, "thumbs_up_share", "thumbs up / thumbs given", fmt=".1%"),
         big_number("Mean rating", QUALITY, "mean_rating", "of the ratings given", fmt=",.2f"),
         big_number("Refusal rate", QUALITY, "refusal_rate", "refusals / calls judged", fmt=".1%")],
        [timeseries("Feedback per hour by app", QUALITY, ["feedback_count"], ["app"], kind="bar", grain="PT1H"),
         timeseries("Thumbs-up share by model", QUALITY, ["thumbs_up_share"], ["model"], grain="PT1H", fmt=".0%")],
        [timeseries("Mean rating by model", QUALITY, ["mean_rating"], ["model"], grain="PT1H", fmt=",.2f"),
         timeseries("Thumbs-up share by prompt version", QUALITY, ["thumbs_up_share"], ["prompt_version"],
                    grain="PT1H", fmt=".0%")],
        [table("Satisfaction by app, model and prompt version", QUALITY, ["app", "model", "prompt_version"],
               ["feedback_count", "thumbs_up_share", "mean_rating"], sort="feedback_count", width=12)],
        [timeseries("Refusal rate by model", QUALITY, ["refusal_rate"], ["model"], grain="PT5M", fmt=".1%"),
         timeseries("Empty-answer rate by model", QUALITY, ["empty_answer_rate"], ["model"], grain="PT5M",
                    fmt=".1%")],
        [timeseries("Truncation rate by model", QUALITY, ["truncation_rate"], ["model"], grain="PT5M", fmt=".1%"),
         timeseries("Irrelevant-answer rate by model", QUALITY, ["irrelevant_rate"], ["model"], grain="PT5M",
                    fmt=".1%")],
        [timeseries("Inconsistency rate by model", QUALITY, ["inconsistency_rate"], ["model"], grain="PT5M",
                    fmt=".1%"),
         timeseries("Refusal rate by app", QUALITY, ["refusal_rate"], ["app"], grain="PT5M", fmt=".1%")],
        [table("Answer quality by app and model", QUALITY, ["app", "model"],
               ["total_calls", "judged_calls", "refusal_rate", "empty_answer_rate", "truncation_rate",
                "irrelevant_rate", "inconsistency_rate", "negative_sentiment_rate"], sort="total_calls", width=12)],
        [categorical_bar("Mean evaluation score by evaluation and model", EVALUATIONS, "name", ["mean_score"],
                         ["model"], stack=False),
         timeseries("Mean evaluation score by evaluation", EVALUATIONS, ["mean_score"], ["name"], grain="PT1H")],
        [categorical_bar("Calls per session by app", SESSIONS, "app", ["calls_per_session"], fmt=",.2f"),
         categorical_bar("Session abandonment rate by app", SESSIONS, "app", ["abandonment_rate"], fmt=".1%")],
    ], ["model", "app", "prompt_version", "team", "provider"]),
]


def dataset_yaml(ds: Dataset) -> dict[str, Any]:
    columns = [{"column_name": name, "verbose_name": None, "is_dttm": name == ds.dttm or type_.startswith("Date"),
                "is_active": True, "type": type_, "advanced_data_type": None, "groupby": True, "filterable": True,
                "expression": None, "description": None, "python_date_format": None, "extra": {}}
               for name, type_ in ds.columns.items()]  # fmt: skip
    metrics = [{"metric_name": name, "verbose_name": name.replace("_", " "), "metric_type": None,
                "expression": expr, "description": None, "d3format": ds.formats.get(name), "currency": None,
                "extra": {}, "warning_text": None} for name, expr in ds.metrics.items()]  # fmt: skip
    return {"table_name": ds.name, "main_dttm_col": ds.dttm, "description": None, "default_endpoint": None,
            "offset": 0, "cache_timeout": None, "catalog": None, "schema": DATABASE, "sql": ds.sql,
            "params": None, "template_params": None, "filter_select_enabled": True, "fetch_values_predicate": None,
            "extra": None, "normalize_columns": False, "always_filter_main_dttm": False, "uuid": ds.uuid,
            "metrics": metrics, "columns": columns, "version": "1.0.0", "database_uuid": uid("database")}  # fmt: skip


def chart_yaml(chart: Chart, chart_id: int) -> dict[str, Any]:
    params = {"datasource": f"{chart_id}__table", "viz_type": chart.viz, **chart.params, "extra_form_data": {},
              "dashboards": []}  # fmt: skip
    return {"slice_name": chart.title, "description": None, "certified_by": None, "certification_details": None,
            "viz_type": chart.viz, "params": params, "query_context": None, "cache_timeout": None,
            "uuid": chart.uuid, "version": "1.0.0", "dataset_uuid": chart.dataset.uuid}  # fmt: skip


def dashboard_yaml(dash: Dashboard, ids: dict[str, int]) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"children": ["GRID_ID"], "id": "ROOT_ID", "type": "ROOT"},
        "HEADER_ID": {"id": "HEADER_ID", "meta": {"text": dash.title}, "type": "HEADER"},
        "GRID_ID": {"children": [], "id": "GRID_ID", "parents": ["ROOT_ID"], "type": "GRID"},
    }
    for r, row in enumerate(dash.rows):
        row_id = f"ROW-{dash.slug}-{r}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"children": [], "id": row_id, "meta": {"background": "BACKGROUND_TRANSPARENT"},
                            "parents": ["ROOT_ID", "GRID_ID"], "type": "ROW"}  # fmt: skip
        for chart in row:
            chart_key = f"CHART-{chart.uuid[:12]}"
            position[row_id]["children"].append(chart_key)
            position[chart_key] = {"children": [], "id": chart_key, "parents": ["ROOT_ID", "GRID_ID", row_id],
                                   "type": "CHART", "meta": {"chartId": ids[chart.uuid], "height": chart.height,
                                                             "sliceName": chart.title, "uuid": chart.uuid,
                                                             "width": chart.width}}  # fmt: skip
    all_ids = [ids[c.uuid] for c in dash.charts]
    filters: list[dict[str, Any]] = [{
        "id": f"NATIVE_FILTER-{dash.slug}-time", "name": "Time range", "filterType": "filter_time",
        "type": "NATIVE_FILTER", "targets": [{}], "controlValues": {}, "cascadeParentIds": [],
        "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
        "scope": {"rootPath": ["ROOT_ID"], "excluded": []}, "chartsInScope": all_ids, "tabsInScope": [],
        "description": "", "requiredFirst": False,
    }]  # fmt: skip
    for column in dash.filters:
        source = next(c.dataset for c in dash.charts if column in c.dataset.columns)
        in_scope = [ids[c.uuid] for c in dash.charts if column in c.dataset.columns]
        filters.append({
            "id": f"NATIVE_FILTER-{dash.slug}-{column}", "name": column.capitalize(), "filterType": "filter_select",
            "type": "NATIVE_FILTER", "targets": [{"column": {"name": column}, "datasetUuid": source.uuid}],
            "controlValues": {"enableEmptyFilter": False, "defaultToFirstItem": False, "multiSelect": True,
                              "searchAllOptions": False, "inverseSelection": False},
            "cascadeParentIds": [], "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
            "scope": {"rootPath": ["ROOT_ID"], "excluded": [i for i in all_ids if i not in in_scope]},
            "chartsInScope": in_scope, "tabsInScope": [], "description": "", "requiredFirst": False,
        })  # fmt: skip
    metadata = {"color_scheme": "supersetColors", "refresh_frequency": 0, "expanded_slices": {},
                "timed_refresh_immune_slices": [], "cross_filters_enabled": True, "default_filters": "{}",
                "chart_configuration": {}, "native_filter_configuration": filters,
                "global_chart_configuration": {"scope": {"rootPath": ["ROOT_ID"], "excluded": []},
                                               "chartsInScope": all_ids}}  # fmt: skip
    return {"dashboard_title": dash.title, "description": None, "css": "", "slug": dash.slug,
            "certified_by": None, "certification_details": None, "published": True,
            "uuid": uid(f"dashboard:{dash.slug}"), "position": position, "metadata": metadata,
            "version": "1.0.0"}  # fmt: skip


def write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# generated by infra/superset/make_bundle.py: edit that, then run it\n"
                    + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))  # fmt: skip


def build(out: Path = BUNDLE) -> None:
    if out.exists():
        shutil.rmtree(out)
    write(out / "metadata.yaml", {"version": "1.0.0", "timestamp": "2026-11-29T00:00:00+00:00"})
    write(out / "databases" / "llmpulse.yaml", {
        "database_name": DATABASE, "sqlalchemy_uri": URI_PLACEHOLDER, "cache_timeout": None,
        "expose_in_sqllab": True, "allow_run_async": False, "allow_ctas": False, "allow_cvas": False,
        "allow_dml": False, "allow_file_upload": False, "extra": {"allows_virtual_table_explore": True},
        "impersonate_user": False, "uuid": uid("database"), "version": "1.0.0",
    })  # fmt: skip
    for ds in DATASETS:
        write(out / "datasets" / DATABASE / f"{ds.name}.yaml", dataset_yaml(ds))
    ids: dict[str, int] = {}
    for dash in DASHBOARDS:
        for chart in dash.charts:
            ids.setdefault(chart.uuid, len(ids) + 1)
            write(out / "charts" / f"{chart.title.replace(' ', '_').replace('/', '_')}_{ids[chart.uuid]}.yaml",
                  chart_yaml(chart, ids[chart.uuid]))  # fmt: skip
        write(out / "dashboards" / f"{dash.slug}.yaml", dashboard_yaml(dash, ids))


if __name__ == "__main__":
    build()
    print(f"wrote {BUNDLE}")
