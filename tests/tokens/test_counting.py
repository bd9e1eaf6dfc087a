"""Token counting offline with the shipped BPE files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken.load

from llmpulse.tokens import counting
from llmpulse.tokens.counting import count_messages, count_text, encoding


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    encoding.cache_clear()
    yield
    encoding.cache_clear()


def test_loads_from_the_shipped_files_never_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    def no_network(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken's own loader was used: {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))  # an empty cache to fall back on
    # tiktoken's README example, token for token
    assert encoding("cl100k_base").encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    text = "Grüße aus Köln — 東京 🚀 def f(x): return x**2"
    assert encoding("o200k_base").decode(encoding("o200k_base").encode(text)) == text
    assert not (tmp_path / "cache").exists()


def test_a_file_that_differs_from_the_published_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    data = tmp_path / "data"
    shutil.copytree(counting.DATA, data)
    damaged = data / "cl100k_base.tiktoken"
    damaged.write_bytes(damaged.read_bytes().replace(b"IQ== 0", b"Ig== 0", 1))
    monkeypatch.setattr(counting, "DATA", data)
    with pytest.raises(ValueError, match="hash mismatch"):
        encoding("cl100k_base")


@pytest.mark.parametrize(
    ("model", "name", "exact"),
    [
        ("gpt-4o-2024-08-06", "o200k_base", True),
        ("openai/gpt-4o-mini", "o200k_base", True),
        ("gpt-oss-120b", "o200k_base", True),
        ("gpt-4-0613", "cl100k_base", True),
        ("gpt-3.5-turbo", "cl100k_base", True),
        ("claude-sonnet-4-6", "o200k_base", False),
        ("llama-3.1-70b", "o200k_base", False),
    ],
)
def test_each_model_gets_its_encoding_or_says_it_is_an_approximation(model: str, name: str, exact: bool) -> None:
    count = count_text("The quick brown fox jumps over the lazy dog.", model)
    assert (count.encoding, count.exact) == (name, exact)
    assert count.tokens == len(encoding(name).encode_ordinary("The quick brown fox jumps over the lazy dog."))


def test_chat_messages_add_openai_framing() -> None:
    enc = encoding("o200k_base")
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "name": "ana", "content": [{"type": "text", "text": "Say hello"}, {"type": "image_url"}]},
    ]
    expected = 3 + 2 * 3 + 1  # reply priming, two messages, one name
    expected += sum(len(enc.encode_ordinary(s)) for s in ("system", "You are terse.", "user", "ana", "Say hello"))
    count = count_messages(messages, "gpt-4o")
    assert count.tokens == expected and count.exact


def test_special_token_text_is_counted_as_text() -> None:
    assert count_text("<|endoftext|>", "gpt-4o").tokens > 1
