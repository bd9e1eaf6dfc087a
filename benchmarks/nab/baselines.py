"""The published NAB detectors, scored with this project's scorer on exactly the same series.

Their results files (``benchmarks/data/nab/results/<detector>/<category>/<detector>_<file>.csv``,
``timestamp,anomaly_score``; see ``benchmarks/data/nab/ATTRIBUTION.md``) are read and scored two ways:

- in-sample: NAB's optimiser picks one threshold over all the series (NAB's "optimised" column);
- cross-validated: the threshold is picked on two categories and applied to the third, rotating
  (``benchmarks.nab.cv``), the same procedure as for this project's detector.

They publish scores only (no alert decisions), so there is no "as emitted" column for them.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.nab.corpus import DATA_DIR, FileResult, load_labels
from benchmarks.nab.cv import cross_validate
from benchmarks.nab.scorer import PROFILES, LabelledFile, normalise, optimise_threshold, windows_to_indices

DETECTORS = ("numenta", "contextOSE", "ARTime", "knncad", "randomCutForest", "windowedGaussian")


def results_path(data_dir: Path, detector: str, name: str) -> Path:
    category, file = name.split("/", 1)
    return data_dir / "results" / detector / category / f"{detector}_{file}"


def load_detector(detector: str, data_dir: Path = DATA_DIR) -> list[FileResult]:
    """A published detector's scores on every labelled series under ``data_dir``."""
    out = []
    for name, limits in load_labels(data_dir).items():
        stamps: list[str] = []
        scores: list[float] = []
        with results_path(data_dir, detector, name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                stamps.append(row["timestamp"])
                scores.append(float(row["anomaly_score"]))
        labelled = LabelledFile(name=name, rows=len(stamps), windows=windows_to_indices(stamps, limits))
        values = np.asarray(scores, dtype=np.float64)
        out.append(FileResult(name, labelled, values, np.zeros(len(values), dtype=bool)))
    return out


def score_detector(results: list[FileResult], profile_name: str = "standard") -> dict[str, Any]:
    profile = PROFILES[profile_name]
    windows = sum(len(r.labelled.windows) for r in results)
    best = optimise_threshold([r.labelled for r in results], [r.scores for r in results], profile)
    cv = cross_validate({"published": results}, profile, emitted=False)
    return {
        "in_sample": {
            "threshold": best.threshold,
            "score": round(normalise(best.raw, windows, profile), 2),
        },
        "cv": {
            "score": cv["optimised"]["score"],
            "thresholds": {f["held_out"]: f["optimised"]["threshold"] for f in cv["folds"]},
        },
    }


def run_baselines(data_dir: Path = DATA_DIR, profile_name: str = "standard") -> dict[str, Any]:
    return {d: score_detector(load_detector(d, data_dir), profile_name) for d in DETECTORS}
