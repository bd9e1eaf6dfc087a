"""monitor.track(): timing, errors, and usage taken from real OpenAI SDK responses (local HTTP server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion

from llmpulse.producers import CallTracker, Monitor
from llmpulse.producers.track import extract_response
from llmpulse.schemas.call import LLMCallEvent
from tests.fixtures.kafka import read_events

# OpenAI's published chat completion format (https://platform.openai.com/docs/api-reference/chat/object).
COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 12,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [] if usage else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions, answered in OpenAI's format (JSON, or SSE chunks when stream=true)."""

    delay_s = 0.0
    fail_with: int | None = None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/chat/completions" or "messages" not in body:
            self.send_error(404)
            return
        if self.fail_with:
            payload = json.dumps({"error": {"message": "Rate limit reached", "type": "requests"}}).encode()
            self.send_response(self.fail_with)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        time.sleep(self.delay_s)
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(chunk({"role": "assistant", "content": ""}))
            for word in ("Hel", "lo", "!"):
                time.sleep(0.02)
                self.wfile.write(chunk({"content": word}))
            self.wfile.write(chunk({}, finish="length"))
            if body.get("stream_options", {}).get("include_usage"):
                usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
                self.wfile.write(chunk({}, usage=usage))
            self.wfile.write(b"data: [DONE]\n\n")
            return
        payload = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def openai_client() -> Iterator[openai.OpenAI]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOpenAI.delay_s, FakeOpenAI.fail_with = 0.0, None
    client = openai.OpenAI(
        api_key="sk-test", base_url=f"http://127.0.0.1:{server.server_port}/v1", max_retries=0
    )
    yield client
    client.close()
    server.shutdown()
    server.server_close()


def tracker(events: list[dict[str, Any]], **fields: Any) -> CallTracker:
    return CallTracker(
        events.append, "openai", "gpt-4o", app="chat", team="search", user_id="u1", fields=fields
    )


def test_success_records_a_valid_event_with_timing() -> None:
    events: list[dict[str, Any]] = []
    before = time.time_ns() // 1_000_000
    with tracker(events, session_id="s-1") as call:
        time.sleep(0.03)
        call.set_usage(input_tokens=120, output_tokens=30, cache_read_tokens=100, reasoning_tokens=5)
    after = time.time_ns() // 1_000_000

    (event,) = events
    assert before <= event["ts_ms"] <= after
    assert 30.0 <= event["latency_ms"] < 1_000
    assert event["status"] == "ok" and "error_type" not in event
    assert (event["provider"], event["request_model"], event["team"], event["session_id"]) == (
        "openai",
        "gpt-4o",
        "search",
        "s-1",
    )
    assert (event["input_tokens"], event["output_tokens"], event["cache_read_tokens"]) == (120, 30, 100)
    assert event["reasoning_tokens"] == 5
    assert event["schema_version"] == 1
    parsed = LLMCallEvent.model_validate(event)
    assert parsed.event_id == event["event_id"] and not parsed.streaming


def test_exception_marks_error_and_propagates() -> None:
    events: list[dict[str, Any]] = []
    with pytest.raises(TimeoutError, match="upstream"), tracker(events):
        raise TimeoutError("upstream took too long")
    (event,) = events
    assert event["status"] == "error"
    assert event["error_type"] == "TimeoutError"
    assert LLMCallEvent.model_validate(event).status == "error"


def test_first_token_records_ttft_once() -> None:
    events: list[dict[str, Any]] = []
    with tracker(events) as call:
        time.sleep(0.02)
        call.first_token()
        time.sleep(0.03)
        call.first_token()  # later chunks do not move it
    (event,) = events
    assert 20.0 <= event["ttft_ms"] < event["latency_ms"]
    assert event["latency_ms"] - event["ttft_ms"] >= 30.0
    assert event["streaming"] is True


def test_each_call_gets_its_own_event_id() -> None:
    events: list[dict[str, Any]] = []
    for _ in range(3):
        with tracker(events):
            pass
    assert len({event["event_id"] for event in events}) == 3


def test_usage_from_the_real_openai_client(openai_client: openai.OpenAI) -> None:
    events: list[dict[str, Any]] = []
    FakeOpenAI.delay_s = 0.05
    with tracker(events) as call:
        response = openai_client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Capital of France?"}]
        )
        call.set_response(response)
    assert isinstance(response, ChatCompletion)
    (event,) = events
    assert event["input_tokens"] == 1117
    assert event["output_tokens"] == 46
    assert event["cache_read_tokens"] == 1024
    assert event["reasoning_tokens"] == 12
    assert event["response_model"] == "gpt-4o-2024-08-06"
    assert event["finish_reason"] == "stop"
    assert event["latency_ms"] >= 50.0
    LLMCallEvent.model_validate(event)


