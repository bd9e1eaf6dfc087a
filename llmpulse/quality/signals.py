"""``score()``: every quality signal of one call, as the columns they become."""

from __future__ import annotations

from dataclasses import dataclass

from llmpulse.quality.models import RELEVANCE_THRESHOLD, TOXICITY_THRESHOLD, is_negative, relevance, sentiment, toxicity
from llmpulse.quality.text import is_empty_answer, is_prompt_injection, is_refusal, is_truncated


@dataclass(frozen=True, slots=True)
class Signals:
    truncated: bool
    refusal: bool
    empty_answer: bool
    prompt_injection: bool
    toxicity_prompt: float
    toxicity_response: float
    toxic: bool
    sentiment: float
    negative_sentiment: bool
    relevance: float
    irrelevant: bool


def score(prompt: str, response: str, finish_reason: str | None = None) -> Signals:
    """All signals of one call (``score_batch`` is much cheaper per call: the toxicity model runs once)."""
    return score_batch([prompt], [response], [finish_reason])[0]


def score_batch(prompts: list[str], responses: list[str], finish_reasons: list[str | None]) -> list[Signals]:
    """All signals of many calls; relevance is judged only for an answer that is neither empty nor a refusal."""
    toxic = toxicity([text or "" for pair in zip(prompts, responses, strict=True) for text in pair])
    return [
        _one(prompt, response, finish, toxic[2 * i], toxic[2 * i + 1])
        for i, (prompt, response, finish) in enumerate(zip(prompts, responses, finish_reasons, strict=True))
    ]


def _one(prompt: str, response: str, finish_reason: str | None, tox_prompt: float, tox_response: float) -> Signals:
    mood = sentiment(prompt) if prompt else 0.0
    refusal = bool(response) and is_refusal(response)
    empty = is_empty_answer(response, prompt)
    related = relevance(prompt, response) if prompt and not (refusal or empty) else 1.0
    return Signals(
        truncated=is_truncated(finish_reason),
        refusal=refusal,
        empty_answer=empty,
        prompt_injection=bool(prompt) and is_prompt_injection(prompt),
        toxicity_prompt=tox_prompt,
        toxicity_response=tox_response,
        toxic=max(tox_prompt, tox_response) >= TOXICITY_THRESHOLD,
        sentiment=mood,
        negative_sentiment=bool(prompt) and is_negative(mood, prompt),
        relevance=related,
        irrelevant=related < RELEVANCE_THRESHOLD,
    )
