"""PII detection and redaction for captured prompt and response text."""

from llmpulse.privacy.entity import (
    CREDIT_CARD,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    NATIONAL_ID,
    PHONE,
    SECRET,
    US_SSN,
)
from llmpulse.privacy.redact import ALL_TYPES, Entity, RedactionResult, Redactor, default_redactor

__all__ = [
    "ALL_TYPES",
    "CREDIT_CARD",
    "EMAIL",
    "IBAN",
    "IP_ADDRESS",
    "NATIONAL_ID",
    "PHONE",
    "SECRET",
    "US_SSN",
    "Entity",
    "RedactionResult",
    "Redactor",
    "default_redactor",
]
