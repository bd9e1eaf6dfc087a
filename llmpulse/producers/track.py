"""``with monitor.track(provider="openai", model="gpt-4o") as call:`` — one LLM call, measured.

The tracker takes the wall-clock start (``ts_ms``) and a ``perf_counter`` start on entry, the latency
on exit, TTFT on ``first_token()``, token usage from ``set_usage()`` or from the provider's response
object (``set_response()``: OpenAI chat completions and responses, Anthropic messages, duck-typed,
objects or dicts). An exception inside the block marks the call ``status="error"`` with the exception's
class name and propagates unchanged. On exit it hands a wire dict to ``record``. Nothing here raises
because of monitoring.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from llmpulse.schemas.call import SCHEMA_VERSION, new_event_id

_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


class CallTracker:
    """Measures one call; use through ``Monitor.track``."""

    __slots__ = (
        "_record",
        "_t0",
        "error_type",
        "event",
        "finish_reason",
        "response_model",
        "streaming",
        "ttft_ms",
        "usage",
    )

    def __init__(
        self,
        record: Callable[[dict[str, Any]], Any],
        provider: str,
        model: str,
        *,
        app: str = "",
        team: str = "",
        user_id: str = "",
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        self._record = record
        self._t0 = 0.0
        self.event: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "event_id": new_event_id(),
            "ts_ms": 0,
            "provider": provider,
            "request_model": model,
            "app": app,
            "team": team,
            "user_id": user_id,
        }
        if fields:
            self.event.update(fields)
        self.ttft_ms: float | None = None
        self.streaming = bool(self.event.get("streaming", False))
        self.usage: dict[str, int] = {}
        self.response_model: str | None = None
        self.finish_reason: str | None = None
        self.error_type: str | None = None

    @property
    def event_id(self) -> str:
        """The call's id: what ``Monitor.feedback``/``Monitor.evaluation`` take to judge it later."""
        return str(self.event["event_id"])

    def __enter__(self) -> CallTracker:
        self.event["ts_ms"] = time.time_ns() // 1_000_000
        self._t0 = time.perf_counter()
        return self

    def first_token(self) -> None:
        """Call when the first token (chunk) arrives; only the first call counts."""
        if self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - self._t0) * 1000.0
            self.streaming = True

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cache_write_tokens: int | None = None,
    ) -> None:
        """Token counts; ``input_tokens`` is the total input, cached tokens included."""
        values = (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens)
        for name, value in zip(_USAGE_FIELDS, values, strict=True):
            if value is not None:
                self.usage[name] = int(value)

    def set_response(self, response: Any) -> None:
        """Usage, response model and finish reason from an OpenAI or Anthropic response (or chunk)."""
        try:
            usage, model, finish = extract_response(response)
        except Exception:  # a response shape we do not know must not break the app
            return
        self.usage.update(usage)
        if model:
            self.response_model = model
        if finish:
            self.finish_reason = finish

    def set_error(self, error_type: str) -> None:
        """Mark the call failed without raising (e.g. a refusal or a content-filter stop)."""
        self.error_type = error_type

    def set(self, **fields: Any) -> None:
        """Other wire fields: session_id, operation, attributes, client_cost_usd, ..."""
        self.event.update(fields)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        event = self.event
        event["latency_ms"] = (time.perf_counter() - self._t0) * 1000.0
        if exc_type is not None:
            self.error_type = exc_type.__name__
        if self.error_type is not None:
            event["status"] = "error"
            event["error_type"] = self.error_type
        else:
            event.setdefault("status", "ok")
        if self.ttft_ms is not None:
            event["ttft_ms"] = self.ttft_ms
        if self.streaming:
            event["streaming"] = True
        if self.response_model:
            event["response_model"] = self.response_model
        if self.finish_reason:
            event["finish_reason"] = self.finish_reason
        event.update(self.usage)
        with contextlib.suppress(Exception):  # recording never breaks the caller
            self._record(event)


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if type(obj) is dict:  # the common case, without the abstract-class check
        return obj.get(name)
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _has(obj: Any, name: str) -> bool:
    if isinstance(obj, Mapping):
        return name in obj
    return hasattr(obj, name)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def extract_response(response: Any) -> tuple[dict[str, int], str | None, str | None]:
    """(usage, response model, finish reason) from a provider response object or dict.

    - OpenAI chat completion (or the last stream chunk with usage): ``usage.prompt_tokens``,
      ``completion_tokens``, ``prompt_tokens_details.cached_tokens``,
      ``completion_tokens_details.reasoning_tokens``; ``choices[0].finish_reason``.
    - Anthropic message: ``usage.input_tokens`` counts only uncached input, so the total input is
      ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``; ``stop_reason``.
    - OpenAI responses API: ``usage.input_tokens`` (cached included), ``output_tokens``,
      ``input_tokens_details.cached_tokens``, ``output_tokens_details.reasoning_tokens``.
    """
    usage_obj = _get(response, "usage")
    usage: dict[str, int] = {}
    if usage_obj is not None:
        if _get(usage_obj, "prompt_tokens") is not None or _get(usage_obj, "completion_tokens") is not None:
            usage["input_tokens"] = _int(_get(usage_obj, "prompt_tokens"))
            usage["output_tokens"] = _int(_get(usage_obj, "completion_tokens"))
            usage["cache_read_tokens"] = _int(_get(_get(usage_obj, "prompt_tokens_details"), "cached_tokens"))
            usage["reasoning_tokens"] = _int(
                _get(_get(usage_obj, "completion_tokens_details"), "reasoning_tokens")
            )
        elif _has(usage_obj, "cache_read_input_tokens") or _has(usage_obj, "cache_creation_input_tokens"):
            cache_read = _int(_get(usage_obj, "cache_read_input_tokens"))
            cache_write = _int(_get(usage_obj, "cache_creation_input_tokens"))
            usage["input_tokens"] = _int(_get(usage_obj, "input_tokens")) + cache_read + cache_write
            usage["output_tokens"] = _int(_get(usage_obj, "output_tokens"))
            usage["cache_read_tokens"] = cache_read
            usage["cache_write_tokens"] = cache_write
        elif _get(usage_obj, "input_tokens") is not None or _get(usage_obj, "output_tokens") is not None:
            usage["input_tokens"] = _int(_get(usage_obj, "input_tokens"))
            usage["output_tokens"] = _int(_get(usage_obj, "output_tokens"))
            usage["cache_read_tokens"] = _int(_get(_get(usage_obj, "input_tokens_details"), "cached_tokens"))
            usage["reasoning_tokens"] = _int(
                _get(_get(usage_obj, "output_tokens_details"), "reasoning_tokens")
            )
    model = _get(response, "model")
    finish = _get(response, "stop_reason")
    choices = _get(response, "choices")
    if finish is None and choices:
        finish = _get(choices[0], "finish_reason")
    if finish is None:
        finish = _get(_get(response, "incomplete_details"), "reason")
    return (
        usage,
        model if isinstance(model, str) else None,
        finish if isinstance(finish, str) else None,
    )
