"""``instrument_anthropic(client, monitor, app="support")``: every ``messages.create`` call is measured.

Covers ``Anthropic`` and ``AsyncAnthropic`` (and the Bedrock/Vertex clients, which share the messages
resource), streamed (``stream=True``) or not. Usage: ``message_start`` carries the input side (uncached,
cache read, cache write: the event's total input is their sum), ``message_delta`` the output tokens and the
stop reason; the first ``content_block_delta`` is the first token.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, TypeVar

from llmpulse.producers.instrument.core import Api, Calls, Tracks, count_http_attempts, patch
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


MESSAGES = Api("chat", _message_event)


def instrument_anthropic(client: Client, monitor: Tracks, *, provider: str = "anthropic", **labels: Any) -> Client:
    """Measure every ``client.messages.create`` call; returns the same client. Labels as in
    ``instrument_openai``."""
    calls = Calls(monitor, provider, labels)
    count_http_attempts(getattr(client, "_client", None))
    patch(client.messages, "create", calls, MESSAGES)  # type: ignore[attr-defined]
    return client
