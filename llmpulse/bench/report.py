"""The README's performance table from one ``llmpulse bench --json`` result.

``python -m llmpulse.bench.report benchmarks/results/bench-DATE.json`` prints the Markdown table; every
figure in it comes from that one file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{round(value):,}"


def _verdict(value: Any, op: str, target: float) -> str:
    if value is None:
        return "n/a"
    ok = value >= target if op == ">=" else value <= target
    return f"{op} {target:,g} ({'met' if ok else '**missed**'})"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    g = r.get
    out = [
        (f"`pipeline_eps`: {_n(g('pipeline_events'))} events over {g('pipeline_event_time_windows')} one-minute "
         f"windows of event time, from the first `Monitor.record()` to the last call row and rollup visible in "
         f"ClickHouse; realistic traffic (2-6 attributes, sessions, 3% errors, streaming, cache and reasoning "
         f"tokens, 50 teams x 10 models x 20 apps); every default on, alert evaluation with warm detectors "
         f"({g('history_windows')} windows of history) evaluating each window",
         f"**{_n(g('pipeline_eps'))} events/s** ({g('pipeline_seconds')} s)",
         _verdict(g("pipeline_eps"), ">=", 50_000)),
        ("`pipeline_worker_cpu_us_per_event`: CPU the worker used per event (all threads, alerting included)",
         f"{_n(g('pipeline_worker_cpu_us_per_event'), 1)} µs", ""),
        ("`alert_lag_windows_max`: how many closed windows alert evaluation trailed, at worst, during the run "
         f"(windows evaluated during the run: {g('pipeline_alert_windows_evaluated')}; caught up "
         f"{g('pipeline_alert_catch_up_seconds')} s after the last row)", f"{g('alert_lag_windows_max')}", ""),
        ("`raw_consume_eps`: the ceiling: the worker's own decoder (threaded Arrow parse and contract checks) on "
         "the same records, nothing else", f"{_n(g('raw_consume_eps'))} events/s", "(ceiling)"),
        ("`pipeline_eps / raw_consume_eps`", f"{g('pipeline_to_raw_ratio')}", ""),
        (f"`pipeline_eps_capture`: {_n(g('capture_events'))} events with text capture and PII redaction on "
         f"(prompts {_n(g('capture_prompt_chars_mean'))} characters on average, responses "
         f"{_n(g('capture_response_chars_mean'))})", f"**{_n(g('pipeline_eps_capture'))} events/s** "
         f"({g('capture_to_pipeline_ratio')} of `pipeline_eps`)", _verdict(g("capture_to_pipeline_ratio"), ">=", 0.5)),
        ("`worker_peak_rss_mb` (text capture off / on)",
         f"**{_n(g('worker_peak_rss_mb'))} / {_n(g('worker_peak_rss_mb_capture'))} MiB**",
         _verdict(g("worker_peak_rss_mb"), "<=", 1024)),
        ("`producer_record_us_p50` / `p99`: `Monitor.record()` of a pre-built dict",
         f"{g('producer_record_us_p50')} / {g('producer_record_us_p99')} µs",
         _verdict(g("producer_record_us_p99"), "<=", 50)),
        ("`producer_event_us_p50` / `p99`: build `LLMCallEvent(...)` and `record()` it",
         f"**{g('producer_event_us_p50')} / {g('producer_event_us_p99')} µs**", ""),
        ("`producer_track_us_p50` / `p99`: `with monitor.track(...)` around a no-op call, usage set",
         f"**{g('producer_track_us_p50')} / {g('producer_track_us_p99')} µs**", ""),
        (f"`producer_record_us_p99_broker_down`: broker paused, default buffer ({_n(g('producer_buffer_events'))} "
         f"events), {_n(g('producer_sent_while_down'))} events recorded: "
         f"{_n(g('producer_dropped_while_down'))} dropped and counted",
         f"**{g('producer_record_us_p99_broker_down')} µs**",
         _verdict(g("producer_record_us_p99_broker_down"), "<=", 50)),
        ("`p99_rel_error_max`: rollup p50/p95/p99 against exact quantiles over the raw rows",
         f"{g('p99_rel_error_max')}", _verdict(g("p99_rel_error_max"), "<=", 0.01)),
    ]  # fmt: skip
    if "query_ms" in r:
        q = r["query_ms"]
        out.append((f"`query_ms` at {_n(g('query_store_calls'))} calls: p95 per model per minute over a day / cost "
                    "per team per day over 30 days / top users by cost", " / ".join(f"{v} ms" for v in q.values()),
                    "<= 200 each"))  # fmt: skip
    if "soak_seconds" in r:
        out.append((f"soak: {_n(g('soak_seconds'))} s at {_n(g('soak_rate_eps'))} events/s, event time at real speed: "
                    f"`rss_growth_pct` from the first sample ({g('rss_mb_start')} → {g('rss_mb_end')} MiB)",
                    f"{g('rss_growth_pct')}%", "<= 10"))  # fmt: skip
        out.append(("soak `max_consumer_lag` (records), first half / second half; `soak_ok`",
                    f"{g('max_consumer_lag_first_half')} / {g('max_consumer_lag_second_half')}; {g('soak_ok')}",
                    "not growing"))  # fmt: skip
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = ["| measure | result | target |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(result)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmpulse.bench.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("result", type=Path, help="a JSON file: the last line of `llmpulse bench --json`")
    args = parser.parse_args(argv)
    try:
        result = orjson.loads(args.result.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        parser.error(f"cannot read {args.result}: {exc}")
    sys.stdout.write(markdown(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
