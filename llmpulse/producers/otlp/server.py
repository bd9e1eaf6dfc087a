"""``llmpulse otlp``: an OTLP/HTTP receiver that turns GenAI spans into call events and
``gen_ai.evaluation.result`` events into evaluation events on Kafka.

``POST /v1/traces`` and ``POST /v1/logs`` with ``application/x-protobuf`` or ``application/json``
(``Content-Encoding: gzip``, ``deflate`` or ``br`` allowed, at most 16 MiB decoded), as OpenTelemetry's OTLP/HTTP
exporters send them. Answers as the OTLP specification says: 200 with an ``Export…ServiceResponse`` (its
``partial_success`` counts the GenAI spans that did not make a valid call event and the evaluation events that did
not make a valid evaluation, with the first reason), 400 with a ``google.rpc.Status`` for a body that is not a
valid export, 415 for another content type, and 503 with ``Retry-After`` when the Kafka producer's buffer has no
room for the request's events (the exporters retry 503; they do not retry 429). Spans that are not LLM calls and
log records that are not evaluations are ignored and counted. ``GET /stats`` gives the counters as JSON.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from google.protobuf.json_format import MessageToJson
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from pydantic import ValidationError

from llmpulse.producers.otlp import evaluations, logs
from llmpulse.producers.otlp.decode import MAX_BODY_BYTES, PayloadError, from_json, from_protobuf
from llmpulse.producers.otlp.spans import is_genai, to_event
from llmpulse.schemas.call import LLMCallEvent
from llmpulse.schemas.evaluation import EvaluationEvent

log = logging.getLogger("llmpulse.producers.otlp")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
RETRY_AFTER_S = 5


class Sink(Protocol):
    """Where the events go: a ``Monitor``."""

    @property
    def room(self) -> int: ...

    def record(self, event: Any) -> bool: ...

    def evaluation(self, call_id: str, name: str, **fields: Any) -> bool: ...


def _encode(message: Any, content_type: str) -> bytes:
    if content_type == PROTOBUF:
        return bytes(message.SerializeToString())
    return MessageToJson(message, indent=None).encode()


@dataclass
class _Batch:
    """What one export request makes: call events, evaluation events, and what could not be either."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[EvaluationEvent] = field(default_factory=list)
    rejected_calls: int = 0
    rejected_evaluations: int = 0
    first_error: str = ""

    def reject(self, what: str, exc: Exception, *, evaluation: bool) -> None:
        if evaluation:
            self.rejected_evaluations += 1
        else:
            self.rejected_calls += 1
        if not self.first_error:
            self.first_error = f"{what}: {_reason(exc)}"

    def evaluation(self, what: str, wire: dict[str, Any] | ValueError) -> None:
        if isinstance(wire, ValueError):
            self.reject(what, wire, evaluation=True)
            return
        try:
            self.evaluations.append(EvaluationEvent.model_validate(wire))
        except ValidationError as exc:
            self.reject(what, exc, evaluation=True)

    @property
    def rejected(self) -> int:
        return self.rejected_calls + self.rejected_evaluations


