"""Event contracts (pydantic v2): calls, feedback, rollups; topic names; OTel GenAI mapping."""

from llmpulse.schemas import topics
from llmpulse.schemas.call import SCHEMA_VERSION, FeedbackEvent, LLMCallEvent
from llmpulse.schemas.rollup import RollupRow

__all__ = ["SCHEMA_VERSION", "FeedbackEvent", "LLMCallEvent", "RollupRow", "topics"]

from llmpulse.schemas.alert import AlertEvent

__all__ += ["AlertEvent"]
