"""NAB benchmark of ``llmpulse detect`` on the 28 series in ``benchmarks/data/nab`` (JSON on stdout).

    python -m benchmarks.nab                 # in-sample: the shipped defaults, per file and totals
    python -m benchmarks.nab --cv            # leave-one-category-out CV over the settings grid
    python -m benchmarks.nab --baselines     # the published detectors, same scorer, same series (in-sample + CV)
    python -m benchmarks.nab --all           # CV + in-sample + baselines, totals only (the README's table)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.nab.baselines import run_baselines
from benchmarks.nab.corpus import DATA_DIR
from benchmarks.nab.grid import run_cv
from benchmarks.nab.runner import run


def _table(cv: dict[str, Any], baselines: dict[str, Any]) -> dict[str, Any]:
    """The headline figures side by side (standard profile)."""
    rows: dict[str, Any] = {
        "llmpulse": {
            "cv_optimised": cv["cv"]["optimised"]["score"],
            "cv_alerts": cv["cv"]["alerts"]["score"],
            "in_sample_optimised": cv["in_sample_default"]["optimised"]["score"],
            "in_sample_alerts": cv["in_sample_default"]["alerts"]["score"],
        }
    }
    for name, b in baselines.items():
        rows[name] = {"cv_optimised": b["cv"]["score"], "in_sample_optimised": b["in_sample"]["score"]}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nab", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="NAB files + labels_windows.json")
    parser.add_argument("--jobs", type=int, default=2, help="files scored in parallel")
    parser.add_argument("--summary", action="store_true", help="leave out the per-file detail")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--cv", action="store_true", help="leave-one-category-out cross-validation")
    mode.add_argument("--baselines", action="store_true", help="published detectors' scores")
    mode.add_argument("--all", action="store_true", help="CV, in-sample and baselines side by side")
    args = parser.parse_args()
    report: dict[str, Any]
    if args.cv:
        report = run_cv(data_dir=args.data_dir, jobs=args.jobs)
    elif args.baselines:
        report = run_baselines(args.data_dir)
    elif args.all:
        cv = run_cv(data_dir=args.data_dir, jobs=args.jobs)
        baselines = run_baselines(args.data_dir)
        report = {"table": _table(cv, baselines), "cv": cv, "baselines": baselines}
    else:
        report = run(args.data_dir, None, args.jobs)
        if args.summary:
            report.pop("per_file")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
