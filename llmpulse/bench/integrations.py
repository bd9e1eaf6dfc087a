"""What the one-line integrations cost: SDK instrumentation per call, and OTLP ingestion throughput.

- ``instrument_overhead_us``: ``instrument_openai`` around a chat-completions resource that answers at once with
  the ``openai`` SDK's own parsed objects (so HTTP time does not drown the figure), streamed and not; overhead =
  median(instrumented) - median(plain), events recorded into a real ``Monitor`` (its buffer: the caller's side
  needs no broker).
- ``otlp_spans_per_s``: ``llmpulse otlp``'s request handling (decode, map, validate, hand to the Monitor) over
  export requests of 100 GenAI spans each, OTLP/protobuf and OTLP/JSON.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import orjson

from llmpulse.producers import Monitor

_COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1741570283, "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
              "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 12}},
}  # fmt: skip


def _chunk(delta: dict[str, Any] | None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip
    if usage:
        body["usage"] = usage
    return body


class _Completions:
    """An SDK resource whose ``create`` answers at once with the SDK's own parsed objects: what remains of a
    call's time is the caller's loop, and (instrumented) the instrumentation."""

    def __init__(self) -> None:
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        self._completion = ChatCompletion.model_validate(_COMPLETION)
        words = [_chunk({"role": "assistant", "content": ""})] + [_chunk({"content": w}) for w in ("Hel", "lo", "!")]
        self._chunks = [ChatCompletionChunk.model_validate(c) for c in words]
        self._usage = ChatCompletionChunk.model_validate(_chunk(None, {"prompt_tokens": 9, "completion_tokens": 3,
                                                                       "total_tokens": 12}))  # fmt: skip

    def create(self, **kwargs: Any) -> Any:
        if not kwargs.get("stream"):
            return self._completion
        usage = bool((kwargs.get("stream_options") or {}).get("include_usage"))
        return iter([*self._chunks, self._usage] if usage else self._chunks)


@contextmanager
def _offline_monitor(topic: str, buffer_events: int) -> Iterator[Monitor]:
    """A real Monitor whose events stay in its buffer (nothing listens at its address): the caller's side only,
    without its connection warnings in the benchmark's output."""
    quiet = logging.getLogger("llmpulse.producers.monitor")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    monitor = Monitor("127.0.0.1:9", topic=topic, buffer_events=buffer_events, client_config={"log_level": 0})
    try:
        yield monitor
    finally:
        try:
            monitor.close(timeout_s=0.1)
        finally:
            quiet.setLevel(level)


def _median_us(n: int, call: Any) -> float:
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter_ns()
        call()
        times[i] = time.perf_counter_ns() - t0
    return float(np.median(times)) / 1000.0


def instrument_overhead_us(n: int = 20_000) -> dict[str, Any]:
    """Median µs the instrumentation adds to one chat completion call, plain and streamed (4 chunks + usage)."""
    try:
        import openai  # noqa: F401
    except ImportError:
        return {"instrument_overhead_us": None, "instrument_note": "the openai package is not installed"}
    from types import SimpleNamespace

    from llmpulse.producers.instrument import instrument_openai

    with _offline_monitor("bench.instrument", 4 * n + 1_000) as monitor:
        plain = SimpleNamespace(chat=SimpleNamespace(completions=_Completions()), embeddings=_Completions())
        measured = SimpleNamespace(chat=SimpleNamespace(completions=_Completions()), embeddings=_Completions())
        instrument_openai(measured, monitor, app="bench", team="perf", feature="answer")
        messages = [{"role": "user", "content": "Say hello"}]

        def chat(client: Any) -> Any:
            return lambda: client.chat.completions.create(model="gpt-4o", messages=messages)

        def stream(client: Any) -> Any:
            return lambda: list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))

        for warm in (chat(plain), chat(measured), stream(plain), stream(measured)):
            _median_us(500, warm)
        return {
            "instrument_overhead_us": round(_median_us(n, chat(measured)) - _median_us(n, chat(plain)), 2),
            "instrument_overhead_stream_us": round(_median_us(n, stream(measured)) - _median_us(n, stream(plain)), 2),
            "instrument_events_recorded": monitor.stats()["recorded"],
        }


def _spans(n: int, start_ns: int) -> list[dict[str, Any]]:
    def attr(key: str, value: Any) -> dict[str, Any]:
        kind = "intValue" if isinstance(value, int) else "doubleValue" if isinstance(value, float) else "stringValue"
        return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}

    return [
        {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "chat gpt-4o", "kind": 3,
         "startTimeUnixNano": str(start_ns + i * 1000), "endTimeUnixNano": str(start_ns + i * 1000 + 850_000_000),
         "attributes": [attr("gen_ai.operation.name", "chat"), attr("gen_ai.provider.name", "openai"),
                        attr("gen_ai.request.model", "gpt-4o"), attr("gen_ai.usage.input_tokens", 900 + i % 50),
                        attr("gen_ai.usage.output_tokens", 120), attr("gen_ai.response.time_to_first_chunk", 0.21),
                        attr("gen_ai.conversation.id", f"s{i % 97}"), attr("llmpulse.team", f"team-{i % 7}")],
         "status": {}}
        for i in range(n)
    ]  # fmt: skip


def otlp_spans_per_s(requests: int = 200, spans_per_request: int = 100) -> dict[str, Any]:
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from llmpulse.producers.otlp import Receiver

    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}}]}
    spans = _spans(spans_per_request, time.time_ns())
    export: dict[str, Any] = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
    as_json = orjson.dumps(export)
    message = ExportTraceServiceRequest()
    ParseDict(_as_proto_json(export), message)
    as_proto = message.SerializeToString()
    out: dict[str, Any] = {}
    with _offline_monitor("bench.otlp", 2 * requests * spans_per_request + 1) as monitor:
        receiver = Receiver(monitor)
        for name, body, content_type in (("protobuf", as_proto, "application/x-protobuf"),
                                         ("json", as_json, "application/json")):  # fmt: skip
            start = time.perf_counter()
            for _ in range(requests):
                status, _, _ = receiver.export(body, content_type)
                assert status == 200
            out[f"otlp_spans_per_s_{name}"] = round(requests * spans_per_request / (time.perf_counter() - start))
        out["otlp_calls_sent"] = receiver.counts["calls_sent"]
    return out


def _as_proto_json(export: dict[str, Any]) -> dict[str, Any]:
    """OTLP/JSON's hex ids as the protobuf JSON mapping's base64 bytes."""
    import base64
    import copy

    proto = copy.deepcopy(export)
    for span in proto["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId"):
            span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return proto


def measure() -> dict[str, Any]:
    return {**instrument_overhead_us(), **otlp_spans_per_s()}
