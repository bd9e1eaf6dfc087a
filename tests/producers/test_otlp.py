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
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Status as SpanStatus
from opentelemetry.trace import StatusCode

from llmpulse.producers.otlp import Receiver, Span, SpanEvent, build_app, call_id, evaluations, is_genai, to_event
from llmpulse.schemas.call import LLMCallEvent
from llmpulse.schemas.evaluation import EvaluationEvent
from tests.producers.provider_fakes import USAGE_CHAT, ProviderServer


class Sink:
    def __init__(self, room: int = 10_000) -> None:
        self.events: list[dict[str, Any]] = []
        self.evaluations: list[EvaluationEvent] = []
        self._room = room

    @property
    def room(self) -> int:
        return self._room - len(self.events) - len(self.evaluations)

    def record(self, event: Any) -> bool:
        self.events.append(event)
        return True

    def evaluation(self, call_id: str, name: str, **fields: Any) -> bool:
        self.evaluations.append(EvaluationEvent(call_id=call_id, name=name, **fields))
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

    def at(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

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


RESOURCE_ATTRIBUTES = {"service.name": "checkout", "deployment.environment.name": "staging"}


def tracer_provider(url: str, *, batch: bool = False, **exporter: Any) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create(RESOURCE_ATTRIBUTES))
    processor = BatchSpanProcessor if batch else SimpleSpanProcessor
    provider.add_span_processor(processor(OTLPSpanExporter(endpoint=url, **exporter)))
    return provider


GENAI: dict[str, Any] = {
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


def json_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [json_value(x) for x in v]}}
    return {"stringValue": v}


def json_attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": json_value(v)} for k, v in attributes.items()]


TRACE_ID, SPAN_ID = "5B8EFFF798038103D269B633813FC60C", "EEE19B7EC3C1B174"
RESOURCE = {"attributes": [{"key": "service.name", "value": {"stringValue": "rag-api"}}]}


def otlp_json(
    attributes: dict[str, Any],
    trace: str = TRACE_ID,
    start_ns: int | None = None,
    events: list[dict[str, Any]] | None = None,
) -> bytes:
    """One span; ``events`` are its span events' attributes, each named gen_ai.evaluation.result."""
    start_ns = time.time_ns() if start_ns is None else start_ns
    span = {
        "traceId": trace, "spanId": SPAN_ID, "name": "llm", "kind": 3,
        "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 1_500_000_000),
        "attributes": json_attributes(attributes), "status": {},
        "events": [{"timeUnixNano": str(start_ns + 2_000_000_000), "name": "gen_ai.evaluation.result",
                    "attributes": json_attributes(e)} for e in events or []],
    }  # fmt: skip
    return orjson.dumps(
        {"resourceSpans": [{"resource": RESOURCE, "scopeSpans": [{"scope": {"name": "x"}, "spans": [span]}]}]}
    )


def logs_json(*records: tuple[str, str, dict[str, Any]], time_ns: int) -> bytes:
    """Log records, each (span id, event name, attributes), in trace TRACE_ID."""
    log_records = [
        {"timeUnixNano": str(time_ns), "traceId": TRACE_ID if span else "", "spanId": span, "eventName": name,
         "attributes": json_attributes(attributes)}
        for span, name, attributes in records
    ]  # fmt: skip
    scope_logs = [{"scope": {"name": "ragas"}, "logRecords": log_records}]
    return orjson.dumps({"resourceLogs": [{"resource": RESOURCE, "scopeLogs": scope_logs}]})


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


EVALUATION: dict[str, str | float] = {
    "gen_ai.evaluation.name": "relevance",
    "gen_ai.evaluation.score.value": 0.92,
    "gen_ai.evaluation.score.label": "relevant",
    "gen_ai.evaluation.explanation": "Answers the question asked.",
}
EVALUATED_AT_NS = 1_767_225_600_123_000_000  # 2026-01-01


def test_evaluation_span_events_from_the_sdk(receiver: RunningReceiver, sink: Sink) -> None:
    provider = tracer_provider(receiver.url, batch=True)  # one export at shutdown: the call and the judge's span
    with provider.get_tracer("app").start_as_current_span("chat gpt-4o", attributes=GENAI) as span:
        span.add_event("gen_ai.evaluation.result", EVALUATION, timestamp=EVALUATED_AT_NS)
        span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "toxicity",
                                                    "gen_ai.evaluation.score.label": "safe",
                                                    "llmpulse.evaluator": "llm-judge:gpt-4o-mini"})  # fmt: skip
        span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "tone", "error.type": "timeout"})
        # an evaluator's own span under the call, its result on it
        with provider.get_tracer("ragas").start_as_current_span("evaluate faithfulness") as judge:
            judge.add_event("gen_ai.evaluation.result",
                            {"gen_ai.evaluation.name": "faithfulness", "gen_ai.evaluation.score.value": 1})  # fmt: skip
    provider.shutdown()
    (call,) = sink.events
    faithfulness, relevance, toxicity = sorted(sink.evaluations, key=lambda e: e.name)
    assert {e.call_id for e in sink.evaluations} == {call["event_id"]}
    assert (relevance.score, relevance.label, relevance.explanation) == (0.92, "relevant", EVALUATION[
        "gen_ai.evaluation.explanation"])  # fmt: skip
    assert relevance.ts_ms == EVALUATED_AT_NS // 1_000_000 and relevance.evaluator == "checkout"  # service.name
    assert (toxicity.score, toxicity.label, toxicity.evaluator) == (None, "safe", "llm-judge:gpt-4o-mini")
    assert (faithfulness.score, faithfulness.label, faithfulness.evaluator) == (1.0, None, "ragas")  # its scope
    assert {(e.app, e.team) for e in sink.evaluations} == {("checkout", "payments")}
    assert len({e.event_id for e in sink.evaluations}) == 3
    stats = httpx.get(receiver.at("/stats")).json()
    assert (stats["calls_sent"], stats["spans_ignored"]) == (1, 1)
    assert (stats["evaluations_sent"], stats["evaluations_rejected"]) == (3, 1)  # "tone" failed: no score or label


