"""Recognizers for e-mail addresses, card numbers, IBANs, national ids and IP addresses.

A cheap candidate regex proposes spans; a real validator decides wherever one exists:

* credit cards: Luhn (``stdnum.luhn``) and a payment-network first digit (2-6);
* IBANs: ISO 13616 mod-97 and the country's BBAN format (``stdnum.iban``);
* US SSNs: ``stdnum.us.ssn`` (area/group/serial rules and the known advertising numbers);
* other national ids (typed ``NATIONAL_ID``): ``stdnum`` check digits for the Spanish DNI/NIE,
  Brazilian CPF, Italian codice fiscale, French NIR and Indian Aadhaar; the prefix rules for a
  UK National Insurance number;
* IP addresses: the stdlib ``ipaddress`` parser.

Patterns put their "not inside a longer token" look-behind after the first character, so the
regex engine can skip ahead to possible first characters instead of testing every position.

Decisions on the grey zone (the corpus in tests/privacy encodes them):

* A dotted quad in a version string or a section number is not an IP address: ``v1.2.3.4``,
  ``1.2.3.4-beta``, ``1.2.3.4+build``, ``1.2.3.4.5``, or one after "version", "build",
  "section", "firmware", "Python", …; nor is one shaped like a version (a one-digit first part, then
  two parts under 32: "8.1.3.2", "2.5.29.17") without a host word beside it ("ping 1.2.3.4").
  Loopback and unspecified addresses (``127.0.0.0/8``, ``0.0.0.0``, ``::1``, ``::``) identify nobody
  and are kept; private ranges are redacted.
* ``user@host:path`` (an scp/git remote such as ``git@github.com:org/repo``) is not an e-mail,
  nor is ``logo@2x.png`` (the "domain" ends in a file extension that is not a TLD).
* A Luhn-valid 13-19 digit number with a card-network first digit is a card, whatever word
  precedes it: leaking a card costs more than over-redacting an order number.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from stdnum import iban as std_iban
from stdnum import luhn, verhoeff
from stdnum.br import cpf
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.us import ssn

from llmpulse.privacy.entity import (
    CREDIT_CARD,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    NATIONAL_ID,
    US_SSN,
    Entity,
    lower_same_length,
    window_before,
)
from llmpulse.privacy.phones import after_id_word
from llmpulse.privacy.shape import Shape, shape_of

_A = re.ASCII

# --- e-mail ------------------------------------------------------------------------------------

_LOCAL_CHARS = re.compile(r"[A-Za-z0-9._%+'\-\u00C0-\u024F]")
_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9\u00C0-\u024F](?:[A-Za-z0-9\u00C0-\u024F-]{0,61}[A-Za-z0-9\u00C0-\u024F])?\.)+"
    r"(?:[A-Za-z]{2,24}|xn--[a-z0-9-]{2,59})"
    r"(?![A-Za-z0-9\u00C0-\u024F_-]|\.[A-Za-z0-9])"
)
# TLD-shaped file extensions that no registry delegates (``logo@2x.png``).
_FILE_EXTENSIONS = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "txt", "json", "yaml", "yml", "toml",
     "ini", "cfg", "lock", "log", "csv", "tsv", "js", "mjs", "cjs", "ts", "tsx", "jsx", "css", "scss",
     "html", "htm", "xml", "py", "rb", "rs", "go", "java", "kt", "php", "sql", "heic", "avif"}
)  # fmt: skip


def find_emails(text: str) -> list[Entity]:
    """Anchored on each ``@``: the local part is read leftwards, the domain matched rightwards."""
    found: list[Entity] = []
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and _LOCAL_CHARS.match(text, start - 1):
            start -= 1
        while start < at and text[start] in ".-'":
            start += 1
        domain = _DOMAIN.match(text, at + 1)
        if start < at and domain is not None and ".." not in text[start:at] and text[at - 1] != ".":
            end = domain.end()
            tld = text[text.rfind(".", at, end) + 1 : end].lower()
            remote = text[end : end + 1] == ":" and text[end + 1 : end + 2] not in ("", " ", "\n", "\t")
            if tld not in _FILE_EXTENSIONS and not remote:
                found.append(Entity(EMAIL, start, end))
        at = text.find("@", at + 1)
    return found


# --- credit cards ------------------------------------------------------------------------------

_CARD = re.compile(
    r"\d(?<![\w.+-]\d)"
    r"(?:\d{3}([ .-])\d{4}\1\d{4}(?:\1\d{4}\1\d{1,3}|\1\d{1,7})?"  # 4-4-4, 4-4-4-4, 4-4-4-4-3
    r"|\d{3}([ -])\d{6}\2\d{4,5}"  # Amex / Diners 4-6-5, 4-6-4
    r"|\d{11,18})"
    r"(?![\w-]|\.\d)",
    _A,
)
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d\d $", _A)
# Maestro's issuer prefixes (50, 56-69): the only network that issues 12-digit cards.
_MAESTRO_12 = re.compile(r"5[06-9]|6\d")
_CARD_WORDS = re.compile(
    r"card|carte|karte|tarjeta|carta|cart[ãa]o|kaart|pasnummer|maestro|debit|pan\b|paid|pay|refund|charge", re.I
)


def may_hold_credit_card(shape: Shape) -> bool:
    """Every branch of ``_CARD`` has four ASCII digits in a row."""
    return shape.has(b"0000")


def find_credit_cards(text: str) -> list[Entity]:
    """Luhn-valid 13-19 digit numbers with a card-network first digit; a 12-digit one only with a Maestro
    prefix and a card word shortly before."""
    found: list[Entity] = []
    for m in _CARD.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "").replace(".", "")
        if not (12 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits)):
            continue
        if len(digits) == 12:
            context = _CARD_WORDS.search(text, max(0, m.start() - 40), m.start()) is not None
            if not (_MAESTRO_12.match(digits) and context):
                continue
        if _IBAN_HEAD.search(text, max(0, m.start() - 5), m.start()):
            continue  # the digits of an IBAN (one whose checksum fails)
        found.append(Entity(CREDIT_CARD, m.start(), m.end()))
    return found


# --- IBAN --------------------------------------------------------------------------------------

_IBAN = re.compile(r"[A-Z](?<![\w-][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w-])", _A)
_IBAN_GROUP_END = re.compile(r" ?[A-Z0-9]{1,4}$")


def may_hold_iban(shape: Shape) -> bool:
    """``_IBAN`` starts with two ASCII capitals and two digits."""
    return shape.has(b"AA00")


def find_ibans(text: str) -> list[Entity]:
    found: list[Entity] = []
    for m in _IBAN.finditer(text):
        value = m.group()
        # The regex is greedy; a following all-caps word may have been swallowed: shorten.
        while value and not std_iban.is_valid(value):
            shorter = _IBAN_GROUP_END.sub("", value)
            value = "" if len(shorter) < 12 or shorter == value else shorter
        if value:
            found.append(Entity(IBAN, m.start(), m.start() + len(value)))
    return found


# --- US social security numbers ----------------------------------------------------------------

# (a hyphen, a non-breaking or Unicode hyphen, a minus sign, a space or a non-breaking space, the same twice; a
# comma and a digit may follow a dashed number, as in a CSV row "J. Doe,750-07-1187,1984-02-11", not a spaced one)
_SSN = re.compile(
    r"\d(?<![\w.-]\d)\d\d([- \u00a0\u202f\u2010\u2011\u2212])\d{2}\1\d{4}"
    r"(?![\w-]|\.\d|\1\d|(?<=[ \u00a0\u202f]\d{4}),\d)",
    _A,
)
# The words that name an SSN (over the lower-cased text): "SSN", "S.S.N.", "SS#", "ss no.", "ss number",
# "S.S. No.", "social security", "social-security", "socialSecurity", "social sec.", "soc. sec.", "Soc.Sec.#",
# "soc_sec_no", "ss_num", "social is", "social:", an ITIN (a taxpayer number of the same shape), and translations
# ("Sozialversicherungsnummer"/"-nr.", "seguro social", "seguridad social", "sécurité sociale",
# "socialezekerheidsnummer").
# Every branch starts with "s" or "i" ("sécurité sociale" is found at its "sociale"), and each "\b" before a word
# is a look-behind after its first letter ("s(?<!\ws)oc" is "\bsoc"): the engine then scans for those two letters
# (ten times faster on 8 KB of JSON).
_SSN_WORD = re.compile(
    r"s(?:sn|\.s\.n|s ?#|(?<!\ws)s[ _-]?(?:no\b|nr\b|num)|(?<!\ws)\. ?s\. ?(?:no\b|nr\b|num|#)|ocial[\s._-]*sec"
    r"|(?<!\ws)oc\.?[\s._-]*sec|ocial is|ocial:|ozialversicherungsn|eguro social|eguridad social"
    r"|ociale(?<=\u00e9curit\u00e9 sociale)|ocia(?:le|al)[\s-]?zekerheid)|i(?<!\wi)tin\b"
)
# With one of those words close by, any SSN shape counts, valid or not (an ITIN, a typo): the writer says it is
# one. Close: within 64 characters before the number, or 128 on its own line; 12 after it on its line, or 24 for a
# number that passes the check ("529114470 is my social security number", not "666-45-6789 as invalid SSNs"); or
# the word heads the number's column in a table (CSV, TSV, markdown).
# (the writer's separators: none, a hyphen, a Unicode hyphen or dash or minus, a space (also a non-breaking one), a
# dot or a slash, a dash with spaces around it; not always the same twice)
_SSN_SEP = r"(?:\s?[-\u2010-\u2014\u2212]\s?|[ \u00a0\u202f./])?"
# (after a word, a hyphen may stand before the number: "SSN-768147890"; not after a digit: "12-345-67-8901")
_SSN_ANY = re.compile(
    rf"\d(?<![\w.]\d)(?<![\d.]-\d)\d\d{_SSN_SEP}\d{{2}}{_SSN_SEP}\d{{4}}(?![\w-]|\.\d|(?<=[ \u00a0\u202f]\d{{4}}),\d)"
)
_SSN_BEFORE, _SSN_BEFORE_ON_LINE, _SSN_AFTER, _SSN_AFTER_ON_LINE = 64, 128, 12, 24


def may_hold_us_ssn(shape: Shape) -> bool:
    """Both patterns end in four digits (``_SSN_ANY``'s ``\\d`` is any Unicode digit)."""
    return shape.digits(4)


def _ssn_word_near(lowered: str, start: int, end: int, headers: dict[int, str | None]) -> bool:
    line_start = lowered.rfind("\n", 0, start) + 1
    line_end = lowered.find("\n", end)
    line_end = len(lowered) if line_end == -1 else line_end
    before = max(0, min(start - _SSN_BEFORE, line_start), start - _SSN_BEFORE_ON_LINE)
    if _SSN_WORD.search(lowered, before, start) or _SSN_WORD.search(lowered, end, min(line_end, end + _SSN_AFTER)):
        return True
    if _SSN_WORD.search(lowered, end, min(line_end, end + _SSN_AFTER_ON_LINE)):
        return ssn.is_valid(re.sub(r"\D", "", lowered[start:end]))  # "... and 666-45-6789 as invalid SSNs"
    header = column_header(lowered, start, line_start, line_end, headers)
    return header is not None and _SSN_WORD.search(header) is not None


def find_us_ssns(text: str) -> list[Entity]:
    matches = (m for m in _SSN.finditer(text) if ssn.is_valid(m.group().replace(" ", "")))
    found = [Entity(US_SSN, m.start(), m.end()) for m in matches]
    lowered = lower_same_length(text)
    if _SSN_WORD.search(lowered) is not None:
        headers: dict[int, str | None] = {}
        for m in _SSN_ANY.finditer(text):
            if _ssn_word_near(lowered, m.start(), m.end(), headers):
                found.append(Entity(US_SSN, m.start(), m.end()))
    return found


_TABLE_SEPARATORS = ("\t", "|", ";", ",")


def column_header(text: str, at: int, line_start: int, line_end: int, tops: dict[int, str | None]) -> str | None:
    """The header cell of the table column that position ``at`` (on the line ``[line_start, line_end)``) lies in:
    the first line of the run of lines just above with as many cell separators (a tab, "|", ";" or ","), or None.
    ``tops`` remembers, per line start, the header line of its table (each table is walked up once)."""
    line = text[line_start:line_end]
    separator = next((s for s in _TABLE_SEPARATORS if s in line), None)
    if separator is None:
        return None
    cells = line.count(separator)
    if line_start in tops:
        header = tops[line_start]
    else:
        header, position, walked = None, line_start, [line_start]
        while position > 0:
            above_start = text.rfind("\n", 0, position - 1) + 1
            if text.count(separator, above_start, position - 1) != cells:
                break
            if above_start in tops:
                header = tops[above_start]
                break
            header, position = text[above_start : position - 1], above_start
            walked.append(above_start)
        for start in walked:
            tops[start] = header
    if header is None:
        return None
    column = text.count(separator, line_start, at)
    parts = header.split(separator)
    return parts[column] if column < len(parts) else None


# --- other national ids ------------------------------------------------------------------------

_NINO_BANNED_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})
_CF_SHAPE = re.compile(r"\d\d[A-EHLMPR-Ta-ehlmpr-t]\d\d[A-Za-z]\d{3}[A-Za-z]", _A)
_NINO_SHAPE = re.compile(r"\d\d ?\d\d ?\d\d ?[A-D]", _A)
# The digit-first ids share one pass (their shapes exclude each other); the group names the id.
_DIGIT_FIRST_IDS = re.compile(
    r"\d(?<![\w.-]\d)(?:"
    r"(?P<es_dni>\d{7}-?[A-Z](?![\w-]))"
    r"|(?P<br_cpf>\d\d\.\d{3}\.\d{3}-\d{2}(?![\w-]))"
    r"|(?P<fr_nir>(?<=[12]) ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w-]| \d))"
    r"|(?P<in_aadhaar>(?<=[2-9])\d{3}(?P<sep>[ -]?)\d{4}(?P=sep)\d{4}(?![\w-]|[.,]\d|[ -]\d)))",
    _A,
)
_ES_NIE = re.compile(r"[XYZ](?<![\w-][XYZ])-?\d{7}-?[A-Z](?![\w-])", _A)
# Letter-first shapes: searched only where their digit core (cheap to find) occurs.
_IT_CF = re.compile(
    r"[A-Za-z](?<![\w-][A-Za-z])[A-Za-z]{5}\d{2}[A-EHLMPR-Ta-ehlmpr-t]\d{2}[A-Za-z]\d{3}[A-Za-z](?![\w-])", _A
)
_GB_NINO = re.compile(r"[A-CEGHJ-PR-TW-Z](?<![\w-][A-Z])[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])", _A)


