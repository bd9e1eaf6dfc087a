"""Cheap answer-quality, UX and safety signals for a call with captured text, computed on the workers.

``score(prompt, response, finish_reason)`` gives every signal at once: truncation, refusal, empty answer,
prompt injection, toxicity of prompt and answer, user sentiment, prompt/answer relevance; ``AnswerMemory``
adds disagreement between answers to repeated identical prompts. The package is a leaf: it imports nothing
else of llmpulse.
"""

from llmpulse.quality.models import is_irrelevant, is_negative_sentiment, is_toxic, relevance, sentiment, toxicity
from llmpulse.quality.repeats import DISAGREEMENT_THRESHOLD, AnswerMemory
from llmpulse.quality.signals import Signals, score, score_batch
from llmpulse.quality.text import is_empty_answer, is_prompt_injection, is_refusal, is_truncated

__all__ = [
    "DISAGREEMENT_THRESHOLD", "AnswerMemory", "Signals", "is_empty_answer", "is_irrelevant", "is_negative_sentiment",
    "is_prompt_injection", "is_refusal", "is_toxic", "is_truncated", "relevance", "score", "score_batch", "sentiment",
    "toxicity",
]  # fmt: skip
