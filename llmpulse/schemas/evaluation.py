"""Evaluation: a score or label that an evaluator (an LLM judge, a heuristic, a human) gave one call, with
the fields of OpenTelemetry's ``gen_ai.evaluation.result`` event (``gen_ai.evaluation.name``,
``…score.value``, ``…score.label``, ``…explanation``), sent on ``llm.evaluations``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from llmpulse.schemas.call import Name
from llmpulse.schemas.judgement import Judgement

#: at least one of these is on every evaluation event
RESULTS = ("score", "label")


class EvaluationEvent(Judgement):
    """One evaluation result of one call."""

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
