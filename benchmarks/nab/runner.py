"""Run ``llmpulse detect`` over every NAB file and score the result with NAB's profiles.

Each file goes through ``run_detect`` (the code behind ``llmpulse detect``), writing its
``timestamp,anomaly_score,alert`` CSV, which is read back and scored twice:

- ``optimised``: the ``anomaly_score`` column with the single corpus-wide threshold NAB's optimiser picks;
- ``alerts``: the ``alert`` column exactly as emitted (no threshold tuned afterwards).
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.nab.scorer import (
    PROFILES,
    LabelledFile,
    normalise,
    optimise_threshold,
    score_detections,
    windows_to_indices,
)
from llmpulse.cli.detect import run_detect

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "nab"
LABELS = "labels_windows.json"
# Published NAB scoreboard (standard profile, whole corpus): the bars this project must clear.
RANDOM_CUT_FOREST = 51.7
WINDOWED_GAUSSIAN = 39.6


@dataclass
class FileResult:
    name: str
    labelled: LabelledFile
    scores: np.ndarray
    alerts: np.ndarray
    seconds: float


def load_labels(data_dir: Path) -> dict[str, list[list[str]]]:
    with (data_dir / LABELS).open(encoding="utf-8") as handle:
        labels: dict[str, list[list[str]]] = json.load(handle)
    return {name: limits for name, limits in labels.items() if (data_dir / name).is_file()}


def _run_one(job: tuple[str, str, str, str | None]) -> tuple[str, list[str], list[float], list[int], float]:
    name, data_path, out_dir, config_path = job
    out = Path(out_dir) / name.replace("/", "__")
    summary = run_detect(data_path, out, config_path)
    stamps: list[str] = []
    scores: list[float] = []
    alerts: list[int] = []
    with out.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stamps.append(row["timestamp"])
            scores.append(float(row["anomaly_score"]))
            alerts.append(int(row["alert"]))
    return name, stamps, scores, alerts, float(summary["seconds"])


def detect_corpus(
    data_dir: Path = DATA_DIR, config_path: str | None = None, jobs: int = 2, out_dir: Path | None = None
) -> list[FileResult]:
    labels = load_labels(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        target = out_dir or Path(tmp)
        target.mkdir(parents=True, exist_ok=True)
        work = [(name, str(data_dir / name), str(target), config_path) for name in sorted(labels)]
        if jobs > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                done = list(pool.map(_run_one, work))
        else:
            done = [_run_one(job) for job in work]
    results = []
    for name, stamps, scores, alerts, seconds in done:
        labelled = LabelledFile(name=name, rows=len(stamps), windows=windows_to_indices(stamps, labels[name]))
        results.append(
            FileResult(
                name, labelled, np.asarray(scores, dtype=float), np.asarray(alerts, dtype=bool), seconds
            )
        )
    return results


def score_corpus(results: list[FileResult]) -> dict[str, Any]:
    """Totals per profile (optimised threshold and as-is alerts) and per-file detail."""
    files = [r.labelled for r in results]
    windows = sum(len(f.windows) for f in files)
    report: dict[str, Any] = {"files": len(files), "windows": windows, "rows": sum(f.rows for f in files)}
    profiles: dict[str, Any] = {}
    per_file: dict[str, Any] = {
        r.name: {"rows": r.labelled.rows, "windows": len(r.labelled.windows)} for r in results
    }
    for profile_name, profile in PROFILES.items():
        best = optimise_threshold(files, [r.scores for r in results], profile)
        opt_raw = alert_raw = 0.0
        opt_counts = {"tp": 0, "fn": 0, "fp": 0}
        alert_counts = {"tp": 0, "fn": 0, "fp": 0}
        for r in results:
            opt = score_detections(r.labelled, r.scores >= best.threshold, profile)
            asis = score_detections(r.labelled, r.alerts, profile)
            opt_raw += opt.raw
            alert_raw += asis.raw
            for key in opt_counts:
                opt_counts[key] += getattr(opt, key)
                alert_counts[key] += getattr(asis, key)
            if profile_name == "standard":
                per_file[r.name].update(
                    {
                        "optimised": {"raw": round(opt.raw, 4), "tp": opt.tp, "fn": opt.fn, "fp": opt.fp},
                        "alerts": {"raw": round(asis.raw, 4), "tp": asis.tp, "fn": asis.fn, "fp": asis.fp},
                        "seconds": round(r.seconds, 3),
                    }
                )
        profiles[profile_name] = {
            "optimised": {
                "threshold": best.threshold,
                "raw": round(opt_raw, 4),
                "score": round(normalise(opt_raw, windows, profile), 2),
                **opt_counts,
            },
            "alerts": {
                "raw": round(alert_raw, 4),
                "score": round(normalise(alert_raw, windows, profile), 2),
                **alert_counts,
            },
        }
    report["profiles"] = profiles
    report["targets"] = {
        "optimised_vs_random_cut_forest": RANDOM_CUT_FOREST,
        "alerts_vs_windowed_gaussian": WINDOWED_GAUSSIAN,
    }
    report["per_file"] = per_file
    return report


def run(data_dir: Path = DATA_DIR, config_path: str | None = None, jobs: int = 2) -> dict[str, Any]:
    started = time.perf_counter()
    results = detect_corpus(data_dir, config_path, jobs)
    report = score_corpus(results)
    report["detect_seconds"] = round(sum(r.seconds for r in results), 2)
    report["wall_seconds"] = round(time.perf_counter() - started, 2)
    return report
