"""The LLM call event: one per LLM request, the unit everything else is computed from.

Wire format: a Kafka record's value is one event as a JSON object, newline-delimited JSON objects (NDJSON,
what ``Monitor`` sends), or a JSON array of events. Producers batch many events into one record; that is
what makes 50k events/s affordable in Faust.
Field names follow the OTel GenAI semantic conventions where one exists (see ``otel.py``).
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Annotated, Any, Final, Literal, Required

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

SCHEMA_VERSION: Final = 1
MAX_TOKENS = 100_000_000  # per call; more is not a real LLM call but a bug or an attack
MAX_DURATION_MS = 86_400_000.0  # one day

Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
DurationMs = Annotated[float, Field(ge=0.0, le=MAX_DURATION_MS, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1)]
EventId = Annotated[str, Field(min_length=1, max_length=128)]


class _EventIds:
    """32 hex characters, unique without a system call per event: 80 random bits drawn once per process (and
    again in a forked child) followed by a 48-bit counter. ``uuid4().hex`` costs about 3 µs here, this 0.5 µs."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = os.urandom(10).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(4), "big") << 8)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFF_FFFF_FFFF:012x}"


new_event_id = _EventIds()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class LLMCallEvent(BaseModel):
    """One LLM call as seen by the application."""

    model_config = ConfigDict(extra="ignore", frozen=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: EventId = Field(default_factory=new_event_id)
    ts_ms: Annotated[int, Field(ge=0)] = Field(default_factory=now_ms, description="call start, epoch ms UTC")
    latency_ms: DurationMs | None = Field(None, description="call duration; derived from end_ts_ms if absent")
    end_ts_ms: Annotated[int, Field(ge=0)] | None = Field(None, description="call end, epoch ms UTC")
    ttft_ms: DurationMs | None = Field(None, description="time to first token (streaming)")
    provider: Name = Field(description="gen_ai.provider.name")
    request_model: Name = Field(description="gen_ai.request.model")
    response_model: str | None = Field(None, description="gen_ai.response.model")
    operation: str = Field("chat", description="gen_ai.operation.name")
    streaming: bool = False
    status: Literal["ok", "error"] = "ok"
    error_type: str | None = Field(None, description="error.type")
    finish_reason: str | None = Field(None, description="gen_ai.response.finish_reasons[0]")
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cache_read_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    app: str = ""
    team: str = ""
    user_id: str = ""
    session_id: str = Field("", description="gen_ai.conversation.id")
    environment: str = "production"
    attributes: dict[str, str] = Field(default_factory=dict)
    prompt: str | None = None
    response: str | None = None
    client_cost_usd: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None
    tokens_estimated: bool = Field(
        False, description="the token counts were estimated from the text (the provider reported none)"
    )

    @model_validator(mode="after")
    def _duration(self) -> LLMCallEvent:
        check_duration(self.ts_ms, self.latency_ms, self.end_ts_ms)
        if self.latency_ms is None and self.end_ts_ms is not None:
            self.latency_ms = float(self.end_ts_ms - self.ts_ms)
        return self

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict a producer puts on the wire (None fields left out)."""
        return self.model_dump(exclude_none=True)


def check_duration(ts_ms: int, latency_ms: float | None, end_ts_ms: int | None) -> None:
    """Shared cross-field rule: a call has a duration, given directly or as an end time after its start."""
    if latency_ms is None and end_ts_ms is None:
        raise ValueError("latency_ms or end_ts_ms is required")
    if latency_ms is None and end_ts_ms is not None and not 0 <= end_ts_ms - ts_ms <= MAX_DURATION_MS:
        raise ValueError("end_ts_ms must be within a day after ts_ms")


def wire_typeddict(model: type[BaseModel], required: tuple[str, ...] = ()) -> type:
    """A TypedDict with the model's field types and constraints (no defaults, no model validators).

    The stream worker validates whole batches with it: pydantic-core checks a list of TypedDicts about
    three times faster than a list of models. Cross-field rules are applied separately (``check_duration``).
    """
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        if name in required:
            annotation = Required[annotation]
        fields[name] = annotation
    return TypedDict(f"{model.__name__}Wire", fields, total=False)  # type: ignore[operator]


#: what a record on the wire must carry: the model fills event_id and ts_ms in on construction, but a
#: record from any other producer has to bring them (the event id is what makes writes idempotent).
WIRE_REQUIRED_CALL_FIELDS = ("event_id", "ts_ms", "provider", "request_model")
