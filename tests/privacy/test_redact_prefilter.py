"""The prefilter (one Hyperscan pass per text, ``llmpulse.privacy.prefilter``) only skips recognizers that would have
found nothing: for every text, each recognizer it skips finds nothing, and each one it runs where the
character-class gates would not finds nothing either, so detection is the same both ways. Checked on the
equivalence inputs and on variants of the corpus made to strain the byte patterns (letter case, white space,
non-ASCII letters that lower-case to the words looked for, line breaks as separators)."""

from __future__ import annotations

import random

import pytest

from llmpulse.privacy.prefilter import prefilter
from llmpulse.privacy.redact import _NUMERIC, Redactor
from llmpulse.privacy.shape import Shape
from tests.privacy.equivalence_inputs import corpus_texts, texts

pytestmark = pytest.mark.skipif(prefilter() is None, reason="Hyperscan is not installed")


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def _variants(rng: random.Random, text: str) -> list[str]:
    out = [text.upper(), text.swapcase(), text.title(), text.replace(" ", "\n"), text.replace(" ", "\x1c"),
           text.replace(" ", "  "), text.replace("\n", " "), text.replace(" ", "\t")]  # fmt: skip
    chars = list(text)
    for _ in range(3):  # letters whose lower case is ASCII or Latin-1 ("K" Kelvin, "É", "ẞ")
        chars.insert(rng.randrange(len(chars) + 1), rng.choice(["\u212a", "É", "ẞ", "Ö", "\u2019", "\u2013", "é"]))
    out.append("".join(chars))
    cut = rng.randrange(len(text) + 1)
    out += [text[:cut], text[cut:], "-p " + text, text + " --token abcdEF12345"]
    out += [text.replace(" ", "1"), text.replace(" ", " 12 "), "+" + text, text + " 12345"]  # runs of digits
    out += [text.replace(" ", "\u00a0"), text.replace(" ", "\u202f"), text.replace("\n", "\u2028")]  # spaces
    out += [text + " \ud800", "\U0001f600 " + text]  # a lone surrogate, an emoji
    return out


def _strained() -> list[str]:
    rng = random.Random(41)
    corpus = corpus_texts()
    out: list[str] = []
    for text in corpus:
        out += _variants(rng, text)
    for _ in range(60):
        out.append(rng.choice([" ", "\n", ", ", "\t"]).join(rng.sample(corpus, 6)))
    return out


def _check(redactor: Redactor, text: str) -> tuple[bool, int]:
    """Per recognizer: skipped by one way of gating and run by the other only where it finds nothing. Returns
    (the prefilter answered, how many recognizers it skipped that the class gates would have run)."""
    hits = redactor._prefilter.hits(text)
    if hits is None:
        return False, 0
    shape = Shape(text)
    numeric = _NUMERIC.search(text) is not None
    saved = 0
    for recognizer in redactor._recognizers:
        by_shape = (numeric or not recognizer.numeric) and recognizer.gate(shape)
        by_prefilter = recognizer.wanted(hits)
        if by_shape != by_prefilter:
            assert recognizer.find(text) == [], (recognizer.type, recognizer.find, text[:200])
            saved += by_shape
    phones = redactor._phones
    assert phones is not None
    if numeric and not ("numeric" in hits and "phone" in hits):
        assert phones(text) == [], text[:200]
    elif "phone" in hits:  # the runs of phone characters hold every candidate
        runs = redactor._prefilter.phone_runs(text)
        assert runs is None or phones(text, (), runs) == phones(text), text[:200]
    return True, saved


def test_skipped_recognizers_find_nothing_in_the_equivalence_inputs(redactor: Redactor) -> None:
    answered = saved = 0
    for text in texts():
        if text:
            a, s = _check(redactor, text)
            answered, saved = answered + a, saved + s
    assert answered > 800 and saved > 1000  # the prefilter answers for most texts, and skips real work


def test_skipped_recognizers_find_nothing_in_strained_variants(redactor: Redactor) -> None:
    answered = 0
    for text in _strained():
        if text:
            answered += _check(redactor, text)[0]
    assert answered > 5000


def test_detection_is_the_same_with_and_without_the_prefilter(redactor: Redactor) -> None:
    for text in texts()[::2] + _strained()[::7]:
        assert redactor.detect(text) == redactor._detect_by_shape(text), text[:200]


@pytest.mark.parametrize("text", ["room \u0663\u0664\u0665", "\u212aey: abc", "İstanbul office", "\U0001d7d9 digit"])
def test_odd_texts_take_the_character_class_gates(redactor: Redactor, text: str) -> None:
    assert redactor._prefilter.hits(text) is None
    assert redactor.detect(text) == redactor._detect_by_shape(text)


@pytest.mark.parametrize(
    "text",
    ["call\u00a0me on 0612345678", "tel 123\u2007456\u20077890", "x\u2028y", "12\u00a0Elm\u00a0St\u00a0Boston",
     "my name is\u3000john smith", "--password\u202fhunter2Xy", "SSN 123\u00a045\u00a06789"],
)
def test_non_ascii_white_space_is_white_space_to_the_prefilter(redactor: Redactor, text: str) -> None:
    assert redactor._prefilter.hits(text) is not None
    assert redactor.detect(text) == redactor._detect_by_shape(text)
    _check(redactor, text)


def test_phone_runs_are_the_runs_of_seven_digits(redactor: Redactor) -> None:
    scanner = redactor._prefilter
    text = "call 12 (415) 555-0132 now, or 1234567\n+44 20 7946 0958 1.2.3 42 version 1.2"
    assert scanner.phone_runs(text) == [(4, 23), (30, 38), (39, 65)]  # spaces around digits belong to a run
    assert scanner.phone_runs("x 1.2.3 42 y 19.99 1.2") == []  # six digits at most in a run
    table = "\n".join(f"{i:08d},{i * 7:09d}" for i in range(400))  # two runs a line: searched as a whole
    assert scanner.phone_runs(table) is None
    assert redactor._phones(table, (), None) == redactor._phones(table)


def test_plain_text_is_prefiltered_and_skips_what_it_lacks(redactor: Redactor) -> None:
    hits = redactor._prefilter.hits("please refactor this function so that it handles empty input")
    assert hits is not None and not hits
    hits = redactor._prefilter.hits("Mail jane@example.com, call +31 6 12345678, Hauptstraße 12")
    assert hits is not None and {"at", "numeric", "phone", "street_suffix", "capital", "digit"} <= hits