def _national_id_valid(kind: str, value: str) -> bool:
    compact = value.replace(" ", "").replace("-", "").replace(".", "").upper()
    if kind == "es_dni":
        return dni.is_valid(compact)
    if kind == "es_nie":
        return nie.is_valid(compact)
    if kind == "br_cpf":
        return cpf.is_valid(compact)
    if kind == "it_cf":
        return codicefiscale.is_valid(compact)
    if kind == "fr_nir":
        return nir.is_valid(compact)
    if kind == "in_aadhaar":
        # Verhoeff check digit; palindromes are not issued (stdnum's Aadhaar rule).
        return verhoeff.is_valid(compact) and compact != compact[::-1]
    if kind == "gb_nino":
        return compact[:2] not in _NINO_BANNED_PREFIXES
    return False


def _digit_first_ids(text: str) -> list[tuple[str, re.Match[str]]]:
    # twelve digits right after an id word ("réf. dossier 2024-0412-7788") are a reference, not an Aadhaar number
    found = [(m.lastgroup or "", m) for m in _DIGIT_FIRST_IDS.finditer(text)]
    return [(kind, m) for kind, m in found
            if kind != "in_aadhaar" or not after_id_word(window_before(text, m.start()).rstrip())]  # fmt: skip


def _es_nies(text: str) -> list[tuple[str, re.Match[str]]]:
    return [("es_nie", m) for m in _ES_NIE.finditer(text)]


