"""Precision and recall of the quality signals, and their cost: ``python -m benchmarks.quality_bench`` (JSON).

- ``training``: on ``tests/quality/corpus.jsonl``, the corpus the rules and phrase lists were written on
  (in-sample: an upper bound, not a promise).
- ``cross_validated``: for the signals with a threshold (toxicity, negative sentiment, irrelevance), 5-fold
  cross-validation inside the training corpus: the threshold is chosen on four folds (best F1) and scored on the
  fifth. ``--choose`` prints the threshold the whole training corpus picks (how the shipped ones were set).
- ``held_out``: on ``tests/quality/heldout.jsonl``, frozen before the detectors were measured on it and never
  used to change them. Only aggregate figures are printed for it.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmpulse.quality import models, text
from llmpulse.quality.signals import score, score_batch

ROOT = Path(__file__).resolve().parent.parent / "tests" / "quality"
TRAINING = ROOT / "corpus.jsonl"
HELD_OUT = ROOT / "heldout.jsonl"

Row = dict[str, Any]


def load(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _toxic_text(row: Row) -> str:
    return str(row["response"] if "in_response" in row.get("tags", []) else row["prompt"])


#: signal -> (value the threshold applies to, predicate at a threshold, the shipped threshold, grid)
THRESHOLDED: dict[str, tuple[Callable[[Row], float], Callable[[float, Row, float], bool], float, list[float]]] = {
    "toxicity": (
        lambda r: models.toxicity([_toxic_text(r)])[0],
        lambda v, r, t: v >= t,
        models.TOXICITY_THRESHOLD,
        [x / 20 for x in range(1, 20)],
    ),
    "negative_sentiment": (
        lambda r: models.sentiment(r["prompt"]),
        lambda v, r, t: models.is_negative(v, r["prompt"], t),
        models.NEGATIVE_SENTIMENT_THRESHOLD,
        [-x / 20 for x in range(1, 20)],
    ),
    "irrelevant_answer": (
        lambda r: models.relevance(r["prompt"], r["response"]),
        lambda v, r, t: bool(r["response"].strip()) and v < t,
        models.RELEVANCE_THRESHOLD,
        [x / 40 for x in range(1, 20)],
    ),
}
RULES: dict[str, Callable[[Row], bool]] = {
    "refusal": lambda r: text.is_refusal(r["response"]),
    "empty_answer": lambda r: text.is_empty_answer(r["response"], r["prompt"]),
    "prompt_injection": lambda r: text.is_prompt_injection(r["prompt"]),
}


def predictor(signal: str) -> Callable[[Row], bool]:
    if signal in RULES:
        return RULES[signal]
    value, at, threshold, _ = THRESHOLDED[signal]
    return lambda r: at(value(r), r, threshold)


def figures(pairs: list[tuple[bool, bool]]) -> dict[str, Any]:
    """(predicted, label) pairs -> precision, recall and counts."""
    tp = sum(p and y for p, y in pairs)
    fp = sum(p and not y for p, y in pairs)
    fn = sum(y and not p for p, y in pairs)
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "positives": tp + fn,
        "negatives": len(pairs) - tp - fn,
        "false_positives": fp,
    }


def evaluate(rows: list[Row]) -> dict[str, Any]:
    out = {}
    for signal in [*RULES, *THRESHOLDED]:
        mine = [r for r in rows if r["signal"] == signal]
        if mine:
            predict = predictor(signal)
            out[signal] = figures([(predict(r), bool(r["label"])) for r in mine])
    return out


def _f1(pairs: list[tuple[bool, bool]]) -> float:
    f = figures(pairs)
    p, r = f["precision"] or 0.0, f["recall"] or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def best_threshold(signal: str, rows: list[Row]) -> float:
    value, at, _, grid = THRESHOLDED[signal]
    values = [(value(r), r) for r in rows]
    return max(grid, key=lambda t: (_f1([(at(v, r, t), bool(r["label"])) for v, r in values]), -abs(t)))


def cross_validate(rows: list[Row], folds: int = 5, seed: int = 7) -> dict[str, Any]:
    out = {}
    for signal, (value, at, _, _) in THRESHOLDED.items():
        mine = [r for r in rows if r["signal"] == signal]
        random.Random(seed).shuffle(mine)
        pairs, chosen = [], []
        for k in range(folds):
            test = mine[k::folds]
            train = [r for i, r in enumerate(mine) if i % folds != k]
            t = best_threshold(signal, train)
            chosen.append(t)
            pairs += [(at(value(r), r, t), bool(r["label"])) for r in test]
        out[signal] = {**figures(pairs), "thresholds_chosen": chosen}
    return out


def cost_us(rows: list[Row], repeat: int = 5) -> dict[str, float]:
    """µs per call, scored one at a time and in one batch (as the worker scores a chunk's sampled calls)."""
    prompts, responses = [r["prompt"] for r in rows], [r["response"] for r in rows]
    score("warm up", "the models load here")
    start = time.perf_counter()
    for prompt, response in zip(prompts, responses, strict=True):
        score(prompt, response, "stop")
    one = (time.perf_counter() - start) / len(rows)
    start = time.perf_counter()
    for _ in range(repeat):
        score_batch(prompts, responses, ["stop"] * len(rows))
    batch = (time.perf_counter() - start) / (repeat * len(rows))
    kb = sum(len(p) + len(r) for p, r in zip(prompts, responses, strict=True)) / len(rows) / 1024
    return {"one_call": round(one * 1e6, 1), "batched": round(batch * 1e6, 1), "text_kb_per_call": round(kb, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--choose", action="store_true", help="print the thresholds the whole training corpus picks")
    args = parser.parse_args()
    training = load(TRAINING)
    if args.choose:
        print(json.dumps({s: best_threshold(s, [r for r in training if r["signal"] == s]) for s in THRESHOLDED}))
        return
    result: dict[str, Any] = {
        "training_in_sample": evaluate(training),
        "cross_validated": cross_validate(training),
        "score_us": cost_us(training),
    }
    if HELD_OUT.exists():
        result["held_out"] = evaluate(load(HELD_OUT))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
