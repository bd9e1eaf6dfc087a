"""The demo's traffic without Kafka: the worker's own sink and alert evaluator over a chdb store, in-process.

``llmpulse demo`` sends its events through the broker to a stream worker, whose sink writes them to
ClickHouse and whose leader runs ``AlertEvaluator.tick`` over the closed windows. This module does the
same two steps in one process: the events go through ``EventSink.write_chunk`` (the worker's sink code),
and ``AlertEvaluator`` (the worker's evaluator, same engine, same rollup reads from ClickHouse) evaluates
every window. Only the transport is skipped, so a seed takes seconds; the tests sweep seeds with it.

    python -m llmpulse.cli.demo_sweep --seeds 100-129 [--no-incidents] [--json]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from llmpulse.alerting.config import AlertConfig, load_alert_config
from llmpulse.alerting.evaluator import AlertEvaluator
from llmpulse.cli.demo_plan import DemoPlan, check, demo_settings, describe, plan
from llmpulse.clickhouse.chdb_store import ChdbStore
from llmpulse.clickhouse.migrate import migrate
from llmpulse.clickhouse.store import Store
from llmpulse.schemas.alert import AlertEvent
from llmpulse.schemas.kinds import CALL, FEEDBACK, EventKind
from llmpulse.settings import Settings
from llmpulse.stream_jobs.chunks import Chunk
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink, Record

PER_RECORD = 500  # events per Kafka record, as the Monitor sends them
START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC: a fixed, whole-day start (budgets are per UTC day)


def example_prices() -> Path:
    return Path(str(resources.files("llmpulse.data") / "prices.example.toml"))


class _Topic:
    """One kind's sink and the next offset of its one partition."""

    def __init__(self, store: Store, settings: Settings, kind: EventKind) -> None:
        self.sink = EventSink(store, settings, PriceBook(example_prices()), kind=kind)
        self.topic = settings.topic(kind)
        self.offset = 0

    def write(self, events: list[dict[str, Any]]) -> int:
        recs: list[Record] = []
        for i in range(0, len(events), PER_RECORD):
            part = events[i : i + PER_RECORD]
            value = b"\n".join(orjson.dumps(e) for e in part)
            recs.append(Record(0, self.offset + len(recs), int(part[-1]["ts_ms"]), value))
        result = self.sink.write_chunk(Chunk(self.topic, 0, self.offset, self.offset + len(recs), recs))
        self.offset += len(recs)
        return result.events


def write_events(store: Store, demo: DemoPlan, start_ms: int) -> int:
    """The plan's calls, then their feedback, through the worker's sink code (NDJSON records of ``PER_RECORD``
    events). Feedback is attributed to its call by a lookup of the stored calls, as the worker does."""
    settings = demo_settings(Settings(max_event_age_s=10**9, max_event_future_s=10**9))
    calls, feedback = _Topic(store, settings, CALL), _Topic(store, settings, FEEDBACK)
    written, given = 0, []
    workload = demo.workload
    for batch in workload.batches(demo.n_events, start_ms=start_ms):
        written += calls.write(workload.to_wire(batch, start_ms=start_ms))
        given += workload.feedback(batch, start_ms=start_ms)
    if given:
        written += feedback.write(sorted(given, key=lambda e: int(e["ts_ms"])))
    return written


def evaluate(store: Store, config: AlertConfig, end_ms: int) -> list[AlertEvent]:
    """Every window up to ``end_ms``, as the worker's leader evaluates them (it ticks as windows close)."""
    evaluator = AlertEvaluator(store, config, lookback_ms=None)
    return evaluator.tick(end_ms)


def run_seed(
    seed: int, *, incidents: bool = True, config: AlertConfig | None = None, workdir: Path | None = None
) -> dict[str, Any]:
    """One seed of the demo, in-process: its incidents, its alerts and how they match."""
    demo = plan(seed, incidents=incidents)
    cfg = config if config is not None else load_alert_config(None)
    tmp = Path(tempfile.mkdtemp(prefix="llmpulse-sweep-", dir=workdir))
    store = ChdbStore(tmp / "chdb")
    try:
        migrate(store)
        write_events(store, demo, START_MS)
        end_ms = START_MS + demo.workload.span_ms(demo.n_events) + 120_000
        alerts = evaluate(store, cfg, end_ms - end_ms % 60_000)
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    injected = describe(demo.incidents, START_MS)
    return {"seed": seed, "incidents": injected, "alerts": alerts, "check": check(injected, alerts)}


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Detected / resolved counts, delays, and alerts that match no incident, over a set of seeds."""
    results = [r for run in runs for r in run["check"]["incidents"]]
    fire = [r["fire_delay_windows"] for r in results if r["fire_delay_windows"] is not None]
    resolve = [r["resolve_delay_windows"] for r in results if r["resolve_delay_windows"] is not None]
    by_kind: dict[str, list[int]] = {}
    for r in results:
        by_kind.setdefault(r["kind"], [0, 0])[0] += 1
        by_kind[r["kind"]][1] += r["detected"] and r["resolved"]
    return {
        "seeds": len(runs),
        "incidents": len(results),
        "detected": sum(r["detected"] for r in results),
        "resolved": sum(r["resolved"] for r in results),
        "passed_by_kind": {k: f"{v[1]}/{v[0]}" for k, v in by_kind.items()},
        "fire_delay_windows": {"mean": statistics.fmean(fire), "max": max(fire)} if fire else None,
        "resolve_delay_windows": {"mean": statistics.fmean(resolve), "max": max(resolve)} if resolve else None,
        "other_alerts": sum(len(run["check"]["other_alerts"]) for run in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmpulse.cli.demo_sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="100-129", help="e.g. 100-129 or 0-9 or 3,5")
    parser.add_argument("--no-incidents", action="store_true")
    parser.add_argument("--alerts-config", type=Path, default=None, help="default: the shipped default rules")
    parser.add_argument("--json", action="store_true", help="print every run as JSON lines")
    args = parser.parse_args(argv)
    config = load_alert_config(args.alerts_config)
    runs = []
    for seed in _seeds(args.seeds):
        run = run_seed(seed, incidents=not args.no_incidents, config=config)
        runs.append(run)
        c = run["check"]
        line = " ".join(
            f"{r['kind']}:{r['value']}:{r['fire_delay_windows']}/{r['resolve_delay_windows']}" for r in c["incidents"]
        )
        print(f"seed {seed}: {line} other={c['other_alerts']}", file=sys.stderr)
        if args.json:
            print(orjson.dumps({k: v for k, v in run.items() if k != "alerts"}).decode())
    print(orjson.dumps(summarise(runs)).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
