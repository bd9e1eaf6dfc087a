"""Run ``llmpulse detect`` over the NAB series and score the result with NAB's profiles.

Each file goes through ``run_detect`` (the code behind ``llmpulse detect``: the series replayed through the
live alert engine), writing its ``timestamp,anomaly_score,alert`` CSV, which is read back and scored twice:

- ``optimised``: the ``anomaly_score`` column with the single corpus-wide threshold NAB's optimiser picks;
- ``alerts``: the ``alert`` column exactly as emitted (no threshold tuned afterwards).
"""

from __future__ import annotations

import csv
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.nab.corpus import DATA_DIR, FileResult, load_labels
from benchmarks.nab.scorer import (
    PROFILES,
    LabelledFile,
    normalise,
    optimise_threshold,
    score_detections,
    windows_to_indices,
)
from llmpulse.alerting.config import AnomalyConfig
from llmpulse.cli.detect import run_detect

Settings = dict[str, Any]  # [anomaly] settings (AnomalyConfig fields; "detector": DetectorConfig fields)


def anomaly_config(settings: Settings | None) -> AnomalyConfig:
    return AnomalyConfig.model_validate(settings or {})


def _run_one(job: tuple[str, str, str, Settings | None]) -> tuple[str, list[str], list[float], list[int], float]:
    name, data_path, out_dir, settings = job
    out = Path(out_dir) / name.replace("/", "__")
    summary = run_detect(data_path, out, anomaly=anomaly_config(settings))
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
    data_dir: Path = DATA_DIR, settings: Settings | None = None, jobs: int = 2, pool: ProcessPoolExecutor | None = None
) -> list[FileResult]:
    """Every labelled series under ``data_dir`` through ``llmpulse detect`` with ``settings``."""
    labels = load_labels(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        work = [(name, str(data_dir / name), tmp, settings) for name in labels]
        if pool is not None:
            done = list(pool.map(_run_one, work))
        elif jobs > 1:
            with ProcessPoolExecutor(max_workers=jobs) as own:
                done = list(own.map(_run_one, work))
        else:
            done = [_run_one(job) for job in work]
    results = []
    for name, stamps, scores, alerts, seconds in done:
        labelled = LabelledFile(name=name, rows=len(stamps), windows=windows_to_indices(stamps, labels[name]))
        results.append(
            FileResult(name, labelled, np.asarray(scores, dtype=float), np.asarray(alerts, dtype=bool), seconds)
        )
    return results


def score_corpus(results: list[FileResult], per_file: bool = True) -> dict[str, Any]:
    """In-sample totals per profile (optimised threshold and as-emitted alerts), optionally per file."""
    files = [r.labelled for r in results]
    windows = sum(len(f.windows) for f in files)
    report: dict[str, Any] = {"files": len(files), "windows": windows, "rows": sum(f.rows for f in files)}
    profiles: dict[str, Any] = {}
    detail: dict[str, Any] = {r.name: {"rows": r.labelled.rows, "windows": len(r.labelled.windows)} for r in results}
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
                detail[r.name].update(
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
    if per_file:
        report["per_file"] = detail
    return report


def run(data_dir: Path = DATA_DIR, settings: Settings | None = None, jobs: int = 2) -> dict[str, Any]:
    """In-sample report of the shipped defaults (or ``settings``)."""
    started = time.perf_counter()
    results = detect_corpus(data_dir, settings, jobs)
    report = score_corpus(results)
    report["detect_seconds"] = round(sum(r.seconds for r in results), 2)
    report["wall_seconds"] = round(time.perf_counter() - started, 2)
    return report
