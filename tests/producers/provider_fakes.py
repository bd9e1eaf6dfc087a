"""Local stand-ins for the OpenAI and Anthropic HTTP APIs (127.0.0.1 only), checked against their published formats.

- OpenAI: ``POST /v1/chat/completions`` (``chat.completion`` JSON, or ``chat.completion.chunk`` server-sent
  events ending in ``data: [DONE]``, with a final usage-only chunk only when ``stream_options.include_usage``),
  ``POST /v1/responses`` (a ``response`` object, or the typed events ``response.created`` …
  ``response.output_text.delta`` … ``response.completed``), ``POST /v1/embeddings``. Requests need
  ``Authorization: Bearer …``, a ``model`` and ``messages``/``input``.
- Anthropic: ``POST /v1/messages`` (a ``message`` object, or the events ``message_start``,
  ``content_block_start``, ``content_block_delta``…, ``content_block_stop``, ``message_delta``, ``message_stop``).
  Requests need a key (``x-api-key``, or ``Authorization: Bearer`` as SDK 2.x sends it),
  ``anthropic-version``, ``model``, ``max_tokens`` and ``messages``.

Faults, chosen by the request's model name: ``rate-limited`` answers 429 with ``retry-after: 0`` and the
provider's error body ``fail_times`` times (then succeeds), ``broken`` answers 500 every time, ``no-usage``
answers like an OpenAI-compatible server that reports no usage (none in the completion, ``stream_options``
ignored). Every request
body is kept in ``requests`` for the tests to inspect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USAGE_CHAT = {
    "prompt_tokens": 1117,
    "completion_tokens": 46,
    "total_tokens": 1163,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 0},
}
USAGE_STREAM = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
USAGE_RESPONSES = {
    "input_tokens": 328,
    "input_tokens_details": {"cached_tokens": 256},
    "output_tokens": 52,
    "output_tokens_details": {"reasoning_tokens": 20},
    "total_tokens": 380,
}
USAGE_ANTHROPIC = {
    "input_tokens": 40,
    "cache_creation_input_tokens": 100,
    "cache_read_input_tokens": 2000,
    "output_tokens": 1,
}
ANTHROPIC_OUTPUT_TOKENS = 27
WORDS = ("Hel", "lo", "!")
NO_USAGE = "no-usage"


def completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": f"{model}-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris.", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE_CHAT,
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
    }


def chat_chunk(
    model: str, delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": f"{model}-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def response_object(model: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc054267",
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": f"{model}-2025-04-14",
        "output": [
            {
                "type": "message",
                "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello!", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": USAGE_RESPONSES if status == "completed" else None,
        "user": None,
        "metadata": {},
    }


def message_object(model: str) -> dict[str, Any]:
    return {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Hi! My name is Claude."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {**USAGE_ANTHROPIC, "output_tokens": ANTHROPIC_OUTPUT_TOKENS},
    }


class _Handler(BaseHTTPRequestHandler):
    server: ProviderServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _events(self, events: Iterator[tuple[str | None, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for name, data in events:
            head = f"event: {name}\n".encode() if name else b""
            text = data if isinstance(data, str) else json.dumps(data)
            self.wfile.write(head + b"data: " + text.encode() + b"\n\n")
            self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        anthropic = self.path == "/v1/messages"
        problem = self._check(body, anthropic)
        if problem:
            self._reply(400, _error(anthropic, "invalid_request_error", problem))
            return
        model = str(body["model"])
        if model == "broken":
            self._reply(500, _error(anthropic, "api_error", "Internal server error"))
            return
        if model == "rate-limited" and self.server.failures < self.server.fail_times:
            self.server.failures += 1
            self._reply(429, _error(anthropic, "rate_limit_error", "Rate limit reached"), {"retry-after": "0"})
            return
        stream = body.get("stream") is True
        if self.path == "/v1/chat/completions":
            asked = bool((body.get("stream_options") or {}).get("include_usage")) and model != NO_USAGE
            if stream:
                self._events(_chat_stream(model, asked))
            else:
                answer = completion(model)
                if model == NO_USAGE:
                    del answer["usage"]
                self._reply(200, answer)
        elif self.path == "/v1/responses":
            if stream:
                self._events(_responses_stream(model))
            else:
                self._reply(200, response_object(model))
        elif self.path == "/v1/embeddings":
            vector = {"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}
            usage = {"prompt_tokens": 8, "total_tokens": 8}
            self._reply(200, {"object": "list", "data": [vector], "model": model, "usage": usage})
        elif anthropic:
            if stream:
                self._events(_messages_stream(model))
            else:
                self._reply(200, message_object(model))
        else:
            self._reply(404, _error(anthropic, "not_found_error", f"no route {self.path}"))

    def _check(self, body: dict[str, Any], anthropic: bool) -> str | None:
        if not isinstance(body.get("model"), str):
            return "model is required"
        if anthropic:
            key = self.headers.get("x-api-key") or str(self.headers.get("Authorization", "")).removeprefix("Bearer ")
            if not key or not self.headers.get("anthropic-version"):
                return "an API key (x-api-key or Authorization: Bearer) and anthropic-version are required"
            if not isinstance(body.get("max_tokens"), int) or not isinstance(body.get("messages"), list):
                return "max_tokens and messages are required"
            return None
        if not str(self.headers.get("Authorization", "")).startswith("Bearer "):
            return "Authorization: Bearer is required"
        if self.path == "/v1/chat/completions" and not isinstance(body.get("messages"), list):
            return "messages is required"
        if self.path in ("/v1/responses", "/v1/embeddings") and "input" not in body:
            return "input is required"
        if "stream_options" in body and body.get("stream") is not True:
            return "stream_options is only allowed when stream is true"
        return None


def _error(anthropic: bool, kind: str, message: str) -> dict[str, Any]:
    if anthropic:
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def _chat_stream(model: str, include_usage: bool) -> Iterator[tuple[str | None, Any]]:
    yield None, chat_chunk(model, {"role": "assistant", "content": ""})
    for word in WORDS:
        yield None, chat_chunk(model, {"content": word})
    yield None, chat_chunk(model, {}, finish="length")
    if include_usage:
        yield None, chat_chunk(model, None, usage=USAGE_STREAM)
    yield None, "[DONE]"


def _responses_stream(model: str) -> Iterator[tuple[str | None, Any]]:
    pending = response_object(model, status="in_progress")
    yield "response.created", {"type": "response.created", "sequence_number": 0, "response": pending}
    yield "response.in_progress", {"type": "response.in_progress", "sequence_number": 1, "response": pending}
    for n, word in enumerate(WORDS):
        yield "response.output_text.delta", {
            "type": "response.output_text.delta", "sequence_number": 2 + n, "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": word, "logprobs": [],
        }  # fmt: skip
    done = response_object(model)
    yield "response.completed", {"type": "response.completed", "sequence_number": 9, "response": done}


def _messages_stream(model: str) -> Iterator[tuple[str | None, Any]]:
    start = {**message_object(model), "content": [], "stop_reason": None, "usage": USAGE_ANTHROPIC}
    yield "message_start", {"type": "message_start", "message": start}
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield "ping", {"type": "ping"}
    for word in WORDS:
        delta = {"type": "text_delta", "text": word}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
            "usage": {"output_tokens": ANTHROPIC_OUTPUT_TOKENS},
        },
    )
    yield "message_stop", {"type": "message_stop"}


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fail_times: int = 1) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.fail_times = fail_times
        self.failures = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()
        self.server_close()
