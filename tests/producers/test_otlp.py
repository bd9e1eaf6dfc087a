"""llmpulse otlp: the real OpenTelemetry SDK exporter and OpenInference's OpenAI instrumentation, against
the receiver."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest
from aiohttp import web
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status as SpanStatus
from opentelemetry.trace import StatusCode

from llmpulse.producers.otlp import Receiver, Span, build_app, is_genai, to_event
from llmpulse.schemas.call import LLMCallEvent
from tests.producers.provider_fakes import USAGE_CHAT, ProviderServer


class Sink:
    def __init__(self, room: int = 10_000) -> None:
        self.events: list[dict[str, Any]] = []
        self._room = room

    @property
    def room(self) -> int:
        return self._room - len(self.events)

    def record(self, event: Any) -> bool:
        self.events.append(event)
        return True


class RunningReceiver:
    """The aiohttp app on 127.0.0.1 in a thread of its own."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(build_app(receiver))
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def receiver(sink: Sink) -> Iterator[RunningReceiver]:
    running = RunningReceiver(Receiver(sink))
    yield running
    running.close()


def tracer_provider(url: str, **exporter: Any) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "checkout", "deployment.environment.name": "staging"})
    )
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url, **exporter)))
    return provider


GENAI = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 80,
    "gen_ai.usage.cache_read.input_tokens": 1024,
    "gen_ai.usage.reasoning.output_tokens": 16,
    "gen_ai.response.time_to_first_chunk": 0.25,
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.conversation.id": "conv-9",
    "gen_ai.usage.cost": 0.0123,
    "user.id": "u-1",
    "llmpulse.team": "payments",
    "llmpulse.feature": "refund-bot",
}


def test_the_sdk_exporter_protobuf_gzip_current_names(receiver: RunningReceiver, sink: Sink) -> None:
    provider = tracer_provider(receiver.url, compression=Compression.Gzip)
    tracer = provider.get_tracer("app")
    with (
        tracer.start_as_current_span("chat gpt-4o", attributes=GENAI),
        tracer.start_as_current_span("SELECT orders"),  # not an LLM call: ignored
    ):
        pass
    provider.shutdown()
    assert len(sink.events) == 1
    event = LLMCallEvent.model_validate(sink.events[0])
    assert (event.provider, event.request_model, event.response_model) == ("openai", "gpt-4o", "gpt-4o-2024-08-06")
    assert (event.input_tokens, event.output_tokens, event.cache_read_tokens, event.reasoning_tokens) == (
        1200,
        80,
        1024,
        16,
    )
    assert event.ttft_ms == 250.0 and event.streaming and event.finish_reason == "stop"
    assert (event.session_id, event.user_id, event.team, event.app) == ("conv-9", "u-1", "payments", "checkout")
    assert event.environment == "staging" and event.client_cost_usd == 0.0123
    assert event.attributes == {"feature": "refund-bot"} and event.status == "ok"
    assert event.event_id.startswith("otel-") and event.latency_ms is not None
    assert receiver.receiver.counts["spans_ignored"] == 1


def test_error_status_and_exception_event(receiver: RunningReceiver, sink: Sink) -> None:
    provider = tracer_provider(receiver.url)
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span(
        "chat", attributes={"gen_ai.system": "anthropic", "gen_ai.request.model": "claude"}
    ) as span:
        span.record_exception(TimeoutError("read timed out"))
        span.set_status(SpanStatus(StatusCode.ERROR, "timed out"))
    provider.shutdown()
    event = sink.events[0]
    assert (event["provider"], event["status"], event["error_type"]) == ("anthropic", "error", "TimeoutError")


def test_openinference_openai_instrumentation_end_to_end(receiver: RunningReceiver, sink: Sink) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    provider = tracer_provider(receiver.url)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with ProviderServer() as server:
            client = openai.OpenAI(api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0)
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Say hello"}])
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    assert len(sink.events) == 1
    event = LLMCallEvent.model_validate(sink.events[0])
    # OpenInference: the requested model in llm.invocation_parameters, the answering one in llm.model_name
    assert (event.provider, event.request_model, event.response_model) == ("openai", "gpt-4o", "gpt-4o-2024-08-06")
    assert (event.input_tokens, event.output_tokens) == (USAGE_CHAT["prompt_tokens"], USAGE_CHAT["completion_tokens"])
    assert event.cache_read_tokens == 1024 and event.app == "checkout"


