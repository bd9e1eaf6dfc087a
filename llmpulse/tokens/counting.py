"""``count_text(text, model)`` and ``count_messages(messages, model)``: tiktoken over the shipped BPE files."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken_ext.openai_public as openai_public
from tiktoken.model import encoding_name_for_model

DATA = Path(__file__).parent / "data"
#: the encodings shipped with llmpulse, by the file name tiktoken's constructors ask for
SHIPPED = {"o200k_base": openai_public.o200k_base, "cl100k_base": openai_public.cl100k_base}
APPROXIMATION = "o200k_base"  # for models whose tokenizer is not public
# OpenAI's chat format: every message costs 3 tokens of framing (4 for the legacy gpt-3.5-turbo-0301),
# a name 1 more, and every reply is primed with 3 (OpenAI cookbook, "How to count tokens with tiktoken").
PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3

_loading = threading.Lock()


@dataclass(frozen=True, slots=True)
class TokenCount:
    tokens: int
    exact: bool  # True: the model's own tokenizer; False: the o200k_base approximation
    encoding: str


def _shipped_file(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
    """The ranks from the shipped copy of ``url``'s file, refused unless its SHA-256 is the published one.

    (tiktoken's own loader skips the check for local files when its cache is off, and otherwise copies
    them into a cache in the temp directory: neither is wanted here.)"""
    path = DATA / url.rsplit("/", 1)[-1]
    contents = path.read_bytes()
    if expected_hash is None or hashlib.sha256(contents).hexdigest() != expected_hash:
        raise ValueError(f"hash mismatch: {path} is not the published tokenizer file (expected {expected_hash})")
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@cache
def encoding(name: str) -> tiktoken.Encoding:
    """A shipped encoding, built by tiktoken's own constructor from the file in ``data/`` (never the network)."""
    constructor = SHIPPED.get(name)
    if constructor is None:
        raise KeyError(f"encoding {name!r} is not shipped; shipped: {sorted(SHIPPED)}")
    with _loading:  # the constructor's loader is swapped for the duration of the call only
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = _shipped_file  # type: ignore[assignment]
        try:
            params = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original  # type: ignore[assignment]
    return tiktoken.Encoding(**params)


@cache
def _encoding_name(model: str) -> tuple[str, bool]:
    try:
        name = encoding_name_for_model(model.rsplit("/", 1)[-1])  # "openai/gpt-4o" as gateways name it
    except KeyError:
        return APPROXIMATION, False
    if name.startswith("o200k"):  # o200k_harmony = o200k_base plus special tokens: same counts for text
        return "o200k_base", True
    return (name, True) if name in SHIPPED else (APPROXIMATION, False)


def count_text(text: str, model: str) -> TokenCount:
    """Tokens in ``text`` as ``model`` would count them (special-token text is counted as text)."""
    name, exact = _encoding_name(model)
    return TokenCount(len(encoding(name).encode_ordinary(text)), exact, name)


def count_messages(messages: Iterable[Mapping[str, Any]], model: str) -> TokenCount:
    """Input tokens of a chat request: each message's text plus OpenAI's per-message framing."""
    name, exact = _encoding_name(model)
    enc = encoding(name)
    total = REPLY_PRIMING
    for message in messages:
        total += PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += len(enc.encode_ordinary(value))
                if key == "name":
                    total += PER_NAME
            elif isinstance(value, list):  # content parts: count the text ones
                for part in value:
                    if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                        total += len(enc.encode_ordinary(part["text"]))
    return TokenCount(total, exact, name)


def count_call(messages: Any, output_text: str, model: str, system: Any = None) -> tuple[int, int]:
    """(input, output) tokens of a chat call counted from its text, for a provider that reported none.

    ``messages`` as sent (OpenAI or Anthropic form; anything that is not a list of mappings counts as none),
    ``system`` Anthropic's separate system prompt (text or text blocks)."""
    turns = [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list | tuple) else []
    if isinstance(system, str | list) and system:
        turns.insert(0, {"role": "system", "content": system})
    return count_messages(turns, model).tokens, count_text(output_text, model).tokens
