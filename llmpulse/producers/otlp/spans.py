"""A span that follows the OpenTelemetry GenAI conventions becomes one LLM call event.

Names read, first found wins: the current GenAI conventions (``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens``, ``…cache_read.input_tokens``, ``…reasoning.output_tokens``,
``gen_ai.response.time_to_first_chunk`` in seconds, ``gen_ai.conversation.id``, ``error.type``), the deprecated
ones still common (``gen_ai.system``, ``gen_ai.usage.prompt_tokens``/``completion_tokens``), OpenLLMetry's and
OpenInference's (``llm.model_name``, ``llm.provider``, ``llm.token_count.*``, ``session.id``, ``user.id``) and
client-side cost (``gen_ai.usage.cost``, ``llm.cost.total``) into ``client_cost_usd``. ``llmpulse.app``,
``llmpulse.team`` and ``llmpulse.<anything>`` set the event's labels and attributes; ``app`` defaults to the
resource's ``service.name``. The event id is derived from the trace and span ids, so an export the exporter
retries is stored once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from llmpulse.schemas.call import SCHEMA_VERSION


class SpanEvent(NamedTuple):
    name: str
    attributes: dict[str, Any]
    time_ns: int = 0


@dataclass(slots=True)
class Span:
    """What the mapping needs of an OTLP span, whichever encoding it came in."""

    trace_id: str  # hex
    span_id: str  # hex
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)
    error: bool = False
    status_message: str = ""
    events: list[SpanEvent] = field(default_factory=list)
    parent_span_id: str = ""  # hex; "" for a root span
    scope: str = ""  # the instrumentation scope's name


PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
REQUEST_MODEL = ("gen_ai.request.model", "llm.model_name", "gen_ai.response.model")
TOKENS = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning"),
}
COST = ("gen_ai.usage.cost", "llm.cost.total")
SESSION = ("gen_ai.conversation.id", "session.id")
USER = ("llmpulse.user_id", "user.id", "enduser.id")
ENVIRONMENT = ("deployment.environment.name", "deployment.environment")
LABELS = {"llmpulse.app": "app", "llmpulse.team": "team", "llmpulse.user_id": "user_id"}


def _first(attributes: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None and value != "":
            return value
    return None


def _invocation_model(attrs: Mapping[str, Any]) -> str | None:
    """OpenInference names the response's model in ``llm.model_name`` and the requested one only inside
    ``llm.invocation_parameters`` (a JSON object)."""
    params = attrs.get("llm.invocation_parameters")
    if not isinstance(params, str) or '"model"' not in params:
        return None
    try:
        model = orjson.loads(params).get("model")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return model if isinstance(model, str) and model else None


def call_id(trace_id: str, span_id: str) -> str:
    """The event id of the call event made from the span with these (hex) ids."""
    return f"otel-{trace_id}-{span_id}"


def app_of(attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> str:
    """``llmpulse.app``, else the resource's ``service.name``."""
    return str(_first(attributes, ("llmpulse.app",)) or resource.get("service.name") or "")


def is_genai(span: Span) -> bool:
    """A span is an LLM call when it names a model under GenAI, OpenLLMetry or OpenInference names."""
    return _first(span.attributes, REQUEST_MODEL) is not None


def to_event(span: Span) -> dict[str, Any]:
    """The call event (a wire dict, validated by the caller) for a GenAI span."""
    attrs = span.attributes
    event: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": call_id(span.trace_id, span.span_id),
        "ts_ms": span.start_ns // 1_000_000,
        "latency_ms": max(span.end_ns - span.start_ns, 0) / 1_000_000,
        "provider": str(_first(attrs, PROVIDER) or "unknown"),
        "request_model": str(
            attrs.get("gen_ai.request.model") or _invocation_model(attrs) or _first(attrs, REQUEST_MODEL)
        ),
        "operation": str(attrs.get("gen_ai.operation.name") or "chat"),
        "app": app_of(attrs, span.resource),
    }
    response_model = _first(attrs, ("gen_ai.response.model", "llm.model_name"))
    if response_model:
        event["response_model"] = str(response_model)
    for name, sources in TOKENS.items():
        value = _first(attrs, sources)
        if value is not None:
            event[name] = value
    ttft_s = attrs.get("gen_ai.response.time_to_first_chunk")
    if isinstance(ttft_s, int | float):
        event["ttft_ms"] = float(ttft_s) * 1000.0
        event["streaming"] = True
    elif attrs.get("gen_ai.request.stream") is True:
        event["streaming"] = True
    finish = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(finish, list | tuple) and finish:
        event["finish_reason"] = str(finish[0])
    elif isinstance(finish, str) and finish:
        event["finish_reason"] = finish
    error_type = attrs.get("error.type") or _exception_type(span)
    if span.error or error_type:
        event["status"] = "error"
        event["error_type"] = str(error_type or span.status_message or "error")
    for value, name in ((_first(attrs, SESSION), "session_id"), (_first(attrs, USER), "user_id")):
        if value is not None:
            event[name] = str(value)
    team = attrs.get("llmpulse.team")
    if team:
        event["team"] = str(team)
    environment = _first(attrs, ENVIRONMENT) or _first(span.resource, ENVIRONMENT)
    if environment:
        event["environment"] = str(environment)
    cost = _first(attrs, COST)
    if cost is not None:
        event["client_cost_usd"] = cost
    extra = {
        key.removeprefix("llmpulse."): str(value)
        for key, value in attrs.items()
        if key.startswith("llmpulse.") and key not in LABELS
    }
    if extra:
        event["attributes"] = extra
    return event


def _exception_type(span: Span) -> Any:
    for event in span.events:
        if event.name == "exception":
            return event.attributes.get("exception.type") or "exception"
    return None
