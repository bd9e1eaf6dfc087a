"""NAB scoring, written from the published method (Lavin & Ahmad 2015, and NAB's own scorer).

- Every labelled anomaly has a window (``labels_windows.json``: ``[start, end]`` timestamps, inclusive).
- The first 15 % of each file (at most 750 rows) is a probation period: detections there are ignored.
- A detection inside a window is a true positive; only the earliest one in a window counts. It earns
  ``A_TP * sigma(p) / sigma(-1)`` where ``p = -(end_index - i + 1) / window_width`` runs from about -1 at
  the window's left edge to about 0 at its right edge, and ``sigma(x) = 2 / (1 + e^(5x)) - 1`` is NAB's
  scaled sigmoid (``-1`` from ``x >= 3``).
- A window without a detection costs ``A_FN``.
- Every detection outside a window is a false positive worth ``A_FP * sigma(p)`` with
  ``p = |i - previous_end| / (previous_width - 1)`` (just after a window it costs almost nothing); before
  any window it costs the full ``A_FP``.
- A corpus score is the sum over files; it is normalised as ``100 * (raw - null) / (perfect - null)``
  with ``null = -A_FN * windows`` (a detector that never fires) and ``perfect = A_TP * windows``.
- For a continuous anomaly score, a point is a detection when ``score >= threshold``; NAB's optimiser
  picks the single threshold that maximises the raw corpus score.

Profiles are NAB's: ``standard``, ``reward_low_FP_rate``, ``reward_low_FN_rate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

PROBATION_FRACTION = 0.15
PROBATION_MAX_ROWS = 0.15 * 5000
OUTSIDE = -1
PROBATION = -2


@dataclass(frozen=True)
class CostProfile:
    tp: float
    fp: float
    fn: float


PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostProfile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostProfile(tp=1.0, fp=0.11, fn=2.0),
}


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: ~0.987 at -1 (left edge of a window), 0 at 0, ~-0.987 at +1, -1 from +3."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_length(rows: int) -> int:
    """Rows at the start of a file whose detections are ignored."""
    return int(min(math.floor(PROBATION_FRACTION * rows), PROBATION_MAX_ROWS))


@dataclass(frozen=True)
class LabelledFile:
    """One data file: its row count and its anomaly windows as inclusive row-index ranges."""

    name: str
    rows: int
    windows: tuple[tuple[int, int], ...]


def windows_to_indices(
    timestamps: Sequence[str], limits: Sequence[Sequence[str]]
) -> tuple[tuple[int, int], ...]:
    """Map ``[start, end]`` timestamp pairs to the first and last row inside each window."""
    keys = [_normalise_ts(t) for t in timestamps]
    out: list[tuple[int, int]] = []
    for start, end in limits:
        lo, hi = _normalise_ts(start), _normalise_ts(end)
        inside = [i for i, k in enumerate(keys) if lo <= k <= hi]
        if inside:
            out.append((inside[0], inside[-1]))
    return tuple(out)


def _normalise_ts(ts: str) -> str:
    """``2014-04-10 07:15:00.000000`` and ``2014-04-10 07:15:00`` compare equal."""
    ts = ts.strip().replace("T", " ")
    return ts.split(".")[0] if "." in ts else ts


@dataclass
class PointWeights:
    """What a detection at each row would be worth: its window (or OUTSIDE / PROBATION) and its weight."""

    window: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]


def point_weights(labelled: LabelledFile, profile: CostProfile) -> PointWeights:
    window = np.full(labelled.rows, OUTSIDE, dtype=np.int64)
    weight = np.zeros(labelled.rows, dtype=np.float64)
    max_tp = scaled_sigmoid(-1.0)
    starts = {s: (k, s, e) for k, (s, e) in enumerate(labelled.windows)}
    current: tuple[int, int, int] | None = None
    previous: tuple[int, int] | None = None  # (end index, width)
    for i in range(labelled.rows):
        if current is None and i in starts:
            current = starts[i]
        if current is not None:
            k, s, e = current
            width = e - s + 1
            window[i] = k
            weight[i] = scaled_sigmoid(-(e - i + 1) / width) * profile.tp / max_tp
            if i == e:
                previous = (e, width)
                current = None
        elif previous is None:
            weight[i] = -profile.fp
        else:
            end, width = previous
            position = abs(i - end) / (width - 1) if width > 1 else 3.0
            weight[i] = scaled_sigmoid(position) * profile.fp
    window[: probation_length(labelled.rows)] = PROBATION
    return PointWeights(window=window, weight=weight)


@dataclass
class FileScore:
    raw: float
    tp: int  # windows detected
    fn: int  # windows missed
    fp: int  # detections outside windows (after probation)
    detections: int = 0
    first_hits: list[int] = field(default_factory=list)  # row of the earliest detection per detected window


def score_detections(labelled: LabelledFile, detected: npt.ArrayLike, profile: CostProfile) -> FileScore:
    """Score one file's binary detections."""
    hits = np.asarray(detected, dtype=bool)
    if hits.shape != (labelled.rows,):
        raise ValueError(f"{labelled.name}: {hits.shape[0]} detections for {labelled.rows} rows")
    pw = point_weights(labelled, profile)
    scored = hits & (pw.window != PROBATION)
    outside = scored & (pw.window == OUTSIDE)
    raw = float(pw.weight[outside].sum())
    tp = fn = 0
    first_hits: list[int] = []
    for k in range(len(labelled.windows)):
        rows_in = np.flatnonzero(scored & (pw.window == k))
        if rows_in.size:
            tp += 1
            first_hits.append(int(rows_in[0]))
            raw += float(pw.weight[rows_in[0]])
        elif np.any(pw.window == k):
            fn += 1
            raw -= profile.fn
    return FileScore(
        raw=raw, tp=tp, fn=fn, fp=int(outside.sum()), detections=int(scored.sum()), first_hits=first_hits
    )


