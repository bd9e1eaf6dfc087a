"""OpenTelemetry's ``gen_ai.evaluation.result`` events become evaluation events.

The GenAI conventions parent the event to the GenAI operation span it evaluates, so its ``call_id`` is the
call event id of that span (``spans.call_id``):

- a span event on an LLM-call span evaluates that call;
- a span event on another span evaluates that span's parent when the parent is an LLM call in the same export
  (an evaluator's own span under the call: a ``BatchSpanProcessor`` usually exports the two together, a
  ``SimpleSpanProcessor`` never does), else the span itself, whose id matches no call: the evaluation is then
  stored unattributed, under its ``app`` and ``team``;
- a log record of that event evaluates the span its trace and span ids name. One without them (the
  conventions then ask for ``gen_ai.response.id``, which llmpulse cannot match to a call) is rejected.

Read: ``gen_ai.evaluation.name``, ``…score.value``, ``…score.label``, ``…explanation``; the evaluator is
``llmpulse.evaluator``, else the instrumentation scope that emitted the event (the logger of a log record, the
tracer of an evaluating child span), else the resource's ``service.name``; the time is the event's. One with
neither a score nor a label (an evaluation that failed, with ``error.type``) is rejected. The event id is
derived from where the event was emitted, its time and its name, so an export the exporter retries is stored
once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmpulse.producers.otlp.logs import LogRecord
from llmpulse.producers.otlp.spans import Span, app_of, call_id, is_genai
from llmpulse.schemas.call import SCHEMA_VERSION

EVENT = "gen_ai.evaluation.result"
NAME = "gen_ai.evaluation.name"
SCORE = "gen_ai.evaluation.score.value"
LABEL = "gen_ai.evaluation.score.label"
EXPLANATION = "gen_ai.evaluation.explanation"
EVALUATOR = "llmpulse.evaluator"


def evaluation(
    attributes: Mapping[str, Any],
    *,
    trace_id: str,
    span_id: str,
    evaluated: tuple[str, str],
    time_ns: int,
    labels: Mapping[str, Any],
    resource: Mapping[str, Any],
    scope: str,
) -> dict[str, Any]:
    """The evaluation event (a wire dict, validated by the caller) of one ``gen_ai.evaluation.result`` event
    emitted at (trace_id, span_id) about the span ``evaluated`` (trace id, span id); ``labels`` are the
    attributes that give its ``app`` and ``team``, ``scope`` the emitter's scope ("" to skip it)."""
    if not trace_id.strip("0") or not span_id.strip("0"):
        raise ValueError("no trace and span id: the evaluated span is unknown (gen_ai.response.id is not matched)")
    name = attributes.get(NAME)
    score = attributes.get(SCORE)
    label = attributes.get(LABEL)
    if score is None and label is None and attributes.get("error.type"):
        raise ValueError(f"the evaluation failed ({attributes['error.type']}): no score or label")
    digest = hashlib.blake2b(f"{time_ns}/{name}".encode(), digest_size=8).hexdigest()
    event: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": f"otel-eval-{trace_id}-{span_id}-{digest}",
        "call_id": call_id(*evaluated),
        "name": name,
        "score": score,
        "label": label,
        "explanation": attributes.get(EXPLANATION),
        "evaluator": str(attributes.get(EVALUATOR) or scope or resource.get("service.name") or ""),
        "app": app_of(labels, resource),
        "team": str(labels.get("llmpulse.team") or ""),
    }
    if time_ns > 0:
        event["ts_ms"] = time_ns // 1_000_000
    return {key: value for key, value in event.items() if value is not None}


def from_spans(spans: Sequence[Span]) -> Iterator[tuple[Span, dict[str, Any] | ValueError]]:
    """(the span that carries it, its evaluation event or why it cannot be one) for each span event of
    ``gen_ai.evaluation.result``."""
    calls = {(span.trace_id, span.span_id): span for span in spans if is_genai(span)}
    for span in spans:
        evaluated = span if is_genai(span) else calls.get((span.trace_id, span.parent_span_id), span)
        for event in span.events:
            if event.name != EVENT:
                continue
            result: dict[str, Any] | ValueError
            try:
                result = evaluation(
                    event.attributes,
                    trace_id=span.trace_id,
                    span_id=span.span_id,
                    evaluated=(evaluated.trace_id, evaluated.span_id),
                    time_ns=event.time_ns,
                    labels=evaluated.attributes,
                    resource=evaluated.resource,
                    scope="" if evaluated is span else span.scope,
                )
            except ValueError as exc:
                result = exc
            yield span, result


def from_log(record: LogRecord) -> dict[str, Any]:
    """The evaluation event of a ``gen_ai.evaluation.result`` log record; ValueError if it cannot be one."""
    return evaluation(
        record.attributes,
        trace_id=record.trace_id,
        span_id=record.span_id,
        evaluated=(record.trace_id, record.span_id),
        time_ns=record.time_ns,
        labels=record.attributes,
        resource=record.resource,
        scope=record.scope,
    )
