"""Event contracts (pydantic v2): calls, feedback, evaluations, alerts, rollups; topic names; the registry
of event kinds (``kinds``); the OTel GenAI mapping."""

from llmpulse.schemas import topics
from llmpulse.schemas.alert import AlertEvent
from llmpulse.schemas.call import SCHEMA_VERSION, LLMCallEvent
from llmpulse.schemas.evaluation import EvaluationEvent
from llmpulse.schemas.feedback import FeedbackEvent
from llmpulse.schemas.rollup import RollupRow

__all__ = ["SCHEMA_VERSION", "AlertEvent", "EvaluationEvent", "FeedbackEvent", "LLMCallEvent", "RollupRow", "topics"]
