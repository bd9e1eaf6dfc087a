"""What the quality columns cost the worker, and the sample rate that fits a budget:
``python -m llmpulse.bench.quality_cost`` (JSON).

Chunks of the benchmark traffic with captured text (``traffic.generate(capture=True)``: prompts and answers of
realistic length, pseudo-English without punctuation, which is slow for the regular expressions and VADER)
go through ``QualityScorer.columns`` with sampling off (what every call costs: ``truncated`` and the sampling
hash) and with every call sampled (what a sampled call costs). The short chat texts of the training corpus
(``tests/quality/corpus.jsonl``) give the cost for short texts. The recommended rate is the largest of
``RATES`` whose amortised cost per event, ``off + rate * per sampled call``, stays within the budget.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from llmpulse.bench import traffic
from llmpulse.quality.columns import SCORED_CHARS, QualityScorer

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "quality" / "corpus.jsonl"
#: the pipeline's loaded throughput (README capacity planning) is about 35k events/s, 28 µs per event; the
#: quality columns may take a bit less than that, so that throughput with them stays above half of it
BUDGET_US = 25.0
RATES = (1.0, 0.5, 0.25, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def chunk_of(events: list[dict[str, Any]]) -> dict[str, pa.Array]:
    return {
        "event_ids": pa.array([e["event_id"] for e in events], pa.string()),
        "models": pa.array([e["request_model"] for e in events], pa.string()).dictionary_encode(),
        "prompts": pa.array([e.get("prompt") for e in events], pa.string()),
        "responses": pa.array([e.get("response") for e in events], pa.string()),
        "finish_reasons": pa.array([e.get("finish_reason") for e in events], pa.string()).dictionary_encode(),
    }


def us_per_event(chunks: list[dict[str, pa.Array]], rate: float, repeat: int) -> float:
    """Median over ``repeat`` runs of the µs per event of scoring every chunk with a fresh scorer."""
    runs = []
    events = sum(len(c["event_ids"]) for c in chunks)
    for _ in range(repeat):
        scorer = QualityScorer(rate)
        start = time.perf_counter()
        for columns in chunks:
            scorer.columns(**columns)
        runs.append((time.perf_counter() - start) * 1e6 / events)
    return statistics.median(runs)


def measure(events: int = 4000, chunk_size: int = 1000, repeat: int = 3,
            budget_us: float = BUDGET_US) -> dict[str, Any]:  # fmt: skip
    generated = traffic.generate(events, capture=True, seed=23)
    chunks = [chunk_of(generated[i : i + chunk_size]) for i in range(0, len(generated), chunk_size)]
    with_text = sum(1 for e in generated if e.get("prompt") is not None or e.get("response") is not None)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    corpus = [chunk_of([{"event_id": f"c{i}", "request_model": "m", "prompt": r["prompt"], "response": r["response"],
                         "finish_reason": "stop"} for i, r in enumerate(rows)])]  # fmt: skip
    QualityScorer(1.0).columns(**chunks[0])  # load the models (about 1 s) before timing
    off = us_per_event(chunks, 0.0, repeat)
    every = us_per_event(chunks, 1.0, 1) * events / with_text
    sampled_us = every - off
    corpus_us = us_per_event(corpus, 1.0, repeat)
    amortised = {str(rate): round(off + rate * sampled_us, 2) for rate in RATES}
    fitting = [rate for rate in RATES if off + rate * sampled_us <= budget_us]
    recommended = fitting[0] if fitting else 0.0
    check = us_per_event(chunks, recommended, repeat) if recommended else off
    prompt_chars = sorted(len(e.get("prompt") or "") for e in generated if e.get("prompt") is not None)
    return {
        "events": events,
        "chunk_size": chunk_size,
        "scored_chars": SCORED_CHARS,
        "prompt_chars_median": prompt_chars[len(prompt_chars) // 2] if prompt_chars else 0,
        "us_per_event_sampling_off": round(off, 2),
        "us_per_sampled_call_traffic": round(sampled_us, 1),
        "us_per_sampled_call_corpus": round(corpus_us, 1),
        "budget_us_per_event": budget_us,
        "amortised_us_per_event_by_rate": amortised,
        "recommended_sample_rate": recommended,
        "measured_us_per_event_at_recommended": round(check, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget-us", type=float, default=BUDGET_US)
    args = parser.parse_args()
    print(json.dumps(measure(args.events, args.chunk_size, args.repeat, args.budget_us), indent=2))


if __name__ == "__main__":
    main()
