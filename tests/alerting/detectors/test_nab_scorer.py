"""The NAB scorer against hand-computed examples.

One file of 20 rows, probation floor(0.15 * 20) = 3 rows, one window over rows 10..14 (width 5).
NAB's scaled sigmoid: s(x) = 2 / (1 + e^(5x)) - 1, s(-1) = 0.986614.
- a detection at row 12 is at position -(14 - 12 + 1) / 5 = -0.6:
  s(-0.6) / s(-1) = 0.905148 / 0.986614 = 0.917429
- at row 11: -0.8: s(-0.8) / s(-1) = 0.964028 / 0.986614 = 0.977107
- at row 5 (before any window): -A_FP = -0.11
- at row 16, after the window: position |16 - 14| / (5 - 1) = 0.5:
  0.11 * s(0.5) = 0.11 * -0.848284 = -0.093311
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.nab.scorer import (
    PROFILES,
    LabelledFile,
    normalise,
    optimise_threshold,
    probation_length,
    scaled_sigmoid,
    score_detections,
    windows_to_indices,
)

STANDARD = PROFILES["standard"]
FILE = LabelledFile(name="tiny.csv", rows=20, windows=((10, 14),))


def _hits(*rows: int) -> np.ndarray:
    hits = np.zeros(20, dtype=bool)
    hits[list(rows)] = True
    return hits


def test_sigmoid_and_probation() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.986614, abs=1e-6)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.0) == -1.0
    assert probation_length(20) == 3
    assert probation_length(4032) == 604
    assert probation_length(22695) == 750  # capped at 15 % of 5000


def test_first_detection_in_window_counts_and_false_positives_cost() -> None:
    score = score_detections(FILE, _hits(1, 5, 12, 13, 16), STANDARD)
    assert score.raw == pytest.approx(0.917429 - 0.11 - 0.093311, abs=1e-6)
    assert (score.tp, score.fn, score.fp) == (1, 0, 2)  # row 1 is in probation: ignored
    assert score.first_hits == [12]


def test_a_missed_window_costs_a_false_negative() -> None:
    score = score_detections(FILE, _hits(1), STANDARD)
    assert score.raw == -1.0
    assert (score.tp, score.fn, score.fp) == (0, 1, 0)
    low_fn = score_detections(FILE, _hits(), PROFILES["reward_low_FN_rate"])
    assert low_fn.raw == -2.0


def test_earliest_detection_is_worth_most() -> None:
    assert score_detections(FILE, _hits(10), STANDARD).raw == pytest.approx(1.0)
    assert score_detections(FILE, _hits(14), STANDARD).raw == pytest.approx(0.468387, abs=1e-6)


def test_normalisation() -> None:
    assert normalise(-1.0, 1, STANDARD) == 0.0  # the detector that never fires
    assert normalise(1.0, 1, STANDARD) == 100.0  # perfect
    assert normalise(0.714118, 1, STANDARD) == pytest.approx(85.7059, abs=1e-3)


def test_optimiser_picks_the_best_single_threshold() -> None:
    scores = np.zeros(20)
    scores[2] = 1.0  # probation: never counts
    scores[5], scores[11], scores[16] = 0.9, 0.8, 0.7
    best = optimise_threshold([FILE], [scores], STANDARD)
    assert best.threshold == 0.8
    assert best.raw == pytest.approx(-0.11 + 0.977107, abs=1e-6)
    again = score_detections(FILE, scores >= best.threshold, STANDARD)
    assert again.raw == pytest.approx(best.raw)


def test_optimiser_prefers_silence_over_only_false_positives() -> None:
    quiet = LabelledFile(name="quiet.csv", rows=20, windows=())
    scores = np.linspace(0.0, 0.9, 20)
    best = optimise_threshold([quiet], [scores], STANDARD)
    assert best.raw == 0.0 and best.threshold > 0.9
    assert score_detections(quiet, scores >= 0.5, STANDARD).raw == pytest.approx(-0.11 * 9)


def test_windows_map_to_rows_by_timestamp() -> None:
    stamps = [f"2014-04-01 00:{m:02d}:00" for m in range(0, 60, 5)]
    windows = windows_to_indices(stamps, [["2014-04-01 00:10:00.000000", "2014-04-01 00:25:00.000000"]])
    assert windows == ((2, 5),)