def otlp_json(
    attributes: dict[str, Any], trace: str = "5B8EFFF798038103D269B633813FC60C", start_ns: int | None = None
) -> bytes:
    start_ns = time.time_ns() if start_ns is None else start_ns
    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        if isinstance(v, float):
            return {"doubleValue": v}
        if isinstance(v, list):
            return {"arrayValue": {"values": [value(x) for x in v]}}
        return {"stringValue": v}

    span = {
        "traceId": trace, "spanId": "EEE19B7EC3C1B174", "name": "llm", "kind": 3,
        "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 1_500_000_000),
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
        "status": {},
    }  # fmt: skip
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "rag-api"}}]}
    return orjson.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "x"}, "spans": [span]}]}]}
    )


def test_json_with_openinference_and_deprecated_names_and_partial_success(
    receiver: RunningReceiver, sink: Sink
) -> None:
    openinference = {
        "openinference.span.kind": "LLM", "llm.model_name": "mistral-large", "llm.provider": "mistralai",
        "llm.token_count.prompt": 300, "llm.token_count.completion": 40, "llm.cost.total": 0.002,
        "session.id": "s-5",
    }  # fmt: skip
    deprecated = {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4", "gen_ai.usage.prompt_tokens": 50,
                  "gen_ai.usage.completion_tokens": 7}  # fmt: skip
    broken = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": -5}
    responses = [
        httpx.post(receiver.url, content=gzip.compress(otlp_json(attrs, start_ns=1735689600_000_000_000)),
                   headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        for attrs in (openinference, deprecated, broken)
    ]  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200, 200]
    first, second = (LLMCallEvent.model_validate(e) for e in sink.events)
    assert (first.provider, first.request_model, first.input_tokens, first.output_tokens) == (
        "mistralai",
        "mistral-large",
        300,
        40,
    )
    assert first.client_cost_usd == 0.002 and first.session_id == "s-5" and first.app == "rag-api"
    assert first.latency_ms == 1500.0 and first.ts_ms == 1735689600000
    assert first.event_id == "otel-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174"
    assert (second.provider, second.input_tokens, second.output_tokens) == ("openai", 50, 7)
    partial = responses[2].json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "input_tokens" in partial["errorMessage"]


def test_bad_payloads_are_400_with_a_status_and_other_types_415(receiver: RunningReceiver) -> None:
    bad_proto = httpx.post(receiver.url, content=b"\xff\xff\xff", headers={"Content-Type": "application/x-protobuf"})
    assert bad_proto.status_code == 400
    status = Status()
    status.ParseFromString(bad_proto.content)
    assert status.code == 3 and "ExportTraceServiceRequest" in status.message
    bad_json = httpx.post(receiver.url, content=b'{"resourceSpans": 5}', headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "resourceSpans" in bad_json.json()["message"]
    bad_gzip = httpx.post(
        receiver.url, content=b"not gzip", headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert bad_gzip.status_code == 400
    assert httpx.post(receiver.url, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415


def test_no_room_in_the_producer_is_503_with_retry_after_and_nothing_recorded() -> None:
    full = Sink(room=0)
    running = RunningReceiver(Receiver(full))
    try:
        response = httpx.post(running.url, content=otlp_json(GENAI), headers={"Content-Type": "application/json"})
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        assert full.events == [] and running.receiver.counts["throttled_requests"] == 1
        # a request with no LLM spans needs no room
        plain = otlp_json({"http.method": "GET"})
        assert httpx.post(running.url, content=plain, headers={"Content-Type": "application/json"}).status_code == 200
    finally:
        running.close()


def test_protobuf_response_is_an_export_response(receiver: RunningReceiver) -> None:
    empty = ExportTraceServiceRequest().SerializeToString()
    response = httpx.post(receiver.url, content=empty, headers={"Content-Type": "application/x-protobuf"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse()
    parsed.ParseFromString(response.content)
    assert not parsed.HasField("partial_success")


def test_mapping_ignores_spans_without_a_model() -> None:
    span = Span("a" * 32, "b" * 16, "GET /", 0, 10, {"http.method": "GET", "gen_ai.system": "openai"})
    assert not is_genai(span)
    span.attributes["gen_ai.request.model"] = "gpt-4o"
    assert is_genai(span) and to_event(span)["request_model"] == "gpt-4o"
