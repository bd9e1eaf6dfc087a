"""``llmpulse detect``: run the live anomaly detector over a recorded series.

Input: a CSV with a header and the columns ``timestamp,value`` (extra columns are ignored). Timestamps
are ISO 8601 (``2024-05-01T12:00:00Z``, ``2024-05-01 12:00:00``; no zone means UTC) or Unix epoch
seconds/milliseconds. Rows are processed in file order, one point per row, as the live system
processes one value per window.

Output: ``timestamp,anomaly_score,alert`` per input row: the score in [0, 1] and ``alert`` 1 exactly
where the live detector would have fired (its own threshold, warm-up, direction and cooldown; nothing is
tuned afterwards). Rows whose value is empty or not a number get score 0 and no alert, and are not
learned.

Config (optional, TOML): a ``[detector]`` table whose keys are the fields of
``llmpulse.alerting.detectors.DetectorConfig``, e.g.::

    [detector]
    warmup_points = 120
    direction = "up"         # alert on rises only ("up", "down" or "both")
    alert_threshold = 0.5    # score at which an alert fires
    cooldown_points = 60     # one alert per incident: quiet this long before the next
    seasonality = true       # learn a time-of-day profile
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast, get_args

from llmpulse.alerting.detectors import DetectorConfig, make_detector
from llmpulse.alerting.detectors.base import DetectorKind
from llmpulse.alerting.detectors.replay import replay

_PROGRESS_EVERY = 10_000


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


def load_config(config_path: str | Path | None) -> DetectorConfig:
    """The ``[detector]`` table of a TOML file (missing file argument: the defaults)."""
    if config_path is None:
        return DetectorConfig()
    path = Path(config_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DetectInputError(f"cannot read config {path}: {exc}") from exc
    table = data.get("detector", {})
    if not isinstance(table, dict):
        raise DetectInputError(f"{path}: [detector] must be a table")
    return DetectorConfig.model_validate(table)


def read_series(input_path: str | Path) -> tuple[list[str], list[tuple[int, float]]]:
    """The raw timestamp strings (kept for the output) and the parsed ``(ts_ms, value)`` points."""
    path = Path(input_path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"timestamp", "value"} <= set(reader.fieldnames):
            raise DetectInputError(f"{path}: expected a header with the columns timestamp,value")
        stamps: list[str] = []
        points: list[tuple[int, float]] = []
        for row in reader:
            stamps.append(row["timestamp"])
            points.append((parse_timestamp(row["timestamp"]), parse_value(row["value"] or "")))
    return stamps, points


def run_detect(
    input_path: str | Path,
    output_path: str | Path,
    config_path: str | Path | None = None,
    *,
    kind: DetectorKind = "spike",
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Score ``input_path`` into ``output_path``; returns a summary (rows, alerts, timing, config)."""
    started = time.perf_counter()
    config = load_config(config_path)
    stamps, points = read_series(input_path)
    detector = make_detector(kind, config, seed=seed)

    def report(done: int) -> None:
        if done % _PROGRESS_EVERY == 0 or done == len(points):
            print(f"\rdetect: {done}/{len(points)} points", end="", file=sys.stderr, flush=True)

    alerts = skipped = 0
    out = Path(output_path)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "anomaly_score", "alert"])
        for stamp, (_, value), detection in zip(
            stamps, points, replay(detector, points, report if progress else None), strict=True
        ):
            skipped += not math.isfinite(value)
            alerts += detection.anomalous
            writer.writerow([stamp, f"{detection.score:.6f}", int(detection.anomalous)])
    if progress and points:
        print(file=sys.stderr)
    return {
        "input": str(input_path),
        "output": str(out),
        "kind": kind,
        "rows": len(points),
        "skipped": skipped,
        "alerts": alerts,
        "seconds": round(time.perf_counter() - started, 3),
        "config": config.model_dump(),
    }


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``detect`` sub-command."""
    parser = subparsers.add_parser(
        "detect",
        help="run the live anomaly detector over a recorded series (timestamp,value CSV)",
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
    parser.add_argument("--config", type=Path, metavar="CONFIG.toml", help="TOML with a [detector] table")
    parser.add_argument(
        "--kind",
        choices=get_args(DetectorKind),
        default="spike",
        help="spike: spikes, dips and sudden changes (default); drift: slow level shifts",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the detector (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr, no summary on stdout")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        summary = run_detect(
            args.input,
            args.output,
            args.config,
            kind=cast(DetectorKind, args.kind),
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
