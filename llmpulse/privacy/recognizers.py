"""PII recognizers: a cheap candidate regex per entity type, then a real validator.

Every recognizer is a plain function ``find_x(text) -> list[Entity]``. The regex only proposes
candidates; the decision comes from a validator wherever one exists:

* credit cards: Luhn (``stdnum.luhn``) plus a payment-network prefix (first digit 2-6);
* IBANs: ISO 13616 mod-97 and the country's BBAN format (``stdnum.iban``);
* US SSNs: ``stdnum.us.ssn`` (area/group/serial rules and the known advertising numbers);
* other national ids: ``stdnum`` check digits (ES DNI/NIE, BR CPF, IT codice fiscale,
  FR NIR, IN Aadhaar) and the UK National Insurance number's prefix rules;
* phone numbers: Google's libphonenumber metadata (``phonenumbers.is_valid_number``);
* IP addresses: the stdlib ``ipaddress`` parser.

Secrets (API keys, tokens, private keys, JWTs) live in ``secrets_patterns``.

Decisions on the grey zone (the corpus in tests/privacy encodes them):

* A dotted quad that is part of a version string is not an IP address: ``v1.2.3.4``,
  ``1.2.3.4-beta``, ``1.2.3.4+build``, ``1.2.3.4.5`` or one preceded by "version"/"build"/….
  Loopback and unspecified addresses (127.0.0.0/8, 0.0.0.0, ::1, ::) identify nobody and are kept.
* ``user@host:path`` (an scp/git remote such as ``git@github.com:org/repo``) is not an e-mail,
  nor is ``name@2x.png`` (the "domain" ends in a file extension that is not a TLD).
* Phone numbers written without a country prefix must carry separators the way people write
  phone numbers (``(415) 555-0132``, ``06 12 34 56 78``), or follow a phone word ("tel", "call", …).
  Dates, thousand-grouped numbers and numbers after an id word ("order", "SKU", "part", "#", …)
  are not phones.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn, verhoeff
from stdnum.br import cpf
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.us import ssn

EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
US_SSN = "US_SSN"
NATIONAL_ID = "NATIONAL_ID"
IP_ADDRESS = "IP_ADDRESS"
SECRET = "SECRET"


@dataclass(frozen=True, slots=True)
class Entity:
    """One detected value: its type and its [start, end) span in the text."""

    type: str
    start: int
    end: int


def _window_before(text: str, start: int, size: int = 24) -> str:
    return text[max(0, start - size) : start].lower()


# --- e-mail ------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+'-])"
    r"[\w%+'-]+(?:\.[\w%+'-]+)*"
    r"@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"
    r"(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59})"
    r"(?![\w-]|\.[^\W_])"
)
# TLD-shaped file extensions that no registry delegates (``logo@2x.png``).
_FILE_EXTENSIONS = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "txt", "json", "yaml", "yml", "toml",
     "ini", "cfg", "lock", "log", "csv", "tsv", "js", "mjs", "cjs", "ts", "tsx", "jsx", "css", "scss",
     "html", "htm", "xml", "py", "rb", "rs", "go", "java", "kt", "php", "sql"}
)  # fmt: skip


def find_emails(text: str) -> list[Entity]:
    if "@" not in text:
        return []
    found: list[Entity] = []
    for m in _EMAIL.finditer(text):
        tld = m.group().rsplit(".", 1)[1].lower()
        if tld in _FILE_EXTENSIONS:
            continue
        after = text[m.end() : m.end() + 2]
        if after[:1] == ":" and after[1:2] not in ("", " ", "\n", "\t"):
            continue  # scp / git remote: user@host:path
        found.append(Entity(EMAIL, m.start(), m.end()))
    return found


# --- credit cards ------------------------------------------------------------------------------

_CARD = re.compile(
    r"(?<![\w.,+-])"
    r"(?:\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}"  # 4-4-4-4(-3), 4-4-4-1..
    r"|\d{4}([ -])\d{6}\2\d{4,5}"  # Amex / Diners 4-6-5, 4-6-4
    r"|\d{13,19})"
    r"(?![\w-]|[.,]\d)"
)


def find_credit_cards(text: str) -> list[Entity]:
    found: list[Entity] = []
    for m in _CARD.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits):
            found.append(Entity(CREDIT_CARD, m.start(), m.end()))
    return found


# --- IBAN --------------------------------------------------------------------------------------

_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w-])")
_IBAN_GROUP_END = re.compile(r" ?[A-Z0-9]{1,4}$")


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

_SSN = re.compile(r"(?<![\w.-])\d{3}([- ])\d{2}\1\d{4}(?![\w-]|[.,]\d)")
_SSN_BARE = re.compile(r"(?<![\w.-])\d{9}(?![\w-]|[.,]\d)")
_SSN_WORDS = ("ssn", "social security", "sozialversicherungsnummer", "tin")


def find_us_ssns(text: str) -> list[Entity]:
    found: list[Entity] = []
    for m in _SSN.finditer(text):
        if ssn.is_valid(m.group().replace(" ", "")):
            found.append(Entity(US_SSN, m.start(), m.end()))
    for m in _SSN_BARE.finditer(text):
        before = _window_before(text, m.start(), 30)
        if any(w in before for w in _SSN_WORDS) and ssn.is_valid(m.group()):
            found.append(Entity(US_SSN, m.start(), m.end()))
    return found


# --- other national ids ------------------------------------------------------------------------

_NIN_PREFIX_BANNED = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})
_NATIONAL_IDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![\w-])\d{8}-?[A-Z](?![\w-])"), "es_dni"),
    (re.compile(r"(?<![\w-])[XYZ]-?\d{7}-?[A-Z](?![\w-])"), "es_nie"),
    (re.compile(r"(?<![\w.-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w-])"), "br_cpf"),
    (re.compile(r"(?<![\w-])[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z](?![\w-])", re.I), "it_cf"),
    (re.compile(r"(?<![\w-])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w-])"), "fr_nir"),
    (re.compile(r"(?<![\w-])[2-9]\d{3}([ -]?)\d{4}\1\d{4}(?![\w-]|[.,]\d)"), "in_aadhaar"),
    (
        re.compile(r"(?<![\w-])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])"),
        "gb_nino",
    ),
)


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
        # Verhoeff check digit; palindromes are not issued (stdnum's aadhaar rule).
        return verhoeff.is_valid(compact) and compact != compact[::-1]
    if kind == "gb_nino":
        return compact[:2] not in _NIN_PREFIX_BANNED
    return False


def find_national_ids(text: str) -> list[Entity]:
    found: list[Entity] = []
    for pattern, kind in _NATIONAL_IDS:
        for m in pattern.finditer(text):
            if _national_id_valid(kind, m.group()):
                found.append(Entity(NATIONAL_ID, m.start(), m.end()))
    return found


# --- IP addresses ------------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\w.-])(?:\d{1,3}\.){3}\d{1,3}(?![\w+-]|\.\w)")
_IPV6 = re.compile(
    r"(?<![\w:.-])"
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?![\w:.-])"
)
_VERSION_WORDS = re.compile(
    r"(?:\b(?:version|ver|build|release|rel|firmware|fw|sdk|api|kernel|patch|update)\.?|\bv)\s*$", re.I
)


def _keep_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_loopback or address.is_unspecified


def find_ip_addresses(text: str) -> list[Entity]:
    found: list[Entity] = []
    if "." in text:
        for m in _IPV4.finditer(text):
            if _VERSION_WORDS.search(text[max(0, m.start() - 12) : m.start()]):
                continue
            try:
                v4 = ipaddress.IPv4Address(m.group())
            except ValueError:
                continue
            if not _keep_ip(v4):
                found.append(Entity(IP_ADDRESS, m.start(), m.end()))
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6.finditer(text):
            value = m.group()
            if "::" not in value and value.count(":") != 7:
                continue
            if not any(c.isdigit() for c in value) or sum(1 for g in value.split(":") if g) < 2:
                continue
            try:
                v6 = ipaddress.IPv6Address(value)
            except ValueError:
                continue
            if not _keep_ip(v6):
                found.append(Entity(IP_ADDRESS, m.start(), m.end()))
    return found


# --- phone numbers -----------------------------------------------------------------------------

# A run of phone characters that starts and ends with a digit (or "+"/"(" first). The run is
# bounded so the scan stays linear; the groups are trimmed below when prose digits cling to it.
_PHONE = re.compile(r"(?<![\w.,+/:#-])(?:\+ ?|\()?\d[\d ().\-/]{5,24}\d(?![\w-]|[.,:/]\d)")
_PHONE_SPLIT = re.compile(r" +")
_PHONE_WORDS = re.compile(
    r"(?:phone|tel|tél|mobile|mobil|móvil|cell|call|fax|whatsapp|sms|text me|reach me|contact|llama"
    r"|llámame|chiama|appel|anruf|ruf|número|numero|nummer|handy|电话|電話)",
    re.I,
)
_ID_WORDS = re.compile(
    r"(?:^|[^\w])(?:order|invoice|sku|part|p/n|pn|ref|reference|ticket|tracking|serial|isbn|id|item|"
    r"model|case|account|acct|bestellung|bestellnummer|commande|pedido|rechnung|facture|issue|build|"
    r"job|po|batch|lot|art|artikel|version|transaction|txn|confirmation)"
    r"(?:\s*(?:no|nr|num|number|n°|nº|#|id))?[.:#]?\s*#?$"
)
_DATE_DMY = re.compile(r"^\d{1,2}([./-])\d{1,2}\1\d{2,4}(?![\d./-]*\d)|^\d{1,2}([./-])\d{1,2}\2\d{2,4} ")
_DATE_YMD = re.compile(r"^\d{4}([./-])\d{1,2}\1\d{1,2}(?!\d)")
_THOUSANDS = re.compile(r"^\d{1,3}(?:([ .,])\d{3})(?:\1\d{3})*$")
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "JP", "BR", "AU", "CA")
_NATIONAL_PREFIX: dict[str, str | None] = {
    region: getattr(phonenumbers.PhoneMetadata.metadata_for_region(region), "national_prefix", None)
    for region in phonenumbers.SUPPORTED_REGIONS
}


def _phone_valid(value: str, regions: Iterable[str]) -> bool:
    try:
        if value.startswith("+"):
            return phonenumbers.is_valid_number(phonenumbers.parse(value, None))
        if value.startswith("00"):
            return phonenumbers.is_valid_number(phonenumbers.parse("+" + value[2:], None))
        trunk_written = value.startswith("(") or value.startswith("0")
        for region in regions:
            number = phonenumbers.parse(value, region)
            if not phonenumbers.is_valid_number(number):
                continue
            # Where national numbers are dialled with a trunk "0" (DE, FR, GB, JP, …), people write
            # it, or put the area code in brackets (BR); Indian mobiles are the common exception.
            if _NATIONAL_PREFIX.get(region) != "0" or trunk_written:
                return True
            if region == "IN" and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
                return True
    except phonenumbers.NumberParseException:
        return False
    return False


def _phone_shape_ok(value: str, before: str) -> bool:
    """Cheap checks before libphonenumber: length, brackets, dates, amounts, id words."""
    digits = sum(c.isdigit() for c in value)
    if not 7 <= digits <= 15 or value.count("(") != value.count(")"):
        return False
    if _ID_WORDS.search(before):
        return False
    if value.startswith(("+", "00")):
        return True
    if _DATE_DMY.match(value) or _DATE_YMD.match(value):
        return False
    if _PHONE_WORDS.search(before):
        return True
    # Without a country prefix or a phone word, only numbers written the way phone numbers are.
    return any(c in value for c in " .-/()") and not _THOUSANDS.match(value)


def _phone_spans(value: str) -> list[tuple[int, int]]:
    """The candidate itself, then with up to two space-separated groups dropped at either end."""
    cuts = [0] + [m.end() for m in _PHONE_SPLIT.finditer(value) if 0 < m.start() < len(value)]
    ends = [m.start() for m in _PHONE_SPLIT.finditer(value) if 0 < m.start() < len(value)] + [len(value)]
    spans = [(0, len(value))]
    spans += [(0, e) for e in reversed(ends[-3:-1])]
    spans += [(s, len(value)) for s in cuts[1:3]]
    return spans


def find_phones(text: str, regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> list[Entity]:
    found: list[Entity] = []
    for m in _PHONE.finditer(text):
        for lo, hi in _phone_spans(m.group()):
            value = m.group()[lo:hi].strip(" .-/")
            if not value or value[-1] == "(" or not (value[0].isdigit() or value[0] in "+("):
                continue
            start = m.start() + m.group().index(value, lo)
            before = _window_before(text, start, 24).rstrip()
            if _phone_shape_ok(value, before) and _phone_valid(value, regions):
                found.append(Entity(PHONE, start, start + len(value)))
                break
    return found
