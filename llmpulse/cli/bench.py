"""``llmpulse bench``: measure the pipeline on this machine and print a table (and JSON)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from llmpulse.bench import accuracy, pipeline, producer, queries, soak, traffic
from llmpulse.cli.common import fail
from llmpulse.cli.demo import example_prices
from llmpulse.kafka.exceptions import KafkaError
from llmpulse.settings import Settings
from llmpulse.stack import Stack, StackError

TARGETS = {"pipeline_eps": (">=", 50_000), "producer_record_us_p50": ("<=", 5),
           "producer_record_us_p99": ("<=", 50), "producer_record_us_p99_broker_down": ("<=", 50),
           "p99_rel_error_max": ("<=", 0.01)}  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bench", help="benchmark throughput, producer cost, accuracy, memory and queries",
                       description="Runs on the embedded stack (broker, worker and store on this machine): "
                                   "end-to-end events/s with every default feature on, the raw consume "
                                   "ceiling, Monitor.record() cost with the broker up and down, rollup "
                                   "quantile error against exact quantiles, worker peak RSS, and dashboard "
                                   "query latency on a store of --query-calls calls (built once, kept in "
                                   "--dir). Prints a table; --json adds one JSON object as the last line.")  # fmt: skip
    p.add_argument("--events", type=int, default=2_000_000, help="events through the pipeline (default 2M)")
    p.add_argument("--query-calls", type=int, default=10_000_000,
                   help="calls in the query-latency store (default 10M; 0 skips that part)")
    p.add_argument("--soak", type=float, default=0.0, metavar="SECONDS",
                   help="then hold half the measured rate for SECONDS; adds rss_growth_pct, max_consumer_lag")
    p.add_argument("--dir", type=Path, default=Path(".llmpulse/bench"), help="working directory")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    result: dict[str, Any] = {"machine": _machine()}
    work: Path = args.dir
    pipeline_dir = work / "pipeline"
    shutil.rmtree(pipeline_dir, ignore_errors=True)
    settings = Settings(data_dir=pipeline_dir / "data", prices_file=example_prices())
    try:
        with console.status(f"generating {args.events:,} events…"):
            events = traffic.generate(args.events, rate_eps=50_000)
        with console.status("measuring Monitor.record() (broker up, then paused)…"):
            result.update(producer.measure(events[:200_000], "bench.producer"))
        with Stack(settings, log_dir=pipeline_dir / "logs") as stack:
            with console.status("starting the embedded stack…"):
                settings = settings.model_copy(update={"kafka_bootstrap": stack.start_broker()})
                worker = stack.start_worker()
                stack.wait_worker_ready()
                pipeline.warm_up(stack, settings, events[:2_000])
            with console.status(f"pipeline: {args.events:,} events end to end…"):
                result.update(pipeline.run_pipeline(stack, settings, events))
            result["worker_peak_rss_mb"] = round(pipeline.peak_rss_mb(worker.pid), 1)
            with console.status("raw consume ceiling…"):
                result.update(pipeline.raw_consume_eps(stack.bootstrap, settings, len(events)))
            result["pipeline_to_raw_ratio"] = round(result["pipeline_eps"] / result["raw_consume_eps"], 4)
            with console.status("rollup quantiles against exact quantiles…"), stack.reader() as store:
                result["accuracy_pipeline"] = accuracy.max_relative_error(store)
            if args.soak > 0:
                rate = result["pipeline_eps"] / 2
                with console.status(f"soak: {rate:,.0f} events/s for {args.soak:g} s…") as status:
                    result.update(soak.soak(stack, settings, events, rate, args.soak, on_sample=lambda s:
                                            status.update(f"soak: {s[0]:.0f}/{args.soak:g} s, worker RSS "
                                                          f"{s[1]:.0f} MiB, lag {s[2]} records")))  # fmt: skip
        if args.query_calls > 0:
            with console.status(f"query store with {args.query_calls:,} calls…") as status:

                def loaded(done: int) -> None:
                    status.update(f"loading the query store: {done:,}/{args.query_calls:,}")

                result.update(queries.query_store(work / "query-store", args.query_calls, example_prices(), loaded))
        errors = [result["accuracy_pipeline"]["p99_rel_error_max"]]
        if "accuracy_query_store" in result:
            errors.append(result["accuracy_query_store"]["p99_rel_error_max"])
        result["p99_rel_error_max"] = max(errors)
    except (KafkaError, StackError) as exc:
        return fail(str(exc))
    _table(result)
    if args.json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


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
