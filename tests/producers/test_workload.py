"""The workload generator: real arrivals and tokens, reproducible layers, valid events, incidents."""

from __future__ import annotations

import csv
import time
from collections import Counter
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from genai_prices import Usage, calc_price

from llmpulse.producers.workload import (
    APPS,
    CHUNK,
    CUSTOM_MODEL,
    ERROR_NAMES,
    FEEDBACK_SHARE,
    MODELS,
    REFUSAL_RATE,
    THUMBS_DOWN,
    UNPRICED_MODEL,
    ErrorBurst,
    LatencySpike,
    RefusalSpike,
    RunawaySpend,
    Workload,
    load_trace,
)
from llmpulse.producers.workload_text import EXCHANGES, REFUSALS
from llmpulse.quality.text import is_empty_answer, is_prompt_injection, is_refusal
from llmpulse.schemas.call import LLMCallEvent
from llmpulse.schemas.feedback import FeedbackEvent
from llmpulse.stream_jobs.pricing import PriceBook

START = 1_795_000_000_000
SHIPPED = Path(str(files("llmpulse.data").joinpath("azure_llm_inference_trace_code_2023.csv")))


def read_csv(path: Path) -> tuple[list[int], list[int], list[int]]:
    """The trace read independently: arrival offsets in ms (floored), context and generated tokens."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    stamps = [datetime.fromisoformat(r["TIMESTAMP"][:26]) for r in rows]  # µs precision, as the generator
    first = min(stamps)
    offsets_us = [(s - first) // _US for s in stamps]
    return (
        [o // 1000 for o in offsets_us],
        [int(r["ContextTokens"]) for r in rows],
        [int(r["GeneratedTokens"]) for r in rows],
    )


_US = datetime(2000, 1, 1, 0, 0, 0, 1) - datetime(2000, 1, 1)


def events(wl: Workload, n: int | None, start: int = START, speedup: float = 1.0) -> list[dict[str, Any]]:
    return [e for _, e in wl.events(n, start_ms=start, speedup=speedup)]


@pytest.fixture(scope="module")
def wl() -> Workload:
    return Workload(seed=3)


@pytest.fixture(scope="module")
def many(wl: Workload) -> list[dict[str, Any]]:
    return events(wl, 40_000)


def test_shipped_trace_is_present_and_attributed() -> None:
    assert SHIPPED.is_file()
    attribution = SHIPPED.with_name("ATTRIBUTION.md").read_text()
    assert "CC-BY 4.0" in attribution and "Splitwise" in attribution
    assert len(load_trace()) == len(SHIPPED.read_text().strip().splitlines()) - 1 == 8_819


def test_arrivals_and_tokens_are_the_trace(wl: Workload) -> None:
    offsets_ms, ctx, gen = read_csv(SHIPPED)
    evs = events(wl, None)
    assert len(evs) == len(offsets_ms)
    assert [e["ts_ms"] - START for e in evs] == offsets_ms
    assert [e["input_tokens"] for e in evs] == ctx
    assert [e["output_tokens"] for e in evs if e["status"] == "ok"] == [
        g for g, e in zip(gen, evs, strict=True) if e["status"] == "ok"
    ]
    assert all(e["output_tokens"] == 0 for e in evs if e["status"] == "error")


def test_send_times_are_compressed_event_times_are_not(wl: Workload) -> None:
    pairs = list(wl.events(2_000, start_ms=START, speedup=60.0))
    for send_at, e in pairs:
        assert send_at == pytest.approx((e["ts_ms"] - START) / 60_000, abs=1e-3 / 60)
    sends = [s for s, _ in pairs]
    assert sends == sorted(sends) and sends[0] == 0.0


def test_more_events_than_the_trace_repeat_it_shifted(wl: Workload) -> None:
    rows = len(wl.trace)
    n = 2 * rows + 500
    evs = events(wl, n)
    assert len(evs) == n
    span_us = wl.trace.span_us
    offsets = np.concatenate([b.offset_us for b in wl.batches(n, start_ms=START)])
    assert (offsets[rows : 2 * rows] == offsets[:rows] + span_us).all()
    assert (offsets[2 * rows :] == offsets[: n - 2 * rows] + 2 * span_us).all()
    for i in (0, 1, 777, rows - 1):
        assert evs[rows + i]["input_tokens"] == evs[i]["input_tokens"]
        assert abs(evs[rows + i]["ts_ms"] - evs[i]["ts_ms"] - span_us / 1000) <= 1
    assert wl.span_ms(n) == evs[-1]["ts_ms"] - evs[0]["ts_ms"]
    assert len({e["event_id"] for e in evs}) == n


def test_deterministic_under_seed_and_prefix_stable() -> None:
    a = events(Workload(seed=42), CHUNK + 50)
    b = events(Workload(seed=42), CHUNK + 50)
    assert a == b
    longer = events(Workload(seed=42), 2 * CHUNK + 7)
    assert longer[: CHUNK + 50] == a  # event i does not depend on n
    other = events(Workload(seed=43), CHUNK + 50)
    assert [e["ts_ms"] for e in other] == [e["ts_ms"] for e in a]
    assert [e["request_model"] for e in other] != [e["request_model"] for e in a]
    assert {e["event_id"] for e in other}.isdisjoint(e["event_id"] for e in a)
    elsewhere = events(Workload(seed=42), 100, start=START + 3_600_000)
    assert {e["event_id"] for e in elsewhere}.isdisjoint(e["event_id"] for e in a)


def test_every_event_is_exactly_a_valid_wire_event(many: list[dict[str, Any]]) -> None:
    fields = set(LLMCallEvent.model_fields)
    for e in many:
        assert set(e) <= fields
        assert LLMCallEvent.model_validate(e).to_wire() == e
    assert len({e["event_id"] for e in many}) == len(many)


def test_models_price_as_intended() -> None:
    for m in MODELS:
        if m.request_model in (CUSTOM_MODEL, UNPRICED_MODEL):
            with pytest.raises(LookupError):
                calc_price(Usage(input_tokens=1_000), m.request_model)
            continue
        for ref in (m.request_model, m.response_model):
            price = calc_price(Usage(input_tokens=1_000, output_tokens=100), ref, provider_id=m.provider)
            assert price.total_price > 0, (m, ref)


def test_realistic_mix(many: list[dict[str, Any]]) -> None:
    n = len(many)
    models = Counter(e["request_model"] for e in many)
    assert set(models) == {m.request_model for m in MODELS}
    assert 0.01 < models[UNPRICED_MODEL] / n < 0.10
    assert {e["app"] for e in many} == {a.name for a in APPS}
    team_of = {a.name: a.team for a in APPS}
    assert all(team_of[e["app"]] == e["team"] for e in many)
    users = Counter(e["user_id"] for e in many)
    top = sum(c for _, c in users.most_common(50))  # the top 1% of 5,000 users
    assert top / n > 0.3
    envs = Counter(e["environment"] for e in many)
    assert envs.most_common(1)[0][0] == "production" and set(envs) <= {"production", "staging", "development"}
    sessions = Counter(e["session_id"] for e in many)
    assert 1 < n / len(sessions) < 20 and sessions.most_common(1)[0][1] > 5
    assert all(e["session_id"].startswith("s") for e in many)


def test_errors(many: list[dict[str, Any]]) -> None:
    errors = [e for e in many if e["status"] == "error"]
    assert 0.01 < len(errors) / len(many) < 0.02
    assert {e["error_type"] for e in errors} <= set(ERROR_NAMES)
    assert len({e["error_type"] for e in errors}) >= 4
    for e in errors:
        assert e["output_tokens"] == 0 and e["input_tokens"] > 0 and e["latency_ms"] > 0
        assert "ttft_ms" not in e and "finish_reason" not in e and "response_model" not in e
    timeouts = [e["latency_ms"] for e in errors if e["error_type"] == "APITimeoutError"]
    limits = [e["latency_ms"] for e in errors if e["error_type"] == "RateLimitError"]
    assert min(timeouts) >= 60_000 > 10 * max(limits)
    assert all("error_type" not in e for e in many if e["status"] == "ok")


def test_latency_depends_on_tokens_and_model(many: list[dict[str, Any]]) -> None:
    ok = [e for e in many if e["status"] == "ok"]

    def median(model: str, cond: Any, key: str = "latency_ms") -> float:
        return float(np.median([e[key] for e in ok if e["request_model"] == model and cond(e) and key in e]))

    for model in ("gpt-4o", "gpt-4o-mini", CUSTOM_MODEL):
        assert median(model, lambda e: e["output_tokens"] > 100) > 2 * median(
            model, lambda e: e["output_tokens"] < 15
        )
    short = lambda e: e["input_tokens"] < 1_000  # noqa: E731
    assert median("claude-3-5-sonnet-20241022", short, "ttft_ms") > 1.5 * median(
        "gemini-2.0-flash", short, "ttft_ms"
    )
    long_prompt = lambda e: e["input_tokens"] > 6_000 and e["cache_read_tokens"] == 0  # noqa: E731
    assert median(CUSTOM_MODEL, long_prompt, "ttft_ms") > 3 * median(CUSTOM_MODEL, short, "ttft_ms")


def test_ttft_only_for_streaming_ok_calls(many: list[dict[str, Any]]) -> None:
    streamed = [e for e in many if e["status"] == "ok" and e["streaming"]]
    assert len(streamed) > len(many) / 3
    assert all(0 < e["ttft_ms"] <= e["latency_ms"] for e in streamed)
    assert all("ttft_ms" not in e for e in many if not e["streaming"])


def test_cache_tokens(many: list[dict[str, Any]]) -> None:
    caching = {m.request_model: m.caching for m in MODELS}
    reads = [e for e in many if e["cache_read_tokens"] > 0]
    writes = [e for e in many if e["cache_write_tokens"] > 0]
    assert len(reads) > 0.05 * len(many) and len(writes) > 0.005 * len(many)
    for e in many:
        assert (
            e["cache_read_tokens"] + e["cache_write_tokens"] <= e["input_tokens"]
        )  # OTel: input includes them
    assert all(e["input_tokens"] >= 1024 and e["cache_read_tokens"] % 128 == 0 for e in reads)
    assert {caching[e["request_model"]] for e in reads} == {"auto", "explicit"}
    assert {caching[e["request_model"]] for e in writes} == {"explicit"}


def test_start_ms_ending_now(wl: Workload) -> None:
    now = 1_800_000_000_000
    n = 3 * len(wl.trace)
    start = wl.start_ms_ending_now(n, now_ms=now)
    evs = events(wl, n, start=start)
    assert now - 5_000 <= evs[-1]["ts_ms"] <= now
    assert evs[0]["ts_ms"] >= now - 30 * 86_400_000
    real_now = time.time_ns() // 1_000_000
    last = events(wl, None, start=wl.start_ms_ending_now())[-1]["ts_ms"]
    assert real_now - 5_000 <= last <= real_now
    too_many = (30 * 86_400_000 // (wl.trace.span_us // 1000) + 2) * len(wl.trace)
    with pytest.raises(ValueError, match="days"):
        wl.start_ms_ending_now(too_many)
    assert wl.span_ms(0) == 0 and wl.span_ms(1) == 0


def test_any_azure_format_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2024-05-01 10:00:01.5000000,300,20\n"
        "2024-05-01 10:00:00.2500000,100,10\n"
        "2024-05-01 10:00:03.0000000,500,40\n"
    )
    evs = events(Workload(path, seed=1), 6)
    assert [e["ts_ms"] - START for e in evs] == [0, 1_250, 2_750, 2_750, 4_000, 5_500]
    assert [e["input_tokens"] for e in evs] == [100, 300, 500, 100, 300, 500]
    bad = tmp_path / "bad.csv"
    bad.write_text("time,in,out\n2024-05-01 10:00:00,1,2\n")
    with pytest.raises(ValueError, match=r"bad\.csv.*header"):
        Workload(bad)
    worse = tmp_path / "worse.csv"
    worse.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-01 10:00:00,lots,2\n")
    with pytest.raises(ValueError, match=r"worse\.csv:2"):
        Workload(worse)


# ----------------------------------------------------------------------------------------- incidents

N = 8_000


@pytest.fixture(scope="module")
def baseline() -> list[dict[str, Any]]:
    return events(Workload(seed=9), N)


def split(evs: list[dict[str, Any]], start_s: float, end_s: float) -> tuple[list[int], list[int]]:
    inside = [i for i, e in enumerate(evs) if start_s * 1000 <= e["ts_ms"] - START < end_s * 1000]
    return inside, sorted(set(range(len(evs))) - set(inside))


def test_latency_spike(baseline: list[dict[str, Any]]) -> None:
    spike = LatencySpike(model="gpt-4o", start_s=600, end_s=1_200, factor=6.0)
    evs = events(Workload(seed=9, incidents=[spike]), N)
    inside, outside = split(evs, 600, 1_200)
    assert all(evs[i] == baseline[i] for i in outside)
    hit = [i for i in inside if evs[i]["request_model"] == "gpt-4o" and evs[i]["status"] == "ok"]
    assert len(hit) > 50
    for i in hit:
        assert evs[i]["latency_ms"] == pytest.approx(6 * baseline[i]["latency_ms"], abs=0.01)
        if "ttft_ms" in evs[i]:
            assert evs[i]["ttft_ms"] == pytest.approx(6 * baseline[i]["ttft_ms"], abs=0.01)
    assert all(evs[i] == baseline[i] for i in inside if evs[i]["request_model"] != "gpt-4o")


def test_error_burst(baseline: list[dict[str, Any]]) -> None:
    burst = ErrorBurst(provider="anthropic", start_s=300, end_s=900, rate=0.5, error_type="OverloadedError")
    evs = events(Workload(seed=9, incidents=[burst]), N)
    inside, outside = split(evs, 300, 900)
    assert all(evs[i] == baseline[i] for i in outside)
    anthropic = [i for i in inside if evs[i]["provider"] == "anthropic"]
    failed = [i for i in anthropic if evs[i]["status"] == "error"]
    assert 0.4 < len(failed) / len(anthropic) < 0.6
    assert Counter(evs[i]["error_type"] for i in failed).most_common(1)[0][0] == "OverloadedError"
    assert all(evs[i] == baseline[i] for i in inside if evs[i]["provider"] != "anthropic")
    with pytest.raises(ValueError):
        events(Workload(seed=9, incidents=[ErrorBurst("openai", 0, 10, error_type="Oops")]), 10)


def test_runaway_spend(baseline: list[dict[str, Any]]) -> None:
    runaway = RunawaySpend(team="data", start_s=1_000, end_s=1_600)
    evs = events(Workload(seed=9, incidents=[runaway]), N)
    inside, outside = split(evs, 1_000, 1_600)
    assert all(evs[i] == baseline[i] for i in outside)
    book = PriceBook()

    def spend(sample: list[dict[str, Any]]) -> int:
        mine = [e for e in sample if e["team"] == "data"]
        cost, _, _ = book.price(
            [e["provider"] for e in mine],
            [e["request_model"] for e in mine],
            *(
                [e[k] for e in mine]
                for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "ts_ms")
            ),
        )
        return int(cost.sum())

    assert spend([evs[i] for i in inside]) > 20 * spend([baseline[i] for i in inside])
    calls = Counter(evs[i]["team"] for i in inside)
    assert calls["data"] > 0.3 * len(inside)
    assert all(LLMCallEvent.model_validate(evs[i]).to_wire() == evs[i] for i in inside)


def texts_and_feedback(wl: Workload, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    calls, given = [], []
    for batch in wl.batches(n, start_ms=START):
        calls += wl.to_wire(batch, start_ms=START)
        given += wl.feedback(batch, start_ms=START)
    return calls, given


def test_texts_are_opt_in_and_change_nothing_else(baseline: list[dict[str, Any]]) -> None:
    assert all("prompt" not in e and "response" not in e for e in baseline)
    assert Workload(seed=9).feedback(next(Workload(seed=9).batches(100, start_ms=START)), start_ms=START) == []
    calls, given = texts_and_feedback(Workload(seed=9, texts=True), N)
    assert [{k: v for k, v in e.items() if k not in ("prompt", "response")} for e in calls] == baseline
    answers = {a for pairs in EXCHANGES.values() for _, a in pairs}
    refused = 0
    for e in calls:
        prompts = dict(EXCHANGES[e["app"]])
        assert e["prompt"] in prompts  # every call says something its app is asked
        assert LLMCallEvent.model_validate(e).to_wire() == e
        if e["status"] == "error":
            assert "response" not in e
            continue
        assert e["response"] in (prompts[e["prompt"]], *REFUSALS) and e["response"] in answers | set(REFUSALS)
        refused += e["response"] in REFUSALS
    answered = sum(e["status"] == "ok" for e in calls)
    assert refused / answered == pytest.approx(REFUSAL_RATE, rel=0.3)
    # feedback: a few answered calls, given after the call, attributed by its call's id, valid events
    by_id = {e["event_id"]: e for e in calls}
    assert len(given) / answered == pytest.approx(FEEDBACK_SHARE, rel=0.2)
    assert [f["ts_ms"] for f in given] == sorted(f["ts_ms"] for f in given)
    for f in given:
        call = by_id[f["call_id"]]
        assert call["status"] == "ok" and call["ts_ms"] < f["ts_ms"] <= call["ts_ms"] + 120_000
        assert (f["app"], f["team"], f["user_id"]) == (call["app"], call["team"], call["user_id"])
        assert FeedbackEvent.model_validate(f).model_dump(exclude_none=True) == f
    assert len({f["event_id"] for f in given} | set(by_id)) == len(given) + len(calls)
    down = [f["thumbs"] == "down" for f in given if by_id[f["call_id"]]["response"] not in REFUSALS]
    assert sum(down) / len(down) == pytest.approx(THUMBS_DOWN, rel=0.35)


def test_the_demo_phrasings_as_the_worker_judges_them() -> None:
    """The rule-based detector recognises every refusal of the demo and none of its answers (measured, not
    tuned: the phrasings were written before the detector was run on them)."""
    assert [r for r in REFUSALS if not is_refusal(r)] == []
    pairs = [pair for pairs in EXCHANGES.values() for pair in pairs]
    assert [a for _, a in pairs if is_refusal(a) or is_empty_answer(a, "")] == []
    assert [p for p, _ in pairs if is_prompt_injection(p)] == []


def test_refusal_spike() -> None:
    base = Workload(seed=9, texts=True)
    spike = RefusalSpike(app="support-bot", start_s=600, end_s=1_500, share=0.5)
    evs, given = texts_and_feedback(Workload(seed=9, texts=True, incidents=[spike]), N)
    before, _ = texts_and_feedback(base, N)
    inside, outside = split(evs, 600, 1_500)
    assert all(evs[i] == before[i] for i in outside)
    assert all(evs[i] == before[i] for i in inside if evs[i]["app"] != "support-bot")
    answered = [i for i in inside if evs[i]["app"] == "support-bot" and evs[i]["status"] == "ok"]
    refused = [i for i in answered if evs[i]["response"] in REFUSALS]
    assert len(answered) > 100 and 0.4 < len(refused) / len(answered) < 0.6
    judged = {f["call_id"]: f["thumbs"] for f in given}
    down = [judged[evs[i]["event_id"]] == "down" for i in refused if evs[i]["event_id"] in judged]
    assert len(down) >= 5 and sum(down) / len(down) > 0.7  # refused users give thumbs down
    with pytest.raises(ValueError):
        RefusalSpike(app="nope", start_s=0, end_s=1)
    assert spike.describe() == {"kind": "refusal_spike", "dimension": "app", "value": "support-bot", "start_s": 600,
                                "end_s": 1_500, "strength": {"share": 0.5}}  # fmt: skip


def test_a_long_replay_streams_ordered_unique_events() -> None:
    """200,000 events (several laps of the trace), consumed as a stream: every one arrives, in arrival order,
    with a unique id, event time spanning exactly ``span_ms`` (speed is measured by ``llmpulse bench``)."""
    n = 200_000
    wl = Workload(seed=1)
    count, last_send, last_ts, first_ts = 0, -1.0, -1, None
    ids: set[str] = set()
    for send_at, e in wl.events(n, start_ms=START, speedup=100.0):
        assert send_at >= last_send and e["ts_ms"] >= last_ts
        last_send, last_ts = send_at, e["ts_ms"]
        first_ts = e["ts_ms"] if first_ts is None else first_ts
        ids.add(e["event_id"])
        count += 1
    assert count == len(ids) == n
    assert n > 2 * len(wl.trace)  # the replay wrapped around the trace at least twice
    assert first_ts == START and last_ts - first_ts == wl.span_ms(n)
    assert last_send == pytest.approx(wl.span_ms(n) / 1000 / 100.0, abs=0.01)
