"""PII detection and redaction for captured prompt and response text, and for identity fields."""

from llmpulse.privacy.entity import (
    ADDRESS,
    CREDIT_CARD,
    DATE_OF_BIRTH,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    NATIONAL_ID,
    PASSPORT,
    PERSON,
    PHONE,
    SECRET,
    US_SSN,
)
from llmpulse.privacy.redact import ALL_TYPES, Entity, RedactionResult, Redactor, default_redactor

__all__ = [
    "ADDRESS",
    "ALL_TYPES",
    "CREDIT_CARD",
    "DATE_OF_BIRTH",
    "EMAIL",
    "IBAN",
    "IP_ADDRESS",
    "NATIONAL_ID",
    "PASSPORT",
    "PERSON",
    "PHONE",
    "SECRET",
    "US_SSN",
    "Entity",
    "RedactionResult",
    "Redactor",
    "default_redactor",
]
