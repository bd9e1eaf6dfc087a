"""Keep webhook URLs and routing keys out of logs and error messages.

httpx logs every request URL at INFO (``HTTP Request: POST https://hooks.slack.com/services/...``): for a
Slack incoming webhook the URL *is* the secret. :func:`protect` registers a secret and installs one filter on
the ``httpx`` logger that rewrites any record containing a registered secret.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()


def secret_variants(secret: str) -> set[str]:
    """The secret and, for a URL, its path and query (where a webhook's token lives)."""
    variants = {secret}
    if "://" in secret:
        parts = urlsplit(secret)
        if parts.path and parts.path != "/":
            variants.add(parts.path)
        if parts.query:
            variants.add(parts.query)
    return {v for v in variants if len(v) >= 4}


def redact(text: str, secrets: set[str] | frozenset[str] | None = None) -> str:
    """``text`` with every known secret (longest first) replaced by ``***``."""
    with _lock:
        known = set(_secrets) if secrets is None else set(secrets) | _secrets
    for s in sorted(known, key=len, reverse=True):
        if s in text:
            text = text.replace(s, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record whose message contains a registered secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_filter = RedactingFilter()
PROTECTED_LOGGERS = ("httpx",)


def protect(secret: str) -> None:
    """Register a secret; from now on it never reaches a handler through the ``httpx`` logger."""
    with _lock:
        _secrets.update(secret_variants(secret))
    for name in PROTECTED_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)


def trim(text: str, limit: int = 300) -> str:
    """A response body fit for a log line: one line, at most ``limit`` characters, secrets masked."""
    one_line = " ".join(redact(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
