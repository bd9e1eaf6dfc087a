"""``llmpulse bench``: measure the pipeline on this machine and print a table (and JSON)."""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from llmpulse.bench import accuracy, integrations, pipeline, producer, queries, soak, traffic
from llmpulse.cli.common import fail
from llmpulse.cli.demo import example_prices
from llmpulse.kafka.exceptions import KafkaError
from llmpulse.settings import Settings
from llmpulse.stack import Stack, StackError

TARGETS = {"pipeline_eps": (">=", 50_000), "capture_to_pipeline_ratio": (">=", 0.5),
           "quality_to_text_ratio": (">=", 0.5),
           "worker_peak_rss_mb": ("<=", 1024), "producer_record_us_p50": ("<=", 5),
           "producer_record_us_p99": ("<=", 50), "producer_record_us_p99_broker_down": ("<=", 50),
           "p99_rel_error_max": ("<=", 0.01)}  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bench", help="benchmark throughput, producer cost, accuracy, memory and queries",
                       description="Runs on the embedded stack (broker, worker and store on this machine) with "
                                   "the shipped defaults and realistic traffic (attributes, sessions, errors, "
                                   "streaming, cache and reasoning tokens, 50 teams x 10 models x 20 apps): a "
                                   "history of warm-up windows is written first so every default detector is "
                                   "warm; then end-to-end events/s over --windows one-minute windows with alert "
                                   "evaluation on, the decode ceiling, the same with text capture and PII "
                                   "redaction, the same with the quality signals at the default sampling rate "
                                   "against none (apps sending text, capture off), producer costs (record, "
                                   "LLMCallEvent + record, track; broker down with drops), SDK instrumentation "
                                   "overhead and OTLP ingestion spans/s, "
                                   "rollup quantile error, worker peak RSS, an optional soak "
                                   "and dashboard query latency on a store of --query-calls calls (built once, "
                                   "kept in --dir). Prints a table; --json adds one JSON object as the last "
                                   "line. Exits 1 when the soak's lag grows.")  # fmt: skip
    p.add_argument("--events", type=int, default=2_000_000, help="events in the timed run (default 2M)")
    p.add_argument("--windows", type=int, default=60, help="one-minute windows of event time they span (>= 60)")
    p.add_argument(
        "--history-windows",
        type=int,
        default=None,
        help="windows of history written first (default: the detectors' warm-up + 5)",
    )
    p.add_argument(
        "--capture-events", type=int, default=10_000, help="events in the text-capture run (default 10k; 0 skips it)"
    )
    p.add_argument(
        "--quality-events", type=int, default=10_000,
        help="events in each of the two quality runs, signals off and at the default rate (default 10k; 0 skips)",
    )
    p.add_argument("--producer-events", type=int, default=100_000, help="calls timed per producer figure")
    p.add_argument(
        "--query-calls",
        type=int,
        default=10_000_000,
        help="calls in the query-latency store (default 10M; 0 skips that part)",
    )
    p.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="then hold half the measured rate for SECONDS; adds rss_growth_pct, max_consumer_lag",
    )
    p.add_argument("--dir", type=Path, default=Path(".llmpulse/bench"), help="working directory")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    result: dict[str, Any] = {"machine": _machine(), "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    work: Path = args.dir
    pipeline_dir = work / "pipeline"
    shutil.rmtree(pipeline_dir, ignore_errors=True)
    settings = Settings(data_dir=pipeline_dir / "data", prices_file=example_prices())
    try:
        with console.status(f"generating {args.events:,} events over {args.windows} windows…"):
            events = traffic.generate(args.events, windows=args.windows)
        start_ms = events[0]["ts_ms"]
        with console.status("measuring the producer (record, LLMCallEvent + record, track; broker down)…"):
            result.update(producer.measure(events[: args.producer_events], "bench.producer"))
        with console.status("measuring the integrations (SDK instrumentation per call, OTLP spans/s)…"):
            result.update(integrations.measure())
        history = args.history_windows if args.history_windows is not None else pipeline.warmup_windows(settings) + 5
        per_window = max(args.events // max(args.windows, 1), 1)
        warm_end = start_ms - start_ms % traffic.WINDOW_MS  # the warm-up events fill the window before
        with console.status(f"writing {history} windows of history…") as status:
            result["history_windows"] = history
            result["history_events"] = pipeline.preload_history(
                settings, per_window * history, history, warm_end - traffic.WINDOW_MS,
                lambda done: status.update(f"writing {history} windows of history: {done:,} events"))  # fmt: skip
        warm_events = traffic.generate(2_000, windows=1, end_ms=warm_end - 1, seed=3)
        with Stack(settings, log_dir=pipeline_dir / "logs") as stack:
            with console.status("starting the embedded stack; alert evaluation of the history…"):
                settings = settings.model_copy(update={"kafka_bootstrap": stack.start_broker()})
                worker = stack.start_worker()
                stack.wait_worker_ready()
                pipeline.warm_up(stack, settings, warm_events)
                seconds = pipeline.wait_evaluated(stack, settings, warm_end - traffic.WINDOW_MS)
                result["history_alert_evaluation_seconds"] = round(seconds, 1)
            with console.status(f"pipeline: {args.events:,} events end to end, alerting on…"):
                timed = pipeline.run_pipeline(stack, settings, events)
            result.update(timed)
            result["alert_lag_windows_max"] = timed["pipeline_alert_lag_windows_max"]
            result["worker_peak_rss_mb"] = round(pipeline.peak_rss_mb(worker.pid), 1)
            with console.status("decode ceiling (the worker's decoder on the same records)…"):
                result.update(pipeline.raw_consume_eps(stack.bootstrap, settings, len(events)))
            result["pipeline_to_raw_ratio"] = round(result["pipeline_eps"] / result["raw_consume_eps"], 4)
            with console.status("rollup quantiles against exact quantiles…"), stack.reader() as store:
                result["accuracy_pipeline"] = accuracy.max_relative_error(store)
            if args.soak > 0:
                rate = result["pipeline_eps"] / 2
                with console.status(f"soak: {rate:,.0f} events/s for {args.soak:g} s…") as status:
                    result.update(soak.soak(stack, settings, events[:200_000], rate, args.soak, on_sample=lambda s:
                                            status.update(f"soak: {s[0]:.0f}/{args.soak:g} s, worker RSS "
                                                          f"{s[1]:.0f} MiB, lag {s[2]} records")))  # fmt: skip
            del events
            if args.capture_events > 0:
                with console.status(f"text capture: {args.capture_events:,} events end to end…"):
                    result.update(_rerun(stack, settings, args.capture_events, "capture",
                                         {"LLMPULSE_CAPTURE_TEXT": "true"}))  # fmt: skip
                result["pipeline_eps_capture"] = result["capture_eps"]
                result["capture_to_pipeline_ratio"] = round(result["pipeline_eps_capture"] / result["pipeline_eps"], 3)
            if args.quality_events > 0:
                rate = Settings().quality_sample_rate
                with console.status(f"quality signals: 2 x {args.quality_events:,} events (rate 0, {rate:g})…"):
                    result.update(_rerun(stack, settings, args.quality_events, "text",
                                         {"LLMPULSE_QUALITY_SAMPLE_RATE": "0"}))  # fmt: skip
                    result.update(_rerun(stack, settings, args.quality_events, "quality", {}))
                result["quality_sample_rate"] = rate
                result["pipeline_eps_quality"] = result["quality_eps"]
                result["quality_to_text_ratio"] = round(result["quality_eps"] / result["text_eps"], 3)
                result["quality_to_pipeline_ratio"] = round(result["quality_eps"] / result["pipeline_eps"], 3)
        if args.query_calls > 0:
            with console.status(f"query store with {args.query_calls:,} calls…") as status:

                def loaded(done: int) -> None:
                    status.update(f"loading the query store: {done:,}/{args.query_calls:,}")

                result.update(queries.query_store(work / "query-store", args.query_calls, example_prices(), loaded))
        errors = [result["accuracy_pipeline"]["p99_rel_error_max"]]
        if "accuracy_query_store" in result:
            errors.append(result["accuracy_query_store"]["p99_rel_error_max"])
        result["p99_rel_error_max"] = max(errors)
    except (KafkaError, StackError, TimeoutError) as exc:
        return fail(str(exc))
    _table(result)
    if args.json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0 if result.get("soak_ok", True) else 1


def _rerun(stack: Stack, settings: Settings, n: int, prefix: str, env: dict[str, str]) -> dict[str, Any]:
    """The same path on traffic whose calls carry prompt and response text, with the worker restarted with
    ``env`` (text capture on, or the quality signals off); event time continues where the last run ended."""
    for running in [w for w in stack.workers if w.poll() is None]:
        stack.stop_worker(running)
    worker = stack.start_worker(env)
    stack.wait_worker_ready()
    sampled = "SELECT countIf(quality_sampled) FROM llm_calls"
    with stack.reader() as store:
        newest = int(store.query("SELECT toUnixTimestamp64Milli(max(ts)) FROM llm_calls").scalar())
        sampled_before = int(store.query(sampled).scalar())
    now = traffic.now_ms() - 1000
    windows = max(1, (now - newest) // traffic.WINDOW_MS)
    pipeline.warm_up(stack, settings, traffic.generate(200, windows=1, end_ms=newest + 1, seed=4, capture=True))
    events = traffic.generate(n, windows=windows, end_ms=now, seed=9, capture=True)
    timed = pipeline.run_pipeline(stack, settings, events, prefix=prefix)
    with stack.reader() as store:
        timed[f"{prefix}_quality_sampled"] = int(store.query(sampled).scalar()) - sampled_before
    return {**timed,
            f"{prefix}_prompt_chars_mean": round(sum(len(e.get("prompt", "")) for e in events) / n),
            f"{prefix}_response_chars_mean": round(sum(len(e.get("response", "")) for e in events) / n),
            f"worker_peak_rss_mb_{prefix}": round(pipeline.peak_rss_mb(worker.pid), 1)}  # fmt: skip


def _machine() -> dict[str, Any]:
    import os
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def _table(result: dict[str, Any]) -> None:
    table = Table(title="llmpulse bench")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target")
    for key, value in result.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                table.add_row(f"{key}.{sub}", str(v), "<= 200" if key == "query_ms" else "")
            continue
        target = TARGETS.get(key)
        verdict = ""
        if target:
            ok = value >= target[1] if target[0] == ">=" else value <= target[1]
            verdict = f"{target[0]} {target[1]} {'ok' if ok else 'MISSED'}"
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value), verdict)
    Console().print(table)
