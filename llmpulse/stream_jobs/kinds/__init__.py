"""Per event kind, how its validated events become table rows. One module per kind (``call``, ``feedback``,
``evaluation``), named by the kind's ``builder`` in ``llmpulse.schemas.kinds``; each defines

- ``build(wire, ctx) -> Built``: the rows of every table the kind writes (its ``tables``), from one chunk's
  validated events (``wire``: the contract's ``wire_schema``);
- optionally ``check_rows``/``check_event``/``complete``: a cross-field rule the model has beyond its fields'
  own constraints and its "one of" rule, written once for each validation path (see ``wire.Contract``).

Everything else (decoding, both validation paths, deduplication, chunking, exactly-once writes,
dead-lettering) is the same for every kind (``sink.EventSink``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache

from llmpulse.schemas.kinds import EventKind
from llmpulse.stream_jobs.kinds.base import BuildContext, Built
from llmpulse.stream_jobs.wire import Contract

__all__ = ["BuildContext", "Builder", "Built", "builder", "contract"]

Builder = Callable[..., Built]


def _module(kind: EventKind) -> object:
    return importlib.import_module(kind.builder.partition(":")[0])


@cache
def contract(kind: EventKind) -> Contract:
    """The kind's contract with its own cross-field rule, if its table module has one."""
    module = _module(kind)
    return Contract(kind, getattr(module, "check_rows", None), getattr(module, "check_event", None),
                    getattr(module, "complete", None))  # fmt: skip


@cache
def builder(kind: EventKind) -> Builder:
    fn: Builder = getattr(_module(kind), kind.builder.partition(":")[2])
    return fn
