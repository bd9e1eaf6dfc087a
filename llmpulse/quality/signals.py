"""``score()``: every quality signal of one call, as the columns they become.

The signals come in two tiers that cost very different amounts: the rules read the text (``rule_signals``,
tens of µs per call) and the models score it (``model_signals``, milliseconds per call), so the worker may judge
more calls by the rules than by the models (``llmpulse.quality.columns``).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmpulse.quality.models import RELEVANCE_THRESHOLD, TOXICITY_THRESHOLD, is_negative, relevance, sentiment, toxicity
from llmpulse.quality.text import (
    is_empty_answer,
    is_prompt_injection,
    is_refusal,
    is_truncated,
    prompt_injections,
    refusals,
)


@dataclass(frozen=True, slots=True)
class RuleSignals:
    refusal: bool
    empty_answer: bool
    prompt_injection: bool


@dataclass(frozen=True, slots=True)
class ModelSignals:
    toxicity_prompt: float
    toxicity_response: float
    toxic: bool
    sentiment: float
    negative_sentiment: bool
    relevance: float
    irrelevant: bool


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
    rules = rule_signals_batch(prompts, responses)
    models = model_signals(prompts, responses, rules)
    return [
        Signals(
            truncated=is_truncated(finish),
            refusal=rule.refusal,
            empty_answer=rule.empty_answer,
            prompt_injection=rule.prompt_injection,
            toxicity_prompt=model.toxicity_prompt,
            toxicity_response=model.toxicity_response,
            toxic=model.toxic,
            sentiment=model.sentiment,
            negative_sentiment=model.negative_sentiment,
            relevance=model.relevance,
            irrelevant=model.irrelevant,
        )
        for finish, rule, model in zip(finish_reasons, rules, models, strict=True)
    ]


def rule_signals(prompt: str, response: str) -> RuleSignals:
    """The signals the rules read from the text (``llmpulse.quality.text``)."""
    return _rules(prompt, response, is_refusal(response), is_prompt_injection(prompt))


def rule_signals_batch(prompts: list[str], responses: list[str]) -> list[RuleSignals]:
    """``rule_signals`` of many calls, cheaper per call (the phrase rules look at all the texts at once)."""
    refused, injected = refusals(responses), prompt_injections(prompts)
    return [_rules(p, r, refused[i], injected[i]) for i, (p, r) in enumerate(zip(prompts, responses, strict=True))]


def _rules(prompt: str, response: str, refused: bool, injected: bool) -> RuleSignals:
    return RuleSignals(
        refusal=bool(response) and refused,
        empty_answer=is_empty_answer(response, prompt),
        prompt_injection=bool(prompt) and injected,
    )


def model_signals(prompts: list[str], responses: list[str], rules: list[RuleSignals]) -> list[ModelSignals]:
    """The signals the models give, for calls whose ``rule_signals`` are known (relevance is 1.0, not judged,
    for an empty answer or a refusal); the toxicity model runs once for all the texts."""
    toxic = toxicity([text or "" for pair in zip(prompts, responses, strict=True) for text in pair])
    return [
        _models(prompt, response, rule, toxic[2 * i], toxic[2 * i + 1])
        for i, (prompt, response, rule) in enumerate(zip(prompts, responses, rules, strict=True))
    ]


def _models(prompt: str, response: str, rule: RuleSignals, tox_prompt: float, tox_response: float) -> ModelSignals:
    mood = sentiment(prompt) if prompt else 0.0
    related = relevance(prompt, response) if prompt and not (rule.refusal or rule.empty_answer) else 1.0
    return ModelSignals(
        toxicity_prompt=tox_prompt,
        toxicity_response=tox_response,
        toxic=max(tox_prompt, tox_response) >= TOXICITY_THRESHOLD,
        sentiment=mood,
        negative_sentiment=bool(prompt) and is_negative(mood, prompt),
        relevance=related,
        irrelevant=related < RELEVANCE_THRESHOLD,
    )