def _it_cfs(text: str) -> list[tuple[str, re.Match[str]]]:
    return [("it_cf", m) for m in _IT_CF.finditer(text)] if _CF_SHAPE.search(text) else []


def _gb_ninos(text: str) -> list[tuple[str, re.Match[str]]]:
    return [("gb_nino", m) for m in _GB_NINO.finditer(text)] if _NINO_SHAPE.search(text) else []


#: (candidates, gate over the character classes, ``llmpulse.privacy.shape``; every pattern here is ASCII): the
#: digit-first ids have three digits in a row, a NIE seven, a codice fiscale "12A34", a NI number six digits
#: in pairs with optional spaces ("123456" or "12 34 56")
_NATIONAL_ID_CANDIDATES: tuple[
    tuple[Callable[[str], list[tuple[str, re.Match[str]]]], Callable[[Shape], bool]], ...
] = (
    (_digit_first_ids, lambda shape: shape.has(b"000")),
    (_es_nies, lambda shape: shape.has(b"0000000")),
    (_it_cfs, lambda shape: shape.has(b"00A00", b"00a00")),
    (_gb_ninos, lambda shape: shape.has(b"0000", b"00 00")),
)


def may_hold_national_id(shape: Shape) -> bool:
    return any(gate(shape) for _, gate in _NATIONAL_ID_CANDIDATES)


