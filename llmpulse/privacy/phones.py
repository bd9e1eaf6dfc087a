"""Phone numbers: a cheap candidate regex, shape rules, then libphonenumber's validity check.

Numbers with a ``+``/``00`` country prefix are checked as international numbers. Numbers without
one are checked against a short list of regions (``DEFAULT_PHONE_REGIONS``); they must be written
the way people write phone numbers: with separators (``(415) 555-0132``, ``06 12 34 56 78``) or
after a phone word ("tel", "call", "Handy", "llámame", …), and with the trunk ``0`` in regions
that dial one (a German or French number starts with ``0``; Indian mobiles and Brazilian
``(11) …`` numbers are the common exceptions). Dates, ZIP+4 codes, SSN-shaped (3-2-4), EIN-shaped
(2-7) and thousand-grouped numbers, opening hours ("09.00-17.30"), and numbers right after an id word
("order", "SKU", "part", "ISBN", "#", a "...nummer" compound that names no phone, …, also with "is"
between) are not phones. Each region's length list and general number pattern from the
libphonenumber metadata screen a candidate before libphonenumber's per-type validity check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from llmpulse.privacy.entity import PHONE, Entity, SpanSet, window_before

_VERDICTS_KEPT = 20_000
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "JP", "BR", "AU", "CA")

_A = re.ASCII
# A run of phone characters that starts with "+", "(" or a digit and ends with a digit. The
# run is bounded so the scan stays linear; the "not inside a longer token" look-behind sits
# after the first character so the engine can skip to candidate positions.
_PHONE = re.compile(
    r"(?:\+(?<![\w.+/#-]\+) ?\d|\((?<![\w.+/:#-]\()\+?\d|\d(?<![\w.+/#-]\d)(?<!\d:\d))"
    r"[\d ().\-/]{4,23}\d(?![\w-]|[.:/]\d)",
    _A,
)
_PHONE_WORDS = (
    "phone", "tel", "tél", "mobile", "mobil", "móvil", "cell", "call", "fax", "whatsapp", "sms", "text me",
    "reach me", "contact", "llama", "llámame", "chiama", "appel", "anruf", "ruf", "número", "numero",
    "nummer", "handy", "celular", "ligue", "bel me", "电话", "電話", "携帯", "お問い合わせ", "numéro", "portable",
    "joindre", "rappel", "telefoon", "mobiel", "cellulare", "telefono", "teléfono", "telefone", "rufnummer",
    "durchwahl", "bel ",
)  # fmt: skip
# one search instead of a loop of substring tests: a match anywhere is "some phone word is in the text"
_PHONE_WORD = re.compile("|".join(re.escape(word) for word in _PHONE_WORDS))
# A number right after one of these words (or after "<word> no." / "<word> #") is an identifier.
_ID_WORDS = frozenset(
    {"order", "invoice", "sku", "part", "p/n", "pn", "ref", "reference", "ticket", "tracking", "serial",
     "isbn", "isbn-10", "isbn-13", "ean", "gtin", "upc", "id", "item", "model", "case", "account", "acct",
     "bestellung", "bestellnummer", "commande", "pedido", "rechnung", "facture", "issue", "build", "job",
     "po", "batch", "lot", "art", "art.-nr", "artikel", "version", "transaction", "txn", "confirmation",
     "zip", "postal", "postcode", "plz", "customer", "client", "cliente", "member", "membership", "contract",
     "policy", "polizza", "dossier", "kundennummer", "kundennr", "kunden-nr", "mitgliedsnummer",
     "vertragsnummer", "aktenzeichen", "vorgangsnummer", "meeting", "passcode", "pin"}
)  # fmt: skip
_ID_SUFFIXES = frozenset({"no", "nr", "num", "number", "n°", "nº", "#", "id", "-nr"})
# Compound words for "number" (Dutch and German: "klantnummer", "Rechnungsnummer") name an identifier, unless their
# first part names a phone ("Telefonnummer", "Handynummer", "mobielnummer", "Rufnummer", "Servicenummer"; looked for
# anywhere in the word, which the window before the number may have cut: "[Mobil]telefonnummer").
_NUMBER_ENDINGS = ("nummer", "nummern")
_PHONE_STEMS = ("tel", "handy", "mobi", "ruf", "fax", "kontakt", "contact", "service", "hotline", "durchwahl",
                "whatsapp", "gsm", "sms", "nood", "zentral", "büro", "buero", "privat", "direkt")  # fmt: skip
_LINKING_WORDS = frozenset({"is", "ist", "lautet", "es", "est", "was", "are", "sind", "zijn", "era"})
_WORDS = re.compile(r"[\w/°º#-]+")
_DATE_DMY = re.compile(r"^\d{1,2}([./-])\d{1,2}\1\d{2,4}(?![\d./-]*\d)|^\d{1,2}([./-])\d{1,2}\2\d{2,4} ")
_DATE_YMD = re.compile(r"^\d{4}([./-])\d{1,2}\1\d{1,2}(?!\d)")
_NOT_PHONE_SHAPES = re.compile(
    r"^(?:\d{1,3}([ .,])\d{3}(?:\1\d{3})*"  # 1 234 567, 12.345.678
    r"|\d{5}-\d{4}"  # ZIP+4
    r"|\d{3}([ .-])\d{2}\2\d{4}"  # SSN (no region's phones are grouped 3-2-4)
    r"|[1-9]\d-\d{7}"  # US EIN (9 digits as 2-7 without a trunk 0)
    r"|(?:[01]?\d|2[0-4])[.:][0-5]\d ?[-\u2013] ?(?:[01]?\d|2[0-4])[.:][0-5]\d)$"  # hours: 09.00-17.30
)
_DELETE_DIGITS = str.maketrans("", "", "0123456789")
_SEPARATORS = frozenset(" .-/()")
_LEADING_GROUP = re.compile(r"^\d{1,3} (?=\S)")
_TRAILING_GROUP = re.compile(r"(?<=\S) \d{1,3}$")
_TRAILING_BRACKET = re.compile(r"(?<=\d) \([^)]*$")


@dataclass(frozen=True, slots=True)
class _Region:
    code: str
    country_code: int
    trunk: str
    lengths: frozenset[int]
    pattern: re.Pattern[str]


def _region(code: str) -> _Region:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(code)
    desc = metadata.general_desc if metadata is not None else None
    if metadata is None or desc is None:
        raise ValueError(f"unknown phone region {code!r}")
    return _Region(
        code,
        phonenumbers.country_code_for_region(code),
        metadata.national_prefix or "",
        frozenset(desc.possible_length or ()),
        re.compile(desc.national_number_pattern or r"\d+"),
    )


def _national_numbers(region: _Region, digits: str) -> list[str]:
    """The national significant numbers ``digits`` can stand for in ``region``."""
    nationals = [digits]
    if region.trunk and digits.startswith(region.trunk):
        nationals.insert(0, digits[len(region.trunk) :])
    return [n for n in nationals if len(n) in region.lengths and region.pattern.fullmatch(n)]


def _national_valid(value: str, regions: tuple[_Region, ...]) -> bool:
    """Valid in one of ``regions``. The metadata's length list and number pattern screen first;
    libphonenumber's per-type patterns decide. The digits are already extracted, so the number is
    built directly instead of going through the (slower) text parser."""
    digits = "".join(c for c in value if c.isdigit())
    trunk_written = value.startswith(("(", "0"))
    for region in regions:
        if region.trunk == "0" and not trunk_written and region.code != "IN":
            continue  # valid or not, such a number does not count here (the trunk rule below): skip the check
        for national in _national_numbers(region, digits):
            zeros = len(national) - len(national.lstrip("0"))
            number = phonenumbers.PhoneNumber(
                country_code=region.country_code,
                national_number=int(national),
                italian_leading_zero=zeros > 0 or None,
                number_of_leading_zeros=zeros if zeros > 1 else None,
            )
            if not phonenumbers.is_valid_number_for_region(number, region.code):
                continue
            # Where numbers are dialled with a trunk "0" (DE, FR, GB, JP, …), people write it, or
            # put the area code in brackets (BR); Indian mobiles are the common exception.
            if region.trunk != "0" or trunk_written:
                return True
            if region.code == "IN" and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
                return True
    return False


def _valid(value: str, regions: tuple[_Region, ...]) -> bool:
    if value.startswith("(+"):  # "(+34) 612 345 678"
        value = "+" + value[2:].replace(")", "", 1)
    try:
        if value.startswith("+"):
            return phonenumbers.is_valid_number(phonenumbers.parse(value, None))
        if value.startswith("00"):
            return phonenumbers.is_valid_number(phonenumbers.parse("+" + value[2:], None))
        return _national_valid(value, regions)
    except phonenumbers.NumberParseException:
        return False


def after_id_word(before: str) -> bool:
    """``before`` (lower-cased, the text just before a number) ends in a word that names an identifier."""
    words = _WORDS.findall(before[-20:])
    if words and words[-1] in _LINKING_WORDS:  # "order number is", "klantnummer is", "Kundennummer lautet"
        words.pop()
    if not words:
        return False
    last = words[-1].strip("-")
    if last in _ID_WORDS or last.startswith("#"):
        return True
    if last.endswith(_NUMBER_ENDINGS) and last not in _NUMBER_ENDINGS and not any(s in last for s in _PHONE_STEMS):
        return True  # a compound "... number" that is not a phone's: "klantnummer", "rechnungsnummer"
    return len(words) > 1 and last in _ID_SUFFIXES and words[-2].strip("-") in _ID_WORDS


def _shape_ok(value: str, before: str) -> bool:
    """Cheap checks before libphonenumber: length, brackets, dates, amounts, id words."""
    digits = len(value) - len(value.translate(_DELETE_DIGITS))  # value comes from the ASCII candidate
    if not 7 <= digits <= 15 or value.count("(") != value.count(")") or value.endswith("("):
        return False
    if value.startswith(("+", "00", "(+")):
        return True
    phone_word = _PHONE_WORD.search(before) is not None
    if not phone_word and _SEPARATORS.isdisjoint(value):
        return False  # a bare digit run needs a phone word (checked first: the cheapest reason to say no)
    if after_id_word(before):
        return False
    if _DATE_DMY.match(value) or _DATE_YMD.match(value):
        return False
    # "612 345 678" after "móvil" is a phone
    return not (_NOT_PHONE_SHAPES.match(value) and not phone_word)


class PhoneFinder:
    """Finds phone numbers; ``regions`` are the ISO codes tried for numbers without ``+``."""

    __slots__ = ("_regions", "_verdicts")

    def __init__(self, regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> None:
        self._regions = tuple(_region(code) for code in regions)
        # candidate -> valid in the regions (libphonenumber's answer, which depends on nothing else): texts
        # repeat their number-shaped values (versions, prices, the same number); dict operations are atomic
        self._verdicts: dict[str, bool] = {}

    def _valid(self, value: str) -> bool:
        verdict = self._verdicts.get(value)
        if verdict is None:
            verdict = _valid(value, self._regions)
            if len(self._verdicts) >= _VERDICTS_KEPT:
                self._verdicts.clear()
            self._verdicts[value] = verdict
        return verdict

    def __call__(self, text: str, taken: Sequence[Entity] = (),
                 runs: Sequence[tuple[int, int]] | None = None) -> list[Entity]:  # fmt: skip
        """Phone numbers in ``text``, skipping candidates that overlap a ``taken`` span (``taken``
        must not overlap itself). ``runs``, when given, are the ``[start, end)`` spans, in order, of the maximal
        runs of ``_PHONE``'s characters that hold seven digits or more (``Prefilter.phone_runs``): only those are
        searched. A match never leaves its run, and one with fewer than seven digits is skipped, so the
        candidates are the same; the two characters after a run are kept for the look-ahead."""
        found: list[Entity] = []
        spans = SpanSet()
        for entity in taken:
            spans.add(entity.start, entity.end)
        if runs is None:
            matches: Iterable[re.Match[str]] = _PHONE.finditer(text)
        else:
            matches = (m for start, end in runs for m in _PHONE.finditer(text, start, min(len(text), end + 2)))
        for m in matches:
            candidate = m.group()
            # the pattern is ASCII: its digits are 0-9, and the deleted characters are the digits
            if len(candidate) - len(candidate.translate(_DELETE_DIGITS)) < 7:
                continue
            if spans.overlaps(m.start(), m.end()):
                continue
            # The candidate, then without one short digit group that clings to it at either
            # end ("Room 12 (415) 555-0132", "call 415-555-0132 2 times").
            # (each trimming pattern needs a space: without one, the candidate is the only variant)
            variants = (
                (
                    candidate,
                    _LEADING_GROUP.sub("", candidate),
                    _TRAILING_GROUP.sub("", candidate),
                    _TRAILING_BRACKET.sub("", candidate),  # "1-800-555-0199 (24/7)"
                )
                if " " in candidate
                else (candidate,)
            )
            for trimmed in dict.fromkeys(variants):
                value = trimmed.strip(" .-/")
                if value.startswith("(") and value.count("(") > value.count(")"):
                    value = value[1:]  # "(+34 612 34 56 78)": the bracket belongs to the prose
                start = m.start() + candidate.find(value)
                if not value or not (value[0].isdigit() or value[0] in "+("):
                    continue
                before = window_before(text, start, 24).rstrip()
                if _shape_ok(value, before) and self._valid(value):
                    found.append(Entity(PHONE, start, start + len(value)))
                    break
        return found


def is_phone_number(value: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> bool:
    """``value`` as a whole is a valid phone number: international (``+``/``00``) or national in one of
    ``regions``, written with or without separators (identity fields: a user id that is a phone number)."""
    if not value or not (value[0].isdigit() or value[0] in "+(") or not 7 <= sum(c.isdigit() for c in value) <= 15:
        return False
    if any(not (c.isdigit() or c in " ().-/+") for c in value):
        return False
    return _valid(value, _regions(tuple(regions)))


@lru_cache(maxsize=16)
def _regions(codes: tuple[str, ...]) -> tuple[_Region, ...]:
    return tuple(_region(code) for code in codes)
