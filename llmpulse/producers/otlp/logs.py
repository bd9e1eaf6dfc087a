"""OTLP/HTTP log export requests, protobuf or JSON, into ``LogRecord`` objects: what the receiver needs of
OpenTelemetry events sent as logs (``gen_ai.evaluation.result``). The event's name is the record's
``event_name`` field, or its ``event.name`` attribute as older SDKs set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from llmpulse.producers.otlp.decode import PayloadError, items, json_kv, json_request, kv

EVENT_NAME_ATTRIBUTE = "event.name"


@dataclass(slots=True)
class LogRecord:
    trace_id: str  # hex; "" when the record was emitted outside a span
    span_id: str  # hex
    time_ns: int  # the event's time, else when it was observed; 0 if neither
    event_name: str
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""  # the instrumentation scope's (logger's) name


def _event_name(name: str, attributes: Mapping[str, Any]) -> str:
    return name or str(attributes.get(EVENT_NAME_ATTRIBUTE) or "")


def from_protobuf(body: bytes) -> list[LogRecord]:
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise PayloadError(f"not an ExportLogsServiceRequest: {exc}") from exc
    records: list[LogRecord] = []
    for resource_logs in request.resource_logs:
        resource = kv(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                attributes = kv(record.attributes)
                records.append(
                    LogRecord(
                        trace_id=record.trace_id.hex(),
                        span_id=record.span_id.hex(),
                        time_ns=record.time_unix_nano or record.observed_time_unix_nano,
                        event_name=_event_name(record.event_name, attributes),
                        attributes=attributes,
                        resource=resource,
                        scope=scope_logs.scope.name,
                    )
                )
    return records


def from_json(body: bytes) -> list[LogRecord]:
    request = json_request(body, "ExportLogsServiceRequest")
    records: list[LogRecord] = []
    try:
        for resource_logs in items(request, "resourceLogs"):
            resource = json_kv((resource_logs.get("resource") or {}).get("attributes", []))
            for scope_logs in items(resource_logs, "scopeLogs"):
                scope = str((scope_logs.get("scope") or {}).get("name", ""))
                for record in items(scope_logs, "logRecords"):
                    attributes = json_kv(record.get("attributes", []))
                    records.append(
                        LogRecord(
                            trace_id=str(record.get("traceId", "")).lower(),
                            span_id=str(record.get("spanId", "")).lower(),
                            time_ns=int(record.get("timeUnixNano") or record.get("observedTimeUnixNano") or 0),
                            event_name=_event_name(str(record.get("eventName", "")), attributes),
                            attributes=attributes,
                            resource=resource,
                            scope=scope,
                        )
                    )
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"malformed OTLP/JSON: {exc}") from exc
    return records
