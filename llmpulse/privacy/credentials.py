"""Recognizers for secrets: API keys, bearer tokens, cloud keys, private key blocks, JWTs.

Provider keys are recognised by their published prefixes (``sk-``, ``sk-ant-``, ``AKIA``, ``ghp_``,
``github_pat_``, ``glpat-``, ``xoxb-``, ``AIza``, ``hf_``, ``sk_live_``); JWTs must decode to a JSON
header with an ``alg``; secrets without a prefix (an AWS secret access key, a password) are only
taken from an assignment to a secret-sounding name (``aws_secret_access_key = …``,
``"password": "…"``) or from "password is …", and never when the value is a placeholder or a
reference to somewhere else (``<your-key>``, ``${TOKEN}``, ``os.environ[...]``, ``****``).
Every match is typed ``SECRET``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from llmpulse.privacy.recognizers import SECRET, Entity

_KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-api03-), DeepSeek and friends
    re.compile(r"(?<![\w-])sk-(?:[A-Za-z]+-)*[A-Za-z0-9_-]{20,}"),
    # Stripe secret and restricted keys
    re.compile(r"(?<![\w-])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    # AWS access key ids
    re.compile(
        r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|AGPA)[A-Z0-9]{16}(?![A-Za-z0-9])"
    ),
    # GitHub tokens (classic and fine-grained), GitLab personal access tokens
    re.compile(r"(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})(?![\w-])"),
    re.compile(r"(?<![\w-])glpat-[A-Za-z0-9_-]{20,}"),
    # Slack, Google API keys, Hugging Face
    re.compile(r"(?<![\w-])xox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])"),
    re.compile(r"(?<![\w-])hf_[A-Za-z0-9]{30,}(?![\w-])"),
)
_KEY_PREFIXES = ("sk-", "sk_", "rk_", "AKIA", "ASIA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "AGPA",
                 "ABIA", "ACCA", "gh", "github_pat_", "glpat-", "xox", "AIza", "hf_")  # fmt: skip

_BEARER = re.compile(r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)")
_JWT = re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PRIVATE_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_KEY_BODY = re.compile(r"[A-Za-z0-9+/=\s:,.\-]*")

_SECRET_NAME = (
    r"(?:aws_?secret_?access_?key|secret_?access_?key|aws_?secret|client_?secret|secret_?key|api_?key"
    r"|apikey|access_?token|auth_?token|refresh_?token|private_?key|password|passwd|pwd|secret|token)"
)
_ASSIGNMENT = re.compile(r"(?i)" + _SECRET_NAME + r"[\"']?\s*(?::=|=>|[:=])\s*[\"'`]?([^\s\"'`,;)}\]]{8,})")
_SECRET_WORD = re.compile(r"(?i)pass|secret|token|key|pwd|senha|contrase")
_PASSWORD_IS = re.compile(
    r"(?i)\b(?:password|passwort|mot de passe|contraseña|senha)\s+(?:is|ist|est|es|é|è|:)\s+"
    r"[\"'`]?([^\s\"'`]{6,})"
)
_PLACEHOLDER = re.compile(
    r"^(?:<.*|\$.*|\{.*|%.*|\*+|x+|\.+|(?:your|my|the|example|dummy|changeme|placeholder|redacted|none|null"
    r"|true|false|undefined|required|optional|string|env|secret|password|token)[\w-]*"
    r"|.*(?:environ|getenv|process\.env|settings\.|config\.|secrets\.|vault).*"
    r"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+|[A-Za-z_]\w*\(.*|[A-Z][A-Z0-9]*_[A-Z0-9_]+)$",
    re.I,
)


def _jwt_header_ok(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


def _value_is_secret(value: str) -> bool:
    value = value.rstrip(".")
    if len(value) < 8 or _PLACEHOLDER.match(value):
        return False
    return len(set(value)) >= 5


def _private_keys(text: str) -> list[Entity]:
    found: list[Entity] = []
    for begin in _PRIVATE_KEY_BEGIN.finditer(text):
        end = _PRIVATE_KEY_END.search(text, begin.end())
        if end is not None:
            found.append(Entity(SECRET, begin.start(), end.end()))
        else:  # truncated block: take the base64 body that follows
            body = _KEY_BODY.match(text, begin.end())
            stop = body.end() if body else begin.end()
            found.append(Entity(SECRET, begin.start(), len(text[:stop].rstrip())))
    return found


def find_secrets(text: str) -> list[Entity]:
    found: list[Entity] = []
    if any(p in text for p in _KEY_PREFIXES):
        for pattern in _KEY_PATTERNS:
            for m in pattern.finditer(text):
                value = m.group()
                if any(c.isdigit() for c in value) and any(c.isalpha() for c in value[4:]):
                    found.append(Entity(SECRET, m.start(), m.end()))
    if "earer" in text:
        for m in _BEARER.finditer(text):
            if _value_is_secret(m.group(1)):
                found.append(Entity(SECRET, m.start(1), m.end(1)))
    if "eyJ" in text:
        jwts = (m for m in _JWT.finditer(text) if _jwt_header_ok(m.group()))
        found.extend(Entity(SECRET, m.start(), m.end()) for m in jwts)
    if "-----BEGIN" in text:
        found.extend(_private_keys(text))
    if not _SECRET_WORD.search(text):
        return found
    for pattern in (_ASSIGNMENT, _PASSWORD_IS):
        for m in pattern.finditer(text):
            value = m.group(1).rstrip(".")
            if _value_is_secret(value):
                found.append(Entity(SECRET, m.start(1), m.start(1) + len(value)))
    return found
