"""Benchmark traffic that looks like a real deployment's, generated ahead of time (generating is not measured).

On top of the workload generator (``llmpulse.producers.workload``: a real trace's token counts, latency from
prefill and decode, TTFT for streaming calls, prompt-cache reads/writes, Zipf users, 30-minute sessions,
typed errors) the benchmark spreads calls over ``TEAMS`` teams and ``APPS`` apps, adds two reasoning models
(reasoning tokens, counted inside the output tokens as OpenAI reports them), a few percent errors, and 2-6
attributes per call. Event time is spread evenly over ``windows`` one-minute windows ending at ``end_ms``,
in order, so the stream closes window after window as it is consumed. With ``capture`` the events carry a
prompt and a response of realistic length (about four characters per token, ``max_text_chars`` at most),
with a little PII in some of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from llmpulse.producers.workload import Workload
from llmpulse.schemas.rollup import WINDOW_MS

DAY_MS = 86_400_000
TEAMS = tuple(f"team-{i:02d}" for i in range(50))
APPS = tuple(f"app-{name}" for name in (
    "code-assistant", "support-bot", "doc-search", "sql-copilot", "email-drafter", "triage-router", "summarizer",
    "translator", "meeting-notes", "sales-coach", "hr-helpdesk", "legal-review", "data-labeler", "qa-tester",
    "release-notes", "onboarding", "search-rerank", "ticket-router", "code-review", "ads-copy"))  # fmt: skip
#: (base model in the workload, reasoning model it stands in for, share of that model's calls)
REASONING = (("gpt-4o-mini", "o3-mini", 0.3), ("gpt-4o", "o4-mini", 0.3))
ERROR_RATE = 0.03
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "feature": ("chat", "autocomplete", "summarize", "search", "classify", "extract", "rewrite", "agent-step"),
    "prompt_version": tuple(f"v{i}" for i in range(1, 13)),
    "region": ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"),
    "customer_tier": ("free", "pro", "team", "enterprise"),
    "experiment": tuple(f"exp-{i}" for i in range(20)),
    "locale": ("en-US", "en-GB", "de-DE", "fr-FR", "nl-NL", "es-ES", "ja-JP", "pt-BR"),
    "tool": ("none", "web_search", "code_interpreter", "retrieval", "calculator", "sql"),
    "route": ("primary", "fallback", "canary"),
}
CHARS_PER_TOKEN = 4
MAX_TEXT_CHARS = 32_768
PII_SHARE = 0.05  # events whose prompt mentions an e-mail address or a phone number


def _zipf_cdf(n: int, exponent: float = 1.0) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return np.cumsum(weights) / weights.sum()


def generate(n: int, *, windows: int = 60, end_ms: int | None = None, seed: int = 11,
             capture: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """``n`` wire dicts whose event time runs evenly over ``windows`` minutes up to ``end_ms`` (default now)."""
    end = now_ms() - 1000 if end_ms is None else end_ms
    return list(_events(n, windows * WINDOW_MS, end, seed, capture))


def generate_chunks(n: int, size: int, *, windows: int, end_ms: int, seed: int = 11) -> Iterator[list[dict[str, Any]]]:
    """The same traffic, ``size`` events at a time (history too large to hold in memory at once)."""
    chunk: list[dict[str, Any]] = []
    for event in _events(n, windows * WINDOW_MS, end_ms, seed, False):
        chunk.append(event)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _events(n: int, span_ms: int, end_ms: int, seed: int, capture: bool) -> Iterator[dict[str, Any]]:
    workload = Workload(seed=seed, error_rate=ERROR_RATE)
    rng = np.random.default_rng([seed, 7])
    team_cdf, app_cdf = _zipf_cdf(len(TEAMS)), _zipf_cdf(len(APPS), 0.8)
    keys = list(ATTRIBUTES)
    corpus = _corpus(rng) if capture else ""
    done = 0
    start_ms = end_ms - span_ms
    for batch in workload.batches(n, start_ms=start_ms):
        wire = workload.to_wire(batch, start_ms=start_ms)
        m = len(wire)
        idx = np.arange(done, done + m)
        ts = (start_ms + (idx + 1) * span_ms // max(n, 1)).tolist()
        teams = np.searchsorted(team_cdf, rng.random(m)).tolist()
        apps = np.searchsorted(app_cdf, rng.random(m)).tolist()
        n_attrs = rng.integers(2, 7, m).tolist()
        picks = rng.random((m, len(keys))).argsort(axis=1).tolist()
        values = rng.random((m, len(keys)))
        reasoning_u = rng.random(m).tolist()
        frac = (0.3 + 0.5 * rng.random(m)).tolist()
        text_at = rng.integers(0, max(len(corpus) - MAX_TEXT_CHARS, 1), (m, 2)).tolist() if capture else None
        for i, event in enumerate(wire):
            event["ts_ms"] = ts[i]
            event["team"] = TEAMS[teams[i]]
            event["app"] = APPS[apps[i]]
            event["attributes"] = {
                keys[k]: ATTRIBUTES[keys[k]][int(values[i, k] * len(ATTRIBUTES[keys[k]]))]
                for k in picks[i][: n_attrs[i]]
            }
            for base, model, share in REASONING:
                if event["request_model"] == base and reasoning_u[i] < share:
                    event["request_model"] = model
                    if "response_model" in event:
                        event["response_model"] = model
                    event["reasoning_tokens"] = int(event["output_tokens"] * frac[i])
            if text_at is not None:
                p_len = min(event["input_tokens"] * CHARS_PER_TOKEN, MAX_TEXT_CHARS)
                r_len = min(event["output_tokens"] * CHARS_PER_TOKEN, MAX_TEXT_CHARS)
                event["prompt"] = corpus[text_at[i][0] : text_at[i][0] + p_len]
                if event["status"] == "ok":
                    event["response"] = corpus[text_at[i][1] : text_at[i][1] + r_len]
            yield event
        done += m


WORDS = ("the", "function", "returns", "a", "list", "of", "order", "ids", "please", "refactor", "this", "code",
         "so", "that", "it", "handles", "empty", "input", "and", "customer", "asked", "about", "invoice", "shipping",
         "delay", "summary", "meeting", "notes", "for", "team", "review", "deploy", "error", "stack", "trace",
         "version", "1.2.3", "build", "42", "query", "table", "select", "from", "where", "price", "$19.99")  # fmt: skip


def _corpus(rng: np.random.Generator, chars: int = 1 << 21) -> str:
    """Pseudo-English with e-mail addresses and phone numbers sprinkled in (about ``PII_SHARE`` of 6 KB
    stretches hold one), so redaction has real work to do."""
    words = np.array(WORDS, dtype=object)[rng.integers(0, len(WORDS), chars // 5)].tolist()
    for pos in rng.integers(0, len(words), int(len(words) * PII_SHARE / 1200)).tolist():
        words[pos] = f"jane.doe{pos}@example.com" if pos % 2 else f"+31 6 {pos % 10**8:08d}"
    return " ".join(words)


def records(events: list[dict[str, Any]], per_record: int = 500) -> list[tuple[int, bytes]]:
    """(record timestamp ms, value) pairs as the Monitor would send them (NDJSON)."""
    out = []
    for i in range(0, len(events), per_record):
        chunk = events[i : i + per_record]
        out.append((int(chunk[-1]["ts_ms"]), b"\n".join(orjson.dumps(e) for e in chunk)))
    return out


def now_ms() -> int:
    return time.time_ns() // 1_000_000
