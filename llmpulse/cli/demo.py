"""``llmpulse demo``: the whole system on realistic traffic, end to end, in about a minute."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmpulse.alerting.evaluator import read_alerts
from llmpulse.cli.common import fail, settings_from
from llmpulse.cli.demo_plan import REPEATS, check, demo_settings, describe, plan
from llmpulse.clickhouse import queries
from llmpulse.kafka.config import producer_config
from llmpulse.kafka.exceptions import KafkaError
from llmpulse.producers import Monitor
from llmpulse.producers.malformed import malformed_records
from llmpulse.producers.workload import Workload
from llmpulse.schemas.alert import AlertEvent
from llmpulse.settings import Settings
from llmpulse.stack import Stack, StackError

DEFAULT_DIR = Path(".llmpulse/demo")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="replay a production LLM trace through the whole pipeline",
                       description="Start the embedded stack (Kafka-protocol broker, a stream worker, the "
                                   "ClickHouse engine), replay a real production trace (Azure LLM inference "
                                   "trace 2023, CC-BY 4.0) as LLM call events with models, teams, latencies, "
                                   "errors and a few malformed records, wait until everything is stored, "
                                   "and print per-model latency percentiles and per-team cost from "
                                   "ClickHouse.")  # fmt: skip
    p.add_argument("--events", type=int, default=None,
                   help=f"events to replay (default: the trace {REPEATS} times, shifted in time; the first time "
                        "is history the detectors learn from, the incidents come after it)")
    p.add_argument("--speedup", type=float, default=None,
                   help="replay speed factor (default: whatever makes the replay take about a minute)")
    p.add_argument("--trace", type=Path, default=None,
                   help="a CSV in the Azure trace format TIMESTAMP,ContextTokens,GeneratedTokens")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the workload and of the incidents: which model, provider and team they "
                        "hit, when and how hard (default 0)")
    p.add_argument("--malformed", type=int, default=12, help="malformed records mixed in (default 12)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help=f"where the demo keeps its store (default {DEFAULT_DIR}/data, emptied at start)")
    p.add_argument("--keep", action="store_true", help="do not empty the data directory first")
    p.add_argument("--no-incidents", action="store_true",
                   help="replay without the injected incidents (latency spike, error burst, runaway spend, "
                        "an app that starts refusing)")
    p.add_argument("--alerts-config", type=Path, default=None,
                   help="alert rules (TOML; default: the shipped default rules, as a worker without a file)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.set_defaults(func=run)


def _replay(settings: Settings, workload: Workload, n: int, start_ms: int, speedup: float, malformed: list[bytes],
            console: Console) -> tuple[int, int]:  # fmt: skip
    """Sends the calls at their pace and each feedback once the replay has reached the time it was given;
    returns (calls, feedback events) sent."""
    monitor = Monitor(settings.kafka_bootstrap, topic=settings.calls_topic)
    raw = Producer(producer_config(settings.kafka_bootstrap or "", settings))
    every = max(n // (len(malformed) + 1), 1)
    given = sorted((f for b in workload.batches(n, start_ms=start_ms) for f in workload.feedback(b, start_ms=start_ms)),
                   key=lambda f: int(f["ts_ms"]))  # fmt: skip
    sent, judged = 0, 0
    t0 = time.monotonic()
    with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:  # fmt: skip
        task = progress.add_task("replay", total=n)
        for i, (send_at, event) in enumerate(workload.events(n, start_ms=start_ms, speedup=speedup)):
            wait = send_at - (time.monotonic() - t0)
            if wait > 0.02:
                progress.update(task, completed=i)
                time.sleep(wait)
            monitor.record(event)
            sent += 1
            while judged < len(given) and int(given[judged]["ts_ms"]) <= int(event["ts_ms"]):
                judged += _feedback(monitor, given[judged])
            if malformed and i % every == every - 1:
                raw.produce(settings.calls_topic, malformed.pop())
        progress.update(task, completed=n)
    while judged < len(given):
        judged += _feedback(monitor, given[judged])
    for value in malformed:
        raw.produce(settings.calls_topic, value)
    raw.flush(30)
    left = monitor.flush(60.0)
    stats = monitor.stats()
    monitor.close()
    if left or stats["delivered"] != sent + judged:
        raise StackError(f"the producer could not deliver everything: {stats}")
    return sent, judged


def _feedback(monitor: Monitor, wire: dict[str, Any]) -> int:
    fields = {k: v for k, v in wire.items() if k not in ("call_id", "thumbs", "schema_version")}
    monitor.feedback(wire["call_id"], thumbs=wire["thumbs"], **fields)
    return 1


def example_prices() -> Path:
    return Path(str(resources.files("llmpulse.data") / "prices.example.toml"))


def _float(x: Any) -> float | None:
    return None if x is None else round(float(x), 3)


def run(args: argparse.Namespace) -> int:
    base = args.data_dir.parent if args.data_dir else DEFAULT_DIR
    data_dir = args.data_dir or DEFAULT_DIR / "data"
    if not args.keep and data_dir.exists():
        shutil.rmtree(data_dir)
    settings = demo_settings(settings_from(args, data_dir=data_dir))
    if settings.prices_file is None:  # the workload's self-hosted model is priced by the example file
        settings = settings.model_copy(update={"prices_file": example_prices()})
    settings = settings.model_copy(update={"alerts_file": args.alerts_config})  # None: the shipped defaults
    console = Console(stderr=True)
    try:
        demo = plan(args.seed, incidents=not args.no_incidents, trace=args.trace, events=args.events)
    except (OSError, ValueError) as exc:
        return fail(f"cannot prepare the replay: {exc}")
    workload, n = demo.workload, demo.n_events
    start_ms = workload.start_ms_ending_now(n)
    start_ms -= start_ms % 60_000  # on a minute: the same one-minute windows in every run (and in the tests)
    injected = describe(demo.incidents, start_ms)
    speedup = args.speedup or max(workload.span_ms(n) / 90_000, 1.0)
    bad = malformed_records(seed=args.seed, n=args.malformed)
    console.print(f"[bold]llmpulse demo[/]: {n} events over {workload.span_ms(n) / 60_000:.0f} min of trace "
                  f"time, replayed {speedup:.0f}x faster; store in {data_dir}")  # fmt: skip
    try:
        with Stack(settings, log_dir=base / "logs") as stack:
            with console.status("starting the broker and a stream worker…"):
                settings = settings.model_copy(update={"kafka_bootstrap": stack.start_broker()})
                stack.start_worker()
                stack.wait_worker_ready()
            sent, judged = _replay(settings, workload, n, start_ms, speedup, [raw for _, raw in bad], console)
            with console.status("waiting for the sink to store everything…") as status:
                stack.wait_caught_up(timeout_s=600, on_progress=lambda lag: status.update(
                    f"waiting for the sink to store everything… {lag} records to go"))  # fmt: skip
            with stack.reader() as store, console.status("waiting for the last windows to be evaluated…"):
                _wait_alerts_evaluated(store, timeout_s=120)
                summary = _summary(store, sent, len(bad), data_dir, injected) | {"feedback_sent": judged}
    except (KafkaError, StackError) as exc:
        return fail(str(exc))
    _print(summary)
    if args.json:
        sys.stdout.write(orjson.dumps(summary, default=str).decode() + "\n")
    return 0


def _wait_alerts_evaluated(store: Any, timeout_s: float) -> None:
    """The leader evaluates a window once it is closed (or the stream has been idle for a few seconds)."""
    last = store.query("SELECT toUnixTimestamp(max(window_start)) FROM llm_call_rollups_1m").scalar()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = store.query("SELECT toUnixTimestamp64Milli(max(last_window_start)) FROM llm_alert_state").scalar()
        if done and last and int(done) >= int(last) * 1000:
            return
        time.sleep(0.5)
    raise StackError(f"the alert evaluator did not reach the last window within {timeout_s:g}s")


def _alerts(store: Any) -> list[dict[str, Any]]:
    """One entry per incident: its kind, metric, dimensions, when it fired and when it resolved."""
    rows = store.query(
        "SELECT dedup_key, any(kind), any(metric), any(dimensions), any(severity), any(rule), "
        "minIf(window_start, status = 'firing'), maxIf(window_end, status = 'resolved'), "
        "countIf(status = 'resolved'), anyIf(summary, status = 'firing') FROM llm_alerts FINAL "
        "GROUP BY dedup_key, started_at ORDER BY min(window_start), dedup_key").rows  # fmt: skip
    out = []
    for key, kind, metric, dims, severity, rule, fired, resolved, n_resolved, summary in rows:
        out.append({"kind": kind, "metric": metric, "dimensions": dict(dims.items() if isinstance(dims, dict)
                    else dims), "severity": severity, "rule": rule, "fired_at": str(fired),
                    "resolved_at": str(resolved) if n_resolved else None, "summary": summary,
                    "dedup_key": key})  # fmt: skip
    return out


def _summary(store: Any, sent: int, malformed: int, data_dir: Path, injected: list[dict[str, Any]]) -> dict[str, Any]:
    by_model = queries.p95_by_model(store)
    by_team = queries.cost_by_team(store)
    transitions: list[AlertEvent] = read_alerts(store)
    return {
        "events_produced": sent,
        "malformed_records": malformed,
        **queries.totals(store),
        "dead_letters_by_reason": queries.dead_letters_by_reason(store),
        "p95_latency_ms_by_model": {r["model"]: _float(r["p95_ms"]) for r in by_model},
        "incidents": [{k: v for k, v in i.items() if k not in ("start_s", "end_s")} | {
            "start": _iso(i["start_ms"]), "end": _iso(i["end_ms"])} for i in injected],
        "alerts": _alerts(store),
        "check": check(injected, transitions),
        "cost_usd_by_team": {r["team"]: float(Decimal(str(r["cost_usd"]))) for r in by_team},
        "models": by_model,
        "teams": by_team,
        "data_dir": str(data_dir.resolve()),
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _strength(incident: dict[str, Any]) -> str:
    s = incident["strength"]
    if incident["kind"] == "latency_spike":
        return f"latency x{s['factor']:g}"
    if incident["kind"] == "error_burst":
        return f"{s['rate']:.0%} errors ({s['error_type']})"
    if incident["kind"] == "refusal_spike":
        return f"{s['share']:.0%} of answers refused"
    return f"runaway: +{s['share']:.0%} of calls, x{s['token_factor']:g} tokens, {s['model']}"


def _print(summary: dict[str, Any]) -> None:
    console = Console()
    models = Table(title="Latency by model (ms, from the one-minute rollups)")
    for col in ("model", "requests", "p50", "p95", "p99", "TTFT p95", "error rate"):
        models.add_column(col, justify="right" if col != "model" else "left")
    for r in summary["models"]:
        models.add_row(r["model"], str(r["requests"]), *(f"{_float(r[k]) or 0:,.0f}" for k in
                       ("p50_ms", "p95_ms", "p99_ms")), f"{_float(r['ttft_p95_ms']) or 0:,.0f}",
                       f"{float(r['error_rate']):.2%}")  # fmt: skip
    teams = Table(title="Spend by team (USD)")
    for col in ("team", "requests", "cost", "unpriced calls"):
        teams.add_column(col, justify="right" if col != "team" else "left")
    for r in summary["teams"]:
        teams.add_row(r["team"], str(r["requests"]), f"{float(Decimal(str(r['cost_usd']))):,.4f}", str(r["unpriced"]))
    alerts = Table(title="Alerts (one row per incident; windows in UTC)", box=box.SIMPLE_HEAD,
                   caption="fired / resolved: start / end of the window; a budget resolves when its day ends",
                   collapse_padding=True, pad_edge=False)  # fmt: skip
    for col in ("kind", "metric", "dimensions", "fired", "resolved"):
        alerts.add_column(col, no_wrap=col != "metric", justify="right" if col in ("fired", "resolved") else "left")
    for a in summary["alerts"]:
        metric = a["metric"]
        if a["kind"] == "budget":  # which level of the budget (at80, at100, projected): in its dedup key
            metric = f"{metric} ({a['dedup_key'].split(':')[2].rpartition('.')[2]})"
        fired = datetime.fromisoformat(a["fired_at"]).strftime("%H:%M") if a["fired_at"] else "?"
        resolved = datetime.fromisoformat(a["resolved_at"]).strftime("%H:%M") if a["resolved_at"] else "open"
        alerts.add_row(a["kind"], metric, ", ".join(f"{k}={v}" for k, v in a["dimensions"].items()),
                       fired, resolved)  # fmt: skip
    incidents = Table(title="Injected incidents (drawn from --seed; UTC)", box=box.SIMPLE_HEAD,
                      collapse_padding=True, pad_edge=False)  # fmt: skip
    for col in ("incident", "hits", "from", "to", "alert", "resolved"):
        incidents.add_column(col, no_wrap=col != "incident")
    results = summary["check"]["incidents"]
    for inc, res in zip(summary["incidents"], results, strict=True):
        fired, back = res["fire_delay_windows"], res["resolve_delay_windows"]
        incidents.add_row(_strength(inc), f"{inc['dimension']}={inc['value']}", inc["start"][11:16],
                          inc["end"][11:16], "none" if fired is None else f"+{fired} min",
                          "no" if back is None else f"+{back} min")  # fmt: skip
    console.print(models)
    console.print(teams)
    if summary["incidents"]:
        console.print(incidents)
    console.print(alerts)
    console.print(f"{summary['events_produced']} events sent, {summary['calls_stored']} calls stored, "
                  f"{summary['dead_letters']} dead letters {summary['dead_letters_by_reason']}, "
                  f"{summary['rollup_rows']} rollup rows; store: {summary['data_dir']}")  # fmt: skip
    console.print('Ask more: .venv/bin/llmpulse query "SELECT * FROM llm_rollups_1m_v LIMIT 10" '
                  f"--data-dir {summary['data_dir']}")  # fmt: skip
