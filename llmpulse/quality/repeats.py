"""A hallucination signal without a judge model: the same prompt asked again (same model) and answered
differently. ``AnswerMemory`` keeps, per (model, prompt) hash, the word shingles of the last answer in a
bounded LRU, and scores a new answer by its Jaccard similarity to the previous one."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict

_WORD = re.compile(r"\w+", re.UNICODE)

#: answers to the same prompt that share less than this fraction of their 3-word shingles disagree
DISAGREEMENT_THRESHOLD = 0.2


def shingles(text: str, size: int = 3) -> frozenset[int]:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < size:
        return frozenset({hash(tuple(words))}) if words else frozenset()
    return frozenset(hash(tuple(words[i : i + size])) for i in range(len(words) - size + 1))


class AnswerMemory:
    """Bounded memory of the last answer per (model, prompt); O(capacity) memory."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._last: OrderedDict[bytes, frozenset[int]] = OrderedDict()

    @staticmethod
    def _key(model: str, prompt: str) -> bytes:
        return hashlib.blake2b(f"{model}\0{prompt}".encode(), digest_size=16).digest()

    def similarity(self, model: str, prompt: str, response: str) -> float | None:
        """Similarity of this answer to the previous answer to the same prompt (None: first time seen)."""
        key = self._key(model, prompt)
        current = shingles(response)
        previous = self._last.pop(key, None)
        self._last[key] = current
        if len(self._last) > self.capacity:
            self._last.popitem(last=False)
        if previous is None:
            return None
        union = previous | current
        return len(previous & current) / len(union) if union else 1.0
