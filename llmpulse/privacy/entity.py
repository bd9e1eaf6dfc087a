"""The detected-value record and the entity type names (also the placeholder names)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
US_SSN = "US_SSN"
NATIONAL_ID = "NATIONAL_ID"
IP_ADDRESS = "IP_ADDRESS"
SECRET = "SECRET"
PASSPORT = "PASSPORT"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
ADDRESS = "ADDRESS"
PERSON = "PERSON"

# When two detections overlap, the type listed first wins (a key that contains digits is a
# secret, not a phone; a card number is not a phone), then the longer span.
ALL_TYPES: tuple[str, ...] = (SECRET, EMAIL, IBAN, CREDIT_CARD, US_SSN, NATIONAL_ID, PASSPORT, DATE_OF_BIRTH,
                              ADDRESS, IP_ADDRESS, PHONE, PERSON)  # fmt: skip
_RANK = {name: rank for rank, name in enumerate(ALL_TYPES)}


@dataclass(frozen=True, slots=True)
class Entity:
    """One detected value: its type and its ``[start, end)`` span in the text."""

    type: str
    start: int
    end: int


def window_before(text: str, start: int, size: int = 24) -> str:
    """Up to ``size`` characters before ``start``, lower-cased, for context-word checks."""
    return text[max(0, start - size) : start].lower()


def lower_same_length(text: str) -> str:
    """``text.lower()``, keeping any character whose lower case is longer (``İ``) as it is, so
    that offsets into the result are offsets into ``text``."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


class SpanSet:
    """Non-overlapping ``[start, end)`` spans with an O(log n) overlap test."""

    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_right(self._starts, start)
        if i > 0 and self._ends[i - 1] > start:
            return True
        return i < len(self._starts) and self._starts[i] < end

    def add(self, start: int, end: int) -> None:
        i = bisect_right(self._starts, start)
        self._starts.insert(i, start)
        self._ends.insert(i, end)


def resolve_overlaps(entities: Iterable[Entity]) -> list[Entity]:
    """Keep, among overlapping entities, the one whose type ranks first in ``ALL_TYPES``, then
    the longer one; return them ordered by position."""
    chosen: list[Entity] = []
    spans = SpanSet()
    for entity in sorted(entities, key=lambda e: (_RANK[e.type], e.start - e.end, e.start)):
        if not spans.overlaps(entity.start, entity.end):
            spans.add(entity.start, entity.end)
            chosen.append(entity)
    chosen.sort(key=lambda e: e.start)
    return chosen
