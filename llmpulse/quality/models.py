"""Signals from shipped models: toxicity (``alt-profanity-check``, a linear SVM over words that ships its
weights), user sentiment (VADER, a lexicon), and how much an answer has to do with its prompt (lexical).

Each combines its model with a short multilingual phrase list, since both models read English only. The
models load on first use (about 1 s for scikit-learn); scoring costs tens of µs per text.
"""

# ruff: noqa: E501  (phrase tables read best one alternative group per line)

from __future__ import annotations

import re
from functools import cache
from typing import Any

from llmpulse.quality.text import plain

_FLAGS = re.IGNORECASE | re.UNICODE

#: thresholds chosen by cross-validation on the training corpus (``benchmarks/quality_bench.py --cv``)
TOXICITY_THRESHOLD = 0.5
NEGATIVE_SENTIMENT_THRESHOLD = -0.75
RELEVANCE_THRESHOLD = 0.025

_TOXIC_PHRASES = re.compile(
    r"\bf[*#@]{2,}(?:k|ing)?(?!\w)|\bsh[*#@]t\b|\bb[*#@]{3}h\b|\bkill yourself\b|\bi(?:'ll| will) (?:find|hurt|kill|destroy) you\b"
    r"|\b(?:du bist|ihr seid) (?:so )?(?:ein|eine)? ?(?:idiot|vollidiot|arschloch|depp)|\bhalt die klappe\b"
    r"|\b(?:t'es|tu es|vous êtes) (?:vraiment )?(?:un |une )?(?:abruti|connard|conne|crétin|idiot)|\bta gueule\b"
    r"|\beres (?:un |una )?(?:idiota|imbécil|estúpid[oa])|\bcállate\b"
    r"|\b(?:vollidiot|arschloch|hurensohn|connard|connasse|imbécile|gilipollas|pendejo|cabrón|idioot|klootzak|eikel|kutwijf)\b"
    r"|\bje bent (?:een )?(?:\w+ )?(?:idioot|sukkel|klootzak|eikel)|\bhou je bek\b",
    _FLAGS,
)
_FRUSTRATION = re.compile(
    r"\b(?:useless|pointless|waste of (?:my )?time|wasted my|you keep (?:getting|saying|giving|repeating)|wrong again"
    r"|(?:i've|i have) (?:already )?asked (?:\w+ ){0,2}(?:times|twice)|not what i asked|are you even (?:reading|listening)"
    r"|fed up|i give up|so frustrat|frustrated|annoying|ridiculous|unacceptable|worst(?!-case)|terrible|horrible|pathetic"
    r"|angry|furious|pissed off|that's (?:wrong|not right|incorrect|not it)|wrong\. again|sucks|what a joke|meh|annoyed"
    r"|still (?:broken|not working|wrong|failing)|not listening|(?:you're|you are) no help|keep doing that|so slow|come on!"
    r"|immer noch nicht|toujours pas|sigue sin|nog steeds niet"
    r"|thanks for nothing|made it worse|not helpful|disappointed|losing my mind|i'm done with|i hate this"
    r"|nutzlos|schon wieder falsch|genervt|unbrauchbar|c'est nul|tu ne comprends rien|inutile|n'importe quoi"
    r"|inútil|otra vez mal|no sirve|waardeloos|weer fout|slaat nergens op)\b|!!!|\?!",
    _FLAGS,
)
_HOW_TO = re.compile(
    r"^\s*(?:how|what|why|where|when|which|can you|could you|please|write|explain|list|summari[sz]e)\b", _FLAGS
)
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOP = frozenset(
    ["the", "and", "for", "you", "your", "are", "was", "were", "with", "that", "this", "what", "how", "why", "when", "where", "which", "who", "can", "could", "would", "should", "does", "did", "has", "have", "had", "not", "but", "all", "any", "from", "into", "about", "than", "then", "them", "they", "their", "there", "here", "its", "it's", "our", "out", "use", "using", "get", "got", "let", "make", "made", "will", "just", "also", "only", "some", "more", "most", "very", "much", "many", "each", "other", "such", "same", "der", "die", "das", "und", "ist", "ein", "eine", "nicht", "mit", "von", "für", "les", "des", "une", "est", "pas", "pour", "que", "qui", "dans", "los", "las", "una", "por", "para", "con", "que", "del", "het", "een", "van", "voor", "niet", "met", "zijn"]
)  # fmt: skip


@cache
def _profanity() -> Any:
    from profanity_check import predict_prob

    return predict_prob


@cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def toxicity(texts: list[str]) -> list[float]:
    """Probability that each text is offensive, 1.0 where a multilingual phrase says so outright."""
    if not texts:
        return []
    scores = _profanity()(texts)
    return [1.0 if _TOXIC_PHRASES.search(plain(text)) else float(score) for text, score in zip(texts, scores, strict=True)]


def is_toxic(text: str, threshold: float = TOXICITY_THRESHOLD) -> bool:
    return bool(text) and toxicity([text])[0] >= threshold


def sentiment(text: str) -> float:
    """VADER's compound score in [-1, 1]; a frustrated message (any of five languages) scores -1."""
    if _FRUSTRATION.search(plain(text)):
        return -1.0
    return float(_vader().polarity_scores(text)["compound"])


def is_negative(score: float, text: str, threshold: float = NEGATIVE_SENTIMENT_THRESHOLD) -> bool:
    """From ``sentiment(text)``: the user is unhappy — a frustration phrase, or a strongly negative statement
    that is not a how-to question (technical words such as "kill", "failed" or "broken" make VADER negative)."""
    return score == -1.0 or (score <= threshold and not _HOW_TO.search(text))


def is_negative_sentiment(text: str, threshold: float = NEGATIVE_SENTIMENT_THRESHOLD) -> bool:
    return is_negative(sentiment(text), text, threshold)


def _terms(text: str) -> set[str]:
    return {word[:6] for word in (w.lower() for w in _WORD.findall(text)) if word not in _STOP}


def relevance(prompt: str, response: str) -> float:
    """Share of the prompt's content words (6-letter stems) that the answer uses, in [0, 1]."""
    asked = _terms(prompt)
    if not asked:
        return 1.0
    return len(asked & _terms(response)) / len(asked)


def is_irrelevant(prompt: str, response: str, threshold: float = RELEVANCE_THRESHOLD) -> bool:
    return bool(response.strip()) and relevance(prompt, response) < threshold