def _valid_ids(candidates: list[tuple[str, re.Match[str]]]) -> list[Entity]:
    return [Entity(NATIONAL_ID, m.start(), m.end()) for kind, m in candidates if _national_id_valid(kind, m.group())]


def find_national_ids(text: str) -> list[Entity]:
    shape = shape_of(text)
    return _valid_ids([c for find, gate in _NATIONAL_ID_CANDIDATES if gate(shape) for c in find(text)])


def _national_id_finder(find: Callable[[str], list[tuple[str, re.Match[str]]]]) -> Callable[[str], list[Entity]]:
    def finder(text: str) -> list[Entity]:
        return _valid_ids(find(text))

    finder.__name__ = f"find_national_ids{find.__name__}"
    return finder


#: ``find_national_ids`` as one finder per candidate search, each with its gate over the character classes and the
#: name of its ``llmpulse.privacy.prefilter`` pattern: together they find what it finds
NATIONAL_ID_FINDERS: tuple[tuple[Callable[[str], list[Entity]], Callable[[Shape], bool], str], ...] = tuple(
    (_national_id_finder(find), gate, name)
    for (find, gate), name in zip(_NATIONAL_ID_CANDIDATES, ("id_digit_first", "id_es_nie", "id_it_cf", "id_gb_nino"),
                                  strict=True)
)


