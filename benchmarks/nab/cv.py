"""Leave-one-category-out cross-validation over the NAB series this project has.

The series fall into NAB categories (``artificialNoAnomaly``, ``artificialWithAnomaly``,
``realAWSCloudwatch``). For each category in turn, every choice (which candidate setting, which threshold)
is made on the other categories only, and the held-out category is scored once with those choices. The
cross-validated score sums the held-out raw scores of all folds (each series is scored exactly once, by the
fold that held it out) and normalises them over all windows, as NAB normalises a corpus.

Two columns, as in the in-sample report:

- ``optimised``: per fold, the candidate and the single threshold with the best raw score on the training
  categories (NAB's optimiser), applied to the held-out series' ``anomaly_score``;
- ``alerts``: per fold, the candidate whose emitted ``alert`` column scores best on the training
  categories; its held-out ``alert`` column is scored as emitted.

The code that chooses only ever receives the training series (``choose_*`` take a list of training
results), so a held-out series cannot influence its own fold's choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.nab.corpus import FileResult
from benchmarks.nab.scorer import CostProfile, normalise, optimise_threshold, score_detections


@dataclass(frozen=True)
class Choice:
    candidate: str
    threshold: float | None  # None: the emitted alert column
    train_raw: float


@dataclass
class Fold:
    held_out: str
    files: list[str]
    windows: int
    optimised: Choice
    alerts: Choice
    optimised_raw: float = 0.0
    alerts_raw: float = 0.0
    optimised_counts: dict[str, int] = field(default_factory=dict)
    alerts_counts: dict[str, int] = field(default_factory=dict)


def choose_optimised(train: Mapping[str, Sequence[FileResult]], profile: CostProfile) -> Choice:
    """The candidate and threshold with the best raw training score (ties: the earlier candidate)."""
    best: Choice | None = None
    for name, results in train.items():
        found = optimise_threshold([r.labelled for r in results], [r.scores for r in results], profile)
        if best is None or found.raw > best.train_raw:
            best = Choice(name, found.threshold, found.raw)
    if best is None:
        raise ValueError("no candidate to choose from")
    return best


def choose_alerts(train: Mapping[str, Sequence[FileResult]], profile: CostProfile) -> Choice:
    """The candidate whose emitted alerts score best on the training series (ties: the earlier one)."""
    best: Choice | None = None
    for name, results in train.items():
        raw = sum(score_detections(r.labelled, r.alerts, profile).raw for r in results)
        if best is None or raw > best.train_raw:
            best = Choice(name, None, raw)
    if best is None:
        raise ValueError("no candidate to choose from")
    return best


def _split(
    by_candidate: Mapping[str, Sequence[FileResult]], held_out: str
) -> tuple[dict[str, list[FileResult]], dict[str, list[FileResult]]]:
    train = {c: [r for r in rs if r.category != held_out] for c, rs in by_candidate.items()}
    test = {c: [r for r in rs if r.category == held_out] for c, rs in by_candidate.items()}
    return train, test


def _score(results: Sequence[FileResult], choice: Choice, profile: CostProfile) -> tuple[float, dict[str, int]]:
    raw = 0.0
    counts = {"tp": 0, "fn": 0, "fp": 0}
    for r in results:
        detected = r.alerts if choice.threshold is None else r.scores >= choice.threshold
        s = score_detections(r.labelled, detected, profile)
        raw += s.raw
        for key in counts:
            counts[key] += getattr(s, key)
    return raw, counts


def cross_validate(
    by_candidate: Mapping[str, Sequence[FileResult]], profile: CostProfile, emitted: bool = True
) -> dict[str, Any]:
    """Leave-one-category-out over ``candidate -> results on every series`` (same series per candidate).

    ``emitted=False`` leaves out the ``alerts`` column (for detectors that publish scores only).
    """
    names = {tuple(sorted(r.name for r in rs)) for rs in by_candidate.values()}
    if len(names) != 1:
        raise ValueError("every candidate must cover the same series")
    first = next(iter(by_candidate.values()))
    categories = sorted({r.category for r in first})
    folds: list[Fold] = []
    for held_out in categories:
        train, test = _split(by_candidate, held_out)
        opt_choice = choose_optimised(train, profile)
        alert_choice = choose_alerts(train, profile) if emitted else opt_choice
        held = test[opt_choice.candidate]
        fold = Fold(
            held_out=held_out,
            files=[r.name for r in held],
            windows=sum(len(r.labelled.windows) for r in held),
            optimised=opt_choice,
            alerts=alert_choice,
        )
        fold.optimised_raw, fold.optimised_counts = _score(held, opt_choice, profile)
        if emitted:
            fold.alerts_raw, fold.alerts_counts = _score(test[alert_choice.candidate], alert_choice, profile)
        folds.append(fold)
    windows = sum(f.windows for f in folds)
    report: dict[str, Any] = {
        "optimised": _total(folds, windows, profile, "optimised"),
        "folds": [_fold_report(f, profile, emitted) for f in folds],
    }
    if emitted:
        report["alerts"] = _total(folds, windows, profile, "alerts")
    return report


def _total(folds: list[Fold], windows: int, profile: CostProfile, column: str) -> dict[str, Any]:
    raw = sum(getattr(f, f"{column}_raw") for f in folds)
    counts = {k: sum(getattr(f, f"{column}_counts").get(k, 0) for f in folds) for k in ("tp", "fn", "fp")}
    return {"score": round(normalise(raw, windows, profile), 2), "raw": round(raw, 4), **counts}


def _fold_report(fold: Fold, profile: CostProfile, emitted: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "held_out": fold.held_out,
        "files": len(fold.files),
        "windows": fold.windows,
        "optimised": {
            "candidate": fold.optimised.candidate,
            "threshold": fold.optimised.threshold,
            "raw": round(fold.optimised_raw, 4),
            **fold.optimised_counts,
        },
    }
    if fold.windows:
        out["optimised"]["score"] = round(normalise(fold.optimised_raw, fold.windows, profile), 2)
    if emitted:
        out["alerts"] = {"candidate": fold.alerts.candidate, "raw": round(fold.alerts_raw, 4), **fold.alerts_counts}
        if fold.windows:
            out["alerts"]["score"] = round(normalise(fold.alerts_raw, fold.windows, profile), 2)
    return out
