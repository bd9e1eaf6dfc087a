"""instrument_openai / instrument_anthropic: the real SDKs against local servers that speak the providers' formats."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from llmpulse.producers import Monitor
from llmpulse.producers.instrument import call_labels, instrument_anthropic, instrument_openai
from llmpulse.schemas.call import LLMCallEvent
from llmpulse.tokens import count_call
from tests.producers.provider_fakes import (
    ANTHROPIC_OUTPUT_TOKENS,
    NO_USAGE,
    USAGE_ANTHROPIC,
    USAGE_CHAT,
    USAGE_RESPONSES,
    USAGE_STREAM,
    WORDS,
    ProviderServer,
)

MESSAGES = [{"role": "user", "content": "Say hello"}]


class Recorder:
    """A monitor whose ``record`` keeps events in a list; ``track`` is Monitor's own."""

    track = Monitor.track

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def record(self, event: dict[str, Any]) -> bool:
        self.events.append(event)
        return True

    def only(self) -> dict[str, Any]:
        assert len(self.events) == 1, self.events
        LLMCallEvent.model_validate(self.events[0])  # every recorded event is valid on the wire
        return self.events[0]


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as running:
        yield running


def openai_client(server: ProviderServer, cls: type[Any] = openai.OpenAI, **options: Any) -> Any:
    options.setdefault("max_retries", 0)
    return cls(api_key="sk-test", base_url=f"{server.url}/v1", **options)


def anthropic_client(server: ProviderServer, cls: type[Any] = anthropic.Anthropic) -> Any:
    return cls(api_key="sk-ant-test", base_url=server.url, max_retries=0)


def test_chat_completion_usage_labels_and_unchanged_result(server: ProviderServer) -> None:
    monitor = Recorder()
    plain = openai_client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client = instrument_openai(openai_client(server), monitor, app="search", team="core", feature="answer")
    result = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert result.model_dump() == plain.model_dump()
    event = monitor.only()
    assert (event["provider"], event["request_model"], event["response_model"]) == (
        "openai", "gpt-4o", "gpt-4o-2024-08-06",
    )  # fmt: skip
    assert (event["input_tokens"], event["output_tokens"]) == (
        USAGE_CHAT["prompt_tokens"],
        USAGE_CHAT["completion_tokens"],
    )
    assert event["cache_read_tokens"] == 1024 and event["reasoning_tokens"] == 12
    assert event["status"] == "ok" and event["finish_reason"] == "stop" and event["operation"] == "chat"
    assert (event["app"], event["team"], event["attributes"]) == ("search", "core", {"feature": "answer"})
    assert event["latency_ms"] > 0 and "ttft_ms" not in event and not event.get("streaming")


def test_stream_asks_for_usage_but_the_caller_sees_the_same_chunks(server: ProviderServer) -> None:
    monitor = Recorder()
    plain = [c.model_dump() for c in openai_client(server).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True)]  # fmt: skip
    client = instrument_openai(openai_client(server), monitor)
    seen = [c.model_dump() for c in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)]
    assert seen == plain  # no extra usage-only chunk for a caller who did not ask for it
    assert all(chunk["choices"] for chunk in seen)
    assert server.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    assert "stream_options" not in server.requests[0]["body"]
    event = monitor.only()
    assert event["streaming"] is True and 0 < event["ttft_ms"] <= event["latency_ms"]
    assert (event["input_tokens"], event["output_tokens"]) == (
        USAGE_STREAM["prompt_tokens"],
        USAGE_STREAM["completion_tokens"],
    )
    assert event["finish_reason"] == "length" and event["response_model"] == "gpt-4o-mini-2024-07-18"


def test_a_caller_who_asked_for_usage_gets_the_usage_chunk(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(openai_client(server), monitor)
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))  # fmt: skip
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert monitor.only()["output_tokens"] == USAGE_STREAM["completion_tokens"]


def test_request_stream_usage_off_sends_the_request_unchanged(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(openai_client(server), monitor, request_stream_usage=False)
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="local-llama", messages=MESSAGES, stream=True))  # fmt: skip
    assert text == "".join(WORDS)
    assert "stream_options" not in server.requests[-1]["body"]
    event = monitor.only()
    assert event["ttft_ms"] > 0 and event["tokens_estimated"] is True  # no usage reported: counted from the text
    assert (event["input_tokens"], event["output_tokens"]) == count_call(MESSAGES, text, event["response_model"])


