"""OpenTelemetry GenAI ingestion: ``llmpulse otlp`` receives OTLP/HTTP traces and sends each LLM-call span to
Kafka as a call event, so apps already instrumented with OpenTelemetry need no llmpulse code at all."""

from llmpulse.producers.otlp.decode import PayloadError, from_json, from_protobuf
from llmpulse.producers.otlp.server import Receiver, build_app
from llmpulse.producers.otlp.spans import Span, is_genai, to_event

__all__ = ["PayloadError", "Receiver", "Span", "build_app", "from_json", "from_protobuf", "is_genai", "to_event"]
