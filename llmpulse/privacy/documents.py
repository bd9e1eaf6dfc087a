"""Values that only a nearby keyword makes personal: passport numbers, dates of birth, the Dutch BSN and
the German tax id (Steuer-ID).

A passport number is a 6-9 character run of capitals and digits (with a digit) shortly after a passport
word ("passport no.", "Reisepass", "passeport", "pasaporte", "passaporto", "paspoort", "passaporte"), in
the same sentence. A date of birth is a date (``14/03/1987``, ``1987-03-14``, ``12 March 1984``,
``June 3rd, 1991``, ``3. Mai 1992``, ``8 avril 1969``, ``17 de marzo de 2001``) right after a birth word
("DOB", "date of birth", "born on", "birthday is", "Geburtsdatum", "geboren am", "né le",
"fecha de nacimiento", "data di nascita", "geboortedatum", "data de nascimento") with at most a couple
of filler words between, or right before "geboren"/"born". A BSN (9 digits, the eleven-test of
``stdnum.nl.bsn``) and a Steuer-ID (11 digits, ``stdnum.de.idnr``) need their name close by ("BSN",
"burgerservicenummer", "sofinummer"; "Steuer-ID", "Steueridentifikationsnummer", "IdNr", "tax id"):
without it, nine or eleven digits that pass a check digit are as likely an order number.
"""

from __future__ import annotations

import re

from stdnum.de import idnr
from stdnum.nl import bsn

from llmpulse.privacy.entity import DATE_OF_BIRTH, NATIONAL_ID, PASSPORT, Entity, lower_same_length
from llmpulse.privacy.shape import Shape

# --- passports ---------------------------------------------------------------------------------

_PASSPORT_WORDS = re.compile(
    r"pass(?:port|eport|aporte|aporto)|pasaporte|paspoort|reisepass|passnummer|pass-nr|travel document"
)


#: every passport word holds one of these: without one, in the lower-cased text, none is there
PASSPORT_HINTS = ("pas", "travel doc")


def may_name_a_passport(lowered: str) -> bool:
    """One of ``PASSPORT_HINTS`` is in the lower-cased text (else no passport word is)."""
    return any(hint in lowered for hint in PASSPORT_HINTS)


# After the word: a few short words or signs ("number", "no.", "#", ":", "is", "(German)"), no sentence end.
_PASSPORT_VALUE = re.compile(
    r"(?:[^.;!?\n]|(?<=[Nn][or])\.|(?<=[Nn]um)\.|\.(?!\s+[A-Z]|\s*$)){0,32}?"
    r"(?<![A-Za-z0-9])([A-Z0-9]{6,9})(?![A-Za-z0-9])"
)


def find_passports(text: str) -> list[Entity]:
    found: list[Entity] = []
    lowered = lower_same_length(text)
    if not may_name_a_passport(lowered):
        return found
    for word in _PASSPORT_WORDS.finditer(lowered):
        m = _PASSPORT_VALUE.match(text, word.end())
        if m is None:
            continue
        value = m.group(1)
        # letters and digits ("C01X00T47"), or eight or nine digits ("548293017"), never a year or a count
        if any(c.isdigit() for c in value) and (not value.isdigit() or len(value) >= 8):
            found.append(Entity(PASSPORT, m.start(1), m.end(1)))
    return found


# --- dates of birth ----------------------------------------------------------------------------

_MONTHS = (
    "jan(?:uary|uar|vier|eiro)?|feb(?:ruary|ruar|rero)?|f[ée]v(?:rier)?|fevereiro|m[äa]r(?:ch|z|s|zo|ço)?|"
    "apr(?:il)?|avr(?:il)?|abr(?:il)?|aprile|may|mai|mayo|maggio|mei|maio|jun(?:e|i|io)?|juin|giugno|"
    "jul(?:y|i|io)?|juil(?:let)?|luglio|julho|aug(?:ust|ustus)?|ao[uû]t|ago(?:sto)?|sep(?:t|tember|tiembre)?|"
    "sett(?:embre)?|setembro|oct(?:ober|obre|ubre)?|okt(?:ober)?|ott(?:obre)?|outubro|nov(?:ember|embre|embro)?|"
    "dec(?:ember)?|dez(?:ember|embro)?|d[ée]c(?:embre)?|dic(?:iembre|embre)?|juni|juli|januari|februari|maart|"
    "augustus|oktober|enero|marzo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|gennaio|febbraio|"
    "janvier|f[ée]vrier|mars|juin|septembre|octobre|novembre|d[ée]cembre|janeiro|mar[çc]o|junho|novembro"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?!\d)"
