"""What every judgement of a call (feedback, an evaluation) carries: which call, when, and the app and team to
fall back on when the call is not found."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmpulse.schemas.call import SCHEMA_VERSION, EventId, new_event_id, now_ms


class Judgement(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: EventId = Field(default_factory=new_event_id)
    call_id: EventId = Field(description="the event_id of the call judged")
    ts_ms: Annotated[int, Field(ge=0)] = Field(default_factory=now_ms, description="when it was given, epoch ms UTC")
