"""Detect and redact PII in prompt/response text before it leaves the stream job.

``Redactor.redact`` replaces every detected value with a typed placeholder (``<EMAIL>``,
``<PHONE>``, ``<CREDIT_CARD>``, ``<IBAN>``, ``<US_SSN>``, ``<NATIONAL_ID>``, ``<IP_ADDRESS>``,
``<SECRET>``) and counts the detections per type. A ``Redactor`` holds only configuration and
compiled patterns: it is immutable, deterministic and safe to share between threads.

Validators come from maintained libraries: ``phonenumbers`` (libphonenumber metadata),
``python-stdnum`` (Luhn, IBAN, SSN and national-id check digits) and the stdlib ``ipaddress``.
presidio-analyzer was tried and left out: it installs spaCy (about 390 MB with its dependencies)
even for pattern-only use, its e-mail recognizer fetches the public-suffix list over the network
on first use, and its phone recognizer took about 19 ms per KB of text here.

Speed: most text carries no PII. Each recognizer has a gate over the text's character classes
(``llmpulse.privacy.shape``: one translation per text, then substring tests) that asks for what every
match must contain, so a recognizer that cannot match is not run: no IBAN search without two capitals
and two digits, no card search without four digits in a row, no name search in capitalised words
without a capital. The number-shaped recognizers (cards, IBANs, SSNs, national ids, IPv4, phones) also
need a digit run or an id shape (``_NUMERIC``); the secret rules each need their prefix or word. The
validators (libphonenumber, check digits) run only on candidates, and phones, the slowest, skip spans
another type already took.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from llmpulse.privacy.credentials import SECRET_FINDERS
from llmpulse.privacy.documents import (
    find_bsn_and_tax_ids,
    find_dates_of_birth,
    find_passports,
    may_hold_bsn_or_tax_id,
    may_hold_date_of_birth,
)
from llmpulse.privacy.entity import (
    ADDRESS,
    ALL_TYPES,
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
    Entity,
    resolve_overlaps,
)
from llmpulse.privacy.people import (
    DEFAULT_NAMES_PER_COUNTRY,
    NAME_LIST_SIZES,
    NameFinder,
    find_addresses,
    may_hold_address,
)
from llmpulse.privacy.phones import DEFAULT_PHONE_REGIONS, PhoneFinder
from llmpulse.privacy.prefilter import Prefilter, prefilter
from llmpulse.privacy.recognizers import (
    NATIONAL_ID_FINDERS,
    find_credit_cards,
    find_emails,
    find_ibans,
    find_ipv4,
    find_ipv6,
    find_us_ssns,
    may_hold_credit_card,
    may_hold_iban,
    may_hold_ipv4,
    may_hold_ipv6,
    may_hold_us_ssn,
)
from llmpulse.privacy.shape import Shape, shape_of

__all__ = ["ALL_TYPES", "Entity", "RedactionResult", "Redactor", "default_redactor"]

#: prefilter hit sets whose plan (finders to run) is remembered
_PLANS_KEPT = 4096
# A run of 7+ digit/separator characters, or the letter-digit shapes of an Italian codice
# fiscale or a UK National Insurance number: without one, no number-shaped PII can be there.
# (the separators: ASCII ones, non-breaking spaces, the Unicode hyphens and dashes U+2010-U+2014, the minus sign)
_NUMERIC = re.compile(
    r"\d[\d ().\-/\u00a0\u202f\u2010-\u2014\u2212]{5,}\d|\d\d[A-Za-z]\d\d|\d\d ?\d\d ?\d\d ?[A-Da-d]", re.ASCII
)


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """The redacted text and how many values of each type were replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


def _anywhere(shape: Shape) -> bool:
    return True


def _has_at(shape: Shape) -> bool:
    return b"@" in shape.classes


@dataclass(frozen=True, slots=True)
class _Recognizer:
    """``find`` runs when ``gate`` says a match is possible and, for the number-shaped types, when the text
    has a digit run or an id shape (``_NUMERIC``). Where the text was scanned by the prefilter, ``find`` runs
    when all patterns of one group of ``needs`` are present instead (the groups of a number-shaped type hold
    ``numeric``, ``_NUMERIC`` as a prefilter pattern)."""

    type: str
    find: Callable[[str], list[Entity]]
    gate: Callable[[Shape], bool]
    needs: tuple[tuple[str, ...], ...]
    numeric: bool = False

    def wanted(self, hits: frozenset[str]) -> bool:
        return any(hits.issuperset(group) for group in self.needs)


