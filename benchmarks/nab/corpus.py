"""The NAB series this project may use: their labels, categories, and a scored file's arrays.

Only the 28 series under ``benchmarks/data/nab`` (three NAB categories) are ever read. The rest of NAB is
the acceptance set, kept from this project: nothing here can point at it (``DATA_DIR`` is fixed and the
loader reads only files that ``labels_windows.json`` names and that exist under it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.nab.scorer import LabelledFile

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "nab"
LABELS = "labels_windows.json"
RESULTS_DIR = DATA_DIR / "results"


@dataclass
class FileResult:
    """One series as a detector saw it: its labels, its score per row, and its emitted alerts."""

    name: str  # "<category>/<file>.csv"
    labelled: LabelledFile
    scores: npt.NDArray[np.float64]
    alerts: npt.NDArray[np.bool_]
    seconds: float = 0.0

    @property
    def category(self) -> str:
        return category_of(self.name)


def category_of(name: str) -> str:
    return name.split("/", 1)[0]


def load_labels(data_dir: Path = DATA_DIR) -> dict[str, list[list[str]]]:
    """``name -> [[start, end], ...]`` for the labelled files present under ``data_dir``."""
    with (data_dir / LABELS).open(encoding="utf-8") as handle:
        labels: dict[str, list[list[str]]] = json.load(handle)
    return {name: limits for name, limits in sorted(labels.items()) if (data_dir / name).is_file()}
