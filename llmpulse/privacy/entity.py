"""The detected-value record and the entity type names (also the placeholder names)."""

from __future__ import annotations

from dataclasses import dataclass

EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
US_SSN = "US_SSN"
NATIONAL_ID = "NATIONAL_ID"
IP_ADDRESS = "IP_ADDRESS"
SECRET = "SECRET"

# When two detections overlap, the type listed first wins (a key that contains digits is a
# secret, not a phone; a card number is not a phone), then the longer span.
ALL_TYPES: tuple[str, ...] = (SECRET, EMAIL, IBAN, CREDIT_CARD, US_SSN, NATIONAL_ID, IP_ADDRESS, PHONE)


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