def _numeric(*needs: str) -> tuple[tuple[str, ...], ...]:
    """Groups that each need ``numeric`` and one of ``needs``."""
    return tuple(("numeric", need) for need in needs)


class Redactor:
    """Find PII and replace it with ``<TYPE>`` placeholders.

    ``types`` limits detection to some of ``ALL_TYPES``; ``phone_regions`` are the regions whose
    national formats are accepted for numbers written without a ``+``/``00`` country prefix.
    """

    __slots__ = ("_phones", "_plans", "_prefilter", "_recognizers", "phone_regions", "types")
    #: the name-list sizes ``names_per_country`` is cross-validated among (benchmarks/pii_bench.py)
    NAME_LIST_SIZES = NAME_LIST_SIZES

    def __init__(
        self,
        types: Iterable[str] | None = None,
        phone_regions: Iterable[str] = DEFAULT_PHONE_REGIONS,
        names_per_country: int = DEFAULT_NAMES_PER_COUNTRY,
    ) -> None:
        wanted = tuple(ALL_TYPES if types is None else types)
        unknown = sorted(set(wanted) - set(ALL_TYPES))
        if unknown:
            raise ValueError(f"unknown PII types {unknown}; known: {list(ALL_TYPES)}")
        self.types: frozenset[str] = frozenset(wanted)
        self.phone_regions: tuple[str, ...] = tuple(phone_regions)
        every: tuple[_Recognizer, ...] = (
            *(_Recognizer(SECRET, find, gate, (needs,)) for find, gate, needs in SECRET_FINDERS),
            _Recognizer(EMAIL, find_emails, _has_at, (("at",),)),
            _Recognizer(IBAN, find_ibans, may_hold_iban, _numeric("iban"), numeric=True),
            _Recognizer(CREDIT_CARD, find_credit_cards, may_hold_credit_card, _numeric("card"), numeric=True),
            _Recognizer(US_SSN, find_us_ssns, may_hold_us_ssn, _numeric("ssn"), numeric=True),
            *(_Recognizer(NATIONAL_ID, find, gate, _numeric(need), numeric=True)
              for find, gate, need in NATIONAL_ID_FINDERS),
            _Recognizer(NATIONAL_ID, find_bsn_and_tax_ids, may_hold_bsn_or_tax_id,
                        (("numeric", "bsn_word", "bsn_number"), ("numeric", "tax_word", "tax_number")), numeric=True),
            _Recognizer(PASSPORT, find_passports, _anywhere, (("passport_word",),)),  # gated on a passport word
            _Recognizer(DATE_OF_BIRTH, find_dates_of_birth, may_hold_date_of_birth,  # and on a birth word
                        (("birth_hint", "digit"),)),
            _Recognizer(IP_ADDRESS, find_ipv4, may_hold_ipv4, _numeric("ipv4"), numeric=True),
            _Recognizer(IP_ADDRESS, find_ipv6, may_hold_ipv6, (("ipv6",),)),
            _Recognizer(ADDRESS, find_addresses, may_hold_address,  # and on a street word
                        (("digit", "street_word"), ("digit", "street_suffix"), ("digit", "postcode_city"))),
        )
        if PERSON in self.types:
            names = NameFinder(names_per_country)
            every += (
                # ``NameFinder.capitalised``, one finder per pattern
                _Recognizer(PERSON, names.runs, NameFinder.may_hold_capitals, (("capital",),)),
                _Recognizer(PERSON, names.in_capitals, NameFinder.may_hold_capitals, (("caps_name",),)),
                _Recognizer(PERSON, names.after_initials, NameFinder.may_hold_capitals, (("initial_surname",),)),
                _Recognizer(PERSON, names.inverted, NameFinder.may_hold_capitals, (("inverted",),)),
                _Recognizer(PERSON, names.small_letters, _anywhere, (("small_cue",),)),
            )
        self._recognizers = tuple(r for r in every if r.type in self.types)
        # Phones run last and skip spans already taken: libphonenumber is the slowest validator.
        self._phones = PhoneFinder(self.phone_regions) if PHONE in self.types else None
        self._prefilter: Prefilter | None = prefilter()
        # prefilter hits -> (the finders to run, whether phones are looked for); few distinct sets of hits occur
        self._plans: dict[frozenset[str], tuple[tuple[Callable[[str], list[Entity]], ...], bool]] = {}

    def detect(self, text: str) -> list[Entity]:
        """Every PII value in ``text``, non-overlapping, ordered by position."""
        if not text:
            return []
        scanner = self._prefilter
        hits = scanner.hits(text) if scanner is not None else None
        if hits is None or scanner is None:
            return self._detect_by_shape(text)
        plan = self._plans.get(hits)
        if plan is None:
            plan = self._plan(hits)
        finders, phones = plan
        found: list[Entity] = []
        for find in finders:
            found.extend(find(text))
        found = resolve_overlaps(found)
        if phones and self._phones is not None:
            found = resolve_overlaps(found + self._phones(text, found, scanner.phone_runs(text)))
        return found

    def _plan(self, hits: frozenset[str]) -> tuple[tuple[Callable[[str], list[Entity]], ...], bool]:
        plan = (tuple(r.find for r in self._recognizers if r.wanted(hits)), "numeric" in hits and "phone" in hits)
        if len(self._plans) < _PLANS_KEPT:
            self._plans[hits] = plan
        return plan

    def _detect_by_shape(self, text: str) -> list[Entity]:
        """``detect`` with the character-class gates (odd texts, or no Hyperscan)."""
        shape = shape_of(text)
        numeric: bool | None = None
        found: list[Entity] = []
        for recognizer in self._recognizers:
            if recognizer.numeric:
                if numeric is None:
                    numeric = _NUMERIC.search(text) is not None
                if not numeric:
                    continue
            if recognizer.gate(shape):
                found.extend(recognizer.find(text))
        found = resolve_overlaps(found)
        if self._phones is not None and (numeric if numeric is not None else _NUMERIC.search(text) is not None):
            found = resolve_overlaps(found + self._phones(text, found))
        return found

    def redact(self, text: str) -> RedactionResult:
        """``text`` with each detected value replaced by ``<TYPE>``, and the counts per type."""
        return _replace(text, self.detect(text))

    def redact_bytes(self, data: bytes) -> tuple[bytes, dict[str, int]]:
        """Redact a raw payload (say, a dead-letter record); invalid UTF-8 becomes U+FFFD. Payloads are often
        JSON, where a text's line breaks and quotes are escapes (``\\n``, ``\\"``): the text is also read with
        each escape turned into the character it stands for and a space (offsets unchanged), so that a name at
        the start or end of an escaped line is seen as one."""
        text = data.decode("utf-8", errors="replace")
        entities = self.detect(text)
        if "\\" in text:
            unescaped = _JSON_ESCAPE.sub(lambda m: _JSON_ESCAPES[m.group(1)], text)
            entities = resolve_overlaps(entities + self.detect(unescaped))
        result = _replace(text, entities)
        return result.text.encode("utf-8"), result.counts


# an escape and what stands in for it, of the same length: a line break ends the line where the escape
# starts; a quote stays where it is written
_JSON_ESCAPES = {"n": "\n ", "t": "\t ", "r": "\r ", '"': ' "', "\\": "  ", "/": " /"}
_JSON_ESCAPE = re.compile(r'\\([ntr"\\/])')


def _replace(text: str, entities: list[Entity]) -> RedactionResult:
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


@lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """The shared, immutable redactor of this process: every type and the built-in phone regions, unless
    ``LLMPULSE_PII_TYPES`` / ``LLMPULSE_PII_PHONE_REGIONS`` say otherwise."""
    from llmpulse.settings import get_settings

    settings = get_settings()
    return redactor_for(settings.pii_types, settings.pii_phone_regions)


def redactor_for(types: str | None, phone_regions: str | None) -> Redactor:
    """A redactor from the comma-separated setting values (unset: all types, the built-in regions)."""
    chosen = [t.strip().upper() for t in types.split(",") if t.strip()] if types else None
    regions = [r.strip().upper() for r in phone_regions.split(",") if r.strip()] if phone_regions else None
    return Redactor(types=chosen, phone_regions=regions or DEFAULT_PHONE_REGIONS)
