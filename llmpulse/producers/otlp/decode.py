"""OTLP/HTTP trace export requests, protobuf or JSON, into ``Span`` objects (the HTTP server has already
undone any ``Content-Encoding``); the attribute readers are shared with the logs' decoding (``logs``).

OTLP/JSON follows the protobuf JSON mapping with OTLP's two exceptions: trace and span ids are hex strings,
and enum values are integers (names are accepted too). 64-bit integers may come as strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from llmpulse.producers.otlp.spans import Span, SpanEvent

MAX_BODY_BYTES = 16 * 1024 * 1024  # after decompression (the server enforces it)


class PayloadError(ValueError):
    """The request body is not a valid OTLP export."""


# -- protobuf ---------------------------------------------------------------------------------------


def _any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return kv(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def kv(values: Any) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in values if isinstance(kv, KeyValue)}


def from_protobuf(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise PayloadError(f"not an ExportTraceServiceRequest: {exc}") from exc
    spans: list[Span] = []
    for resource_spans in request.resource_spans:
        resource = kv(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes=kv(span.attributes),
                        resource=resource,
                        error=span.status.code == Status.STATUS_CODE_ERROR,
                        status_message=span.status.message,
                        events=[
                            SpanEvent(event.name, kv(event.attributes), event.time_unix_nano) for event in span.events
                        ],
                        parent_span_id=span.parent_span_id.hex(),
                        scope=scope_spans.scope.name,
                    )
                )
    return spans


# -- JSON -------------------------------------------------------------------------------------------

_ERROR_CODES = (2, "2", "STATUS_CODE_ERROR")


def _json_value(value: Any) -> Any:
    if not isinstance(value, Mapping) or not value:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "intValue":
        return int(inner)
    if kind == "doubleValue":
        return float(inner)
    if kind == "arrayValue":
        return [_json_value(item) for item in (inner or {}).get("values", [])]
    if kind == "kvlistValue":
        return json_kv((inner or {}).get("values", []))
    return inner  # stringValue, boolValue, bytesValue (base64 text)


def json_kv(values: Any) -> dict[str, Any]:
    if not isinstance(values, list):
        raise PayloadError("attributes must be a list of {key, value}")
    return {str(kv["key"]): _json_value(kv.get("value")) for kv in values if isinstance(kv, Mapping) and "key" in kv}


def items(parent: Mapping[str, Any], key: str) -> Iterator[Mapping[str, Any]]:
    items = parent.get(key, [])
    if not isinstance(items, list):
        raise PayloadError(f"{key} must be a list")
    for item in items:
        if not isinstance(item, Mapping):
            raise PayloadError(f"{key} must hold objects")
        yield item


def json_request(body: bytes, name: str) -> Mapping[str, Any]:
    """An OTLP/JSON export request's body as an object (``name``: its message type, for the error)."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"not JSON: {exc}") from exc
    if not isinstance(request, Mapping):
        raise PayloadError(f"an {name} is a JSON object")
    return request


def from_json(body: bytes) -> list[Span]:
    request = json_request(body, "ExportTraceServiceRequest")
    spans: list[Span] = []
    try:
        for resource_spans in items(request, "resourceSpans"):
            resource = json_kv((resource_spans.get("resource") or {}).get("attributes", []))
            for scope_spans in items(resource_spans, "scopeSpans"):
                scope = str((scope_spans.get("scope") or {}).get("name", ""))
                for span in items(scope_spans, "spans"):
                    status = span.get("status") or {}
                    spans.append(
                        Span(
                            trace_id=str(span.get("traceId", "")).lower(),
                            span_id=str(span.get("spanId", "")).lower(),
                            name=str(span.get("name", "")),
                            start_ns=int(span.get("startTimeUnixNano", 0)),
                            end_ns=int(span.get("endTimeUnixNano", 0)),
                            attributes=json_kv(span.get("attributes", [])),
                            resource=resource,
                            error=status.get("code") in _ERROR_CODES,
                            status_message=str(status.get("message", "")),
                            events=[
                                SpanEvent(
                                    str(event.get("name", "")),
                                    json_kv(event.get("attributes", [])),
                                    int(event.get("timeUnixNano", 0)),
                                )
                                for event in items(span, "events")
                            ],
                            parent_span_id=str(span.get("parentSpanId", "")).lower(),
                            scope=scope,
                        )
                    )
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"malformed OTLP/JSON: {exc}") from exc
    return spans
