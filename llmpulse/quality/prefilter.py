"""``Alternation``: whether any of many regular expressions matches a text, as fast as the text lacks their words.

``re.compile("|".join(patterns)).search(text)`` tries every alternative at every position of the text: for the
two dozen injection phrases that is about 2 ms per KB. An ``Alternation`` answers the same question (a match
or not) by trying each pattern on its own, and only when one of the literal strings any match of that pattern
must contain (read from the pattern's parse tree, ``required``) occurs in the text, case folded (``fold``).
Most texts hold none of them, and a substring test costs well under a µs per KB. ``search_many`` first finds
the texts of a batch that hold any literal of any pattern at all, in one pass of Arrow's RE2 over them (a few
µs per KB whatever the number of literals), and tries the patterns on those alone.

The answer is exactly the combined expression's: a text matches ``A|B`` somewhere iff it matches ``A`` or
``B`` somewhere, and a match of a pattern contains one of its literals up to the regular expression engine's
case-insensitive equivalence, which ``fold`` maps onto ``str.lower`` (``tests/quality/test_prefilter.py``
checks every Unicode character against every literal character).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import product
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: characters that ``re.IGNORECASE`` matches to an ASCII letter but ``str.lower`` does not map onto it (the
#: dotted and dotless i, the long s; the Kelvin sign lowercases to k), as that letter
_FOLD = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"))
#: an exact-strings set grows no larger than this (a sequence of alternatives multiplies them)
_MAX_STRINGS = 256

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_ZERO_WIDTH = (sre.AT, sre.ASSERT, sre.ASSERT_NOT)


def fold(text: str) -> str:
    """The text lowercased so that a character the engine matches case-insensitively to a literal character
    becomes that character lowercased."""
    if not text.isascii():
        for char, letter in _FOLD:
            if char in text:
                text = text.replace(char, letter)
    return text.lower()


def _exact(items: Any) -> frozenset[str] | None:
    """Every string a parsed (sub)pattern can match, when they are few and the pattern is a literal
    sequence with alternatives and optional parts; else None."""
    found = {""}
    for op, av in items:
        if op == sre.LITERAL:
            options: frozenset[str] | None = frozenset({fold(chr(av))})
        elif op == sre.IN and av and all(kind == sre.LITERAL for kind, _ in av):
            options = frozenset(fold(chr(code)) for _, code in av)
        elif op == sre.SUBPATTERN:
            options = _exact(av[-1])
        elif op == sre.BRANCH:
            parts = [_exact(branch) for branch in av[1]]
            options = None if any(p is None for p in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
        elif op in _REPEATS and av[0] == 0 and av[1] == 1:
            inner = _exact(av[2])
            options = None if inner is None else inner | {""}
        elif op in _ZERO_WIDTH:
            options = frozenset({""})
        else:
            return None
        if options is None or len(found) * len(options) > _MAX_STRINGS:
            return None
        found = {a + b for a, b in product(found, options)}
    return frozenset(found)


#: a required string is selective when it holds a word this long that is not among ``_COMMON``; among
#: selective requirements the one with the fewest strings is the fastest (each string is a scan of the text)
_SELECTIVE = 5
_COMMON = frozenset(
    [
        "about", "after", "again", "before", "could", "every", "first", "other", "please", "should", "something",
        "their", "there", "these", "thing", "those", "which", "would", "where", "while", "nicht", "keine", "dieses",
        "quelque", "pouvez", "puede", "porque", "niets",
    ]
)  # fmt: skip
_UNSELECTIVE = 20
#: a shorter string is no filter at all (a space, "i")
_SHORTEST = 4
_WORDS = re.compile(r"[^\W\d_]+")


def _selective(string: str) -> bool:
    return any(len(word) >= _SELECTIVE and word not in _COMMON for word in _WORDS.findall(string))


def _minimal(strings: Iterable[str]) -> frozenset[str]:
    """The strings without those containing another one (which would be found anyway)."""
    ordered = sorted(set(strings), key=len)
    kept: list[str] = []
    for s in ordered:
        if not any(k in s for k in kept):
            kept.append(s)
    return frozenset(kept)


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The cheaper of two requirements: the fewer scans of the text, counting ``_UNSELECTIVE`` more for a set
    with a string that ordinary text may well hold (then the pattern itself is tried more often); then the
    longer shortest string."""
    if a is None or b is None:
        return a if b is None else b

    def cost(strings: frozenset[str]) -> tuple[bool, int, int]:
        shortest = min(map(len, strings))
        scans = len(strings) + (0 if all(map(_selective, strings)) else _UNSELECTIVE)
        return (shortest < _SHORTEST, scans, -shortest)

    return min(a, b, key=cost)


