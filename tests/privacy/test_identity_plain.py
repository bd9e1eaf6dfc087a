"""The vectorised plain-id gate (``plain_ids``, Arrow's RE2) says what ``cannot_hold_pii`` (Python's ``re``)
says, value for value, and ``clean_column`` stores what cleaning each value one by one stores."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pyarrow as pa
import pytest

from llmpulse.privacy.identity import IdentityCleaner, cannot_hold_pii, plain_ids

KEY = b"k3y-for-tests-only-0123456789abcdef"

# pieces that reach every branch of the gate: the plain-id alphabet and its edges, digit runs and the id
# shapes of _NUMERIC, "--", provider-key prefixes, secret, birth and passport words, e-mail and phone signs
PIECES = [
    "sess", "user", "u", "s", "team", "app", "-", "_", "--", "0", "7", "42", "1234", "00a68", "12b34", "a1b2c3",
    "123456", "1234567", "12 34 56 c", "123456d", "4155550132", "+49", "151", "(415)", "555-0199", "/", ".", " ",
    "\u2013", "f3998", "deadbeef", "pas", "passport", "pass", "key", "token", "secret", "pwd", "clave", "clé",
    "born", "dob", "d.o.b", "né", "nee", "geb", "nac.", "travel doc", "sk-", "sk_live_", "hf_", "ghp_", "AKIA",
    "AIza", "xoxb-", "glpat-", "@", "jane.doe", "@acme.io", ".com", "Jane", "ABC", "é", "ü", "\n", ":", "hmac:",
    "4111 1111 1111 1111", "4111111111111111", "DE89370400440532013000", "192.168.0.1", "fe80::1",
]  # fmt: skip


def sample_ids(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    values = [
        str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(50)
    ] + [f"sess-{i}" for i in range(0, 5000, 97)] + [f"user_{i}" for i in range(0, 300, 7)] + [
        f"s{rng.getrandbits(24):06x}-f{rng.randrange(10_000):04d}" for _ in range(200)
    ] + [
        "jane.doe@acme-corp.com", "sess-jane@acme.io-1", "+49 151 23456789", "4155550132", "(415) 555-0199",
        "4111-1111-1111-1111", "378282246310005", "a" * 64, "a" * 65, "x" * 63 + "-", "", "user-00017",
        "2a7f9c", "1700000000", "growth", "hmac:" + "0" * 32, "AB123456C", "ab123456c", "RSSMRA85T10A562S",
        "rssmra85t10a562s",
    ]  # fmt: skip
    while len(values) < n:
        values.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 5))))
    return values


def test_plain_ids_agrees_with_cannot_hold_pii() -> None:
    values = sample_ids(20_000)
    expected = [cannot_hold_pii(v) for v in values]
    got = plain_ids(pa.array(values, pa.string())).tolist()
    assert [(v, g) for v, g, e in zip(values, got, expected, strict=True) if g != e] == []
    # the sample reaches both answers often, so the agreement says something
    assert 1_000 < sum(expected) < len(values) - 1_000


def test_plain_ids_of_nulls_and_of_nothing() -> None:
    assert plain_ids(pa.array([None, "sess-1", None], pa.string())).tolist() == [False, True, False]
    assert plain_ids(pa.array([], pa.string())).tolist() == []


@pytest.mark.parametrize(
    ("key", "hash_all"), [(None, False), (KEY, False), (KEY, True)], ids=["no-key", "key", "hash-all"]
)
@pytest.mark.parametrize("field", ["user_id", "session_id", "team"])
def test_clean_column_stores_what_cleaning_each_value_stores(key: bytes | None, hash_all: bool, field: str) -> None:
    rng = random.Random(11)
    distinct = sample_ids(3_000, seed=3)
    rows = [rng.choice(distinct) if rng.random() > 0.02 else None for _ in range(10_000)]
    column = pa.array(rows, pa.string())
    reference = IdentityCleaner(key, hash_all=hash_all)  # the per-value path, on a cleaner of its own
    expected = [reference.clean(field, v) if v is not None else (None, 0) for v in rows]
    stored, found = IdentityCleaner(key, hash_all=hash_all).clean_column(field, column)
    got = list(zip(stored.to_pylist(), found.tolist(), strict=True))
    assert [(v, g, e) for v, g, e in zip(rows, got, expected, strict=True) if g != e] == []
    assert np.count_nonzero(found) > 100  # PII was there to be found


def test_a_column_of_plain_ids_is_returned_as_it_is() -> None:
    column = pa.array([f"sess-{i % 50}" for i in range(500)] + [str(uuid.UUID(int=i)) for i in range(10)])
    stored, found = IdentityCleaner().clean_column("session_id", column)
    assert stored is column and not found.any()
