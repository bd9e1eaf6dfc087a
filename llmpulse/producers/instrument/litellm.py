"""``instrument_litellm(monitor, app="gateway")``: every call LiteLLM makes becomes a call event.

A LiteLLM ``CustomLogger``: LiteLLM calls it after each request (``completion``/``acompletion``, embeddings, the
responses API, the Router, and the proxy), sync and async, on success and on failure. From its
``standard_logging_object`` and the response it takes the provider, the model asked for and the one that
answered, the start and end times, the time of the first streamed chunk (TTFT), usage (input with its cached
part, cache writes, output with its reasoning part), the finish reason, the cost LiteLLM computed
(``client_cost_usd``) and, on failure, the exception's class name (``RateLimitError``, ``Timeout``, …). A stream
from an OpenAI-compatible server that was not asked for usage has its tokens counted by llmpulse
(``tokens_estimated``).

Labels: per logger (keywords of ``instrument_litellm``/``LLMPulseLogger``), the proxy's key identity (team
alias or id, end user or key owner, ``litellm_session_id``), ``call_labels(...)`` blocks, then per call
``metadata={"llmpulse": {...}}``; later wins. On the proxy, put a logger in a module and list it in the
config (``litellm_settings: callbacks: my_callbacks.handler``)::

    # my_callbacks.py
    handler = LLMPulseLogger(Monitor(), app="gateway")
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import litellm
from litellm.integrations.custom_logger import CustomLogger

from llmpulse.producers.instrument.core import LABELS_KEYWORD
from llmpulse.producers.instrument.labels import block_labels, label_fields, label_strings
from llmpulse.producers.track import extract_response
from llmpulse.schemas.call import SCHEMA_VERSION, new_event_id
from llmpulse.tokens import count_call

log = logging.getLogger("llmpulse.producers.instrument")

#: LiteLLM's call types (``acompletion`` is ``completion`` made async) as GenAI operation names
OPERATIONS = {
    "completion": "chat",
    "responses": "chat",
    "anthropic_messages": "chat",
    "generate_content": "chat",
    "embedding": "embeddings",
    "text_completion": "text_completion",
}


MAX_PENDING = 10_000  # calls whose start was seen and whose end is awaited, at most
#: LiteLLM providers that speak OpenAI's streaming format (usage only when asked for)
OPENAI_COMPATIBLE = frozenset(
    {"openai", "azure", "custom_openai", "openai_like", "hosted_vllm", "text-completion-openai"}
)


class Records(Protocol):
    """What the logger needs of a monitor: ``Monitor.record``."""

    def record(self, event: dict[str, Any]) -> Any: ...


class LLMPulseLogger(CustomLogger):  # type: ignore[misc]
    """Records one call event per LiteLLM call; never raises into LiteLLM."""

    def __init__(self, monitor: Records, **labels: Any) -> None:
        super().__init__()
        self.monitor = monitor
        self.labels = label_strings(labels)
        # LiteLLM keeps one logger per class and public str/int/bool attributes: this one tells ours apart
        self.llmpulse_key = f"{id(monitor):x} {sorted(self.labels.items())}"
        self._blocks: dict[str, Mapping[str, str]] = {}  # call id -> the call_labels where it started

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        """Runs where the call is made: note its ``call_labels`` (LiteLLM may log a stream from another thread)."""
        with contextlib.suppress(Exception):
            call_id = kwargs.get("litellm_call_id")
            if isinstance(call_id, str):
                self._blocks[call_id] = block_labels()
                while len(self._blocks) > MAX_PENDING:  # calls that never ended
                    self._blocks.pop(next(iter(self._blocks)))

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=False)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=True)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=False)

    async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=True)

    def _record(self, kwargs: Any, response: Any, start: Any, end: Any, *, failed: bool) -> None:
        try:
            block = self._blocks.pop(kwargs.get("litellm_call_id"), None)
            event = call_event(kwargs, response, start, end, failed=failed, labels=self.labels, block=block)
        except Exception:
            log.debug("a LiteLLM call could not be read", exc_info=True)
            return
        with contextlib.suppress(Exception):  # recording never breaks the caller
            self.monitor.record(event)


def instrument_litellm(monitor: Records, **labels: Any) -> LLMPulseLogger:
    """Add a logger for ``monitor`` to ``litellm.callbacks`` (once per monitor and labels) and return it."""
    logger = LLMPulseLogger(monitor, **labels)
    for callback in litellm.callbacks:
        if isinstance(callback, LLMPulseLogger) and callback.llmpulse_key == logger.llmpulse_key:
            return callback
    litellm.callbacks.append(logger)
    return logger


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seconds(value: Any) -> float | None:
    """Epoch seconds from LiteLLM's floats or (local, naive) datetimes."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _first(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None


def _identity(kwargs: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, str]:
    """Labels the proxy knows from the API key (its team, the end user or the key's owner) and the session
    (``litellm_session_id``, or ``session_id`` in the request's metadata)."""
    metadata = _mapping(payload.get("metadata"))
    parameters = _mapping(payload.get("model_parameters"))
    litellm_params = _mapping(kwargs.get("litellm_params"))
    found = {
        "team": _first(
            metadata.get("user_api_key_team_alias"),
            metadata.get("team_alias"),
            metadata.get("user_api_key_team_id"),
            metadata.get("team_id"),
        ),
        "user_id": _first(
            payload.get("end_user"),
            metadata.get("user_api_key_end_user_id"),
            parameters.get("user"),
            metadata.get("user_api_key_user_id"),
        ),
        "session_id": _first(
            payload.get("session_id"),
            litellm_params.get("litellm_session_id"),
            _mapping(litellm_params.get("metadata")).get("session_id"),
        ),
        "key_alias": _first(metadata.get("user_api_key_alias")),
    }
    return {name: value for name, value in found.items() if value is not None}


