"""``instrument_openai(client, monitor, app="search")``: every call made with an ``openai`` client is measured.

Covers the sync and async clients (``OpenAI``, ``AsyncOpenAI``, the Azure ones): chat completions and the
responses API, streamed or not, and embeddings. TTFT comes from the first output chunk, usage from the
response or the stream's last chunk. A streamed chat completion reports usage only when asked
(``stream_options={"include_usage": True}``): when the caller did not ask, the wrapper asks and hides the
extra usage-only chunk, so the caller sees exactly the stream it would have seen
(``request_stream_usage=False`` turns that off, for OpenAI-compatible servers that reject the option).
When the server reports no usage (an OpenAI-compatible server that ignores ``stream_options``, or
``request_stream_usage=False``), the tokens are counted from the messages and the answer's text
(``llmpulse.tokens``) and the event says ``tokens_estimated``. Errors (including timeouts and rate limits after
the SDK's retries) are recorded with the exception's class name; the number of retries goes into the
``retries`` attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from llmpulse.producers.instrument.core import Api, Calls, Tracks, count_http_attempts, patch
from llmpulse.producers.track import CallTracker

Client = TypeVar("Client")

_RESPONSE_ENDS = ("response.completed", "response.incomplete", "response.failed")


def _chat_chunk(tracker: CallTracker, chunk: Any) -> bool:
    choices = getattr(chunk, "choices", None)
    if getattr(chunk, "usage", None) is not None or (choices and getattr(choices[0], "finish_reason", None)):
        tracker.set_response(chunk)  # usage (last chunk), the finish reason and the model
    elif tracker.response_model is None and isinstance(getattr(chunk, "model", None), str):
        tracker.response_model = chunk.model
    return bool(choices)


def _chunk_text(chunk: Any) -> str | None:
    choices = getattr(chunk, "choices", None)
    return getattr(getattr(choices[0], "delta", None), "content", None) if choices else None


def _message_text(response: Any) -> str | None:
    choices = getattr(response, "choices", None)
    return getattr(getattr(choices[0], "message", None), "content", None) if choices else None


def _not_usage_only(chunk: Any) -> bool:
    return bool(getattr(chunk, "choices", None)) or getattr(chunk, "usage", None) is None


def _ask_for_usage(kwargs: dict[str, Any]) -> Callable[[Any], bool]:
    options = kwargs.get("stream_options")
    if isinstance(options, Mapping) and options.get("include_usage"):
        return lambda chunk: True
    kwargs["stream_options"] = {**(options if isinstance(options, Mapping) else {}), "include_usage": True}
    return _not_usage_only


def _response_event(tracker: CallTracker, event: Any) -> bool:
    kind = str(getattr(event, "type", ""))
    if kind in _RESPONSE_ENDS:
        response = getattr(event, "response", None)
        tracker.set_response(response)
        if kind == "response.failed":
            error = getattr(response, "error", None)
            tracker.set_error(str(getattr(error, "code", None) or "response_failed"))
    elif kind == "error":
        tracker.set_error(str(getattr(event, "code", None) or "stream_error"))
    return kind.endswith(".delta")


CHAT = Api("chat", _chat_chunk, _ask_for_usage, _chunk_text, _message_text)
CHAT_AS_SENT = Api("chat", _chat_chunk, chunk_text=_chunk_text, response_text=_message_text)
RESPONSES = Api("chat", _response_event)
EMBEDDINGS = Api("embeddings")


def instrument_openai(
    client: Client, monitor: Tracks, *, provider: str | None = None, request_stream_usage: bool = True, **labels: Any
) -> Client:
    """Measure every call made with ``client``; returns the same client. Labels (``app``, ``team``,
    ``user_id``, ``session_id``, ``environment``, or any attribute such as ``feature``) apply to all of its
    calls; ``call_labels(...)`` and a per-call ``llmpulse={...}`` keyword add or override them."""
    if provider is None:
        provider = "azure" if "Azure" in type(client).__name__ else "openai"
    calls = Calls(monitor, provider, labels)
    count_http_attempts(getattr(client, "_client", None))
    patch(client.chat.completions, "create", calls, CHAT if request_stream_usage else CHAT_AS_SENT)  # type: ignore[attr-defined]
    responses = getattr(client, "responses", None)
    if responses is not None:
        patch(responses, "create", calls, RESPONSES)
    patch(client.embeddings, "create", calls, EMBEDDINGS)  # type: ignore[attr-defined]
    return client
