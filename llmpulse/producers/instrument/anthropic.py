"""``instrument_anthropic(client, monitor, app="support")``: every ``messages.create`` call is measured.

Covers ``Anthropic`` and ``AsyncAnthropic`` (and the Bedrock/Vertex clients, which share the messages
resource), streamed (``stream=True``, or the ``messages.stream()`` helper) or not. Usage: ``message_start``
carries the input side (uncached, cache read, cache write: the event's total input is their sum),
``message_delta`` the output tokens and the stop reason; the first ``content_block_delta`` is the first token.
A server that reports no usage gets its tokens counted from the text with the stated approximation
(``llmpulse.tokens``, ``tokens_estimated``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar

from llmpulse.producers.instrument.core import (
    LABELS_KEYWORD,
    Api,
    AsyncStream,
    Call,
    Calls,
    SyncStream,
    Tracks,
    begin_call,
    count_attempts,
    count_http_attempts,
    patch,
)
from llmpulse.producers.track import CallTracker

Client = TypeVar("Client")


def _message_event(tracker: CallTracker, event: Any) -> bool:
    kind = getattr(event, "type", "")
    if kind == "message_start":
        tracker.set_response(getattr(event, "message", None))
    elif kind == "message_delta":
        usage = getattr(event, "usage", None)
        if getattr(usage, "input_tokens", None) is not None:  # newer API versions repeat the whole usage
            tracker.set_response(SimpleNamespace(usage=usage))
        output = getattr(usage, "output_tokens", None)
        if isinstance(output, int):
            tracker.usage["output_tokens"] = output
        stop = getattr(getattr(event, "delta", None), "stop_reason", None)
        if isinstance(stop, str):
            tracker.finish_reason = stop
    return kind == "content_block_delta"


_DELTA_TEXT = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


def _event_text(event: Any) -> str | None:
    if getattr(event, "type", "") != "content_block_delta":
        return None
    delta = getattr(event, "delta", None)
    field = _DELTA_TEXT.get(str(getattr(delta, "type", "")))
    return getattr(delta, field, None) if field else None


def _message_text(message: Any) -> str | None:
    return "".join(
        text
        for block in getattr(message, "content", None) or []
        if isinstance(text := getattr(block, "text", None), str)
    )


MESSAGES = Api("chat", _message_event, chunk_text=_event_text, response_text=_message_text)


class _StreamHelper:
    """What ``messages.stream(...)`` returns, measured. The request is sent when the ``with`` block is entered
    (an error then is recorded and raised as is); the helper's stream reads the raw events from its
    ``_raw_stream``, which is wrapped like a ``create(stream=True)`` stream, so iterating, ``text_stream``,
    ``until_done()`` and ``get_final_message()`` are all seen. Everything else passes through."""

    def __init__(self, manager: Any, calls: Calls, kwargs: dict[str, Any]) -> None:
        self._manager = manager
        self._calls = calls
        self._kwargs = kwargs
        self._call: Call | None = None

    def __getattr__(self, name: str) -> Any:
        manager = self.__dict__.get("_manager")
        if manager is None:
            raise AttributeError(name)
        return getattr(manager, name)

    def _begin(self) -> tuple[Call, Callable[[Any], bool] | None, Any]:
        call, keep, token = begin_call(self._calls, MESSAGES, dict(self._kwargs))
        self._call = call
        return call, keep, token

    def _observe(self, stream: Any, call: Call, keep: Callable[[Any], bool] | None, proxy: type[Any]) -> None:
        raw = getattr(stream, "_raw_stream", None)
        if raw is not None and keep is not None:
            with contextlib.suppress(Exception):
                stream._raw_stream = proxy(raw, call, keep)

    def __enter__(self) -> Any:
        call, keep, token = self._begin()
        try:
            stream = self._manager.__enter__()
        except BaseException as exc:
            call.finish(exc)
            count_attempts(call, token)
            raise
        count_attempts(call, token)
        self._observe(stream, call, keep, SyncStream)
        return stream

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._manager.__exit__(*exc_info)
        finally:
            if self._call is not None:
                self._call.finish(None)  # done already if the stream was wrapped; else latency only

    async def __aenter__(self) -> Any:
        call, keep, token = self._begin()
        try:
            stream = await self._manager.__aenter__()
        except BaseException as exc:
            call.finish(exc)
            count_attempts(call, token)
            raise
        count_attempts(call, token)
        self._observe(stream, call, keep, AsyncStream)
        return stream

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc_info)
        finally:
            if self._call is not None:
                self._call.finish(None)


def _patch_stream_helper(messages: Any, calls: Calls) -> None:
    original = getattr(messages, "stream", None)
    if original is None or getattr(original, "__llmpulse__", False):
        return

    @functools.wraps(original)
    def measured(*args: Any, **kwargs: Any) -> Any:
        labels = kwargs.pop(LABELS_KEYWORD, None)  # taken off before the SDK sees it
        manager = original(*args, **kwargs)
        request = {name: kwargs.get(name) for name in ("model", "messages", "system")}
        return _StreamHelper(manager, calls, {**request, "stream": True, LABELS_KEYWORD: labels})

    measured.__llmpulse__ = True  # type: ignore[attr-defined]
    messages.stream = measured


def instrument_anthropic(client: Client, monitor: Tracks, *, provider: str = "anthropic", **labels: Any) -> Client:
    """Measure every ``client.messages.create`` and ``client.messages.stream`` call; returns the same client.
    Labels as in ``instrument_openai``."""
    calls = Calls(monitor, provider, labels)
    count_http_attempts(getattr(client, "_client", None))
    patch(client.messages, "create", calls, MESSAGES)  # type: ignore[attr-defined]
    _patch_stream_helper(client.messages, calls)  # type: ignore[attr-defined]
    return client
