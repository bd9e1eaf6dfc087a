"""``python -m benchmarks.nab [--data-dir DIR] [--config CONFIG.toml] [--jobs N] [--summary]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.nab.runner import DATA_DIR, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nab", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="NAB files + labels_windows.json")
    parser.add_argument("--config", default=None, help="TOML with a [detector] table (default: defaults)")
    parser.add_argument("--jobs", type=int, default=2, help="files scored in parallel")
    parser.add_argument("--summary", action="store_true", help="leave out the per-file detail")
    args = parser.parse_args()
    report = run(args.data_dir, args.config, args.jobs)
    if args.summary:
        report.pop("per_file")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
