"""The event kinds, registered once: each kind's contract (a pydantic model), its Kafka topic, the fields a
record must carry, its cross-field rule, the ClickHouse tables its chunks write and the function that builds
them. Everything else is derived from this table: the topics llmpulse creates, the worker's agents, the wire
checks of both validation paths, the JSON Schemas, the parity tests.

Adding a kind: its model (a module here), its migration (``clickhouse/migrations``), its table builder
(``stream_jobs/kinds``) and one entry in ``KINDS`` below.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from llmpulse.schemas import topics
from llmpulse.schemas.call import WIRE_REQUIRED_CALL_FIELDS, LLMCallEvent
from llmpulse.schemas.evaluation import RESULTS, EvaluationEvent
from llmpulse.schemas.feedback import JUDGEMENTS, FeedbackEvent


@dataclass(frozen=True)
class EventKind:
    name: str
    model: type[BaseModel]
    topic: str  # default topic; the setting ``<topic_setting>`` (env LLMPULSE_<TOPIC_SETTING>) overrides it
    topic_setting: str
    required: tuple[str, ...]  # on every record (the model fills some in; other producers must send them)
    one_of: tuple[str, ...]  # at least one of these is present (not null) on every event; () = no such rule
    tables: tuple[str, ...]  # what a chunk of this kind writes, in this order
    builder: str  # "module:function" that builds those tables from validated events (llmpulse.stream_jobs.kinds)


CALL = EventKind(
    "call", LLMCallEvent, topics.CALLS, "calls_topic", WIRE_REQUIRED_CALL_FIELDS, ("latency_ms", "end_ts_ms"),
    ("llm_calls", "llm_call_rollups_1m", "llm_user_cost_1d", "llm_quality_rollups_1m"),
    "llmpulse.stream_jobs.kinds.call:build",
)
FEEDBACK = EventKind(
    "feedback", FeedbackEvent, topics.FEEDBACK, "feedback_topic", ("event_id", "call_id", "ts_ms"), JUDGEMENTS,
    ("llm_feedback", "llm_quality_rollups_1m"), "llmpulse.stream_jobs.kinds.feedback:build",
)
EVALUATION = EventKind(
    "evaluation", EvaluationEvent, topics.EVALUATIONS, "evaluations_topic", ("event_id", "call_id", "ts_ms", "name"),
    RESULTS, ("llm_evaluations", "llm_evaluation_rollups_1m"), "llmpulse.stream_jobs.kinds.evaluation:build",
)

KINDS: dict[str, EventKind] = {k.name: k for k in (CALL, FEEDBACK, EVALUATION)}


def kind_of(model: type[BaseModel]) -> EventKind:
    for kind in KINDS.values():
        if kind.model is model:
            return kind
    raise KeyError(f"{model.__name__} is not a registered event kind")
