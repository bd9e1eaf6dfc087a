"""PII detection quality and speed: the training corpus and the frozen held-out set, apart.

Prints one JSON object. For each set: per type, precision and recall two ways:

* ``exact``: a detection counts only when its type and span equal a label's;
* ``covered`` (the privacy figure): a labelled value counts as caught when every one of its characters lies
  inside some detection (whatever its type): after redaction nothing of it is left. A detection counts as
  right when it overlaps a labelled value.

and, over the texts without PII (the hard negatives), how many detections and how many texts with at least
one. For the training corpus (``tests/privacy/pii_corpus.jsonl``) it also gives a cross-validated estimate of
the one fitted setting (how many of the most common given names per country the name list keeps): chosen on
k-1 folds, scored on the fold left out. For the held-out set (``tests/privacy/pii_heldout.jsonl``, frozen,
written without seeing the rules) it prints aggregate figures only, never a text, a value or a miss: the
rules must not be fitted to it. Speed: CPU time to redact 1 KB of text, for prose without PII, numbers and
ids without PII, and text with PII.

Rows: ``{"text", "entities": [{"type", "start", "end"}], "tags": [language, format/category, ...]}``.

    .venv/bin/python -m benchmarks.pii_bench [--rounds N] [--show-errors] [--no-cv] [--speed-only]

``--speed-only`` prints only the speed figures, which also cover 8 KB generated texts of each kind (prose in
five languages, chat, code, logs, number-heavy CSV, JSON; no PII) and the identity check per distinct id
(uncached; the ids of ``tests/privacy/equivalence_inputs.py``: UUIDs, hex, ``user-123``, e-mails, phones, names).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmpulse.privacy import Redactor

HERE = Path(__file__).resolve().parent.parent / "tests" / "privacy"
CORPUS = HERE / "pii_corpus.jsonl"
HELDOUT = HERE / "pii_heldout.jsonl"
Span = tuple[str, int, int]


@dataclass
class Scores:
    true_positives: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    labelled: Counter[str] = field(default_factory=Counter)
    covered: Counter[str] = field(default_factory=Counter)  # labelled values fully inside detections
    overlapping: Counter[str] = field(default_factory=Counter)  # detections that overlap a labelled value
    negative_texts: int = 0
    negative_texts_flagged: int = 0
    negative_detections: Counter[str] = field(default_factory=Counter)
    misses: list[dict[str, Any]] = field(default_factory=list)
    false_alarms: list[dict[str, Any]] = field(default_factory=list)

    def figures(self, kind: str | None = None) -> dict[str, float | int]:
        if kind is None:
            counters = (self.true_positives, self.predicted, self.labelled, self.covered, self.overlapping)
            tp, pred, gold, covered, overlapping = (sum(c.values()) for c in counters)
        else:
            tp, pred, gold = self.true_positives[kind], self.predicted[kind], self.labelled[kind]
            covered, overlapping = self.covered[kind], self.overlapping[kind]
        precision = tp / pred if pred else 1.0
        recall = tp / gold if gold else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "covered_precision": round(overlapping / pred, 4) if pred else 1.0,
            "covered_recall": round(covered / gold, 4) if gold else 1.0,
            "labelled": gold,
            "detected": pred,
            "correct": tp,
        }

    def negatives(self) -> dict[str, Any]:
        return {
            "texts": self.negative_texts,
            "texts_with_a_detection": self.negative_texts_flagged,
            "detections": sum(self.negative_detections.values()),
            "detections_per_type": dict(sorted(self.negative_detections.items())),
        }


def load_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _covered(start: int, end: int, detections: list[Span]) -> bool:
    """Every character of [start, end) lies inside some detection (detections do not overlap)."""
    position = start
    for _, d_start, d_end in detections:
        if d_start <= position < d_end:
            position = d_end
            if position >= end:
                return True
    return position >= end


def score(redactor: Redactor, rows: Iterable[dict[str, Any]]) -> Scores:
    scores = Scores()
    for row in rows:
        text = row["text"]
        gold: set[Span] = {(e["type"], e["start"], e["end"]) for e in row["entities"]}
        found = sorted(((e.type, e.start, e.end) for e in redactor.detect(text)), key=lambda s: s[1])
        pred: set[Span] = set(found)
        if not gold:
            scores.negative_texts += 1
            scores.negative_texts_flagged += bool(pred)
            scores.negative_detections.update(kind for kind, _, _ in pred)
        for kind, _, _ in pred & gold:
            scores.true_positives[kind] += 1
        for kind, start, end in pred:
            scores.predicted[kind] += 1
            scores.overlapping[kind] += any(s < end and start < e for _, s, e in gold)
        for kind, start, end in gold:
            scores.labelled[kind] += 1
            scores.covered[kind] += _covered(start, end, found)
        for kind, start, end in sorted(gold - pred, key=lambda s: s[1]):
            scores.misses.append({"type": kind, "value": text[start:end], "text": text[:160]})
        for kind, start, end in sorted(pred - gold, key=lambda s: s[1]):
            scores.false_alarms.append({"type": kind, "value": text[start:end], "text": text[:160]})
    return scores


def summary(scores: Scores) -> dict[str, Any]:
    """Aggregate figures only (what may be printed for the held-out set)."""
    types = sorted(set(scores.labelled) | set(scores.predicted))
    return {
        "overall": scores.figures(),
        "per_type": {kind: scores.figures(kind) for kind in types},
        "negatives": scores.negatives(),
    }


def _chunks(texts: Sequence[str], size: int = 1024) -> list[str]:
    """Texts joined with newlines into chunks of ``size`` UTF-8 bytes or a little more."""
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for text in texts:
        current.append(text)
        length += len(text.encode("utf-8")) + 1
        if length >= size:
            chunks.append("\n".join(current))
            current, length = [], 0
    return chunks


def microseconds_per_kb(redactor: Redactor, texts: Sequence[str], rounds: int) -> float:
    chunks = _chunks(list(texts) * 8)
    kilobytes = sum(len(c.encode("utf-8")) for c in chunks) / 1024
    if not kilobytes:
        return 0.0
    best = float("inf")
    for _ in range(rounds):  # CPU time of this process, best round: other load on the box inflates wall time
        started = time.process_time()
        for chunk in chunks:
            redactor.redact(chunk)
        best = min(best, time.process_time() - started)
    return round(best / kilobytes * 1e6, 1)


def cross_validated(rows: list[dict[str, Any]], choices: Sequence[int], folds: int = 5) -> dict[str, Any]:
    """The name-list size (given names kept per country) chosen on k-1 folds by F1 over the PERSON
    labels, scored on the fold left out; the figures add up the left-out folds."""
    if not choices:
        return {}
    order = list(range(len(rows)))
    random.Random(17).shuffle(order)
    parts = [[rows[i] for i in order[k::folds]] for k in range(folds)]
    redactors = {n: Redactor(names_per_country=n) for n in choices}
    per_fold = {n: [score(redactors[n], part) for part in parts] for n in choices}
    total = Scores()
    chosen = []
    for k in range(folds):

        def fitted(n: int, k: int = k) -> float:
            tp = sum(s.true_positives["PERSON"] for j, s in enumerate(per_fold[n]) if j != k)
            pred = sum(s.predicted["PERSON"] for j, s in enumerate(per_fold[n]) if j != k)
            gold = sum(s.labelled["PERSON"] for j, s in enumerate(per_fold[n]) if j != k)
            return 2 * tp / (pred + gold) if pred + gold else 0.0

        best = max(choices, key=fitted)
        chosen.append(best)
        left_out = per_fold[best][k]
        for name in ("true_positives", "predicted", "labelled", "covered", "overlapping", "negative_detections"):
            getattr(total, name).update(getattr(left_out, name))
        total.negative_texts += left_out.negative_texts
        total.negative_texts_flagged += left_out.negative_texts_flagged
    return {"folds": folds, "names_per_country_chosen": chosen, **summary(total)}


def microseconds_per_kb_long(redactor: Redactor, rounds: int) -> dict[str, float]:
    """CPU time per KB on generated 8 KB texts without PII, per kind."""
    from tests.privacy.equivalence_inputs import long_text

    rng = random.Random(8)
    kinds = {"prose": ("en", "de", "nl", "fr", "es"), "chat": ("chat",), "code": ("code",), "logs": ("log",),
             "numbers": ("numbers",), "json": ("json",)}  # fmt: skip
    figures: dict[str, float] = {}
    for name, languages in kinds.items():
        texts = [long_text(rng, kind, []) for kind in languages for _ in range(max(1, 10 // len(languages)))]
        kilobytes = sum(len(t.encode("utf-8")) for t in texts) / 1024
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            for text in texts:
                redactor.redact(text)
            best = min(best, time.process_time() - started)
        figures[name] = round(best / kilobytes * 1e6, 1)
    return figures


def microseconds_per_id(rounds: int) -> dict[str, float]:
    """CPU time of the identity check per distinct id (a new cleaner each round: nothing cached)."""
    from llmpulse.privacy.identity import IdentityCleaner
    from tests.privacy.equivalence_inputs import identity_values

    values = list(dict.fromkeys(identity_values()))
    # the usual machine-made ids: UUIDs, hex, "user-123", "u_77", "s-81", "team-ml"
    machine = [v for v in values if re.fullmatch(r"(?:user-|u_|s-|team-)\w+|[0-9a-f]{6,16}|[0-9a-f-]{36}", v)]
    figures: dict[str, float] = {"distinct_ids": len(values), "machine_made_ids": len(machine)}
    for name, chosen in (("us_per_id", values), ("us_per_machine_made_id", machine)):
        best = float("inf")
        for _ in range(rounds):
            cleaner = IdentityCleaner()
            started = time.process_time()
            for value in chosen:
                cleaner.clean("user_id", value)
            best = min(best, time.process_time() - started)
        figures[name] = round(best / len(chosen) * 1e6, 2)
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--show-errors", action="store_true", help="list the training corpus' misses")
    parser.add_argument("--no-cv", action="store_true")
    parser.add_argument("--speed-only", action="store_true", help="only the speed figures")
    args = parser.parse_args(argv)
    if args.speed_only:
        speed_rows = load_corpus(args.corpus)
        fast = Redactor()
        print(json.dumps({
            "us_per_kb": {
                "prose_without_pii": microseconds_per_kb(fast, [r["text"] for r in speed_rows if not r["entities"]
                                                                and "neg_plain" in r.get("tags", [])], args.rounds),
                "numbers_and_ids_without_pii": microseconds_per_kb(
                    fast, [r["text"] for r in speed_rows if not r["entities"]
                           and "neg_plain" not in r.get("tags", [])], args.rounds),
                "with_pii": microseconds_per_kb(fast, [r["text"] for r in speed_rows if r["entities"]], args.rounds),
            },
            "us_per_kb_8kb_texts": microseconds_per_kb_long(fast, args.rounds),
            "identity": microseconds_per_id(args.rounds),
        }, indent=2))  # fmt: skip
        return

    rows = load_corpus(args.corpus)
    redactor = Redactor()
    scores = score(redactor, rows)
    prose = [r["text"] for r in rows if not r["entities"] and "neg_plain" in r.get("tags", [])]
    tricky = [r["text"] for r in rows if not r["entities"] and "neg_plain" not in r.get("tags", [])]
    with_pii = [r["text"] for r in rows if r["entities"]]
    report: dict[str, Any] = {
        "corpus": {
            "texts": len(rows),
            "texts_with_pii": len(with_pii),
            "texts_without_pii": len(rows) - len(with_pii),
            "entities": sum(scores.labelled.values()),
            "languages": dict(Counter(r["tags"][0] for r in rows if r.get("tags"))),
        },
        "training": summary(scores),
    }
    choices = getattr(redactor, "NAME_LIST_SIZES", ())
    if not args.no_cv:
        report["training_cross_validated"] = cross_validated(rows, choices)
    if args.heldout.exists():
        held = load_corpus(args.heldout)
        report["heldout"] = {"texts": len(held), **summary(score(redactor, held))}
    report["us_per_kb"] = {
        "prose_without_pii": microseconds_per_kb(redactor, prose, args.rounds),
        "numbers_and_ids_without_pii": microseconds_per_kb(redactor, tricky, args.rounds),
        "with_pii": microseconds_per_kb(redactor, with_pii, args.rounds),
    }
    if args.show_errors:
        report["training_misses"] = scores.misses
        report["training_false_alarms"] = scores.false_alarms
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