def test_usage_a_server_does_not_report_is_counted_and_flagged(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(openai_client(server), monitor)
    answer = client.chat.completions.create(model=NO_USAGE, messages=MESSAGES).choices[0].message.content
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=NO_USAGE, messages=MESSAGES, stream=True))  # fmt: skip
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    plain, streamed, reported = monitor.events
    assert count_call(MESSAGES, answer or "", "gpt-4o") == (9, 2)  # 3 + 3 + "user" 1 + "Say hello" 2; "Paris" "."
    for event, output in ((plain, answer or ""), (streamed, text)):
        LLMCallEvent.model_validate(event)
        assert event["tokens_estimated"] is True
        assert (event["input_tokens"], event["output_tokens"]) == count_call(MESSAGES, output, NO_USAGE)
    assert "tokens_estimated" not in reported and reported["input_tokens"] == USAGE_CHAT["prompt_tokens"]


def test_responses_api_plain_and_streamed(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(openai_client(server), monitor)
    assert client.responses.create(model="gpt-4.1", input="Say hello").output_text == "Hello!"
    deltas = [e.delta for e in client.responses.create(model="gpt-4.1", input="Say hello", stream=True)
              if e.type == "response.output_text.delta"]  # fmt: skip
    assert deltas == list(WORDS)
    plain, streamed = monitor.events
    for event in (plain, streamed):
        LLMCallEvent.model_validate(event)
        assert (event["input_tokens"], event["output_tokens"]) == (
            USAGE_RESPONSES["input_tokens"],
            USAGE_RESPONSES["output_tokens"],
        )
        assert event["cache_read_tokens"] == 256 and event["reasoning_tokens"] == 20
        assert event["response_model"] == "gpt-4.1-2025-04-14"
    assert "ttft_ms" not in plain and 0 < streamed["ttft_ms"] <= streamed["latency_ms"]


def test_embeddings(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(openai_client(server), monitor)
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    event = monitor.only()
    assert event["operation"] == "embeddings" and event["input_tokens"] == 8 and event["output_tokens"] == 0


def test_errors_propagate_unchanged_and_are_recorded(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(openai_client(server), monitor)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="broken", messages=MESSAGES)
    event = monitor.only()
    assert event["status"] == "error" and event["error_type"] == "InternalServerError"

    down = instrument_openai(openai.OpenAI(api_key="sk", base_url="http://127.0.0.1:9/v1", max_retries=0), monitor)
    with pytest.raises(openai.APIConnectionError):
        down.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert monitor.events[-1]["error_type"] == "APIConnectionError"


def test_sdk_retries_are_counted(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(openai_client(server, max_retries=2), monitor)
    client.chat.completions.create(model="rate-limited", messages=MESSAGES)
    event = monitor.only()
    assert event["status"] == "ok" and event["attributes"] == {"retries": "1"}
    assert len(server.requests) == 2

    exhausted = Recorder()
    server.failures, server.fail_times = 0, 5
    client = instrument_openai(openai_client(server, max_retries=1), exhausted)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="rate-limited", messages=MESSAGES)
    failed = exhausted.only()
    assert failed["error_type"] == "RateLimitError" and failed["attributes"] == {"retries": "1"}


def test_label_precedence_client_then_block_then_call(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(openai_client(server), monitor, app="a", team="t", prompt_version="v1")
    with call_labels(team="t2", user_id="u7", session_id="s1"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, llmpulse={"prompt_version": "v2"})
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    inside, after = monitor.events
    assert (inside["app"], inside["team"], inside["user_id"], inside["session_id"]) == ("a", "t2", "u7", "s1")
    assert inside["attributes"] == {"prompt_version": "v2"}
    assert (after["team"], after.get("user_id"), after["attributes"]) == ("t", "", {"prompt_version": "v1"})
    assert all("llmpulse" not in r["body"] for r in server.requests)


def test_monitoring_failures_never_reach_the_app(server: ProviderServer) -> None:
    class Broken:
        def track(self, provider: str, model: str, **fields: Any) -> Any:
            raise RuntimeError("monitor is broken")

    class BrokenRecord(Recorder):
        def record(self, event: dict[str, Any]) -> bool:
            raise RuntimeError("record is broken")

    for monitor in (Broken(), BrokenRecord()):
        client = instrument_openai(openai_client(server), monitor)
        assert client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content == "Paris."
        assert len(list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))) == 5


def test_a_stream_closed_early_is_recorded_once(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_openai(instrument_openai(openai_client(server), monitor), monitor)  # twice is once
    with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as stream:
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
    event = monitor.only()
    assert event["status"] == "ok" and event["ttft_ms"] > 0


def test_async_openai_client(server: ProviderServer) -> None:
    monitor = Recorder()

    async def run() -> tuple[str, str]:
        client = instrument_openai(openai_client(server, openai.AsyncOpenAI), monitor, app="async-app")
        answer = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="broken", messages=MESSAGES)
        await client.close()
        return answer.choices[0].message.content or "", text

    answer, text = asyncio.run(run())
    assert (answer, text) == ("Paris.", "".join(WORDS))
    plain, streamed, failed = monitor.events
    assert plain["input_tokens"] == USAGE_CHAT["prompt_tokens"] and plain["app"] == "async-app"
    assert streamed["output_tokens"] == USAGE_STREAM["completion_tokens"] and streamed["ttft_ms"] > 0
    assert failed["error_type"] == "InternalServerError"


ANTHROPIC_INPUT_TOTAL = (
    USAGE_ANTHROPIC["input_tokens"]
    + USAGE_ANTHROPIC["cache_creation_input_tokens"]
    + USAGE_ANTHROPIC["cache_read_input_tokens"]
)


def check_anthropic(event: dict[str, Any]) -> None:
    LLMCallEvent.model_validate(event)
    assert event["provider"] == "anthropic" and event["request_model"] == "claude-sonnet-4-6"
    assert (event["input_tokens"], event["output_tokens"]) == (ANTHROPIC_INPUT_TOTAL, ANTHROPIC_OUTPUT_TOKENS)
    assert (event["cache_read_tokens"], event["cache_write_tokens"]) == (2000, 100)


def test_anthropic_messages_plain_and_streamed(server: ProviderServer) -> None:
    monitor = Recorder()
    client = instrument_anthropic(anthropic_client(server), monitor, team="support")
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES)
    assert message.content[0].text == "Hi! My name is Claude."
    kinds = [
        e.type for e in client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, stream=True)
    ]
    assert kinds.count("content_block_delta") == len(WORDS) and kinds[-1] == "message_stop"
    plain, streamed = monitor.events
    for event in (plain, streamed):
        check_anthropic(event)
        assert event["team"] == "support"
    assert plain["finish_reason"] == "end_turn" and streamed["finish_reason"] == "max_tokens"
    assert 0 < streamed["ttft_ms"] <= streamed["latency_ms"] and streamed["streaming"] is True

    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model="broken", max_tokens=64, messages=MESSAGES)
    assert monitor.events[-1]["error_type"] == "InternalServerError"