def test_evaluation_log_records_from_the_sdk(receiver: RunningReceiver, sink: Sink) -> None:
    provider = tracer_provider(receiver.url)
    with provider.get_tracer("app").start_as_current_span("chat gpt-4o", attributes=GENAI) as span:
        pass
    provider.shutdown()
    logs = LoggerProvider(resource=Resource.create(RESOURCE_ATTRIBUTES))
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=receiver.at("/v1/logs"))))
    logger = logs.get_logger("deepeval")
    evaluated = trace.set_span_in_context(span)  # later, by an evaluator that kept the call's span context
    logger.emit(event_name="gen_ai.evaluation.result", attributes=EVALUATION, context=evaluated,
                timestamp=EVALUATED_AT_NS)  # fmt: skip
    logger.emit(body="judge finished", context=evaluated)  # not an evaluation: ignored
    logger.emit(event_name="gen_ai.evaluation.result",
                attributes={**EVALUATION, "gen_ai.response.id": "chatcmpl-1"})  # no span: rejected  # fmt: skip
    logs.shutdown()
    (call,) = sink.events
    (evaluation,) = sink.evaluations
    assert evaluation.call_id == call["event_id"] and evaluation.evaluator == "deepeval"  # the logger's scope
    assert (evaluation.name, evaluation.score, evaluation.label) == ("relevance", 0.92, "relevant")
    assert evaluation.ts_ms == EVALUATED_AT_NS // 1_000_000 and evaluation.app == "checkout"
    stats = httpx.get(receiver.at("/stats")).json()
    assert (stats["log_records_received"], stats["log_records_ignored"]) == (3, 1)
    assert (stats["evaluations_sent"], stats["evaluations_rejected"]) == (1, 1)


def test_json_evaluations_partial_success_and_retries(receiver: RunningReceiver, sink: Sink) -> None:
    json = {"Content-Type": "application/json"}
    body = otlp_json(GENAI, events=[EVALUATION, {"gen_ai.evaluation.name": "relevance"}])
    first, retry = (httpx.post(receiver.url, content=body, headers=json) for _ in range(2))
    assert first.status_code == 200 and first.json() == retry.json()
    partial = first.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "score or label is required" in partial["errorMessage"]
    assert sink.evaluations[0].event_id == sink.evaluations[1].event_id  # a retried export is stored once
    assert sink.evaluations[0].call_id == f"otel-{TRACE_ID.lower()}-{SPAN_ID.lower()}" == sink.events[0]["event_id"]
    assert sink.evaluations[0].evaluator == "rag-api"
    logs = logs_json(
        (SPAN_ID, "gen_ai.evaluation.result", {"gen_ai.evaluation.name": "helps", "gen_ai.evaluation.score.value": 4}),
        ("", "gen_ai.evaluation.result", EVALUATION),  # no span: rejected
        (SPAN_ID, "", {"message": "done"}),  # not an event: ignored
        time_ns=EVALUATED_AT_NS,
    )  # fmt: skip
    response = httpx.post(receiver.at("/v1/logs"), content=logs, headers=json)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1" and "no trace and span id" in partial["errorMessage"]
    helpfulness = sink.evaluations[-1]
    assert (helpfulness.name, helpfulness.score, helpfulness.evaluator) == ("helps", 4.0, "ragas")
    assert helpfulness.call_id == sink.events[0]["event_id"] and helpfulness.ts_ms == EVALUATED_AT_NS // 1_000_000
    bad = httpx.post(receiver.at("/v1/logs"), content=b'{"resourceLogs": {}}', headers=json)
    assert bad.status_code == 400 and "resourceLogs" in bad.json()["message"]


def test_an_evaluator_span_exported_without_its_call_evaluates_itself() -> None:
    """Its parent is not in the export, so it cannot be known to be the call: the documented limit."""
    judge = Span("a" * 32, "c" * 16, "evaluate", 0, 10, {}, parent_span_id="b" * 16, scope="ragas",
                 events=[SpanEvent("gen_ai.evaluation.result", EVALUATION, 5_000_000)])  # fmt: skip
    call = Span("a" * 32, "b" * 16, "chat", 0, 10, dict(GENAI))
    ((_, alone),) = evaluations.from_spans([judge])
    ((_, together),) = evaluations.from_spans([call, judge])
    assert isinstance(alone, dict) and isinstance(together, dict)
    assert alone["call_id"] == call_id("a" * 32, "c" * 16) and alone["evaluator"] == ""
    assert together["call_id"] == call_id("a" * 32, "b" * 16) == to_event(call)["event_id"]
    assert together["evaluator"] == "ragas" and together["ts_ms"] == 5
