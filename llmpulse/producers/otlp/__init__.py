"""OpenTelemetry GenAI ingestion: ``llmpulse otlp`` receives OTLP/HTTP traces and logs and sends each LLM-call
span to Kafka as a call event and each ``gen_ai.evaluation.result`` event as an evaluation event, so apps already
instrumented with OpenTelemetry need no llmpulse code at all."""

from llmpulse.producers.otlp.decode import PayloadError, from_json, from_protobuf
from llmpulse.producers.otlp.server import Receiver, build_app
from llmpulse.producers.otlp.spans import Span, SpanEvent, call_id, is_genai, to_event

__all__ = [
    "PayloadError", "Receiver", "Span", "SpanEvent", "build_app", "call_id", "from_json", "from_protobuf", "is_genai",
    "to_event",
]  # fmt: skip
