"""``llmpulse detect``: run a recorded series through the live alert engine.

Input: a CSV with a header and the columns ``timestamp,value`` (extra columns are ignored, except an
optional ``requests``: the window's number of calls, read by the ``min_requests`` gate). Timestamps are
ISO 8601 (``2024-05-01T12:00:00Z``, ``2024-05-01 12:00:00``; no zone means UTC) or Unix epoch
seconds/milliseconds. One row is one closed window, processed in file order.

Output: ``timestamp,anomaly_score,alert`` per input row. The series is the metric of one anomaly rule of
the live engine (``llmpulse.alerting.engine.AlertEngine``): the same detector, warm-up, direction,
outside-band gate, ``min_requests`` gate and alert lifecycle as alerts fire live. ``alert`` is 1 exactly
where the engine emits a "firing" alert; ``anomaly_score`` is the detector's score in [0, 1] for the row
(0 where the row was not fed to it). Rows whose value is empty or not a number, or whose timestamp is not
after the previous row's, are not learned (score 0, no alert), as live.

Config (optional): the alert configuration file (TOML) the live system reads; its ``[anomaly]`` table
applies (``warmup_windows``, ``min_requests``, ``outside_band``, ``for_windows``, ``resolve_windows``,
``flap_windows``, ``[anomaly.detector]`` tuning); its rules are not used: ``--kind``, ``--direction`` and
``--metric`` define the one rule. A top-level ``[detector]`` table is read as ``[anomaly.detector]``::

    [anomaly]
    warmup_windows = 120
    min_requests = 20

    [anomaly.detector]
    alert_threshold = 0.5    # score at which the detector flags a point
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

from pydantic import ValidationError

from llmpulse.alerting.config import AnomalyConfig
from llmpulse.alerting.detectors.base import DetectorKind, Direction
from llmpulse.alerting.metrics import METRICS
from llmpulse.alerting.series_replay import DEFAULT_METRIC, replay_series, series_config
from llmpulse.tomlfile import TomlFileError, read_toml

_PROGRESS_EVERY = 10_000

Point = tuple[int, float, float | None]


class DetectInputError(ValueError):
    """The input CSV or the config file cannot be used."""


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch (UTC) from ISO 8601 or epoch seconds / milliseconds."""
    raw = text.strip()
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        return int(number if abs(number) >= 1e11 else number * 1000)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise DetectInputError(f"cannot read timestamp {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def parse_value(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def load_config(config_path: str | Path | None) -> AnomalyConfig:
    """The ``[anomaly]`` settings of an alert configuration file (no file: the live defaults)."""
    if config_path is None:
        return AnomalyConfig()
    path = Path(config_path)
    try:
        data = read_toml(path)
    except TomlFileError as exc:
        raise DetectInputError(f"config {exc}") from None
    table = dict(data.get("anomaly", {}))
    table.pop("rule", None)  # the one rule is defined by --kind / --direction / --metric
    legacy = data.get("detector")
    if legacy is not None:
        if not isinstance(legacy, dict):
            raise DetectInputError(f"{path}: [detector] must be a table")
        table["detector"] = {**legacy, **table.get("detector", {})}
    try:
        return AnomalyConfig.model_validate(table)
    except ValidationError as exc:
        raise DetectInputError(f"{path}: {exc}") from exc


def read_series(input_path: str | Path) -> tuple[list[str], list[Point]]:
    """The raw timestamp strings (kept for the output) and the ``(ts_ms, value, calls)`` points."""
    path = Path(input_path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"timestamp", "value"} <= set(reader.fieldnames):
            raise DetectInputError(f"{path}: expected a header with the columns timestamp,value")
        with_calls = "requests" in reader.fieldnames
        stamps: list[str] = []
        points: list[Point] = []
        for row in reader:
            stamps.append(row["timestamp"])
            calls = parse_value(row["requests"] or "") if with_calls else math.nan
            points.append(
                (
                    parse_timestamp(row["timestamp"]),
                    parse_value(row["value"] or ""),
                    calls if math.isfinite(calls) else None,
                )
            )
    return stamps, points


def run_detect(
    input_path: str | Path,
    output_path: str | Path,
    config_path: str | Path | None = None,
    *,
    kind: DetectorKind = "spike",
    direction: Direction = "both",
    metric: str = DEFAULT_METRIC,
    seed: int = 0,
    progress: bool = False,
    anomaly: AnomalyConfig | None = None,
) -> dict[str, Any]:
    """Score ``input_path`` into ``output_path``; returns a summary (rows, alerts, timing, config).

    ``anomaly`` (for callers in Python) replaces the settings read from ``config_path``."""
    started = time.perf_counter()
    if anomaly is None:
        anomaly = load_config(config_path)
    config = series_config(anomaly, kind=kind, metric=metric, direction=direction)
    stamps, points = read_series(input_path)
    alerts = skipped = 0
    out = Path(output_path)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "anomaly_score", "alert"])
        for i, (stamp, outcome) in enumerate(zip(stamps, replay_series(config, points, seed), strict=True)):
            skipped += not outcome.fed
            alerts += outcome.alert
            writer.writerow([stamp, f"{outcome.score:.6f}", int(outcome.alert)])
            if progress and ((i + 1) % _PROGRESS_EVERY == 0 or i + 1 == len(points)):
                print(f"\rdetect: {i + 1}/{len(points)} points", end="", file=sys.stderr, flush=True)
    if progress and points:
        print(file=sys.stderr)
    return {
        "input": str(input_path),
        "output": str(out),
        "kind": kind,
        "direction": direction,
        "metric": metric,
        "rows": len(points),
        "not_fed": skipped,
        "alerts": alerts,
        "seconds": round(time.perf_counter() - started, 3),
        "config": anomaly.model_dump(exclude={"rule"}),
    }


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``detect`` sub-command."""
    parser = subparsers.add_parser(
        "detect",
        help="run a recorded series (timestamp,value CSV) through the live alert engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--input", required=True, type=Path, metavar="SERIES.csv", help="timestamp,value CSV")
    parser.add_argument(
        "--output",
        required=True,
        type=Path,
        metavar="SCORES.csv",
        help="where timestamp,anomaly_score,alert go",
    )
    parser.add_argument(
        "--config", type=Path, metavar="ALERTS.toml", help="alert configuration; its [anomaly] table applies"
    )
    parser.add_argument(
        "--kind",
        choices=get_args(DetectorKind),
        default="spike",
        help="spike: spikes, dips and sudden changes (default); drift: slow level shifts",
    )
    parser.add_argument(
        "--direction", choices=get_args(Direction), default="both", help="alert on rises, falls or both"
    )
    parser.add_argument(
        "--metric",
        choices=sorted(METRICS),
        default=DEFAULT_METRIC,
        help=f"what the series is (the min_requests gate skips 'requests'; default {DEFAULT_METRIC})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the engine (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr, no summary on stdout")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        summary = run_detect(
            args.input,
            args.output,
            args.config,
            kind=cast(DetectorKind, args.kind),
            direction=cast(Literal["up", "down", "both"], args.direction),
            metric=args.metric,
            seed=args.seed,
            progress=not args.quiet and sys.stderr.isatty(),
        )
    except (DetectInputError, OSError, ValueError) as exc:
        print(f"llmpulse detect: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        summary.pop("config")
        print(json.dumps(summary))
    return 0
