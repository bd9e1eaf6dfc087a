"""What text capture costs the stream worker, split into its parts, and what redaction costs per KB of text.

    .venv/bin/python -m benchmarks.redact_bench [--events 2000] [--repeat 3] [--profile]

Worker: chunks of the benchmark traffic with captured text (``traffic.generate(capture=True)``, as
``llmpulse bench`` sends it: NDJSON records of 500 events) go through ``EventSink.prepare`` (decode, validation,
deduplication, table build; no store) four ways, and the differences are the parts:

- ``decode_build``: text capture off, quality sampling off (texts decoded, then dropped);
- ``quality``: text capture off, the default quality sampling, minus the above;
- ``redaction``: text capture on, quality sampling off, minus the first;
- ``capture``: text capture on and the default quality sampling: what a texted event costs the worker.

Redaction alone: ``Redactor.redact`` over the same prompts and responses (µs per KB of UTF-8), and over
generated 8 KB texts of ten kinds (prose in five languages, chat, code, logs, CSV, JSON; with and without PII)
made with a seed the equivalence fixture does not use, so the figure is from text nobody tuned on.
Times are CPU time of this process, the median of ``repeat`` runs. ``--profile`` prints, per recognizer, the
time spent in its finder (wall time, µs per KB of all the texts), and the prefilter's scans
(``llmpulse.privacy.prefilter``). Before/after comparisons: run this file against each version of the code.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from llmpulse.bench import traffic
from llmpulse.privacy.redact import Redactor
from llmpulse.settings import Settings
from llmpulse.stream_jobs.chunks import Chunk
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.runtime import _redactors
from llmpulse.stream_jobs.sink import EventSink, Record

CHUNK_EVENTS = 1_000
PER_RECORD = 500
UNTUNED_SEED = 90210  # not the equivalence fixture's seed (20261129)


def _cpu_us(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        runs.append((time.process_time() - start) * 1e6)
    return statistics.median(runs)


def _chunks(events: list[dict[str, Any]]) -> list[Chunk[Record]]:
    out = []
    offset = 0
    for i in range(0, len(events), CHUNK_EVENTS):
        recs = [Record(0, offset + j, ts, value)
                for j, (ts, value) in enumerate(traffic.records(events[i : i + CHUNK_EVENTS], PER_RECORD))]
        out.append(Chunk("bench.capture", 0, offset, offset + len(recs), recs))
        offset += len(recs)
    return out


def worker(events: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    """CPU µs per event of ``EventSink.prepare`` four ways (see the module doc)."""
    chunks = _chunks(events)
    redact, redact_bytes = _redactors()
    prices = PriceBook(None)
    default_rate = Settings().quality_sample_rate

    def run(capture: bool, quality: bool) -> float:
        settings = Settings(max_event_age_s=10**9, capture_text=capture,
                            quality_sample_rate=default_rate if quality else 0.0, quality_model_sample_rate=0.0)

        def once() -> None:
            sink = EventSink(None, settings, prices, redact=redact, redact_bytes=redact_bytes)  # type: ignore[arg-type]
            for chunk in chunks:
                prepared = sink.prepare(chunk)
                assert not prepared.error and prepared.decoded is not None, prepared.error
                assert prepared.decoded.events == len(chunk.items) * PER_RECORD or not prepared.decoded.dead

        return _cpu_us(once, repeat) / len(events)

    run(True, True)  # warm: name lists, models, caches of compiled patterns
    base = run(False, False)
    quality = run(False, True)
    redaction = run(True, False)
    capture = run(True, True)
    return {
        "decode_build_us_per_event": round(base, 1),
        "quality_us_per_event": round(quality - base, 1),
        "redaction_us_per_event": round(redaction - base, 1),
        "capture_us_per_event": round(capture, 1),
    }


def _us_per_kb(redactor: Redactor, texts: list[str], repeat: int) -> float:
    kb = sum(len(t.encode("utf-8")) for t in texts) / 1024

    def once() -> None:
        for text in texts:
            redactor.redact(text)

    return round(_cpu_us(once, repeat) / kb, 2)


def untuned_texts() -> dict[str, list[str]]:
    """Generated 8 KB texts of each kind, from a seed of their own, without and with PII."""
    from tests.privacy.equivalence_inputs import corpus_texts, long_text

    corpus = corpus_texts()
    rng = random.Random(UNTUNED_SEED)
    out: dict[str, list[str]] = {"without_pii": [], "with_pii": []}
    for kind in ("en", "de", "nl", "fr", "es", "chat", "code", "log", "numbers", "json"):
        for _ in range(4):
            out["without_pii"].append(long_text(rng, kind, []))
            out["with_pii"].append(long_text(rng, kind, rng.sample(corpus, 40)))
    return out


def traffic_texts(events: list[dict[str, Any]]) -> list[str]:
    return [t for e in events for t in (e.get("prompt"), e.get("response")) if t]


def profile(redactor: Redactor, texts: list[str]) -> dict[str, float]:
    """µs per KB spent in each recognizer's finder (wrapped one by one; gates and the rest are "other")."""
    spent: dict[str, float] = defaultdict(float)
    originals = redactor._recognizers
    wrapped = []
    for r in originals:
        name = f"{r.type}:{getattr(r.find, '__name__', type(r.find).__name__)}"

        def timed(text: str, find: Callable[[str], Any] = r.find, name: str = name) -> Any:
            start = time.perf_counter()
            try:
                return find(text)
            finally:
                spent[name] += time.perf_counter() - start

        wrapped.append(type(r)(r.type, timed, r.gate, r.needs, r.numeric))
    phones = redactor._phones
    redactor._recognizers = tuple(wrapped)
    if phones is not None:
        def timed_phones(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return phones(*args)
            finally:
                    spent["PHONE"] += time.perf_counter() - start

        redactor._phones = timed_phones  # type: ignore[assignment]
    scanner = redactor._prefilter
    if scanner is not None:
        scan = scanner

        class TimedScan:
            def hits(self, text: str) -> Any:
                start = time.perf_counter()
                try:
                    return scan.hits(text)
                finally:
                    spent["prefilter scan"] += time.perf_counter() - start

            def phone_runs(self, text: str) -> Any:
                start = time.perf_counter()
                try:
                    return scan.phone_runs(text)
                finally:
                    spent["prefilter phone runs"] += time.perf_counter() - start

        redactor._prefilter = TimedScan()  # type: ignore[assignment]
    kb = sum(len(t.encode("utf-8")) for t in texts) / 1024
    redactor._plans.clear()
    start = time.perf_counter()
    try:
        for text in texts:
            redactor.redact(text)
    finally:
        redactor._recognizers, redactor._phones, redactor._prefilter = originals, phones, scanner
        redactor._plans.clear()
    total = time.perf_counter() - start
    spent["other"] = total - sum(spent.values())
    return {k: round(v * 1e6 / kb, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-worker", action="store_true", help="redaction figures only")
    args = parser.parse_args()
    events = traffic.generate(args.events, capture=True, seed=23)
    texts = traffic_texts(events)
    redactor = Redactor()
    redactor.redact("warm up: Dr. Sarah Miller, 12 Elm Street, sarah@example.com")
    result: dict[str, Any] = {
        "events": len(events),
        "texted_events": sum(1 for e in events if e.get("prompt") or e.get("response")),
        "text_kb_per_event": round(sum(len(t.encode()) for t in texts) / 1024 / len(events), 2),
        "redact_us_per_kb_traffic": _us_per_kb(redactor, texts, args.repeat),
    }
    untuned = untuned_texts()
    for name, group in untuned.items():
        result[f"redact_us_per_kb_untuned_{name}"] = _us_per_kb(redactor, group, args.repeat)
    if not args.no_worker:
        result.update(worker(events, args.repeat))
    if args.profile:
        result["profile_traffic_us_per_kb"] = profile(redactor, texts)
        result["profile_untuned_us_per_kb"] = profile(redactor, untuned["with_pii"] + untuned["without_pii"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
