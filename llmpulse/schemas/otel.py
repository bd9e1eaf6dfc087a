"""How llmpulse field names map to the OpenTelemetry GenAI semantic conventions.

Fields without an OTel name are llmpulse's own (OTel has, for example, no standard cost attribute).
"""

CALL_FIELD_TO_OTEL: dict[str, str | None] = {
    "schema_version": None,
    "event_id": None,
    "ts_ms": None,  # the span's start time
    "latency_ms": None,  # the span's duration
    "end_ts_ms": None,  # the span's end time
    "ttft_ms": "gen_ai.response.time_to_first_chunk",  # OTel uses seconds; llmpulse milliseconds
    "provider": "gen_ai.provider.name",
    "request_model": "gen_ai.request.model",
    "response_model": "gen_ai.response.model",
    "operation": "gen_ai.operation.name",
    "streaming": None,
    "status": None,  # 'error' when the span status is ERROR
    "error_type": "error.type",
    "finish_reason": "gen_ai.response.finish_reasons",  # first element
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cache_read_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_write_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
    "session_id": "gen_ai.conversation.id",
    "app": None,
    "team": None,
    "user_id": None,
    "environment": None,
    "attributes": None,
    "prompt": None,
    "response": None,
    "client_cost_usd": None,
    "tokens_estimated": None,
}

OTEL_TO_CALL_FIELD: dict[str, str] = {v: k for k, v in CALL_FIELD_TO_OTEL.items() if v}
