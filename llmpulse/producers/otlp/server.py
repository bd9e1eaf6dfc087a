"""``llmpulse otlp``: an OTLP/HTTP receiver for traces that turns GenAI spans into call events on Kafka.

``POST /v1/traces`` with ``application/x-protobuf`` or ``application/json`` (``Content-Encoding: gzip``,
``deflate`` or ``br`` allowed, at most 16 MiB decoded), as OpenTelemetry's OTLP/HTTP exporters send it.
Answers as the OTLP specification says: 200 with an ``ExportTraceServiceResponse`` (its ``partial_success``
counts the GenAI spans that did not make a valid call event, with the first reason), 400 with a
``google.rpc.Status`` for a body that is not a valid export, 415 for another content type, and 503 with
``Retry-After`` when the Kafka producer's buffer has no room for the request's events (the exporters retry
503; they do not retry 429). Spans that are not LLM calls are ignored and counted. ``GET /stats`` gives the
counters as JSON.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Protocol

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from google.protobuf.json_format import MessageToJson
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from pydantic import ValidationError

from llmpulse.producers.otlp.decode import MAX_BODY_BYTES, PayloadError, from_json, from_protobuf
from llmpulse.producers.otlp.spans import is_genai, to_event
from llmpulse.schemas.call import LLMCallEvent

log = logging.getLogger("llmpulse.producers.otlp")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
RETRY_AFTER_S = 5


class Sink(Protocol):
    """Where call events go: a ``Monitor``."""

    @property
    def room(self) -> int: ...

    def record(self, event: Any) -> bool: ...


def _encode(message: Any, content_type: str) -> bytes:
    if content_type == PROTOBUF:
        return bytes(message.SerializeToString())
    return MessageToJson(message, indent=None).encode()


class Receiver:
    """The request handling, kept apart from the server so that it can be driven directly."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.counts: Counter[str] = Counter()

    def export(self, body: bytes, content_type: str) -> tuple[int, bytes, dict[str, str]]:
        """(HTTP status, response body, extra headers) for one export request's decoded body."""
        try:
            spans = from_protobuf(body) if content_type == PROTOBUF else from_json(body)
        except PayloadError as exc:
            self.counts["bad_requests"] += 1
            return 400, _encode(Status(code=3, message=str(exc)), content_type), {}
        events: list[dict[str, Any]] = []
        rejected = 0
        first_error = ""
        for span in spans:
            if not is_genai(span):
                self.counts["spans_ignored"] += 1
                continue
            try:
                events.append(LLMCallEvent.model_validate(to_event(span)).to_wire())
            except (ValidationError, TypeError, ValueError) as exc:
                rejected += 1
                if not first_error:
                    first_error = f"span {span.span_id} ({span.name!r}): {_reason(exc)}"
        if events and self.sink.room < len(events):
            self.counts["throttled_requests"] += 1
            status = Status(code=14, message="the Kafka producer's buffer is full; retry later")
            return 503, _encode(status, content_type), {"Retry-After": str(RETRY_AFTER_S)}
        for event in events:
            self.sink.record(event)
        self.counts["spans_received"] += len(spans)
        self.counts["calls_sent"] += len(events)
        self.counts["spans_rejected"] += rejected
        response = ExportTraceServiceResponse()
        if rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=rejected, error_message=first_error)
            )
        return 200, _encode(response, content_type), {}


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}"
    return str(exc)


def build_app(receiver: Receiver) -> web.Application:
    async def traces(request: web.Request) -> web.Response:
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
        code, payload, headers = receiver.export(body, content_type)
        return web.Response(status=code, body=payload, content_type=content_type, headers=headers)

    async def stats(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(dict(receiver.counts)), content_type=JSON)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/v1/traces", traces)
    app.router.add_get("/stats", stats)
    return app
