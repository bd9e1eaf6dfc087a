"""Evaluation: a score or label that an evaluator (an LLM judge, a heuristic, a human) gave one call, with
the fields of OpenTelemetry's ``gen_ai.evaluation.result`` event (``gen_ai.evaluation.name``,
``…score.value``, ``…score.label``, ``…explanation``), sent on ``llm.evaluations``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmpulse.schemas.call import SCHEMA_VERSION, EventId, Name, new_event_id, now_ms

#: at least one of these is on every evaluation event
RESULTS = ("score", "label")


class EvaluationEvent(BaseModel):
    """One evaluation result of one call."""

    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: EventId = Field(default_factory=new_event_id)
    call_id: EventId = Field(description="the event_id of the call evaluated")
    ts_ms: Annotated[int, Field(ge=0)] = Field(default_factory=now_ms, description="when it was given, epoch ms UTC")
    name: Name = Field(description="gen_ai.evaluation.name, e.g. 'relevance', 'faithfulness'")
    score: Annotated[float, Field(allow_inf_nan=False)] | None = Field(
        None, description="gen_ai.evaluation.score.value"
    )
    label: str | None = Field(None, description="gen_ai.evaluation.score.label, e.g. 'pass', 'relevant'")
    explanation: str | None = Field(None, description="gen_ai.evaluation.explanation; PII-redacted, capped")
    evaluator: str = Field("", description="what judged, e.g. 'llm-judge:gpt-4o-mini', 'human'")
    app: str = Field("", description="used only when the call is not found")
    team: str = Field("", description="used only when the call is not found")

    @model_validator(mode="after")
    def _result(self) -> EvaluationEvent:
        if self.score is None and self.label is None:
            raise ValueError("score or label is required")
        return self
