"""A hallucination signal without a judge model: the same prompt asked again (same model) and answered
differently. ``AnswerMemory`` keeps, per (model, prompt) hash, the word shingles of the last answer in a
bounded LRU, and scores a new answer by its Jaccard similarity to the previous one.

An answer is remembered by the ``SKETCH_SIZE`` smallest hashes of its shingles (a bottom-k sketch, 8 bytes
each), so an entry costs the same for a long answer as for a short one. The similarity is exact while both
answers have fewer shingles than that (about as many words), and an estimate of the Jaccard similarity
(standard error at most 0.5/sqrt(SKETCH_SIZE)) for longer ones."""

from __future__ import annotations

import hashlib
import heapq
import re
from array import array
from collections import OrderedDict

_WORD = re.compile(r"\w+", re.UNICODE)

#: answers to the same prompt that share less than this fraction of their 3-word shingles disagree
DISAGREEMENT_THRESHOLD = 0.2
#: shingle hashes remembered per answer
SKETCH_SIZE = 64


def shingles(text: str, size: int = 3) -> frozenset[int]:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < size:
        return frozenset({hash(tuple(words))}) if words else frozenset()
    return frozenset(hash(tuple(words[i : i + size])) for i in range(len(words) - size + 1))


def sketch(text: str, size: int = SKETCH_SIZE) -> array[int]:
    """The ``size`` smallest shingle hashes of a text, ascending (all of them when it has fewer)."""
    return array("q", heapq.nsmallest(size, shingles(text)))


def jaccard(a: array[int], b: array[int], size: int = SKETCH_SIZE) -> float:
    """Jaccard similarity of two texts from their sketches: exact when both hold whole shingle sets, else the
    bottom-k estimate (the share of the ``size`` smallest hashes of the union that both texts have)."""
    first, second = set(a), set(b)
    union = first | second
    if not union:
        return 1.0
    if len(a) < size and len(b) < size:
        return len(first & second) / len(union)
    smallest = heapq.nsmallest(size, union)
    return sum(1 for h in smallest if h in first and h in second) / len(smallest)


class AnswerMemory:
    """Bounded memory of the last answer per (model, prompt); O(capacity) memory (a sketch per answer)."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._last: OrderedDict[bytes, array[int]] = OrderedDict()

    @staticmethod
    def _key(model: str, prompt: str) -> bytes:
        return hashlib.blake2b(f"{model}\0{prompt}".encode(), digest_size=16).digest()

    def similarity(self, model: str, prompt: str, response: str) -> float | None:
        """Similarity of this answer to the previous answer to the same prompt (None: first time seen)."""
        key = self._key(model, prompt)
        current = sketch(response)
        previous = self._last.pop(key, None)
        self._last[key] = current
        if len(self._last) > self.capacity:
            self._last.popitem(last=False)
        if previous is None:
            return None
        return jaccard(previous, current)
