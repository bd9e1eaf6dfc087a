"""The integrations benchmark runs the real instrumentation and the real OTLP receiver (figures, not timings)."""

from __future__ import annotations

from llmpulse.bench.integrations import instrument_overhead_us, otlp_spans_per_s


def test_instrument_overhead_records_every_measured_call() -> None:
    result = instrument_overhead_us(n=200)
    # 500 warm-up + 200 timed calls per instrumented loop, chat and stream
    assert result["instrument_events_recorded"] == 2 * (500 + 200)
    assert isinstance(result["instrument_overhead_us"], float)


def test_otlp_throughput_sends_every_span_as_a_call() -> None:
    result = otlp_spans_per_s(requests=5, spans_per_request=20)
    assert result["otlp_calls_sent"] == 2 * 5 * 20  # protobuf and JSON, every GenAI span became a call event
    assert result["otlp_spans_per_s_protobuf"] > 0 and result["otlp_spans_per_s_json"] > 0