# --- IP addresses ------------------------------------------------------------------------------

_IPV4 = re.compile(r"\d(?<![\w.-]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w+-]|\.\w)", _A)
_IPV6 = re.compile(
    r"(?<![\w:.-])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:-]|\.\w)", _A
)
_IPV6_GATE = re.compile(r"[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:", _A)
# A dotted quad right after one of these words is a version, section or OID, not an address.
# ("firmware", "kernel", "api" or "sdk" stay out: "the router firmware 192.168.1.1 page" is a host.)
_NOT_IP_WORDS = frozenset(
    {"version", "ver", "build", "release", "rel", "patch", "update",
     "section", "sec", "chapter", "clause", "step", "rule", "figure", "fig", "table", "paragraph", "para",
     "art", "oid", "python", "node", "java", "php", "ruby", "perl", "go", "rust", "gcc", "cuda", "dotnet",
     ".net", "android", "ios", "macos", "windows", "chrome", "firefox", "edge", "safari", "v", "§",
     "versión", "versione", "versão", "versie", "wersja", "バージョン", "版本"}
)  # fmt: skip
_LAST_WORD = re.compile(r"([\w.§]+)[\s=:]*$")


# Public DNS resolvers: services everybody configures, not anyone's address.
_PUBLIC_RESOLVERS = frozenset(
    {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222", "208.67.220.220"}
)


def _kept(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Addresses that identify no host: loopback, unspecified, multicast, reserved (broadcast), a netmask
    (255.x.x.x), an IPv4 network address (x.x.x.0: also how versions like 2.0.0.0 look), a public resolver."""
    if address.is_loopback or address.is_unspecified or address.is_multicast:
        return True
    if isinstance(address, ipaddress.IPv4Address):
        text = str(address)
        return address.is_reserved or text.startswith("255.") or text.endswith(".0") or text in _PUBLIC_RESOLVERS
    return False


_IPV4_SHAPE = re.compile(rb"0\.0+\.0+\.0")  # a dotted quad in the class string


def may_hold_ipv4(shape: Shape) -> bool:
    return _IPV4_SHAPE.search(shape.classes) is not None


def may_hold_ipv6(shape: Shape) -> bool:
    return b":" in shape.classes


# Words near a dotted quad that say "a version, a section or an OID" ("Bumped ... from 1.4.2.0 to 1.4.3.1",
# 'AssemblyVersion("1.2.3.4")', "Requirement 3.2.1.4", "id-at-commonName (2.5.4.3)"), and words that say "a
# host" and win over them ("upgrade the host 10.2.3.4"). Any word holding "version" counts as the first kind.
_VERSION_WORDS = frozenset(
    {"version", "ver", "build", "release", "released", "rel", "patch", "upgrade", "upgraded", "downgrade",
     "downgraded", "bump", "bumped", "changelog", "firmware", "driver", "plugin", "package", "pkg", "app", "apk",
     "sdk", "library", "lib", "dependency", "requirement", "requirements", "req", "spec", "rfc", "section",
     "clause", "annex", "appendix", "chapter", "paragraph", "oid", "arc", "asn",
     "x509", "commonname", "id-at", "id-ce", "id-pe", "id-kp", "rolled", "rollback", "hotfix", "nightly",
     "installer", "bios", "assembly", "nuget", "maven", "gradle", "npm", "pip", "pypi", "gem", "crate"}
)  # fmt: skip
_VERSION_WORDS_AFTER = frozenset(
    {"ios", "android", "release", "build", "beta", "alpha", "rc", "changelog", "is out", "hotfix", "nightly"}
)
_HOST_WORDS = frozenset(
    {"ip", "ips", "ipv4", "host", "hosts", "hostname", "server", "servers", "address", "addr", "adresse",
     "adres", "dirección", "direccion", "gateway", "gw", "dns", "nameserver", "proxy", "ping", "pings", "ssh",
     "telnet", "rdp", "connect", "connected", "connecting", "connection", "client", "remote", "src", "dst",
     "source", "destination", "origin", "origen", "destino", "peer", "subnet", "route", "router", "firewall",
     "whitelist", "allowlist", "blocklist", "blocked", "banned", "vpn", "lan", "wan", "nat", "listen",
     "listening", "bind", "endpoint", "login", "logged", "request", "requests", "inet", "interface", "dhcp",
     "lease", "tcp", "udp", "icmp", "port", "http", "https", "url", "broker", "database", "db", "machine",
     "instance", "vm", "pod", "container", "cluster", "deployed", "box", "printer", "device", "camera", "laptop",
     "agent", "runner", "worker", "reach", "reachable", "unreachable", "timeout", "refused", "resolves"}
)  # fmt: skip
_QUAD_CONTEXT_WORD = re.compile(r"[a-z0-9][a-z0-9_-]*")
# a capitalised word after a small word (not at a sentence start: "Add 198.51.100.17 to ..."), right before the quad
_PRODUCT_BEFORE = re.compile(r"(?<=[a-z,] )[A-Z][a-z]+[A-Za-z]* $")


def _version_context(text: str, start: int, end: int) -> bool | None:
    """What the words on the dotted quad's line say: True for a version/section/OID, False for a host, None for
    neither."""
    line_start = text.rfind("\n", max(0, start - 64), start) + 1
    line_end = text.find("\n", end, end + 24)
    before = text[max(line_start, start - 64) : start].lower()
    after = text[end : line_end if line_end != -1 else end + 24].lower()
    words_before = _QUAD_CONTEXT_WORD.findall(before)
    words_after = _QUAD_CONTEXT_WORD.findall(after)[:3]
    if after[:1] in (":", "/") and after[1:2].isdigit():
        return False  # a port or a prefix length: 10.0.0.5:8080, 10.1.0.0/16
    pieces = set(words_before) | set(words_after)
    for word in words_before:  # "id-at-commonname", "src_ip": the parts too
        pieces.update(re.split(r"[-_]", word))
    if not pieces.isdisjoint(_HOST_WORDS):
        return False
    if before.rstrip().endswith(("==", ">=", "<=", "~=", "!=")) or any("version" in w for w in words_before):
        return True
    if not _VERSION_WORDS.isdisjoint(pieces) or not _VERSION_WORDS_AFTER.isdisjoint(words_after[:2]):
        return True
    if _PRODUCT_BEFORE.search(text, max(0, start - 32), start) is not None:
        return True  # a name in the middle of a sentence, then the quad: "running Kibana 7.10.2.1"
    return None


def _version_shaped(quad: str) -> bool:
    """A one-digit first part, then two parts under 32 ("8.1.3.2", "2.5.29.17", "6.2.9.201"): how versions, section
    numbers and OIDs look, and few hosts' addresses (the private and documentation ranges never)."""
    first, second, third, _ = quad.split(".")
    return len(first) == 1 and first != "0" and int(second) < 32 and int(third) < 32


def _host_word_beside(text: str, start: int, end: int) -> bool:
    """A host word right before the dotted quad ("ping 1.2.3.4", "ip: 1.2.3.4") or among the three words after it,
    or a port or prefix length after it ("1.2.3.4:8080", "1.2.0.0/16")."""
    if text[end : end + 1] in (":", "/") and text[end + 1 : end + 2].isdigit():
        return True
    before = _QUAD_CONTEXT_WORD.findall(text[max(0, start - 24) : start].lower())
    after = _QUAD_CONTEXT_WORD.findall(text[end : end + 32].split("\n", 1)[0].lower())[:3]
    return (bool(before) and before[-1] in _HOST_WORDS) or not _HOST_WORDS.isdisjoint(after)


def find_ipv4(text: str) -> list[Entity]:
    found: list[Entity] = []
    version_line = -1  # the start of the line where a dotted quad was read as a version
    for m in _IPV4.finditer(text):
        word = _LAST_WORD.search(text, max(0, m.start() - 16), m.start())
        last = word.group(1).lower().strip(".") if word is not None else ""
        if last in _NOT_IP_WORDS or last.endswith(("version", "_ver", "-ver")):  # "agent_version=7.45.1.2"
            continue
        context = _version_context(text, m.start(), m.end())
        if context is not True and _version_shaped(m.group()) and not _host_word_beside(text, m.start(), m.end()):
            context = True  # "Upgrading to 8.1.3.2", "the About box says 6.2.9.201": a host needs its word beside it
        line = text.rfind("\n", 0, m.start()) + 1
        if context or (context is None and line == version_line):
            version_line = line  # "from 1.4.2.0 to 1.4.3.1", "see 3.2.1.5": the next quad on the line too
            continue
        try:
            address = ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        if not _kept(address):
            found.append(Entity(IP_ADDRESS, m.start(), m.end()))
    return found


def find_ipv6(text: str) -> list[Entity]:
    if "::" not in text and _IPV6_GATE.search(text) is None:
        return []
    found: list[Entity] = []
    for m in _IPV6.finditer(text):
        value = m.group()
        if "::" not in value and value.count(":") != 7:
            continue
        if not any(c.isdigit() for c in value) or sum(1 for group in value.split(":") if group) < 2:
            continue
        try:
            address = ipaddress.IPv6Address(value)
        except ValueError:
            continue
        if not _kept(address):
            found.append(Entity(IP_ADDRESS, m.start(), m.end()))
    return found
