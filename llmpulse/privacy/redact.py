"""Detect and redact PII in prompt/response text before it leaves the stream job.

``Redactor.redact`` replaces every detected value with a typed placeholder (``<EMAIL>``,
``<PHONE>``, ``<CREDIT_CARD>``, ``<IBAN>``, ``<US_SSN>``, ``<NATIONAL_ID>``, ``<IP_ADDRESS>``,
``<SECRET>``) and counts the detections per type. A ``Redactor`` holds only configuration and
compiled patterns: it is immutable, deterministic and safe to share between threads.

Speed: most text carries no PII. One combined pre-check regex looks for anything a recognizer
could start from (an ``@``, a run of digits with separators, a key prefix, ``::``, a secret word,
…); text without such a trigger returns at once. The number-shaped recognizers run only when a
digit run was seen, and the expensive validators (libphonenumber, check digits) only on candidates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from llmpulse.privacy.credentials import find_secrets
from llmpulse.privacy.recognizers import (
    CREDIT_CARD,
    DEFAULT_PHONE_REGIONS,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    NATIONAL_ID,
    PHONE,
    SECRET,
    US_SSN,
    Entity,
    find_credit_cards,
    find_emails,
    find_ibans,
    find_ip_addresses,
    find_national_ids,
    find_phones,
    find_us_ssns,
)

__all__ = [
    "ALL_TYPES",
    "Entity",
    "RedactionResult",
    "Redactor",
    "default_redactor",
]

# When two detections overlap, the one whose type comes first wins (a key that contains digits is
# a secret, not a phone; a card number is not an IP), then the longer one.
ALL_TYPES: tuple[str, ...] = (SECRET, EMAIL, IBAN, CREDIT_CARD, US_SSN, NATIONAL_ID, IP_ADDRESS, PHONE)
_RANK = {name: rank for rank, name in enumerate(ALL_TYPES)}

# Anything a recognizer could start from. No match: no PII, and nothing else runs.
_TRIGGER = re.compile(
    r"@|\d[\d ().\-/]{5,}\d|::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:|[A-Za-z]{6}\d\d[A-Za-z]\d\d"
    r"|[A-Z]{2} ?\d\d ?\d\d ?\d\d ?[A-D]|sk-|[sr]k_|AKIA|ASIA|AIDA|AROA|gh[pousr]_|github_pat_|glpat-"
    r"|xox|AIza|hf_|[Bb]earer|eyJ|-----BEGIN|(?i:pass|secret|token|key|pwd|senha|contrase)"
)
_DIGIT_RUN = re.compile(r"\d[\d ().\-/]{5,}\d")


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """The redacted text and how many values of each type were replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Recognizer:
    type: str
    find: Callable[[str], list[Entity]]
    needs_digit_run: bool


def _resolve_overlaps(entities: Iterable[Entity]) -> list[Entity]:
    chosen: list[Entity] = []
    for entity in sorted(entities, key=lambda e: (_RANK[e.type], e.start - e.end, e.start)):
        if all(entity.end <= other.start or other.end <= entity.start for other in chosen):
            chosen.append(entity)
    chosen.sort(key=lambda e: e.start)
    return chosen


class Redactor:
    """Find PII and replace it with ``<TYPE>`` placeholders.

    ``types`` limits detection to some of ``ALL_TYPES``; ``phone_regions`` are the regions whose
    national formats are accepted for numbers written without a ``+``/``00`` country prefix.
    """

    __slots__ = ("_recognizers", "phone_regions", "types")

    def __init__(
        self,
        types: Iterable[str] | None = None,
        phone_regions: Iterable[str] = DEFAULT_PHONE_REGIONS,
    ) -> None:
        wanted = tuple(ALL_TYPES if types is None else types)
        unknown = sorted(set(wanted) - set(ALL_TYPES))
        if unknown:
            raise ValueError(f"unknown PII types {unknown}; known: {list(ALL_TYPES)}")
        self.types: frozenset[str] = frozenset(wanted)
        self.phone_regions: tuple[str, ...] = tuple(phone_regions)
        regions = self.phone_regions

        def phones(text: str) -> list[Entity]:
            return find_phones(text, regions)

        every = (
            _Recognizer(SECRET, find_secrets, False),
            _Recognizer(EMAIL, find_emails, False),
            _Recognizer(IBAN, find_ibans, True),
            _Recognizer(CREDIT_CARD, find_credit_cards, True),
            _Recognizer(US_SSN, find_us_ssns, True),
            _Recognizer(NATIONAL_ID, find_national_ids, False),
            _Recognizer(IP_ADDRESS, find_ip_addresses, False),
            _Recognizer(PHONE, phones, True),
        )
        self._recognizers = tuple(r for r in every if r.type in self.types)

    def detect(self, text: str) -> list[Entity]:
        """Every PII value in ``text``, non-overlapping, ordered by position."""
        if not text or _TRIGGER.search(text) is None:
            return []
        digit_run = _DIGIT_RUN.search(text) is not None
        found: list[Entity] = []
        for recognizer in self._recognizers:
            if digit_run or not recognizer.needs_digit_run:
                found.extend(recognizer.find(text))
        return _resolve_overlaps(found)

    def redact(self, text: str) -> RedactionResult:
        """``text`` with each detected value replaced by ``<TYPE>``, and the counts per type."""
        entities = self.detect(text)
        if not entities:
            return RedactionResult(text, {})
        pieces: list[str] = []
        counts: dict[str, int] = {}
        position = 0
        for entity in entities:
            pieces.append(text[position : entity.start])
            pieces.append(f"<{entity.type}>")
            counts[entity.type] = counts.get(entity.type, 0) + 1
            position = entity.end
        pieces.append(text[position:])
        return RedactionResult("".join(pieces), counts)

    def redact_bytes(self, data: bytes) -> tuple[bytes, dict[str, int]]:
        """Redact a raw payload (say, a dead-letter record); invalid UTF-8 becomes U+FFFD."""
        result = self.redact(data.decode("utf-8", errors="replace"))
        return result.text.encode("utf-8"), result.counts


@lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """The shared, immutable redactor with every type enabled."""
    return Redactor()
