"""Identity fields (``user_id``, ``session_id``, ``team``, ``app``): no raw PII in the store.

Apps often use an e-mail address or a phone number as the user id. Each identity value goes through the
same detection as captured text, and:

* an id that holds PII is stored as a keyed hash (``hmac:`` + 32 hex digits of HMAC-SHA256 over the raw
  value) when a key is configured (``LLMPULSE_ID_HASH_KEY``): the same user keeps one id, so per-user cost
  and budgets still work, and nobody without the key can confirm a guess;
* without a key it is replaced by its redacted form (``<EMAIL>``, ``shop-<PHONE>``): no PII is stored, but
  users whose ids are e-mail addresses are no longer told apart;
* with ``LLMPULSE_HASH_IDS=true`` every ``user_id`` and ``session_id`` is stored as a keyed hash, PII or
  not (``team`` and ``app`` stay readable: alert rules, budgets and dashboards name them).

A value that is entirely a phone number in one of the configured regions (``4155550132``, ``+4915123456789``)
counts as PII even without the separators or the phone word that text needs. Values are cleaned once per
distinct value of a batch column: the plain ids among them (``cannot_hold_pii``) are told apart in one pass of
Arrow's RE2 over the column's distinct values (``plain_ids``), and only the others go through detection, one
by one, with a bounded cache keeping the work off repeated ids.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.privacy.credentials import _KEY_PREFIX, _SECRET_WORD
from llmpulse.privacy.documents import _BIRTH_HINT, PASSPORT_HINTS, may_name_a_passport
from llmpulse.privacy.phones import DEFAULT_PHONE_REGIONS, is_phone_number
from llmpulse.privacy.redact import _NUMERIC, Redactor, default_redactor
from llmpulse.settings import Settings

#: the identity fields of a call event that PII detection applies to
ID_FIELDS = ("user_id", "session_id", "team", "app")
#: the fields ``hash_all`` hashes whatever they hold
HASHED_FIELDS = ("user_id", "session_id")
HASH_PREFIX = "hmac:"
_CACHE_LIMIT = 100_000
# An e-mail address inside an id ("sess-jane@acme.io-1"): looser than in text, where "-1" after the
# domain would make it something else.
_ID_EMAIL = re.compile(r"[^\s@<>]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


# Small letters, digits, "-" and "_" only: no "@" (e-mail), no ":" (IPv6), no "." (IPv4), no space (every
# address pattern, name cue and small-letter introduction needs one), no capital (names, JWTs, AWS keys).
_PLAIN_ID = re.compile(r"[a-z0-9_-]{1,64}", re.ASCII)


def cannot_hold_pii(value: str) -> bool:
    """``value`` is a plain id that no recognizer can find anything in: the same gates ``Redactor.detect`` and
    the recognizers use say no (no digit run or id shape, no provider-key prefix, no secret, birth or passport
    word, no "--" flag), so the answer equals a full detection's, without running one."""
    return (
        _PLAIN_ID.fullmatch(value) is not None
        and _NUMERIC.search(value) is None
        and "--" not in value
        and _KEY_PREFIX.search(value) is None
        and _SECRET_WORD.search(value) is None
        and _BIRTH_HINT.search(value) is None
        and not may_name_a_passport(value)  # the value is in small letters
    )


def _re2(pattern: re.Pattern[str]) -> str:
    """``pattern`` in RE2's syntax: ``\\uXXXX`` escapes become ``\\x{XXXX}``, the rest is the same."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", r"\\x{\1}", pattern.pattern)


# cannot_hold_pii as two RE2 searches: the plain-id shape, and any of the gates that would send a plain id to
# detection (Python's searches and RE2's agree on whether these patterns match: tests/privacy/test_identity_plain.py)
_PLAIN_ID_RE2 = f"^(?:{_PLAIN_ID.pattern})$"
_MAY_HOLD_RE2 = "|".join(
    f"(?:{p})" for p in (_re2(_NUMERIC), "--", _re2(_KEY_PREFIX), _re2(_SECRET_WORD), _re2(_BIRTH_HINT),
                         *map(re.escape, PASSPORT_HINTS))
)  # fmt: skip


def plain_ids(values: pa.Array) -> np.ndarray:
    """``cannot_hold_pii`` of each value of a string array, in two vectorised passes (null: False)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    plain = pc.fill_null(pc.match_substring_regex(values, _PLAIN_ID_RE2), False)
    may_hold = pc.fill_null(pc.match_substring_regex(values, _MAY_HOLD_RE2), True)
    return np.asarray(pc.and_(plain, pc.invert(may_hold)).to_numpy(zero_copy_only=False), dtype=bool)