def _runs(units: list[frozenset[str]]) -> Iterable[frozenset[str]]:
    """Every contiguous stretch of a run of exact items, as the strings it can match (when not too many)."""
    for start in range(len(units)):
        found = frozenset({""})
        for options in units[start:]:
            if len(found) * len(options) > _MAX_STRINGS:
                break
            found = frozenset(a + b for a, b in product(found, options))
            if "" not in found:
                yield _minimal(found)


def required(items: Any) -> frozenset[str] | None:
    """Strings one of which every match of a parsed (sub)pattern contains (folded), the cheapest such set
    found (``_better``), or None when there is none."""
    best: frozenset[str] | None = None
    units: list[frozenset[str]] = []  # the current run of exact items

    def close_run() -> None:
        nonlocal best
        for candidate in _runs(units):
            best = _better(best, candidate)
        units.clear()

    for op, av in items:
        options = _exact([(op, av)])
        if options is None:
            close_run()
        elif len(options) == 1 and units and len(units[-1]) == 1:  # a literal string: one unit
            units[-1] = frozenset({next(iter(units[-1])) + next(iter(options))})
        else:
            units.append(options)
        # what a group, an alternative or a repeated part requires (may be fewer strings than its exact set)
        if op == sre.SUBPATTERN:
            best = _better(best, required(av[-1]))
        elif op == sre.BRANCH:
            parts = [required(branch) for branch in av[1]]
            if all(p is not None for p in parts):
                best = _better(best, _minimal(frozenset().union(*parts)))  # type: ignore[arg-type]
        elif op in _REPEATS and av[0] >= 1:
            best = _better(best, required(av[2]))
    close_run()
    return best


class Alternation:
    """``re.compile("|".join(patterns), flags).search(text) is not None``, answered faster (see above)."""

    def __init__(self, patterns: Iterable[str], flags: int = 0) -> None:
        self.patterns = list(patterns)
        self.flags = flags
        self._checks: list[tuple[tuple[str, ...], re.Pattern[str]]] = []
        self._always: list[re.Pattern[str]] = []
        for pattern in self.patterns:
            compiled = re.compile(pattern, flags)
            literals = required(sre_parse.parse(pattern, flags))
            if literals is None:
                self._always.append(compiled)
            else:
                self._checks.append((tuple(sorted(literals)), compiled))
        every = sorted({literal for literals, _ in self._checks for literal in literals})
        self._any_literal = "|".join(map(_re2_escape, every)) if every else None

    @property
    def literals(self) -> list[tuple[str, ...] | None]:
        """Per pattern, the strings of which a text must hold one for it to be tried (None: always tried)."""
        by_pattern = {compiled.pattern: literals for literals, compiled in self._checks}
        return [by_pattern.get(pattern) for pattern in self.patterns]

    def search(self, text: str) -> bool:
        if any(compiled.search(text) for compiled in self._always):
            return True
        return self._tried(text, fold(text))

    def search_many(self, texts: Sequence[str]) -> list[bool]:
        """``search`` of each text (valid Unicode: no lone surrogates), the texts holding no literal at all
        found in one vectorised pass."""
        if not texts:
            return []
        found = [False] * len(texts)
        folded = [fold(text) for text in texts]
        for i in np.flatnonzero(self.holding(folded)).tolist():
            found[i] = self._tried(texts[i], folded[i])
        for i, text in enumerate(texts):
            if self._always and not found[i]:
                found[i] = any(compiled.search(text) for compiled in self._always)
        return found

    def holding(self, folded: Sequence[str]) -> np.ndarray:
        """Which folded texts hold any of the literals (bool each), in one pass of RE2 over them."""
        if self._any_literal is None:
            return np.zeros(len(folded), dtype=bool)
        held = pc.match_substring_regex(pa.array(folded, pa.string()), self._any_literal)
        return np.asarray(held.to_numpy(zero_copy_only=False), dtype=bool)

    def _tried(self, text: str, folded: str) -> bool:
        return any(
            any(literal in folded for literal in literals) and compiled.search(text)
            for literals, compiled in self._checks
        )


def _re2_escape(literal: str) -> str:
    """A literal string as an RE2 pattern that matches it alone (case-sensitively)."""
    return "".join(
        char if char.isalnum() or char == " " else f"\\{char}" if char.isascii() and char.isprintable()
        else f"\\x{{{ord(char):x}}}"
        for char in literal
    )  # fmt: skip
