"""The benchmark's traffic looks like a real deployment's: attributes, sessions, errors, streaming, cache
and reasoning tokens, many series, and event time that runs through many windows."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from llmpulse.bench import traffic
from llmpulse.schemas import LLMCallEvent

END = 1_790_000_000_000


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return traffic.generate(60_000, windows=60, end_ms=END)


def test_every_event_is_valid(events: list[dict]) -> None:
    for event in events[::50]:
        assert LLMCallEvent(**event).to_wire()["event_id"] == event["event_id"]
    assert len({e["event_id"] for e in events}) == len(events)


def test_attributes_and_sessions(events: list[dict]) -> None:
    sizes = Counter(len(e["attributes"]) for e in events)
    assert set(sizes) == {2, 3, 4, 5, 6}
    assert all(set(e["attributes"]) <= set(traffic.ATTRIBUTES) for e in events)
    assert all(isinstance(v, str) for e in events for v in e["attributes"].values())
    sessions = Counter(e["session_id"] for e in events)
    assert all(sessions) and 1_000 < len(sessions) < len(events) and max(sessions.values()) > 1


def test_errors_streaming_cache_and_reasoning(events: list[dict]) -> None:
    errors = [e for e in events if e["status"] == "error"]
    assert 0.02 < len(errors) / len(events) < 0.05
    assert len({e["error_type"] for e in errors}) >= 4 and all("ttft_ms" not in e for e in errors)
    streaming = [e for e in events if e["streaming"] and e["status"] == "ok"]
    assert len(streaming) > len(events) / 3 and all(0 < e["ttft_ms"] <= e["latency_ms"] for e in streaming)
    assert sum(e["cache_read_tokens"] > 0 for e in events) > len(events) / 50
    reasoning = [e for e in events if e["reasoning_tokens"]]
    assert {e["request_model"] for e in reasoning} == {"o3-mini", "o4-mini"}
    assert all(e["reasoning_tokens"] <= e["output_tokens"] for e in reasoning)


def test_cardinalities(events: list[dict]) -> None:
    assert len({e["team"] for e in events}) == 50
    assert len({e["app"] for e in events}) == 20
    assert len({e["request_model"] for e in events}) == 10
    assert len({(e["team"], e["request_model"]) for e in events}) > 300  # hundreds of series for alerting


def test_event_time_runs_through_the_windows_in_order(events: list[dict]) -> None:
    ts = np.array([e["ts_ms"] for e in events])
    assert (np.diff(ts) >= 0).all() and ts[-1] <= END and ts[0] >= END - 60 * traffic.WINDOW_MS
    per_window = np.bincount((ts - ts.min()) // traffic.WINDOW_MS)
    assert len(per_window) >= 60 and per_window.min() > 0.9 * per_window.mean()


def test_history_chunks_and_capture_text() -> None:
    chunks = list(traffic.generate_chunks(2_500, 1_000, windows=5, end_ms=END))
    assert [len(c) for c in chunks] == [1_000, 1_000, 500]
    assert chunks[-1][-1]["ts_ms"] == END
    captured = traffic.generate(300, windows=1, end_ms=END, capture=True)
    assert all(0 < len(e["prompt"]) <= traffic.MAX_TEXT_CHARS for e in captured if e["input_tokens"])
    mean_prompt = np.mean([len(e["prompt"]) for e in captured])
    assert mean_prompt > 1_000  # prompts as long as their token counts say, not one-liners
    assert all("response" in e for e in captured if e["status"] == "ok")


def test_records_are_ndjson_the_fast_path_takes() -> None:
    from llmpulse.schemas.kinds import CALL
    from llmpulse.stream_jobs.decode import Decoder, Source
    from llmpulse.stream_jobs.kinds import contract

    evs = traffic.generate(1_200, windows=2, end_ms=END)
    recs = traffic.records(evs, per_record=500)
    assert len(recs) == 3
    decoder = Decoder(contract(CALL), 10**12, 10**9)
    calls: list[int] = []
    validate = decoder.exact.validate
    decoder.exact.validate = lambda r: calls.append(len(r)) or validate(r)  # type: ignore[method-assign]
    out = decoder.decode([(Source("t", 0, i, ts), value) for i, (ts, value) in enumerate(recs)])
    assert out.events == 1_200 and not out.dead and calls == [0]
