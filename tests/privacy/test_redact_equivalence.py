"""Speed work must not change a detection: the outputs recorded from the rules before it are reproduced exactly
(every corpus text, generated long texts of every kind, identity values with and without a key)."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.privacy.equivalence_inputs import FIXTURE, identity_values, outputs, texts


@pytest.fixture(scope="module")
def recorded_and_now() -> tuple[dict, dict]:  # type: ignore[type-arg]
    recorded = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    return recorded, outputs()


def test_the_inputs_are_the_recorded_ones(recorded_and_now: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    recorded, now = recorded_and_now
    assert len(recorded["texts"]) == len(texts()) > 800
    assert [r["input"] for r in recorded["texts"]] == [r["input"] for r in now["texts"]]
    assert [r[1] for r in recorded["ids"]] == [r[1] for r in now["ids"]]
    assert len(identity_values()) > 1000
    # the fixture is not trivial: it has PII of many types and texts without any
    types = {e[0] for r in recorded["texts"] for e in r["entities"]}
    assert len(types) >= 10 and any(not r["entities"] for r in recorded["texts"])
    assert any(r[2][1] for r in recorded["ids"]) and any(not r[2][1] for r in recorded["ids"])


def test_every_text_is_redacted_exactly_as_recorded(recorded_and_now: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    recorded, now = recorded_and_now
    differing = [i for i, (a, b) in enumerate(zip(recorded["texts"], now["texts"], strict=True)) if a != b]
    assert not differing, f"{len(differing)} texts redacted differently, first at index {differing[:5]}"


def test_every_identity_value_gets_the_recorded_verdict(recorded_and_now: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    recorded, now = recorded_and_now
    differing = [(a, b) for a, b in zip(recorded["ids"], now["ids"], strict=True) if a != b]
    assert not differing, f"{len(differing)} ids differ, first: {differing[:3]}"


def test_the_identity_shortcut_only_skips_values_where_detection_finds_nothing() -> None:
    import random
    import string

    from llmpulse.privacy.identity import cannot_hold_pii
    from llmpulse.privacy.redact import default_redactor

    redactor = default_redactor()
    rng = random.Random(3)
    pieces = [*string.ascii_lowercase, *string.digits, "-", "_", "user", "sess", "sk-", "hf_", "ghp_", "glpat-",
              "xoxb-", "dob", "born", "nato", "pass", "key", "john", "smith", "st", "rue", "12", "--"]  # fmt: skip
    skipped = 0
    for _ in range(5000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))[:64]
        if cannot_hold_pii(value):
            skipped += 1
            assert redactor.detect(value) == [], value
    assert skipped > 1000
    for risky in ("sk-abcdefghijklmnopqrstuvwxyz", "dob-4-7-85", "born-5-jan-1990", "4155550132", "jan@x.io",
                  "John", "fe80::1", "passport-c01x00t47", "user-1234567", "my name is tom"):  # fmt: skip
        assert not cannot_hold_pii(risky), risky


def test_street_words_of_a_window_are_those_of_the_cut_text() -> None:
    import random

    from llmpulse.privacy.people import _has_street_word, _is_street_token, _StreetTokens

    rng = random.Random(5)
    checked = hits = 0
    for text in texts()[::3]:
        streets = _StreetTokens(text, {t for t in set(text.split()) if _is_street_token(t)})
        for _ in range(20):
            a = rng.randrange(len(text))
            b = min(len(text), a + rng.randint(1, 200))
            expected = _has_street_word(text[a:b])
            assert streets.in_window(a, b) == expected, (text[a:b], a, b)
            checked, hits = checked + 1, hits + expected
    assert checked > 4000 and hits > 100
