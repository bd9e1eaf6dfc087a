"""Secrets: provider API keys, bearer tokens, cloud keys, private key blocks, JWTs, passwords.

Provider keys are recognised by their published prefixes (``sk-``/``sk-proj-``/``sk-ant-``,
``sk_live_``, ``AKIA``…, ``ghp_``/``github_pat_``, ``glpat-``, ``xoxb-``, ``AIza``, ``hf_``); a JWT
must decode to a JSON header with an ``alg``; a private key is the whole ``-----BEGIN … PRIVATE
KEY-----`` block (to the end of its base64 body when the END line is missing). Secrets without a
prefix (an AWS secret access key, a password, an OAuth client secret) are taken only as the value
assigned to a secret-sounding name (``aws_secret_access_key = …``, ``"password": "…"``,
``client_secret=…``, ``X-Api-Key: …``) or after "password is …" (en/de/fr/es/pt/it), and never when
the value is a placeholder or a reference (``<your-key>``, ``${TOKEN}``, ``os.environ[...]``,
``settings.API_KEY``, ``****``). Every match is typed ``SECRET``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable

from llmpulse.privacy.entity import SECRET, Entity, lower_same_length
from llmpulse.privacy.shape import Shape

_A = re.ASCII
# (literals that must occur in the text, pattern). Look-behinds sit after the prefix so the
# engine searches for the literal first.
_KEY_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("sk-",), re.compile(r"sk-(?<![\w-]sk-)[A-Za-z0-9_-]{20,}", _A)),
    (("k_live_", "k_test_"), re.compile(r"[sr]k_(?<![\w-].k_)(?:live|test)_[A-Za-z0-9]{16,}", _A)),
    (
        ("AKIA", "ASIA", "ABIA", "ACCA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "AGPA"),
        re.compile(
            r"A(?:KIA|SIA|BIA|CCA|IDA|ROA|IPA|NPA|NVA|GPA)(?<![A-Za-z0-9].{4})[A-Z0-9]{16}(?![A-Za-z0-9])", _A
        ),
    ),
    (
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        re.compile(r"gh[pousr]_(?<![\w-]gh._)[A-Za-z0-9]{36,251}(?![\w-])", _A),
    ),
    (("github_pat_",), re.compile(r"github_pat_(?<![\w-]github_pat_)[A-Za-z0-9_]{22,251}(?![\w-])", _A)),
    (("glpat-",), re.compile(r"glpat-(?<![\w-]glpat-)[A-Za-z0-9_-]{20,}", _A)),
    (("xox",), re.compile(r"xox[abposr]-(?<![\w-]xox.-)[A-Za-z0-9-]{10,}", _A)),
    (("AIza",), re.compile(r"AIza(?<![\w-]AIza)[0-9A-Za-z_-]{35}(?![\w-])", _A)),
    (("hf_",), re.compile(r"hf_(?<![\w-]hf_)[A-Za-z0-9]{30,}(?![\w-])", _A)),
)  # fmt: skip

# Any provider prefix at all: one search instead of a dozen substring tests for most texts. Every branch
# starts with a letter, so the engine scans for those letters.
_KEY_PREFIX = re.compile(
    r"sk-|sk_(?:live|test)_|rk_(?:live|test)_|A(?:KIA|SIA|BIA|CCA|IDA|ROA|IPA|NPA|NVA|GPA)|gh[pousr]_|github_pat_|glpat-"
    r"|xox[abposr]-|AIza|hf_"
)
_BEARER = re.compile(r"[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)", _A)
_BASIC = re.compile(r"[Bb]asic\s+([A-Za-z0-9+/]{8,1024}={0,2})(?![\w+/=])", _A)
_JWT = re.compile(r"eyJ(?<![\w-]eyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", _A)
_PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PRIVATE_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
# A truncated block's body: lines of base64 (or PEM headers), real or "\n"-escaped line breaks.
_KEY_BODY = re.compile(r"(?:(?:\r?\n|\\n)(?:[A-Za-z0-9+/=]+|[A-Za-z-]+: [^\n\\]*))*")

# Assignments: a name that ends in a secret word, an operator, a value.
_SECRET_WORDS = ("key", "token", "secret", "pass", "pwd", "credential")
_LAST_WORDS = frozenset({"token", "secret", "password", "passwd", "pwd", "passphrase", "credential",
                         "credentials", "apikey", "secretkey"})  # fmt: skip
_KEY_QUALIFIERS = frozenset({"api", "secret", "private", "access", "auth", "signing", "encryption", "master",
                             "license", "client", "account", "service", "subscription"})  # fmt: skip
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_NAME_TAIL = re.compile(r"[A-Za-z0-9_-]{0,64}", _A)
_NAME_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", _A)
# Values are capped at 1,024 characters: the tails are matched at many positions, and an
# unbounded value would make a long run of "password=password=…" quadratic.
_ASSIGNED_VALUE = re.compile(r"\s?[\"']?\s*(?::=|=>|[:=])\s*[\"'`]?([^\s\"'`,;&)}\]]{8,1024})")
# Every trigger word of the assignment and prose rules contains one of these (lower case).
_SECRET_WORD = re.compile(
    "pass|secret|token|key|pwd|credential|senha|contrase|clave|chiave|cl\u00e9|kennwort|wachtwoord"
)
# Prose: "my password is …", "Passwort lautet …", "senha do wifi é …", "AWS secret key …",
# "clave de la API: …" (up to four words between the trigger and "is").
_PHRASE_TRIGGERS = ("password", "passwort", "kennwort", "wachtwoord", "mot de passe", "contraseña", "senha",
                    "secret", "token", "key", "clé d'api", "clé api", "clave de la api", "clave de api",
                    "chiave api")  # fmt: skip
_PHRASE_TAIL = re.compile(
    r"(?:(?:\s+[^\s:=]{1,20}){0,4}?\s+(?P<verb>is|was|ist|lautet|est|es|era|é|è)|\s*(?P<sign>[:=]))?"
    r"\s+[\"'`]?(?P<value>[^\s\"'`,]{6,1024})",
    re.I,
)
# Connection strings: scheme://user:password@host
_URL_PASSWORD = re.compile(
    r"[A-Za-z](?<![A-Za-z0-9+.-][A-Za-z])[A-Za-z0-9+.-]{0,31}://[^\s:/@]{0,256}:([^\s@/]{1,1024})@", _A
)
# Command-line flags: --password X, --token=X, -p X (docker/mysql login; a "-p 8080:80" port map
# is kept out by asking "-p" values for three character classes).
_CLI_FLAG = re.compile(
    r"(?<!\S)(?P<flag>--(?:password|passwd|token|api-key|apikey|secret|client-secret)|-p|-u|--user)(?:=|\s+)"
    r"[\"']?(?P<user>[^\s\"':]{1,256}:)?(?P<value>[^\s\"']{4,1024})"
)
_PLACEHOLDER = re.compile(
    r"^(?:<.*|\$.*|\{.*|%.*|\*+|x+|\.+|(?:your|my|the|example|dummy|changeme|placeholder|redacted|none|null"
    r"|true|false|undefined|required|optional|string|env|secret|password|token)[\w-]*"
    r"|.*(?:environ|getenv|process\.env|settings\.|config\.|secrets\.|vault).*|[\w.]+\(.*)$",
    re.I,
)
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")  # OPENAI_API_KEY: a reference, not a value
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")  # settings.api_key


def _looks_random(part: str) -> bool:
    return len(part) >= 12 and _char_classes(part) >= 3


def _jwt_header_ok(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


def _basic_credentials(token: str) -> bool:
    """HTTP Basic credentials: base64 of "user:password"."""
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (ValueError, binascii.Error):
        return False
    return ":" in decoded and decoded.isprintable()


def _char_classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def _value_is_secret(value: str, min_length: int = 8, min_classes: int = 2) -> bool:
    """Long enough, mixes character classes (``incorrect`` is a word, ``hunter2`` a password) and
    is no placeholder or reference."""
    if len(value) < min_length or len(set(value)) < 5 or _char_classes(value) < min_classes:
        return False
    if _PLACEHOLDER.match(value) or _ENV_NAME.fullmatch(value):
        return False
    dotted = _DOTTED_NAME.fullmatch(value) is not None
    return not dotted or any(_looks_random(part) for part in value.split("."))


def _qualified(word: str, lowered: str, at: int) -> bool:
    """A bare "key" counts only as "API key", "secret key" or "access key"."""
    return word != "key" or lowered[max(0, at - 12) : at].split()[-1:] in (["api"], ["secret"], ["access"])


def _phrase_secrets(text: str, lowered: str) -> list[Entity]:
    found: list[Entity] = []
    for word in _PHRASE_TRIGGERS:
        at = lowered.find(word)
        while at != -1:
            end = at + len(word)
            whole_word = (at == 0 or not lowered[at - 1].isalnum()) and not lowered[end : end + 1].isalnum()
            m = _PHRASE_TAIL.match(text, end) if whole_word and _qualified(word, lowered, at) else None
            if m is not None:
                value = m.group("value").rstrip(".,;:")
                # Without "is" or ":" between word and value ("my AWS secret key AbC…"), only a
                # long, key-like value counts.
                linked = m.group("verb") is not None or m.group("sign") is not None
                if _value_is_secret(value, 6, 2) if linked else _value_is_secret(value, 16, 3):
                    found.append(Entity(SECRET, m.start("value"), m.start("value") + len(value)))
                end = max(end, m.end())  # never rescan inside a value: keeps the scan linear
            at = lowered.find(word, end)
    return found


def _secret_name(name: str) -> bool:
    parts = [part.lower() for part in _NAME_PARTS.findall(name)]
    if not parts:
        return False
    if parts[-1] in _LAST_WORDS:
        return True
    return parts[-1] == "key" and len(parts) > 1 and parts[-2] in _KEY_QUALIFIERS


def _provider_keys(text: str) -> list[Entity]:
    found: list[Entity] = []
    if _KEY_PREFIX.search(text) is None:
        return found
    for literals, pattern in _KEY_PATTERNS:
        if any(literal in text for literal in literals):
            for m in pattern.finditer(text):
                body = m.group()[4:]
                if any(c.isdigit() for c in body) and any(c.isalpha() for c in body):
                    found.append(Entity(SECRET, m.start(), m.end()))
    return found


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


def _assigned_secrets(text: str, lowered: str) -> list[Entity]:
    found: list[Entity] = []
    seen: set[int] = set()
    for word in _SECRET_WORDS:
        at = lowered.find(word)
        while at != -1:
            tail = _NAME_TAIL.match(text, at + len(word))
            name_end = tail.end() if tail else at + len(word)
            resume = at + len(word)
            name_start = at
            while name_start > 0 and at - name_start < 64 and text[name_start - 1] in _NAME_CHARS:
                name_start -= 1
            if name_end not in seen and _secret_name(text[name_start:name_end]):
                seen.add(name_end)
                m = _ASSIGNED_VALUE.match(text, name_end)
                if m is not None:
                    value = m.group(1).rstrip(".,:")
                    if _value_is_secret(value):
                        found.append(Entity(SECRET, m.start(1), m.start(1) + len(value)))
                    resume = m.end()  # never rescan inside a value: keeps the scan linear
            at = lowered.find(word, resume)
    return found


# An AWS secret access key: exactly 40 base64 characters, standing alone.
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+](?<![A-Za-z0-9/+=]{2})[A-Za-z0-9/+]{39}(?![A-Za-z0-9/+=])", _A)
_AWS_CONTEXT = re.compile(r"aws|secret|A(?:KIA|SIA)[A-Z0-9]{16}|boto|s3|iam|creds|credential", re.I)


def _aws_secret_keys(text: str) -> list[Entity]:
    """Bare AWS secret access keys. A random 40-character key mixes capitals, small letters and digits; it
    counts when it also holds a "/" or "+" (base64 that is no path: no run of lower-case words) or when an
    AWS word or an ``AKIA…`` id is in the text."""
    found: list[Entity] = []
    context: bool | None = None
    for m in _AWS_SECRET.finditer(text):
        key = m.group()
        upper = sum(c.isupper() for c in key)
        lower = sum(c.islower() for c in key)
        digits = sum(c.isdigit() for c in key)
        if upper < 3 or lower < 3 or digits < 2:
            continue
        if key.count("/") + key.count("+") == 0 or any(len(part) >= 30 for part in key.split("/")):
            if context is None:
                context = _AWS_CONTEXT.search(text) is not None
            if not context:
                continue
        found.append(Entity(SECRET, m.start(), m.end()))
    return found


def _bearer_tokens(text: str) -> list[Entity]:
    bearer = (m for m in _BEARER.finditer(text) if _value_is_secret(m.group(1)))
    return [Entity(SECRET, m.start(1), m.end(1)) for m in bearer]


def _basic_auth(text: str) -> list[Entity]:
    basic = (m for m in _BASIC.finditer(text) if _basic_credentials(m.group(1)))
    return [Entity(SECRET, m.start(1), m.end(1)) for m in basic]


def _jwts(text: str) -> list[Entity]:
    jwts = (m for m in _JWT.finditer(text) if _jwt_header_ok(m.group()))
    return [Entity(SECRET, m.start(), m.end()) for m in jwts]


def _named_secrets(text: str) -> list[Entity]:
    lowered = lower_same_length(text)
    if _SECRET_WORD.search(lowered) is None:
        return []
    return _assigned_secrets(text, lowered) + _phrase_secrets(text, lowered)


def _cli_secrets(text: str) -> list[Entity]:
    found: list[Entity] = []
    for m in _CLI_FLAG.finditer(text):
        flag = m.group("flag")
        if flag in ("-u", "--user") and m.group("user") is None:
            continue  # curl -u user:password; a bare user name is no secret
        classes = 3 if flag == "-p" else 2
        if _value_is_secret(m.group("value"), 6, classes):
            found.append(Entity(SECRET, m.start("value"), m.end("value")))
    return found


def _url_passwords(text: str) -> list[Entity]:
    urls = (m for m in _URL_PASSWORD.finditer(text) if _value_is_secret(m.group(1), 4, 1))
    return [Entity(SECRET, m.start(1), m.end(1)) for m in urls]


#: (finder, gate, needs): a finder runs only when its gate says a match is possible (``llmpulse.privacy.shape``)
#: or, where the text was scanned by ``llmpulse.privacy.prefilter``, when one of the patterns it ``needs`` is there.
#: A provider prefix has "-" or "_", or starts with four capitals ("AKIA") or "AIza"; an AWS secret key is a
#: 40-character base64 run (so also a token of 40 characters or more).
SECRET_FINDERS: tuple[tuple[Callable[[str], list[Entity]], Callable[[Shape], bool], tuple[str, ...]], ...] = (
    (_provider_keys, lambda shape: shape.has(b"-", b"_", b"AAAA", b"AAaa"), ("provider_key",)),
    (_aws_secret_keys, lambda shape: shape.base64_run(40), ("aws_secret",)),
    (_bearer_tokens, lambda shape: "earer" in shape.text, ("bearer",)),
    (_basic_auth, lambda shape: "asic" in shape.text, ("basic",)),
    (_jwts, lambda shape: "eyJ" in shape.text, ("jwt",)),
    (_private_keys, lambda shape: "-----BEGIN" in shape.text, ("private_key",)),
    (_named_secrets, lambda shape: True, ("secret_word",)),
    (_cli_secrets, lambda shape: " -p" in shape.text or " -u" in shape.text or "--" in shape.text,
     ("cli_gate", "cli_flag")),
    (_url_passwords, lambda shape: "://" in shape.text, ("url_password",)),
)


def find_secrets(text: str) -> list[Entity]:
    shape = Shape(text)
    return [entity for find, gate, _ in SECRET_FINDERS if gate(shape) for entity in find(text)]
