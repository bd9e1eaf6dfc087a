"""Labels for instrumented calls: per client (``instrument_openai(client, monitor, team="search")``),
per block of code (``with call_labels(user_id=u, feature="summary"):``) and per call (the
``llmpulse={...}`` keyword the wrappers take off before the SDK sees it). Later wins.

``app``, ``team``, ``user_id``, ``session_id`` and ``environment`` are fields of the call event; any
other label (``feature``, ``prompt_version``, …) goes into ``attributes``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

EVENT_LABELS = frozenset({"app", "team", "user_id", "session_id", "environment"})

_current: ContextVar[Mapping[str, str] | None] = ContextVar("llmpulse_call_labels", default=None)


def label_strings(labels: Mapping[str, Any]) -> dict[str, str]:
    return {str(name): str(value) for name, value in labels.items() if value is not None}


@contextmanager
def call_labels(**labels: Any) -> Iterator[None]:
    """Labels for every instrumented call made inside the block (threads and asyncio tasks see their own)."""
    token = _current.set({**(_current.get() or {}), **label_strings(labels)})
    try:
        yield
    finally:
        _current.reset(token)


def block_labels() -> Mapping[str, str]:
    """The labels of the ``call_labels`` blocks active here."""
    return _current.get() or {}


def label_fields(
    client_labels: Mapping[str, str], per_call: Mapping[str, Any] | None, block: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The event fields for one call: client labels, then the ``call_labels`` active here (or ``block``, taken
    where the call started), then per-call ones."""
    merged = {**client_labels, **(block_labels() if block is None else block), **label_strings(per_call or {})}
    fields: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for name, value in merged.items():
        if name in EVENT_LABELS:
            fields[name] = value
        else:
            attributes[name] = value
    if attributes:
        fields["attributes"] = attributes
    return fields