def test_async_anthropic_stream(server: ProviderServer) -> None:
    monitor = Recorder()

    async def run() -> int:
        client = instrument_anthropic(anthropic_client(server, anthropic.AsyncAnthropic), monitor)
        stream = await client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, stream=True)
        count = len([e async for e in stream])
        await client.close()
        return count

    assert asyncio.run(run()) == 2 + len(WORDS) + 3  # the SDK passes on every event but "ping"
    event = monitor.only()
    check_anthropic(event)
    assert event["ttft_ms"] > 0


def test_anthropic_stream_helper_is_measured_and_unchanged(server: ProviderServer) -> None:
    def run(client: Any, **extra: Any) -> tuple[list[str], str, dict[str, Any]]:
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, **extra) as stream:
            kinds = [event.type for event in stream]
            return kinds, stream.get_final_text(), stream.get_final_message().model_dump()

    plain = run(anthropic_client(server))
    monitor = Recorder()
    client = instrument_anthropic(instrument_anthropic(anthropic_client(server), monitor, app="support"), monitor)
    assert run(client, llmpulse={"feature": "chat"}) == plain  # same events (with the helper's own), text, message
    assert plain[1] == "".join(WORDS) and "text" in plain[0]
    event = monitor.only()
    check_anthropic(event)
    assert event["streaming"] is True and 0 < event["ttft_ms"] <= event["latency_ms"]
    assert event["finish_reason"] == "max_tokens" and event["app"] == "support"
    assert event["attributes"] == {"feature": "chat"} and "llmpulse" not in server.requests[-1]["body"]

    # read only through text_stream, or not at all: still one event each, with what was read
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "".join(WORDS)
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES):
        pass
    _, text_only, unread = monitor.events
    check_anthropic(text_only)
    assert unread["status"] == "ok" and "ttft_ms" not in unread

    with pytest.raises(anthropic.InternalServerError), client.messages.stream(
        model="broken", max_tokens=64, messages=MESSAGES
    ):
        pass
    assert monitor.events[-1]["error_type"] == "InternalServerError" and len(monitor.events) == 4


def test_async_anthropic_stream_helper(server: ProviderServer) -> None:
    monitor = Recorder()

    async def run() -> str:
        client = instrument_anthropic(anthropic_client(server, anthropic.AsyncAnthropic), monitor)
        async with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES) as stream:
            text = "".join([t async for t in stream.text_stream])
            message = await stream.get_final_message()
        with pytest.raises(anthropic.InternalServerError):
            async with client.messages.stream(model="broken", max_tokens=64, messages=MESSAGES):
                pass
        await client.close()
        return text + "|" + str(message.usage.output_tokens)

    assert asyncio.run(run()) == "".join(WORDS) + f"|{ANTHROPIC_OUTPUT_TOKENS}"
    streamed, failed = monitor.events
    check_anthropic(streamed)
    assert streamed["ttft_ms"] > 0 and streamed["streaming"] is True
    assert failed["error_type"] == "InternalServerError"
