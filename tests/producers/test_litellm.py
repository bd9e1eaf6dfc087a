"""instrument_litellm: the real ``litellm`` package against the local OpenAI and Anthropic stand-ins."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price list at import (no network)

import litellm

from llmpulse.producers.instrument import LLMPulseLogger, call_labels, instrument_litellm
from llmpulse.tokens import count_call
from tests.producers.provider_fakes import USAGE_ANTHROPIC, USAGE_CHAT, USAGE_STREAM, WORDS, ProviderServer
from tests.producers.test_instrument import ANTHROPIC_INPUT_TOTAL, MESSAGES, Recorder


class Waiting(Recorder):
    """LiteLLM runs the sync success callbacks in a thread pool: wait for them."""

    def wait(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # and no more than that
        assert len(self.events) == count, self.events
        return self.events


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as running:
        yield running


def no_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """LiteLLM copies ``litellm.callbacks`` into these lists on a call: start from none, restore them after."""
    for name in ("callbacks", "input_callback", "success_callback", "failure_callback", "_async_success_callback",
                 "_async_failure_callback"):  # fmt: skip
        monkeypatch.setattr(litellm, name, [])


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch) -> Waiting:
    recorder = Waiting()
    no_callbacks(monkeypatch)
    instrument_litellm(recorder, app="gateway", team="core")
    return recorder


def openai_args(server: ProviderServer, model: str) -> dict[str, Any]:
    return {"model": f"openai/{model}", "messages": MESSAGES, "api_base": f"{server.url}/v1", "api_key": "sk-test"}


def test_completion_usage_cost_and_labels(server: ProviderServer, monitor: Waiting) -> None:
    with call_labels(user_id="u-7", feature="answer"):
        result = litellm.completion(**openai_args(server, "gpt-4o"), metadata={"llmpulse": {"prompt_version": "v3"}})
    assert result.choices[0].message.content == "Paris."
    (event,) = monitor.wait(1)
    assert (event["provider"], event["request_model"], event["response_model"], event["operation"]) == (
        "openai", "gpt-4o", "gpt-4o-2024-08-06", "chat",
    )  # fmt: skip
    assert (event["input_tokens"], event["output_tokens"]) == (
        USAGE_CHAT["prompt_tokens"],
        USAGE_CHAT["completion_tokens"],
    )
    assert event["cache_read_tokens"] == 1024 and event["reasoning_tokens"] == 12
    assert event["status"] == "ok" and event["finish_reason"] == "stop"
    assert "ttft_ms" not in event and "streaming" not in event and event["latency_ms"] > 0
    assert event["client_cost_usd"] > 0  # LiteLLM's own price for gpt-4o
    assert (event["app"], event["team"], event["user_id"]) == ("gateway", "core", "u-7")
    assert event["attributes"] == {"feature": "answer", "prompt_version": "v3"}
    assert abs(event["ts_ms"] - time.time() * 1000) < 60_000


def test_stream_ttft_and_provider_usage(server: ProviderServer, monitor: Waiting) -> None:
    stream = litellm.completion(
        **openai_args(server, "gpt-4o-mini"), stream=True, stream_options={"include_usage": True}
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "".join(WORDS)
    (event,) = monitor.wait(1)
    assert event["streaming"] is True and 0 < event["ttft_ms"] <= event["latency_ms"]
    assert (event["input_tokens"], event["output_tokens"]) == (
        USAGE_STREAM["prompt_tokens"],
        USAGE_STREAM["completion_tokens"],
    )
    assert event["finish_reason"] == "length" and event["response_model"] == "gpt-4o-mini-2024-07-18"
    assert server.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    assert "tokens_estimated" not in event


def test_a_stream_not_asked_for_usage_is_counted_by_llmpulse(server: ProviderServer, monitor: Waiting) -> None:
    # LiteLLM asks only OpenAI's own servers for stream usage and otherwise counts it itself; llmpulse counts it
    with call_labels(user_id="u-5"):  # LiteLLM logs a sync stream from another thread: labels from the start
        text = "".join(c.choices[0].delta.content or "" for c in litellm.completion(
            **openai_args(server, "gpt-4o-mini"), stream=True) if c.choices)  # fmt: skip
    assert "stream_options" not in server.requests[-1]["body"]
    (event,) = monitor.wait(1)
    assert event["user_id"] == "u-5"
    assert event["tokens_estimated"] is True and text == "".join(WORDS)
    assert (event["input_tokens"], event["output_tokens"]) == count_call(MESSAGES, text, "gpt-4o-mini") == (9, 2)


def test_errors_are_recorded_with_their_type(server: ProviderServer, monitor: Waiting) -> None:
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(**openai_args(server, "broken"), max_retries=0)
    (event,) = monitor.wait(1)
    assert event["status"] == "error" and event["error_type"] == "InternalServerError"
    assert event["request_model"] == "broken" and "input_tokens" not in event


def test_async_completion_stream_and_error(server: ProviderServer, monitor: Waiting) -> None:
    async def run() -> tuple[str, str]:
        answer = await litellm.acompletion(**openai_args(server, "gpt-4o"))
        stream = await litellm.acompletion(
            **openai_args(server, "gpt-4o-mini"), stream=True, stream_options={"include_usage": True}
        )
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        with pytest.raises(litellm.InternalServerError):
            await litellm.acompletion(**openai_args(server, "broken"), max_retries=0)
        for _ in range(200):  # LiteLLM's async callbacks run as tasks on the caller's loop
            if len(monitor.events) >= 3:
                break
            await asyncio.sleep(0.01)
        return answer.choices[0].message.content or "", text

    assert asyncio.run(run()) == ("Paris.", "".join(WORDS))
    by_model = {event["request_model"]: event for event in monitor.wait(3)}
    assert by_model["gpt-4o"]["input_tokens"] == USAGE_CHAT["prompt_tokens"] and by_model["gpt-4o"]["app"] == "gateway"
    streamed = by_model["gpt-4o-mini"]
    assert streamed["streaming"] is True and streamed["ttft_ms"] > 0
    assert streamed["output_tokens"] == USAGE_STREAM["completion_tokens"]
    assert by_model["broken"]["error_type"] == "InternalServerError"


def test_embeddings(server: ProviderServer, monitor: Waiting) -> None:
    litellm.embedding(model="openai/text-embedding-3-small", input=["hello"], api_base=f"{server.url}/v1", api_key="sk")
    (event,) = monitor.wait(1)
    assert (event["operation"], event["request_model"], event["input_tokens"]) == (
        "embeddings", "text-embedding-3-small", 8,
    )  # fmt: skip


def test_anthropic_through_litellm_keeps_cache_reads_and_writes(server: ProviderServer, monitor: Waiting) -> None:
    args = {"model": "anthropic/claude-sonnet-4-6", "messages": MESSAGES, "api_base": server.url, "api_key": "sk-ant"}
    litellm.completion(**args, max_tokens=64)
    list(litellm.completion(**args, max_tokens=64, stream=True))
    for event in monitor.wait(2):
        assert event["provider"] == "anthropic" and event["request_model"] == "claude-sonnet-4-6"
        assert (event["input_tokens"], event["output_tokens"]) == (ANTHROPIC_INPUT_TOTAL, 27)
        assert event["cache_read_tokens"] == USAGE_ANTHROPIC["cache_read_input_tokens"]
        assert event["cache_write_tokens"] == USAGE_ANTHROPIC["cache_creation_input_tokens"]
    assert monitor.events[1]["ttft_ms"] > 0


def test_the_proxy_key_identity_labels_the_call(server: ProviderServer, monitor: Waiting) -> None:
    # the metadata the LiteLLM proxy attaches to each request from the API key that made it
    key = {"user_api_key_team_alias": "payments", "user_api_key_end_user_id": "cust-9", "user_api_key_alias": "svc"}
    litellm.completion(**openai_args(server, "gpt-4o"), metadata=key, litellm_session_id="conv-1")
    (event,) = monitor.wait(1)
    assert (event["team"], event["user_id"], event["session_id"]) == ("payments", "cust-9", "conv-1")
    assert event["app"] == "gateway" and event["attributes"] == {"key_alias": "svc"}


def test_registering_twice_is_once_and_monitoring_failures_stay_out(server: ProviderServer, monitor: Waiting) -> None:
    instrument_litellm(monitor, app="gateway", team="core")
    assert len([c for c in litellm.callbacks if isinstance(c, LLMPulseLogger)]) == 1

    class Broken(Recorder):
        def record(self, event: dict[str, Any]) -> bool:
            raise RuntimeError("record is broken")

    instrument_litellm(Broken())
    assert litellm.completion(**openai_args(server, "gpt-4o")).choices[0].message.content == "Paris."
    monitor.wait(1)