# a month name, whole: "juli" is not the start of "julio"
_MONTH = rf"(?:{_MONTHS})(?![^\W\d_])"
_DATE = re.compile(
    rf"(?:{_DAY}[./-](?:0?[1-9]|1[0-2])[./-](?:19|20)\d\d"  # 14.03.1987, 14/03/1987
    rf"|(?:0?[1-9]|1[0-2])(?P<us>[./-]){_DAY}(?P=us)(?:19|20)\d\d"  # 03/14/1987, 03-14-1987
    rf"|(?:19|20)\d\d(?P<sep>[-/.])(?:0?[1-9]|1[0-2])(?P=sep){_DAY}"  # 1987-03-14, 1987/03/14, 1991-9-9
    rf"|{_DAY}[./-](?:0?[1-9]|1[0-2])[./-]\d\d"  # 4/7/85
    rf"|(?:0?[1-9]|1[0-2])(?P<us2>[./-]){_DAY}(?P=us2)\d\d"  # 3/14/87
    rf"|{_DAY}(?:st|nd|rd|th|er|º)?\.?\s+(?:of\s+|de\s+)?{_MONTH}\.?"
    rf"(?:,?\s+(?:de\s+)?(?:(?:19|20)\d\d|['\u2019]?\d\d(?![\d:])))?"
    rf"|{_MONTH}\.?\s+{_DAY}(?:st|nd|rd|th)?(?:,?\s+(?:(?:19|20)\d\d|['\u2019]\d\d(?![\d:])))?"
    rf"|{_DAY}[- ]{_MONTH}[- ](?:(?:19|20)\d\d|\d\d(?!\d))"  # 5-Jan-1990, 31-Dec-85
    rf"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))"  # 19900605
    r"(?![\d/.-]\d)",
    re.IGNORECASE,
)
# Every branch starts with a letter, and each "not after a letter" check sits after that letter
# ("b(?<!\\wb)orn" is "\\bborn"): the engine then scans for the first letters in C instead of trying
# every branch at every position.
_BIRTH_WORDS = re.compile(
    r"d(?<![a-z]d)\.?o\.?b\b|date[ _]?of[ _]?birth|geb\.-datum|f\. ?nac(?:imiento|\.)|n[ée]\(e\)|n(?<!\wn)ac[ií]\b|"
    r"birth[ _]?date|b(?<!\wb)orn\b|birthday|fecha (?:de )?nac(?:imiento|\.)?|geburtsdatum|"
    r"geburtstag|g(?<!\wg)eb\.|g(?<!\wg)eboren\b|"
    r"n(?<!\wn)[ée]e?\b|date de naissance|fecha de nacimiento|nacid[oa]\b|f\. nac\.|data di nascita|"
    r"n(?<!\wn)at[oa]\b|geboortedatum|data de nascimento|nascid[oa]\b"
)
_BIRTH_HINTS = (
    "birth",
    "born",
    "dob",
    "d.o.b",
    "geb",
    "né",
    "nee",
    "naiss",
    "nacim",
    "nacid",
    "nascit",
    "nato",
    "nata",
    "geboorte",
    "nascim",
    "nascid",
    "nac.",
    "nací",
)
# one search for "a hint is in the text": every branch is a literal, so the engine scans by first letter
_BIRTH_HINT = re.compile("|".join(re.escape(hint) for hint in _BIRTH_HINTS))
# Between the word and the date: signs and at most two small words ("on", "le", "am", "is", "el", "em").
_BIRTH_FILLER = re.compile(
    r"""(?:\s?/\s?[^\W\d_]{2,12}\.?)?"""  # a second label: "DOB/Age"
    r"""[\s:="'\u2019,.|\u2013\u2014-]*(?:\([^()\n]{1,20}\)[\s:="',]*)?"""
    # a place before the date: "born in Boston on", "né à Lyon le", "geboren in München am"
    r"""(?:(?:in|à|a|en|au|im|te)\s+[A-ZÀ-Þ][\w'\u2019-]+(?:\s[A-ZÀ-Þ][\w'\u2019-]+)?,?\s+(?=(?:on|am|le|el|op)\s))?"""
    r"""(?:(?:on|am|le|el|il|em|op|is|was|ist|war|est|es|é|è|the|listed|given|recorded|shown|stated|as|says|:|-|"""
    r"""\u2013|monday|tuesday|wednesday|thursday|"""
    r"""friday|saturday|sunday|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)[\s:="',]+){0,3}""",
    re.I,
)
_BORN_WORDS = frozenset({"geboren", "born", "né", "née", "nacido", "nacida", "nato", "nata", "nascido", "nascida"})
_DATE_BEFORE = re.compile(rf"({_DATE.pattern})\s+$", re.IGNORECASE)


