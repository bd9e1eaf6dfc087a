"""Scoring speed of the detectors, points per second (JSON on stdout).

    python -m benchmarks.nab.speed [--repeat N]

Feeds every NAB series in ``benchmarks/data/nab`` (already parsed into memory) point by point to a fresh
detector with the default settings, as the live engine does (``update``: score, decide, learn), and
reports points per second for each detector kind and, separately, for the whole ``llmpulse detect``
path (the series replayed through the live alert engine). Best of ``--repeat`` runs, by wall clock and by
the process's CPU time (on a machine shared with other work the CPU figure is the fairer one). Also
reports the largest state one detector keeps after a series (pickled bytes).
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import time
from typing import Any, get_args

from benchmarks.nab.corpus import DATA_DIR, load_labels
from llmpulse.alerting.detectors import make_detector
from llmpulse.alerting.detectors.base import DetectorKind
from llmpulse.alerting.series_replay import replay_series, series_config
from llmpulse.cli.detect import parse_timestamp


def load_points() -> list[list[tuple[int, float]]]:
    series = []
    for name in load_labels(DATA_DIR):
        with (DATA_DIR / name).open(newline="", encoding="utf-8") as handle:
            series.append([(parse_timestamp(r["timestamp"]), float(r["value"])) for r in csv.DictReader(handle)])
    return series


def _rates(points: int, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "points": points,
        "wall_seconds": round(wall, 3),
        "points_per_s": round(points / wall),
        "cpu_seconds": round(cpu, 3),
        "points_per_cpu_s": round(points / cpu),
    }


def detector_speed(kind: DetectorKind, series: list[list[tuple[int, float]]], repeat: int) -> dict[str, Any]:
    wall = cpu = float("inf")
    points = sum(len(s) for s in series)
    state_bytes = 0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        for one in series:
            detector = make_detector(kind)
            for ts, value in one:
                detector.update(ts, value)
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    for one in series:
        detector = make_detector(kind)
        for ts, value in one:
            detector.update(ts, value)
        state_bytes = max(state_bytes, len(pickle.dumps(detector)))
    return {**_rates(points, wall, cpu), "max_state_bytes": state_bytes}


def engine_speed(series: list[list[tuple[int, float]]], repeat: int) -> dict[str, Any]:
    config = series_config()
    points = sum(len(s) for s in series)
    wall = cpu = float("inf")
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        for one in series:
            for _outcome in replay_series(config, ((ts, v, None) for ts, v in one)):
                pass
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return _rates(points, wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nab.speed", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    args = parser.parse_args()
    series = load_points()
    report: dict[str, Any] = {kind: detector_speed(kind, series, args.repeat) for kind in get_args(DetectorKind)}
    report["detect_path_spike"] = engine_speed(series, args.repeat)
    report["target_points_per_s"] = 20_000
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
