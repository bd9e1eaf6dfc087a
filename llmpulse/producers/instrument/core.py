"""What every SDK wrapper shares: open a tracked call, feed it the response or each stream chunk, finish it
exactly once, and never let monitoring raise into the app or change what the app receives.

A wrapped method keeps its signature, return value, exceptions and streaming behaviour. A streamed result
comes back inside a thin proxy that passes every attribute through and, while the caller iterates, notes
the first output chunk (TTFT) and the usage the stream ends with. The call is recorded when the stream is
exhausted, fails, is closed, or is dropped by the caller.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from llmpulse.producers.instrument.labels import label_fields, label_strings
from llmpulse.producers.track import CallTracker
from llmpulse.tokens import count_call

log = logging.getLogger("llmpulse.producers.instrument")

#: per-call keyword the wrappers take off before the SDK sees it: ``create(..., llmpulse={"feature": "x"})``
LABELS_KEYWORD = "llmpulse"

_attempts: ContextVar[list[int] | None] = ContextVar("llmpulse_http_attempts", default=None)


class Tracks(Protocol):
    """What instrumentation needs of a monitor: ``Monitor.track``."""

    def track(self, provider: str, model: str, **fields: Any) -> CallTracker: ...


def _keep_all(chunk: Any) -> bool:
    return True


def _no_change(kwargs: dict[str, Any]) -> Callable[[Any], bool]:
    return _keep_all


def _no_chunks(tracker: CallTracker, chunk: Any) -> bool:
    return True


def _no_text(item: Any) -> str | None:
    return None


@dataclass(frozen=True)
class Api:
    """How one SDK method is measured.

    ``chunk(tracker, chunk)`` takes what it needs from one stream chunk and says whether it carries output
    (the first such chunk is the time to first token). ``prepare(kwargs)`` runs before a streaming request,
    may add what the stream needs to report usage, and returns the filter that hides from the caller any
    chunk the caller did not ask for. ``chunk_text`` and ``response_text`` give the output text of a chunk
    or of a whole response: when the provider reports no usage, the tokens are counted from the request's
    messages and that text (``tokens_estimated``).
    """

    operation: str
    chunk: Callable[[CallTracker, Any], bool] = _no_chunks
    prepare: Callable[[dict[str, Any]], Callable[[Any], bool]] = _no_change
    chunk_text: Callable[[Any], str | None] = _no_text
    response_text: Callable[[Any], str | None] = _no_text


class Call:
    """One tracked call; each method swallows its own errors."""

    __slots__ = ("_api", "_done", "_request", "_text", "_tracker")

    def __init__(self, tracker: CallTracker | None, api: Api, request: Mapping[str, Any] | None = None) -> None:
        self._tracker = tracker
        self._api = api
        self._done = tracker is None
        self._request = request  # the call's keyword arguments: messages (and system) if usage must be counted
        self._text: list[str] = []

    def response(self, response: Any) -> None:
        if self._tracker is not None:
            self._tracker.set_response(response)
            with contextlib.suppress(Exception):
                self._note_text(self._api.response_text(response))

    def _note_text(self, text: str | None) -> None:
        if isinstance(text, str) and text:
            self._text.append(text)

    def chunk(self, chunk: Any) -> None:
        tracker = self._tracker
        if tracker is None or self._done:
            return
        try:
            if self._api.chunk(tracker, chunk):
                tracker.first_token()
            self._note_text(self._api.chunk_text(chunk))
        except Exception:
            log.debug("a stream chunk could not be read", exc_info=True)

    def attempts(self, count: int) -> None:
        if self._tracker is not None and count > 1:
            attributes = self._tracker.event.setdefault("attributes", {})
            attributes["retries"] = str(count - 1)

    def finish(self, exc: BaseException | None) -> None:
        if self._done or self._tracker is None:
            return
        self._done = True
        if isinstance(exc, GeneratorExit):  # the caller stopped reading: not an error
            exc = None
        if exc is None:
            self._estimate_missing_usage()
        with contextlib.suppress(Exception):
            self._tracker.__exit__(type(exc) if exc is not None else None, exc, None)

    def _estimate_missing_usage(self) -> None:
        tracker, request = self._tracker, self._request
        if tracker is None or request is None or tracker.usage or tracker.error_type is not None:
            return
        if "messages" not in request:
            return
        try:
            model = tracker.response_model or str(tracker.event["request_model"])
            inputs, outputs = count_call(request["messages"], "".join(self._text), model, request.get("system"))
        except Exception:
            log.debug("could not count the tokens of a call", exc_info=True)
            return
        tracker.set_usage(input_tokens=inputs, output_tokens=outputs)
        tracker.set(tokens_estimated=True)


class Calls:
    """Opens tracked calls for one instrumented client."""

    def __init__(self, monitor: Tracks, provider: str, labels: Mapping[str, Any]) -> None:
        self.monitor = monitor
        self.provider = provider
        self.labels = label_strings(labels)

    def start(self, api: Api, kwargs: dict[str, Any]) -> Call:
        per_call = kwargs.pop(LABELS_KEYWORD, None)
        try:
            model = kwargs.get("model")
            fields = label_fields(self.labels, per_call if isinstance(per_call, Mapping) else None)
            tracker = self.monitor.track(
                self.provider,
                model if isinstance(model, str) and model else "unknown",
                operation=api.operation,
                **fields,
            )
            if kwargs.get("stream") is True:
                tracker.streaming = True
            tracker.__enter__()
        except Exception:
            log.debug("could not start tracking a call", exc_info=True)
            tracker = None
        return Call(tracker, api, kwargs)


def patch(owner: Any, name: str, calls: Calls, api: Api) -> None:
    """Replace ``owner.name`` (an SDK resource's bound method) by a measured one; twice is once."""
    original = getattr(owner, name, None)
    if original is None or getattr(original, "__llmpulse__", False):
        return

    @functools.wraps(original)
    def measured(*args: Any, **kwargs: Any) -> Any:
        call, keep, token = begin_call(calls, api, kwargs)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            call.finish(exc)
            count_attempts(call, token)
            raise
        if inspect.isawaitable(result):  # an async client: the request runs when the caller awaits
            _attempts.reset(token)
            return _measured_await(call, result, keep)
        count_attempts(call, token)
        return _result(call, result, keep, SyncStream)

    measured.__llmpulse__ = True  # type: ignore[attr-defined]
    setattr(owner, name, measured)


async def _measured_await(call: Call, pending: Any, keep: Callable[[Any], bool] | None) -> Any:
    token = _attempts.set([0])
    try:
        result = await pending
    except BaseException as exc:
        call.finish(exc)
        raise
    finally:
        count_attempts(call, token)
    return _result(call, result, keep, AsyncStream)


def begin_call(calls: Calls, api: Api, kwargs: dict[str, Any]) -> tuple[Call, Callable[[Any], bool] | None, Any]:
    """Open a tracked call and start counting its HTTP attempts; ``count_attempts`` ends the count."""
    keep: Callable[[Any], bool] | None = None
    if kwargs.get("stream") is True:
        try:
            keep = api.prepare(kwargs)
        except Exception:
            keep = _keep_all
    call = calls.start(api, kwargs)
    return call, keep, _attempts.set([0])


def count_attempts(call: Call, token: Any) -> None:
    counter = _attempts.get()
    _attempts.reset(token)
    if counter:
        call.attempts(counter[0])


def _result(call: Call, result: Any, keep: Callable[[Any], bool] | None, proxy: type[Any]) -> Any:
    if keep is None:
        call.response(result)
        call.finish(None)
        return result
    return proxy(result, call, keep)


def count_http_attempts(http_client: Any) -> None:
    """Count the HTTP requests of each call (an SDK's own retries) with an httpx request hook."""
    hooks = getattr(http_client, "event_hooks", None)
    if not isinstance(hooks, Mapping):
        return
    requests = list(hooks.get("request", []))
    if any(getattr(hook, "__llmpulse__", False) for hook in requests):
        return
    if any(cls.__name__ == "AsyncClient" for cls in type(http_client).__mro__):  # httpx's, or a fork's

        async def on_request_async(request: Any) -> None:
            _note_attempt()

        hook: Any = on_request_async
    else:

        def on_request(request: Any) -> None:
            _note_attempt()

        hook = on_request
    hook.__llmpulse__ = True
    with contextlib.suppress(Exception):
        http_client.event_hooks = {**hooks, "request": [*requests, hook]}


def _note_attempt() -> None:
    counter = _attempts.get()
    if counter is not None:
        counter[0] += 1


class _StreamProxy:
    """Passes every attribute of the SDK's stream object through."""

    def __init__(self, stream: Any, call: Call, keep: Callable[[Any], bool]) -> None:
        self._stream = stream
        self._call = call
        self._keep = keep
        self._iterator: Any = None

    def __getattr__(self, name: str) -> Any:
        stream = self.__dict__.get("_stream")
        if stream is None:
            raise AttributeError(name)
        return getattr(stream, name)

    def __del__(self) -> None:  # the caller dropped the stream without reading it to the end
        call = self.__dict__.get("_call")
        if call is not None:
            call.finish(None)


class SyncStream(_StreamProxy):
    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self._stream)
        while True:
            try:
                chunk = next(self._iterator)
            except StopIteration:
                self._call.finish(None)
                raise
            except BaseException as exc:
                self._call.finish(exc)
                raise
            self._call.chunk(chunk)
            if self._keep(chunk):
                return chunk

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._call.finish(None)

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class AsyncStream(_StreamProxy):
    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._stream.__aiter__()
        while True:
            try:
                chunk = await self._iterator.__anext__()
            except StopAsyncIteration:
                self._call.finish(None)
                raise
            except BaseException as exc:
                self._call.finish(exc)
                raise
            self._call.chunk(chunk)
            if self._keep(chunk):
                return chunk

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._call.finish(None)

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