def hash_id(key: bytes, value: str) -> str:
    """The stored form of ``value`` under ``key``: ``hmac:`` + 128 bits of HMAC-SHA256, hex."""
    return HASH_PREFIX + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class IdentityCleaner:
    """Turns identity values into what may be stored. Immutable configuration, thread-safe."""

    __slots__ = ("_cache", "_key", "_redactor", "hash_all", "phone_regions")

    def __init__(
        self,
        key: bytes | None = None,
        *,
        hash_all: bool = False,
        redactor: Redactor | None = None,
        phone_regions: Iterable[str] = DEFAULT_PHONE_REGIONS,
    ) -> None:
        if hash_all and not key:
            raise ValueError("hashing every id needs a key (LLMPULSE_ID_HASH_KEY)")
        self._key = key or None
        self.hash_all = hash_all
        self._redactor = redactor or default_redactor()
        self.phone_regions = tuple(phone_regions)
        # (field kind, value) -> (stored value, detections); dict operations are atomic under the GIL
        self._cache: dict[tuple[bool, str], tuple[str, int]] = {}

    def clean(self, field: str, value: str) -> tuple[str, int]:
        """The value to store for ``field`` and the number of PII items found in ``value``."""
        if not value:
            return value, 0
        hashed_field = self.hash_all and field in HASHED_FIELDS
        cached = self._cache.get((hashed_field, value))
        if cached is not None:
            return cached
        result = self._clean(value, hashed_field)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[(hashed_field, value)] = result
        return result

    def _clean(self, value: str, hashed_field: bool) -> tuple[str, int]:
        if value.startswith(HASH_PREFIX) and self._key is not None and len(value) == len(HASH_PREFIX) + 32:
            return value, 0  # already a keyed hash (the app hashed it, or a replay): keep it
        found = self._detections(value)
        if self._key is not None and (found or hashed_field):
            return hash_id(self._key, value), found
        if not found:
            return value, 0
        if is_phone_number(value.strip(), self.phone_regions):
            return "<PHONE>", found
        redacted = self._redactor.redact(value).text
        return _ID_EMAIL.sub("<EMAIL>", redacted) if "@" in redacted else redacted, found

    def _detections(self, value: str) -> int:
        if cannot_hold_pii(value):
            return 0
        count = len(self._redactor.detect(value))
        if count == 0 and (
            ("@" in value and _ID_EMAIL.search(value)) or is_phone_number(value.strip(), self.phone_regions)
        ):
            count = 1
        return count

    def clean_column(self, field: str, column: pa.Array) -> tuple[pa.Array, np.ndarray]:
        """Clean a string column: each distinct value once. Returns the new column and the detections per row."""
        n = len(column)
        if n == 0:
            return column, np.zeros(0, dtype=np.int64)
        encoded = pc.dictionary_encode(column)
        assert isinstance(encoded, pa.DictionaryArray)
        dictionary = encoded.dictionary
        hashed_field = self.hash_all and field in HASHED_FIELDS
        # a plain id is stored as it is, with no detection (unless every id of the field is hashed)
        rest = np.arange(len(dictionary)) if hashed_field else np.flatnonzero(~plain_ids(dictionary))
        values = pc.take(dictionary, pa.array(rest, pa.int64())).to_pylist()
        cleaned = [self.clean(field, v) if v is not None else (v, 0) for v in values]
        found = np.zeros(len(dictionary), dtype=np.int64)
        found[rest] = [c[1] for c in cleaned]
        per_row = found[pc.fill_null(encoded.indices, 0).to_numpy()]
        if encoded.indices.null_count:
            per_row[np.asarray(encoded.indices.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = 0
        if not per_row.any() and not hashed_field:
            return column, per_row
        stored = dictionary.to_pylist()
        for i, (value, _) in zip(rest.tolist(), cleaned, strict=True):
            stored[i] = value
        return pc.take(pa.array(stored, pa.string()), encoded.indices), per_row


def id_cleaner(settings: Settings) -> IdentityCleaner:
    """The cleaner the stream worker uses, from ``LLMPULSE_ID_HASH_KEY`` and ``LLMPULSE_HASH_IDS``."""
    key = settings.id_hash_key.get_secret_value().encode("utf-8") if settings.id_hash_key is not None else None
    return IdentityCleaner(key, hash_all=settings.hash_ids)
