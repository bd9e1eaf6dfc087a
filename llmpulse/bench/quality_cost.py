"""What the quality columns cost the worker, per sampling tier, and the rate pair that fits a budget:
``python -m llmpulse.bench.quality_cost`` (JSON).

Chunks of the benchmark traffic with captured text (``traffic.generate(capture=True)``: prompts and answers of
realistic length, pseudo-English without punctuation) go through ``QualityScorer.columns``:

- with sampling off: what every call costs (``truncated`` and the sampling hash);
- with every call judged by the rules only, then by the rules and the models, on the first
  ``PER_CALL_EVENTS`` events: what a rule-sampled call costs, and what a model-sampled call costs on top;
- at each pair of ``RULE_RATES`` x ``MODEL_RATES``: the cost per event as measured, which also holds the
  toxicity model's fixed cost per chunk with a model-sampled call (``model_call_ms``), hence the chunk size
  (the worker's, 1,000 events by default).

The short chat texts of the training corpus (``tests/quality/corpus.jsonl``) give the same two per-call costs
for short texts. Times are CPU time of the process. The recommended pair has the largest rule rate for which a
model rate above 0 fits the budget (per-app refusal and injection rates need volume), then the largest model
rate at that rule rate; the largest rule rate that fits with the models off is reported too.
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
#: the pipeline's loaded throughput (README capacity planning) is about 35k events/s, 28 µs per event; with the
#: quality columns taking at most 12 µs of it, throughput with them stays above half of that, with a margin
BUDGET_US = 12.0
RULE_RATES = (0.1, 0.25, 0.5, 1.0)
MODEL_RATES = (0.0, 0.001, 0.002, 0.005, 0.01)
PER_CALL_EVENTS = 2000
#: an app of this many calls per minute, to tell how many calls a minute the rule sample holds
APP_CALLS_PER_MINUTE = 30


def chunk_of(events: list[dict[str, Any]]) -> dict[str, pa.Array]:
    return {
        "event_ids": pa.array([e["event_id"] for e in events], pa.string()),
        "models": pa.array([e["request_model"] for e in events], pa.string()).dictionary_encode(),
        "prompts": pa.array([e.get("prompt") for e in events], pa.string()),
        "responses": pa.array([e.get("response") for e in events], pa.string()),
        "finish_reasons": pa.array([e.get("finish_reason") for e in events], pa.string()).dictionary_encode(),
    }


def us_per_event(chunks: list[dict[str, pa.Array]], rate: float, model_rate: float, repeat: int) -> float:
    """Median over ``repeat`` runs of the CPU µs per event of scoring every chunk with a fresh scorer (CPU
    time of this process, so that other work on a shared machine does not count; the worker is single-threaded
    here too)."""
    runs = []
    events = sum(len(c["event_ids"]) for c in chunks)
    for _ in range(repeat):
        scorer = QualityScorer(rate, model_rate)
        start = time.process_time()
        for columns in chunks:
            scorer.columns(**columns)
        runs.append((time.process_time() - start) * 1e6 / events)
    return statistics.median(runs)


def per_call(chunks: list[dict[str, pa.Array]], with_text: int, repeat: int) -> tuple[float, float]:
    """µs per call with text judged by the rules, and the models' µs per call on top, every call sampled."""
    events = sum(len(c["event_ids"]) for c in chunks)
    off = us_per_event(chunks, 0.0, 0.0, repeat) * events / with_text
    rules = us_per_event(chunks, 1.0, 0.0, repeat) * events / with_text - off
    both = us_per_event(chunks, 1.0, 1.0, repeat) * events / with_text - off
    return rules, both - rules


def measure(events: int = 30_000, chunk_size: int = 1_000, repeat: int = 3,
            budget_us: float = BUDGET_US) -> dict[str, Any]:  # fmt: skip
    generated = traffic.generate(events, capture=True, seed=23)
    chunks = [chunk_of(generated[i : i + chunk_size]) for i in range(0, len(generated), chunk_size)]
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    corpus = [chunk_of([{"event_id": f"c{i}", "request_model": "m", "prompt": r["prompt"], "response": r["response"],
                         "finish_reason": "stop"} for i, r in enumerate(rows)])]  # fmt: skip
    QualityScorer(1.0, 1.0).columns(**corpus[0])  # load the models (about 1 s) before timing
    start = time.process_time()
    for _ in range(10):
        toxicity(["", ""])
    model_call_ms = (time.process_time() - start) * 100
    head = generated[:PER_CALL_EVENTS]
    with_text = sum(1 for e in head if e.get("prompt") is not None or e.get("response") is not None)
    head_chunks = [chunk_of(head[i : i + chunk_size]) for i in range(0, len(head), chunk_size)]
    rule_us, model_us = per_call(head_chunks, with_text, repeat)
    corpus_rule_us, corpus_model_us = per_call(corpus, len(rows), repeat)
    off = us_per_event(chunks, 0.0, 0.0, repeat)
    by_pair: dict[str, float] = {}
    recommended, rules_only = (0.0, 0.0), 0.0
    for rate in RULE_RATES:
        for model_rate in MODEL_RATES:
            cost = us_per_event(chunks, rate, model_rate, repeat)
            by_pair[f"{rate}/{model_rate}"] = round(cost, 2)
            if cost <= budget_us and model_rate > 0 and (rate, model_rate) > recommended:
                recommended = (rate, model_rate)
            if cost <= budget_us and model_rate == 0:
                rules_only = max(rules_only, rate)
    prompt_chars = sorted(len(e.get("prompt") or "") for e in generated if e.get("prompt") is not None)
    text_share = sum(1 for e in generated if e.get("prompt") is not None or e.get("response") is not None) / events
    return {
        "events": events,
        "chunk_size": chunk_size,
        "scored_chars": SCORED_CHARS,
        "prompt_chars_median": prompt_chars[len(prompt_chars) // 2] if prompt_chars else 0,
        "us_per_event_sampling_off": round(off, 2),
        "us_per_rule_sampled_call_traffic": round(rule_us, 1),
        "us_per_model_sampled_call_traffic": round(model_us, 1),
        "us_per_rule_sampled_call_corpus": round(corpus_rule_us, 1),
        "us_per_model_sampled_call_corpus": round(corpus_model_us, 1),
        "model_call_ms": round(model_call_ms, 2),
        "budget_us_per_event": budget_us,
        "us_per_event_by_rule_rate/model_rate": by_pair,
        "recommended_sample_rate": recommended[0],
        "recommended_model_sample_rate": recommended[1],
        "largest_sample_rate_with_models_off": rules_only,
        f"rule_sampled_calls_per_minute_at_{APP_CALLS_PER_MINUTE}_calls": APP_CALLS_PER_MINUTE * recommended[0],
        "share_of_calls_with_text": round(text_share, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--chunk-size", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget-us", type=float, default=BUDGET_US)
    args = parser.parse_args()
    print(json.dumps(measure(args.events, args.chunk_size, args.repeat, args.budget_us), indent=2))


if __name__ == "__main__":
    main()