@dataclass(frozen=True)
class ThresholdResult:
    threshold: float
    raw: float


def optimise_threshold(
    files: Sequence[LabelledFile], scores: Sequence[npt.ArrayLike], profile: CostProfile
) -> ThresholdResult:
    """The single threshold (detection = score >= threshold) with the best raw score over all files.

    Sweeps every distinct score from the highest down, updating the corpus score incrementally: a point
    outside a window adds its FP weight, a point inside a window can only raise that window's reward
    (earlier rows are worth more).
    """
    all_scores: list[npt.NDArray[np.float64]] = []
    all_windows: list[npt.NDArray[np.int64]] = []
    all_weights: list[npt.NDArray[np.float64]] = []
    offset = 0
    for labelled, file_scores in zip(files, scores, strict=True):
        s = np.asarray(file_scores, dtype=np.float64)
        pw = point_weights(labelled, profile)
        keep = pw.window != PROBATION
        win = pw.window[keep]
        all_windows.append(np.where(win >= 0, win + offset, OUTSIDE))
        all_scores.append(s[keep])
        all_weights.append(pw.weight[keep])
        offset += len(labelled.windows)
    s = np.concatenate(all_scores)
    win = np.concatenate(all_windows)
    wt = np.concatenate(all_weights)
    order = np.argsort(-s, kind="stable")
    best_in_window = np.full(offset, -profile.fn)
    total = -profile.fn * offset
    best = ThresholdResult(threshold=math.inf, raw=total)
    i = 0
    n = len(order)
    while i < n:
        value = s[order[i]]
        while i < n and s[order[i]] == value:
            j = order[i]
            k = win[j]
            if k == OUTSIDE:
                total += wt[j]
            elif wt[j] > best_in_window[k]:
                total += wt[j] - best_in_window[k]
                best_in_window[k] = wt[j]
            i += 1
        if total > best.raw:
            best = ThresholdResult(threshold=float(value), raw=float(total))
    return best


def null_score(windows: int, profile: CostProfile) -> float:
    return -profile.fn * windows


def perfect_score(windows: int, profile: CostProfile) -> float:
    return profile.tp * windows


def normalise(raw: float, windows: int, profile: CostProfile) -> float:
    """NAB's 0-100 scale: 0 is the detector that never fires, 100 the perfect one."""
    null = null_score(windows, profile)
    return 100.0 * (raw - null) / (perfect_score(windows, profile) - null)