def test_streaming_with_the_real_openai_client(openai_client: openai.OpenAI) -> None:
    events: list[dict[str, Any]] = []
    with tracker(events, operation="chat") as call:
        stream = openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text = []
        for part in stream:
            if part.choices and part.choices[0].delta.content:
                call.first_token()
                text.append(part.choices[0].delta.content)
            call.set_response(part)
    assert "".join(text) == "Hello!"
    (event,) = events
    assert event["streaming"] is True
    assert 0 < event["ttft_ms"] < event["latency_ms"]
    assert (event["input_tokens"], event["output_tokens"]) == (9, 3)
    assert event["finish_reason"] == "length"  # from the chunk before the usage-only chunk
    assert event["response_model"] == "gpt-4o-mini-2024-07-18"


def test_an_api_error_from_the_real_client_is_recorded(openai_client: openai.OpenAI) -> None:
    events: list[dict[str, Any]] = []
    FakeOpenAI.fail_with = 429
    with pytest.raises(openai.RateLimitError), tracker(events):
        openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    (event,) = events
    assert (event["status"], event["error_type"]) == ("error", "RateLimitError")


def test_completion_object_built_from_the_sdk_types() -> None:
    usage, model, finish = extract_response(ChatCompletion.model_validate(COMPLETION))
    assert usage == {
        "input_tokens": 1117,
        "output_tokens": 46,
        "cache_read_tokens": 1024,
        "reasoning_tokens": 12,
    }
    assert (model, finish) == ("gpt-4o-2024-08-06", "stop")


def test_anthropic_message_counts_cached_input_in_the_total() -> None:
    # Anthropic's published Message object: input_tokens excludes the cache reads and writes.
    message = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 21,
            "cache_creation_input_tokens": 188,
            "cache_read_input_tokens": 1000,
            "output_tokens": 393,
        },
    }
    events: list[dict[str, Any]] = []
    with CallTracker(events.append, "anthropic", "claude-sonnet-4") as call:
        call.set_response(message)
        call.set_response(json.loads(json.dumps(message), object_hook=lambda d: SimpleNamespace(**d)))
    (event,) = events
    assert event["input_tokens"] == 21 + 188 + 1000
    assert (event["cache_read_tokens"], event["cache_write_tokens"]) == (1000, 188)
    assert event["output_tokens"] == 393
    assert (event["finish_reason"], event["response_model"]) == ("end_turn", "claude-sonnet-4-20250514")
    LLMCallEvent.model_validate(event)


def test_openai_responses_api_usage() -> None:
    response = {
        "id": "resp_67ccd2bed1ec8190",
        "object": "response",
        "status": "incomplete",
        "model": "o4-mini-2025-04-16",
        "incomplete_details": {"reason": "max_output_tokens"},
        "usage": {
            "input_tokens": 328,
            "input_tokens_details": {"cached_tokens": 300},
            "output_tokens": 52,
            "output_tokens_details": {"reasoning_tokens": 40},
            "total_tokens": 380,
        },
    }
    usage, model, finish = extract_response(response)
    assert usage == {
        "input_tokens": 328,
        "output_tokens": 52,
        "cache_read_tokens": 300,
        "reasoning_tokens": 40,
    }
    assert (model, finish) == ("o4-mini-2025-04-16", "max_output_tokens")


def test_unknown_response_shapes_never_break_the_call() -> None:
    events: list[dict[str, Any]] = []
    with tracker(events) as call:
        call.set_response(object())
        call.set_response({"usage": {"prompt_tokens": "many"}})
        call.set_response(None)
    (event,) = events
    assert event["status"] == "ok"
    LLMCallEvent.model_validate(event)


def test_recording_failure_does_not_reach_the_caller() -> None:
    attempts: list[dict[str, Any]] = []

    def broken(event: dict[str, Any]) -> None:
        attempts.append(event)
        raise RuntimeError("monitor broken")

    with CallTracker(broken, "openai", "gpt-4o") as call:
        answer = 42
    assert answer == 42 and len(attempts) == 1  # the recorder was called, raised, and the block went on
    assert attempts[0]["status"] == "ok" and call.event is attempts[0]


@pytest.mark.integration
def test_tracked_calls_reach_kafka(kafka_bootstrap: str, fresh_topic: str) -> None:
    with Monitor(kafka_bootstrap, fresh_topic, linger_ms=5) as monitor:
        with monitor.track(provider="openai", model="gpt-4o", team="ads", user_id="u9") as call:
            call.set_usage(input_tokens=10, output_tokens=2)
        with pytest.raises(KeyError), monitor.track(provider="openai", model="gpt-4o"):
            raise KeyError("boom")
        assert monitor.flush(10) == 0
    events = sorted(read_events(kafka_bootstrap, fresh_topic, min_events=2), key=lambda e: e["status"])
    assert [e["status"] for e in events] == ["error", "ok"]
    parsed = [LLMCallEvent.model_validate(event) for event in events]
    assert parsed[1].team == "ads" and parsed[1].input_tokens == 10
    assert parsed[0].error_type == "KeyError"
