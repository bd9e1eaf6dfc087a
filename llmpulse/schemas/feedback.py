"""Feedback: a user's judgement of one call (thumbs, a 1-5 rating, a comment), sent on ``llm.feedback``.

It may arrive hours after its call; the worker attributes it to the call's model, app, team and prompt
version (``llm_feedback``, ``llm_quality_rollups_1m``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from llmpulse.schemas.judgement import Judgement

#: at least one of these is on every feedback event
JUDGEMENTS = ("thumbs", "rating")


class FeedbackEvent(Judgement):
    """A user's judgement of one call."""

    thumbs: Literal["up", "down"] | None = None
    rating: Annotated[int, Field(ge=1, le=5)] | None = Field(None, description="1 (worst) to 5 (best)")
    comment: str | None = Field(None, description="free text; PII-redacted, stored only with text capture on")
    user_id: str = Field("", description="who gave it")
    app: str = Field("", description="used only when the call is not found")
    team: str = Field("", description="used only when the call is not found")

    @model_validator(mode="after")
    def _judgement(self) -> FeedbackEvent:
        if self.thumbs is None and self.rating is None:
            raise ValueError("thumbs or rating is required")
        return self
