"""One pass over a text that tells which recognizers can find anything in it (Hyperscan, all patterns at once).

Each recognizer's search is one or more Python regular expressions over the whole text, a few µs per KB each
even where nothing matches. Most text holds no PII and few of the things a recognizer needs, so the redactor
first scans the text's UTF-8 bytes once with a Hyperscan database of *necessary conditions*: for each recognizer,
patterns at least one of which matches wherever the recognizer could find something (a digit run of a card
number, a provider key prefix, a street word standing as a token, a birth word, a cue before a name in small
letters, ...). A recognizer whose conditions are all absent is not run: it would have found nothing. Where a
condition is present, the recognizer runs as before, on the whole text, so its output is unchanged.

Every pattern here is a superset of what its recognizer needs: look-arounds are left out, upper bounds dropped,
``\\b`` kept only next to an ASCII letter (where Hyperscan's ASCII word boundary holds whenever Python's does).
Words that a recognizer looks for in the lower-cased text are matched in every letter case that lower-cases to
them (``_caseless``: from this Python's Unicode tables, so "É" stands for "é" and "ẞ" for "ß").

Python's ``\\s`` and ``str.split`` take non-ASCII white space (no-break spaces, U+2000-U+200A, ...); the
patterns take it too, as UTF-8. A text holding a character that would still make a byte pattern disagree with
Python's ``re`` (a non-ASCII digit, which ``\\d`` matches; a character whose lower case is two characters, like
"İ", or ASCII, like "K", the Kelvin sign) is *odd*: ``hits`` returns None and the redactor uses the
character-class gates of ``llmpulse.privacy.shape`` instead, as it did before. So does every text when Hyperscan
is not installed (it is an x86-64 library).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

try:
    import hyperscan
except ImportError:  # pragma: no cover - not on x86-64: every text takes the character-class gates
    hyperscan = None  # type: ignore[assignment]

# Python's ``\s`` (str patterns) on ASCII (``_patterns`` adds the non-ASCII white space). ``[^...]`` classes that
# stand for an ASCII-mode ``[^\s...]`` use ``_WS_ASCII``, which leaves out \x1c-\x1f as ``re.ASCII`` does.
_WS = r"\t\n\x0b\x0c\r\x1c-\x1f "
_WS_ASCII = r"\t\n\x0b\x0c\r "
_BOUNDARY_STRIP = r"""[.,;:()"']"""  # what ``_is_street_token`` strips off a token's ends


@lru_cache(maxsize=1)
def _unicode_tables() -> tuple[str, str, dict[str, tuple[str, ...]]]:
    """(every odd character, every non-ASCII white space character, {character: the characters whose one-character
    lower case it is}), from this Python's Unicode database (about 0.1 s)."""
    codes = np.concatenate([np.arange(0, 0xD800, dtype=np.uint32), np.arange(0xE000, 0x110000, dtype=np.uint32)])
    every = codes.tobytes().decode("utf-32-le")
    non_ascii = every[0x80:]
    odd = set(re.findall(r"\d", non_ascii))
    spaces = "".join(re.findall(r"\s", non_ascii))
    preimages: dict[str, list[str]] = {}
    bmp_end = 0xD800 + (0x10000 - 0xE000)
    bmp, astral = every[:bmp_end], every[bmp_end:]
    lowered_astral = astral.lower()
    # astral characters lower-case to astral ones, one each (checked: else look at each of them too)
    per_char = bmp if len(lowered_astral) == len(astral) and re.search("[\x00-\uffff]", lowered_astral) is None \
        else every  # fmt: skip
    for c in per_char:
        lower = c.lower()
        if len(lower) != 1 or (lower.isascii() and not c.isascii()):
            odd.add(c)  # "İ" (two characters), "K" (Kelvin: ASCII)
        elif lower != c:
            preimages.setdefault(lower, []).append(c)
    return "".join(sorted(odd)), spaces, {k: tuple(v) for k, v in preimages.items()}


def _byte_alternatives(chars: Iterable[str]) -> str:
    """A pattern matching the UTF-8 encoding of any of ``chars``: per leading bytes, a class of last bytes."""
    by_lead: dict[bytes, set[int]] = {}
    for c in set(chars):
        encoded = c.encode("utf-8")
        by_lead.setdefault(encoded[:-1], set()).add(encoded[-1])
    parts = [
        "".join(f"\\x{b:02x}" for b in lead) + "[" + "".join(f"\\x{b:02x}" for b in sorted(last)) + "]"
        for lead, last in sorted(by_lead.items())
    ]
    return parts[0] if len(parts) == 1 else f"(?:{'|'.join(parts)})"


def _caseless(word: str, space: str | None = None) -> str:
    """``word`` (lower case) in any letter case that ``lower_same_length`` turns into it (ASCII letters: their
    capital; no other character lower-cases to one in a text that is not odd); with ``space``, each space of
    ``word`` stands for that pattern."""
    _, _, preimages = _unicode_tables()
    out = []
    ascii_run = ""
    for c in word:
        assert c.lower() == c, word
        if c.isascii() and not (space is not None and c == " "):
            ascii_run += re.escape(c)
            continue
        if ascii_run:
            out.append(f"(?i:{ascii_run})")
            ascii_run = ""
        out.append(space if c == " " and space is not None else _byte_alternatives((c, *preimages.get(c, ()))))
    if ascii_run:
        out.append(f"(?i:{ascii_run})")
    return "".join(out)


def _any_of(words: Iterable[str], space: str | None = None) -> str:
    return "(?:" + "|".join(_caseless(w, space) for w in words) + ")"


# Non-ASCII capitals of ``people._UPPER`` (À-Ö, Ø-Þ, Ā-Ž), as UTF-8: a superset (Ā-Ž holds small letters too)
_UPPER_NON_ASCII = r"(?:\xc3[\x80-\x96\x98-\x9e]|\xc4[\x80-\xbf]|\xc5[\x80-\xbd])"


_SHORT = 3  # street words this long or shorter are looked for with the characters around them, as literals
# what may stand before or after a street word that is a whole token: white space, or what _is_street_token strips;
# after one, also a backslash (_is_street_token reads a token up to one: "St\\nSan Francisco" in a JSON string)
_TOKEN_EDGES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f .,;:()\"'\\"  # and non-ASCII white space
# people._SMALL_CUE reads these characters as spaces (a cue starts after one, or at the start of the text)
_CUE_SPACES = ' \t\n\r"('
_SMALL_CUES = ("my name is", "my name's", "me llamo", "me chamo", "mein name ist", "mijn naam is", "mi chiamo",
               "meu nome é", "i'm", "i am", "ich heiße", "call me", "je m'appelle", "this is", "tell", "thanks", "soy",
               "sono", "je suis", "ik ben", "ich bin", "ping", "ask", "hi", "hello", "hey", "dear")  # fmt: skip


def _standing(words: Iterable[str], before: str, then: str) -> list[str]:
    """Patterns for each of ``words`` (any letter case; a space inside one stands for any of ``before``) right
    after one character of ``before`` or at the start of the text, and followed by ``then``. One pattern per
    character before a word: a literal that long is found faster than a short word after a class."""
    space = _byte_alternatives(before)
    out = []
    for word in words:
        core = _caseless(word, space)
        out.append(f"^{core}{then}")
        out += ["".join(f"\\x{b:02x}" for b in c.encode("utf-8")) + core + then for c in before]
    return out


def _patterns() -> dict[str, str | list[str]]:
    """name -> Hyperscan pattern over the text's UTF-8 bytes; each names the code it stands for."""
    from llmpulse.privacy.documents import _BIRTH_HINTS
    from llmpulse.privacy.people import _STREET_SUFFIXES, _STREET_WORDS

    _, spaces, _ = _unicode_tables()
    ws = f"(?:[{_WS}]|{_byte_alternatives(spaces)})"  # Python's \\s
    edges = _TOKEN_EDGES + spaces  # around a token: white space, or what _is_street_token strips
    # after a street word or suffix that ends its token: a stripped character or white space, or the end (one
    # character: a repeat before "$" costs Hyperscan much more)
    street_end = f"(?:{_byte_alternatives(edges)}|$)"
    # the non-ASCII number separators of redact._NUMERIC and the SSN patterns: no-break spaces, U+2010-U+2014
    # (hyphens, dashes), U+2212 (minus)
    unicode_seps = _byte_alternatives(["\u00a0", "\u202f", *map(chr, range(0x2010, 0x2015)), "\u2212"])
    ssn_sep = f"{ws}|[.\\-/]|{unicode_seps}"
    return {
        # redact._NUMERIC, exactly (its non-ASCII separators as their UTF-8 bytes)
        "numeric": rf"\d(?:[\d ().\-/]|{unicode_seps}){{5,}}\d|\d\d[A-Za-z]\d\d|\d\d ?\d\d ?\d\d ?[A-Da-d]",
        "digit": r"\d",
        # phones.PhoneFinder: a candidate of seven digits at least, with only phone separators between them
        "phone": r"\d(?:[ ().\-/]*\d){6}",
        # --- secrets (credentials.SECRET_FINDERS) ---
        # credentials._KEY_PREFIX, exactly
        "provider_key": r"sk-|sk_(?:live|test)_|rk_(?:live|test)_|A(?:KIA|SIA|BIA|CCA|IDA|ROA|IPA|NPA|NVA|GPA)"
        r"|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|AIza|hf_",
        "aws_secret": r"[A-Za-z0-9/+]{40}",  # _AWS_SECRET
        "bearer": rf"[Bb]earer[{_WS}]+[A-Za-z0-9._~+/\-]{{16}}",  # _BEARER
        "basic": rf"[Bb]asic[{_WS}]+[A-Za-z0-9+/]{{8}}",  # _BASIC
        "jwt": r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ",  # _JWT
        "private_key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY",  # _PRIVATE_KEY_BEGIN
        # _SECRET_WORD over the lower-cased text (every assignment and prose trigger holds one)
        "secret_word": _any_of(("pass", "secret", "token", "key", "pwd", "credential", "senha", "contrase", "clave",
                                "chiave", "clé", "kennwort", "wachtwoord")),
        "cli_gate": r" -p| -u|--",  # the character-class gate of _cli_secrets, exactly
        # _CLI_FLAG: a flag after white space (or at the start), then "=" or white space
        "cli_flag": rf"(?:^|{ws})(?:--(?:password|passwd|token|api-key|apikey|secret|client-secret|user)|-p|-u)"
        rf"(?:=|{ws})",
        # _URL_PASSWORD (ASCII): "://", user, ":", password, "@"
        "url_password": rf"://[^{_WS_ASCII}:/@]*:[^{_WS_ASCII}@/]+@",
        # --- e-mail, number-shaped types (recognizers.py, documents.py) ---
        "at": "@",
        "iban": r"[A-Z]{2}\d\d ?[A-Z0-9]{4} ?[A-Z0-9]{4}",  # _IBAN: two groups of four at least
        "card": r"\d{4}[ .\-]\d{4}|\d{4}[ \-]\d{6}|\d{12}",  # _CARD's three branches
        # _SSN and _SSN_ANY: 3, 2, 4 digits, with (at most) their separators between
        # (a separator: white space, ".", "-", "/", U+2010-U+2014 hyphens and dashes, U+2212 minus)
        "ssn": rf"\d{{3}}(?:{ssn_sep}){{0,3}}\d\d(?:{ssn_sep}){{0,3}}\d{{4}}",
        # recognizers.NATIONAL_ID_FINDERS: _DIGIT_FIRST_IDS (DNI, CPF, NIR, Aadhaar), _ES_NIE, _IT_CF (from its
        # digits on), _GB_NINO
        "id_digit_first": r"\d{8}-?[A-Z]|\d{3}\.\d{3}\.\d{3}-\d\d|[12] ?\d\d ?\d\d ?(?:\d\d|2[AB]) ?\d{3} ?\d{3} ?\d\d"
        r"|[2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4}",
        "id_es_nie": r"[XYZ]-?\d{7}-?[A-Z]",
        "id_it_cf": r"\d\d[A-EHLMPR-Ta-ehlmpr-t]\d\d[A-Za-z]\d{3}[A-Za-z]",
        "id_gb_nino": r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d\d ?\d\d ?\d\d ?[A-D]",
        "bsn_word": _any_of(("bsn", "burgerservicenummer", "sofi", "citizen service number")),  # _BSN_LITERALS
        "bsn_number": r"\d{4}\.\d\d\.\d{3}|\d{3} ?\d{3} ?\d{3}",  # _BSN
        # _TAX_ID_WORDS (a \\b only next to an ASCII letter)
        "tax_word": "(?:" + _any_of(("steuer", "identifikationsnummer", "tax id")) + r"|\b"
        + _any_of(("idnr", "tin")) + r"\b)",
        "tax_number": r"\d\d ?\d{3} ?\d{3} ?\d{3}",  # _TAX_ID
        "passport_word": _any_of(("passport", "passeport", "passaporte", "passaporto", "pasaporte", "paspoort",
                                  "reisepass", "passnummer", "pass-nr", "travel document")),  # _PASSPORT_WORDS
        "birth_hint": _any_of(_BIRTH_HINTS),  # documents._BIRTH_HINT over the lower-cased text
        "ipv4": r"\d\.\d+\.\d+\.\d",  # _IPV4
        "ipv6": r"::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:",  # find_ipv6's own gate
        # --- addresses: people._has_street_word and _POSTCODE_CITY ---
        # a street word standing as a token: what may stand around a token on either side (short words: one
        # pattern per character before, as literals)
        "street_word": [
            f"(?:^|{_byte_alternatives(edges)}){_any_of(w for w in sorted(_STREET_WORDS) if len(w) > _SHORT)}"
            + street_end,
            *_standing((w for w in sorted(_STREET_WORDS) if len(w) <= _SHORT), edges, street_end),
        ],
        "street_suffix": rf"(?:^|{ws}){_BOUNDARY_STRIP}*(?:(?:[A-Z]|[\xc0-\xff])[^{_WS}]*)?"
        rf"{_any_of(sorted(_STREET_SUFFIXES))}{street_end}",
        "postcode_city": rf"[,\n] ?\d(?:\d{{3}}{ws}?[A-Z]{{2}}|\d{{3,4}}){ws}+(?:[A-Z]|\xc3[\x80-\x96\x98-\x9e])"
        r"(?:[a-z]|\xc3[\x9f-\xb6\xb8-\xbf])",
        # --- names (people.NameFinder) ---
        # _RUN, _CAPS_NAME, _INITIAL_SURNAME and _INVERTED each start with a capital
        "capital": rf"[A-Z]|{_UPPER_NON_ASCII}",
        "caps_name": r"[A-Z]{2} [A-Z]{2}",  # _CAPS_NAME
        # _INITIAL_SURNAME: an initial, then a capitalised word (a capital, then a small letter or an apostrophe)
        "initial_surname": rf"[A-Z]\. ?(?:[A-Z]\. ?)?(?:[A-Z]|{_UPPER_NON_ASCII})[a-z'\x80-\xff]",
        # _INVERTED: a capitalised word (it ends in a small letter), ", ", a capitalised word, then one of ,;\t\n)
        # or the end
        "inverted": rf"[a-z\x80-\xff], (?:[A-Z]|{_UPPER_NON_ASCII})[A-Za-z'\-\x80-\xff]*[a-z\x80-\xff]"
        r"(?:[,;\t\n)]|$)",
        # _SMALL_CUE over the lower-cased text with \n \t \r " ( read as spaces: a cue after one of those (or at
        # the start), white space, then a small letter (the name's first, ``text[start].islower()``)
        "small_cue": _standing(_SMALL_CUES, _CUE_SPACES, rf'[,:]?(?:{ws}|["(])+(?:[a-z]|[\xc3-\xc5\xe1])'),
    }


# phones._PHONE matches only runs of these characters. A run with seven digits or more is reported where it ends
# (at the character after it, or at the end of the text) and read back to its first character.
_PHONE_CHARS = r"[\d ().\-/+]"
_PHONE_RUN = r"\d(?:[ ().\-/+]*\d){6}" + _PHONE_CHARS + r"*(?:[^\d ().\-/+]|$)"
_PHONE_CHAR_SET = frozenset("0123456789 ().-/+")


class Prefilter:
    """``hits(text)``: the names of the patterns present in ``text`` (None for an odd text). Thread-safe: each
    thread scans with its own Hyperscan scratch space."""

    def __init__(self) -> None:
        odd, _, _ = _unicode_tables()
        patterns = _patterns()
        patterns["odd"] = _byte_alternatives(odd)
        names: list[str] = []
        expressions: list[bytes] = []
        for name, pattern in patterns.items():
            for expression in [pattern] if isinstance(pattern, str) else pattern:
                names.append(name)
                expressions.append(expression.encode("ascii"))
        self.names: tuple[str, ...] = tuple(names)  # of each expression
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=expressions, ids=list(range(len(expressions))),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(expressions),
        )  # fmt: skip
        self._odd = self.names.index("odd")
        self._runs = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._runs.compile(expressions=[_PHONE_RUN.encode("ascii")], ids=[0], flags=[0])
        self._local = threading.local()

    def _scratch(self) -> tuple[hyperscan.Scratch, hyperscan.Scratch]:
        scratches = getattr(self._local, "scratches", None)
        if scratches is None:
            scratches = self._local.scratches = (hyperscan.Scratch(self._db), hyperscan.Scratch(self._runs))
        return scratches

    def hits(self, text: str) -> frozenset[str] | None:
        found: list[int] = []
        self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=_collect, context=found,
                      scratch=self._scratch()[0])  # fmt: skip
        if self._odd in found:
            return None
        names = self.names
        return frozenset(names[i] for i in found)

    def phone_runs(self, text: str) -> list[tuple[int, int]] | None:
        """The ``[start, end)`` of each maximal run of phone characters (digits, spaces, ``().-/+``) that holds
        seven digits or more, in order: every phone candidate with seven digits lies inside one. The text is
        scanned as one byte per character (Latin-1, anything else as "?"), so offsets are character offsets.
        None when there are more than about two such runs per KB (tables of numbers): one search of the whole text
        then costs less than one per run."""
        ends = _Ends(4 + len(text) // 512)
        try:
            self._runs.scan(text.encode("latin-1", "replace"), match_event_handler=_end, context=ends,
                            scratch=self._scratch()[1])  # fmt: skip
        except hyperscan.ScanTerminated:
            return None
        runs: list[tuple[int, int]] = []
        chars = _PHONE_CHAR_SET
        for end in ends.ends:
            if end > 0 and text[end - 1] not in chars:
                end -= 1  # the character after the run
            if runs and runs[-1][1] == end:
                continue  # "$" before a final line break, then the line break
            start = end
            while start > 0 and text[start - 1] in chars:
                start -= 1
            runs.append((start, end))
        return runs


class _Ends:
    __slots__ = ("ends", "limit")

    def __init__(self, limit: int) -> None:
        self.ends: list[int] = []
        self.limit = limit


def _collect(pattern: int, start: int, end: int, flags: int, found: object) -> None:
    found.append(pattern)  # type: ignore[attr-defined]


def _end(pattern: int, start: int, end: int, flags: int, ends: object) -> bool:
    assert isinstance(ends, _Ends)
    ends.ends.append(end)  # in order
    return len(ends.ends) > ends.limit  # stop


@lru_cache(maxsize=1)
def prefilter() -> Prefilter | None:
    """The process's prefilter (compiled once, about 0.1 s), or None without Hyperscan."""
    return Prefilter() if hyperscan is not None else None