class Receiver:
    """The request handling, kept apart from the server so that it can be driven directly."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.counts: Counter[str] = Counter()

    def export(self, body: bytes, content_type: str) -> tuple[int, bytes, dict[str, str]]:
        """(HTTP status, response body, extra headers) for one trace export request's decoded body."""
        try:
            spans = from_protobuf(body) if content_type == PROTOBUF else from_json(body)
        except PayloadError as exc:
            return self._bad_request(exc, content_type)
        batch = _Batch()
        for span in spans:
            if not is_genai(span):
                self.counts["spans_ignored"] += 1
                continue
            try:
                batch.calls.append(LLMCallEvent.model_validate(to_event(span)).to_wire())
            except (ValidationError, TypeError, ValueError) as exc:
                batch.reject(f"span {span.span_id} ({span.name!r})", exc, evaluation=False)
        for span, wire in evaluations.from_spans(spans):
            batch.evaluation(f"span {span.span_id} ({span.name!r}) event {evaluations.EVENT!r}", wire)
        throttled = self._send(batch, content_type)
        if throttled:
            return throttled
        self.counts["spans_received"] += len(spans)
        self.counts["spans_rejected"] += batch.rejected_calls
        response = ExportTraceServiceResponse()
        if batch.rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=batch.rejected, error_message=batch.first_error)
            )
        return 200, _encode(response, content_type), {}

    def export_logs(self, body: bytes, content_type: str) -> tuple[int, bytes, dict[str, str]]:
        """The same for one log export request: its ``gen_ai.evaluation.result`` events; other records are
        ignored."""
        try:
            records = logs.from_protobuf(body) if content_type == PROTOBUF else logs.from_json(body)
        except PayloadError as exc:
            return self._bad_request(exc, content_type)
        batch = _Batch()
        for record in records:
            if record.event_name != evaluations.EVENT:
                self.counts["log_records_ignored"] += 1
                continue
            try:
                wire: dict[str, Any] | ValueError = evaluations.from_log(record)
            except ValueError as exc:
                wire = exc
            batch.evaluation(f"log record of span {record.span_id or '-'}", wire)
        throttled = self._send(batch, content_type)
        if throttled:
            return throttled
        self.counts["log_records_received"] += len(records)
        response = ExportLogsServiceResponse()
        if batch.rejected:
            response.partial_success.CopyFrom(
                ExportLogsPartialSuccess(rejected_log_records=batch.rejected, error_message=batch.first_error)
            )
        return 200, _encode(response, content_type), {}

    def _bad_request(self, exc: PayloadError, content_type: str) -> tuple[int, bytes, dict[str, str]]:
        self.counts["bad_requests"] += 1
        return 400, _encode(Status(code=3, message=str(exc)), content_type), {}

    def _send(self, batch: _Batch, content_type: str) -> tuple[int, bytes, dict[str, str]] | None:
        """Hand the batch's events to the sink, or the 503 answer if it has no room for all of them."""
        wanted = len(batch.calls) + len(batch.evaluations)
        if wanted and self.sink.room < wanted:
            self.counts["throttled_requests"] += 1
            status = Status(code=14, message="the Kafka producer's buffer is full; retry later")
            return 503, _encode(status, content_type), {"Retry-After": str(RETRY_AFTER_S)}
        for event in batch.calls:
            self.sink.record(event)
        for evaluation in batch.evaluations:
            self.sink.evaluation(**evaluation.model_dump(exclude_none=True))
        self.counts["calls_sent"] += len(batch.calls)
        self.counts["evaluations_sent"] += len(batch.evaluations)
        self.counts["evaluations_rejected"] += batch.rejected_evaluations
        return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}"
    return str(exc)


Export = Callable[[bytes, str], tuple[int, bytes, dict[str, str]]]


def _handler(receiver: Receiver, export: Export) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        content_type = request.content_type
        if content_type not in (PROTOBUF, JSON):
            status = Status(code=3, message=f"unsupported Content-Type {content_type!r}: use {PROTOBUF} or {JSON}")
            return web.Response(status=415, body=_encode(status, JSON), content_type=JSON)
        try:
            body = await request.read()  # aiohttp undoes gzip/deflate/br Content-Encoding
        except (RequestPayloadError, web.HTTPException) as exc:
            receiver.counts["bad_requests"] += 1
            status = Status(code=3, message=f"unreadable body: {exc}")
            return web.Response(status=400, body=_encode(status, content_type), content_type=content_type)
        code, payload, headers = export(body, content_type)
        return web.Response(status=code, body=payload, content_type=content_type, headers=headers)

    return handle


def build_app(receiver: Receiver) -> web.Application:
    async def stats(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(dict(receiver.counts)), content_type=JSON)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/v1/traces", _handler(receiver, receiver.export))
    app.router.add_post("/v1/logs", _handler(receiver, receiver.export_logs))
    app.router.add_get("/stats", stats)
    return app