def _operation(call_type: Any) -> str:
    name = str(call_type or "completion")
    if name not in OPERATIONS and name.startswith("a") and name[1:] in OPERATIONS:
        name = name[1:]
    return OPERATIONS.get(name, name)


def _error_type(kwargs: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    exception = kwargs.get("exception")
    if isinstance(exception, BaseException):
        return type(exception).__name__
    return _first(_mapping(payload.get("error_information")).get("error_class")) or "error"


def _response_model(kwargs: Mapping[str, Any], response: Any) -> str | None:
    hidden = getattr(response, "_hidden_params", None)
    metadata = _mapping(_mapping(kwargs.get("litellm_params")).get("metadata"))
    return _first(
        _mapping(hidden).get("provider_response_model"),
        _mapping(metadata.get("hidden_params")).get("provider_response_model"),
    )


def call_event(
    kwargs: Mapping[str, Any],
    response: Any,
    start: Any,
    end: Any,
    *,
    failed: bool,
    labels: Mapping[str, str],
    block: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The wire event for one LiteLLM callback; ``block``: the ``call_labels`` where the call started."""
    payload = _mapping(kwargs.get("standard_logging_object"))
    began = _seconds(payload.get("startTime")) or _seconds(start)
    ended = _seconds(payload.get("endTime")) or _seconds(end)
    if began is None or ended is None:
        raise ValueError("LiteLLM gave no start or end time")
    event: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": new_event_id(),
        "ts_ms": int(began * 1000),
        "latency_ms": max(0.0, (ended - began) * 1000.0),
        "provider": _first(payload.get("custom_llm_provider"), kwargs.get("custom_llm_provider")) or "unknown",
        "request_model": _first(payload.get("model"), kwargs.get("model")) or "unknown",
        "operation": _operation(payload.get("call_type") or kwargs.get("call_type")),
    }
    per_call = _mapping(_mapping(kwargs.get("litellm_params")).get("metadata")).get(LABELS_KEYWORD)
    per_call = per_call if isinstance(per_call, Mapping) else None
    event.update(label_fields({**labels, **_identity(kwargs, payload)}, per_call, block))
    if payload.get("stream") or kwargs.get("stream") is True:
        event["streaming"] = True
        first = _seconds(payload.get("completionStartTime")) or _seconds(kwargs.get("completion_start_time"))
        if not failed and first is not None and began <= first <= ended:
            event["ttft_ms"] = (first - began) * 1000.0
    if failed:
        event["status"] = "error"
        event["error_type"] = _error_type(kwargs, payload)
        return event
    event["status"] = "ok"
    usage, model, finish = extract_response(response)
    cache_write = _cache_write_tokens(getattr(response, "usage", None))
    if cache_write:
        usage["cache_write_tokens"] = cache_write
    model = _response_model(kwargs, response) or model
    if payload.get("stream") and _usage_counted_by_litellm(kwargs, payload):
        text = _first(_get_path(response, "choices", 0, "message", "content")) or ""
        inputs, outputs = count_call(kwargs.get("messages"), text, model or event["request_model"])
        usage = {"input_tokens": inputs, "output_tokens": outputs}
        event["tokens_estimated"] = True
    event.update(usage)
    if model:
        event["response_model"] = model
    if finish:
        event["finish_reason"] = finish
    cost = payload.get("response_cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost > 0:
        event["client_cost_usd"] = float(cost)
    return event


def _get_path(value: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list | tuple) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, Mapping) else getattr(value, step, None)
    return value


def _usage_counted_by_litellm(kwargs: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    """Whether LiteLLM counted a stream's usage itself: an OpenAI-compatible stream reports usage only when
    asked (``stream_options.include_usage``), and LiteLLM asks on its own only of OpenAI's servers. Its count
    is replaced by llmpulse's (the one whose error the README states), flagged ``tokens_estimated``."""
    if payload.get("custom_llm_provider") not in OPENAI_COMPATIBLE:
        return False
    asked = _get_path(kwargs, "stream_options", "include_usage") or _get_path(
        kwargs, "optional_params", "stream_options", "include_usage"
    )
    if asked:
        return False
    api_base = _first(payload.get("api_base"), _get_path(kwargs, "litellm_params", "api_base"))
    if api_base is None:
        return False  # LiteLLM's default base: OpenAI's, which it asks
    try:
        from litellm.llms.openai.common_utils import is_openai_backed_api_base

        return not is_openai_backed_api_base(api_base)
    except Exception:
        return "api.openai.com" not in api_base


def _cache_write_tokens(usage: Any) -> int:
    """LiteLLM's usage is OpenAI-shaped (cache reads in ``prompt_tokens_details.cached_tokens``); cache writes
    (Anthropic's) come as ``cache_creation_input_tokens``."""
    value = getattr(usage, "cache_creation_input_tokens", None)
    if value is None:
        value = getattr(getattr(usage, "prompt_tokens_details", None), "cache_creation_tokens", None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
