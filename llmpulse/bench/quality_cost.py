"""What the quality columns cost the worker, and the sample rate that fits a budget:
``python -m llmpulse.bench.quality_cost`` (JSON).

Chunks of the benchmark traffic with captured text (``traffic.generate(capture=True)``: prompts and answers of
realistic length, pseudo-English without punctuation, which is slow for the regular expressions and VADER)
go through ``QualityScorer.columns``:

- with sampling off: what every call costs (``truncated`` and the sampling hash);
- with every call sampled, on the first ``PER_CALL_EVENTS`` events: what a sampled call costs;
- at each of ``RATES``, ascending, until one exceeds the budget: the cost per event as measured, which also
  holds the toxicity model's fixed cost per chunk with a sampled call (``model_call_ms``), hence the chunk size.

The short chat texts of the training corpus (``tests/quality/corpus.jsonl``) give the cost of a sampled call
for short texts. The recommended rate is the largest measured one within the budget.
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
from llmpulse.quality.models import toxicity

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "quality" / "corpus.jsonl"
#: the pipeline's loaded throughput (README capacity planning) is about 35k events/s, 28 µs per event; the
#: quality columns may take a bit less than that, so that throughput with them stays above half of it
BUDGET_US = 25.0
RATES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
PER_CALL_EVENTS = 2000


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


def measure(events: int = 30_000, chunk_size: int = 10_000, repeat: int = 3,
            budget_us: float = BUDGET_US) -> dict[str, Any]:  # fmt: skip
    generated = traffic.generate(events, capture=True, seed=23)
    chunks = [chunk_of(generated[i : i + chunk_size]) for i in range(0, len(generated), chunk_size)]
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    corpus = [chunk_of([{"event_id": f"c{i}", "request_model": "m", "prompt": r["prompt"], "response": r["response"],
                         "finish_reason": "stop"} for i, r in enumerate(rows)])]  # fmt: skip
    QualityScorer(1.0).columns(**corpus[0])  # load the models (about 1 s) before timing
    start = time.perf_counter()
    for _ in range(10):
        toxicity(["", ""])
    model_call_ms = (time.perf_counter() - start) * 100
    head = generated[:PER_CALL_EVENTS]
    with_text = sum(1 for e in head if e.get("prompt") is not None or e.get("response") is not None)
    off = us_per_event(chunks, 0.0, repeat)
    sampled_us = us_per_event([chunk_of(head)], 1.0, 1) * len(head) / with_text
    corpus_us = us_per_event(corpus, 1.0, repeat)
    by_rate: dict[str, float] = {}
    recommended = 0.0
    for rate in RATES:
        cost = us_per_event(chunks, rate, repeat)
        by_rate[str(rate)] = round(cost, 2)
        if cost > budget_us:
            break
        recommended = rate
    prompt_chars = sorted(len(e.get("prompt") or "") for e in generated if e.get("prompt") is not None)
    return {
        "events": events,
        "chunk_size": chunk_size,
        "scored_chars": SCORED_CHARS,
        "prompt_chars_median": prompt_chars[len(prompt_chars) // 2] if prompt_chars else 0,
        "us_per_event_sampling_off": round(off, 2),
        "us_per_sampled_call_traffic": round(sampled_us, 1),
        "us_per_sampled_call_corpus": round(corpus_us, 1),
        "model_call_ms": round(model_call_ms, 2),
        "budget_us_per_event": budget_us,
        "us_per_event_by_rate": by_rate,
        "recommended_sample_rate": recommended,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget-us", type=float, default=BUDGET_US)
    args = parser.parse_args()
    print(json.dumps(measure(args.events, args.chunk_size, args.repeat, args.budget_us), indent=2))


if __name__ == "__main__":
    main()
