"""The settings that cross-validation chooses from, and the CV run over them.

Every candidate is a complete ``[anomaly]`` settings table for ``llmpulse detect`` (the live engine's path).
The grid is small on purpose: a few principled knobs (how surprising a point must be to alert, how fast
the detector forgets) rather than many fitted ones. The first candidate is the shipped default; on a tie
the earlier candidate wins, so the default is kept unless another one is strictly better on the training
categories.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.nab.corpus import DATA_DIR, FileResult
from benchmarks.nab.cv import choose, cross_validate
from benchmarks.nab.runner import Settings, detect_corpus, score_corpus
from benchmarks.nab.scorer import PROFILES

# name -> settings; "default" must be the shipped defaults (an empty table).
CANDIDATES: dict[str, Settings] = {
    "default": {},
    "no-novelty": {"detector": {"novelty_levels": 0}},
    "short-history": {"detector": {"history_points": 1000}},
    "threshold=0.4": {"detector": {"alert_threshold": 0.4}},
    "threshold=0.5": {"detector": {"alert_threshold": 0.5}},
}


def run_candidates(
    candidates: dict[str, Settings], data_dir: Path = DATA_DIR, jobs: int = 2
) -> dict[str, list[FileResult]]:
    with ProcessPoolExecutor(max_workers=max(jobs, 1)) as pool:
        return {name: detect_corpus(data_dir, settings, pool=pool) for name, settings in candidates.items()}


def run_cv(
    candidates: dict[str, Settings] | None = None, data_dir: Path = DATA_DIR, jobs: int = 2, profile: str = "standard"
) -> dict[str, Any]:
    """Cross-validated and in-sample figures of the grid (in-sample: the shipped default, and the best)."""
    started = time.perf_counter()
    grid = candidates if candidates is not None else CANDIDATES
    by_candidate = run_candidates(grid, data_dir, jobs)
    cost = PROFILES[profile]
    cv = cross_validate(by_candidate, cost)
    shipped = choose(by_candidate, cost)  # the same rule on all the series: what the defaults should be
    in_sample = {
        name: score_corpus(results, per_file=False)["profiles"][profile] for name, results in by_candidate.items()
    }
    first = next(iter(grid))
    return {
        "profile": profile,
        "candidates": list(grid),
        "cv": cv,
        "chosen_on_all_series": {"candidate": shipped.candidate, "threshold": shipped.threshold},
        "in_sample_default": in_sample[first],
        "in_sample_by_candidate": {
            name: {"optimised": s["optimised"]["score"], "alerts": s["alerts"]["score"]}
            for name, s in in_sample.items()
        },
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