def may_hold_date_of_birth(shape: Shape) -> bool:
    """Every date pattern has a digit."""
    return shape.digits(1)


def find_dates_of_birth(text: str) -> list[Entity]:
    found: list[Entity] = []
    lowered = lower_same_length(text)
    if _BIRTH_HINT.search(lowered) is None:
        return found
    for word in _BIRTH_WORDS.finditer(lowered):
        filler = _BIRTH_FILLER.match(text, word.end())
        start = filler.end() if filler else word.end()
        m = _DATE.match(text, start)
        if m is not None:
            found.append(Entity(DATE_OF_BIRTH, m.start(), m.end()))
        elif "," in lowered[word.end() : word.end() + 2] or lowered[word.end() : word.end() + 1] in ("\t", ";"):
            found.extend(_csv_column_dates(text, word.start()))  # a table with a birth-date column
        elif word.group() in _BORN_WORDS:  # "am 3. Mai 1992 geboren": the date comes first
            before = _DATE_BEFORE.search(text, max(0, word.start() - 32), word.start())
            if before is not None:
                found.append(Entity(DATE_OF_BIRTH, before.start(1), before.end(1)))
    return found


def _csv_column_dates(text: str, header_at: int) -> list[Entity]:
    """Dates in the birth-date column of the rows under a CSV/TSV header line."""
    line_start = text.rfind("\n", 0, header_at) + 1
    line_end = text.find("\n", header_at)
    if line_end == -1:
        return []
    header = text[line_start:line_end]
    sep = "\t" if "\t" in header else ";" if header.count(";") > header.count(",") else ","
    column = header[: header_at - line_start].count(sep)
    found: list[Entity] = []
    position = line_end + 1
    for line in text[position:].split("\n")[:1000]:
        cells = line.split(sep)
        if len(cells) > column:
            offset = position + sum(len(c) + 1 for c in cells[:column])
            cell = cells[column].strip().strip("\"'")
            m = _DATE.fullmatch(cell) if cell else None
            if m is not None:
                start = text.find(cell, offset)
                found.append(Entity(DATE_OF_BIRTH, start, start + len(cell)))
        position += len(line) + 1
    return found


# --- Dutch BSN, German Steuer-ID ---------------------------------------------------------------

_BSN_WORDS = re.compile(r"\bbsn\b|burgerservicenummer|sofi-?nummer|citizen service number")
# every match of _BSN_WORDS holds one of these
_BSN_LITERALS = ("bsn", "burgerservicenummer", "sofi", "citizen service number")
_BSN = re.compile(r"\d(?<![\w.-]\d)(?:\d{3}\.\d\d\.\d{3}|\d\d ?\d{3} ?\d{3})(?![\w-]|[.,]\d| \d)")
_TAX_ID_WORDS = re.compile(
    r"steuer[-_ ]?id|steueridentifikationsnummer|identifikationsnummer|\bidnr\b|steuer-idnr|\btax id\b|\btin\b"
)
_TAX_ID = re.compile(r"\d(?<![\w.-]\d)\d ?\d{3} ?\d{3} ?\d{3}(?![\w-]|[.,]\d| \d)")
_NEAR = 48  # characters between the name of the number and the number


def _near_word(words: re.Pattern[str], lowered: str, start: int, end: int) -> bool:
    return words.search(lowered, max(0, start - _NEAR), start) is not None or (
        words.search(lowered, end, end + 16) is not None
    )


def may_hold_bsn_or_tax_id(shape: Shape) -> bool:
    """Both patterns have three digits in a row (``\\d`` here is any Unicode digit)."""
    return shape.digits(3)


def find_bsn_and_tax_ids(text: str) -> list[Entity]:
    """Nine digits that pass the eleven-test, or eleven that pass the Steuer-ID rules, with their name close."""
    found: list[Entity] = []
    lowered: str | None = None
    for pattern, valid, words in ((_BSN, bsn.is_valid, _BSN_WORDS), (_TAX_ID, idnr.is_valid, _TAX_ID_WORDS)):
        if words is _BSN_WORDS:
            lowered = lowered if lowered is not None else lower_same_length(text)
            if not any(literal in lowered for literal in _BSN_LITERALS):
                continue  # no BSN word anywhere, so none near a number
        for m in pattern.finditer(text):
            if not valid(re.sub(r"\D", "", m.group())):
                continue
            lowered = lowered if lowered is not None else lower_same_length(text)
            if _near_word(words, lowered, m.start(), m.end()):
                found.append(Entity(NATIONAL_ID, m.start(), m.end()))
    return found
