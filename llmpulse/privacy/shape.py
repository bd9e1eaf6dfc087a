"""What a text is made of, computed once per text, so that a recognizer that cannot match is not run.

A recognizer's search is a regular expression over the whole text (about 5 ns a character even when nothing
matches); a substring test over the text's *character classes* is several times cheaper. The class string has
one byte per UTF-8 byte of the text: ``0`` for an ASCII digit, ``A`` for an ASCII capital, ``a`` for an ASCII
small letter, ``u`` for every byte of a non-ASCII character, and every other ASCII character as it is. A
recognizer's gate asks for what every match of its patterns must contain ("two capitals and two digits" for an
IBAN, four digits in a row for a card number): when the gate says no, the recognizer would have found nothing.

Patterns compiled without ``re.ASCII`` take any Unicode digit for ``\\d``; ``digits(n)`` therefore also says
yes when the text holds a non-ASCII digit.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DIGITS = b"0123456789"
_CAPITALS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SMALL = b"abcdefghijklmnopqrstuvwxyz"
_CLASSES = bytes(
    ord("u") if byte >= 0x80 else ord("0") if byte in _DIGITS else ord("A") if byte in _CAPITALS
    else ord("a") if byte in _SMALL else byte
    for byte in range(256)
)  # fmt: skip
# The characters of a base64 key (``[A-Za-z0-9/+]``) as ``x``, everything else as a space.
_BASE64 = bytes(ord("x") if byte in _DIGITS + _CAPITALS + _SMALL + b"/+" else ord(" ") for byte in range(256))
# A non-ASCII decimal digit (the first one is U+0660): the engine skips ASCII in C, then checks ``\d``.
_NON_ASCII_DIGIT = re.compile(r"[^\x00-\x7f](?<=\d)")


class Shape:
    """The character classes of ``text``; ``has``/``digits``/``base64_run`` are necessary conditions."""

    __slots__ = ("_base64", "_non_ascii_digit", "_raw", "classes", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._raw = text.encode("utf-8", "surrogatepass")
        self.classes: bytes = self._raw.translate(_CLASSES)
        self._non_ascii_digit: bool | None = None
        self._base64: bytes | None = None

    def has(self, *pieces: bytes) -> bool:
        """One of ``pieces`` occurs in the class string."""
        classes = self.classes
        return any(piece in classes for piece in pieces)

    def digits(self, n: int) -> bool:
        """``n`` digits in a row may occur: ``n`` ASCII digits, or any non-ASCII digit (a ``\\d`` without
        ``re.ASCII``)."""
        return b"0" * n in self.classes or self.non_ascii_digit()

    def non_ascii_digit(self) -> bool:
        if self._non_ascii_digit is None:
            self._non_ascii_digit = b"u" in self.classes and _NON_ASCII_DIGIT.search(self.text) is not None
        return self._non_ascii_digit

    def base64_run(self, n: int) -> bool:
        """``n`` characters of ``[A-Za-z0-9/+]`` in a row occur."""
        if self._base64 is None:
            self._base64 = self._raw.translate(_BASE64)
        return b"x" * n in self._base64


@lru_cache(maxsize=4)
def shape_of(text: str) -> Shape:
    """The shape of ``text``, made once for the recognizers that look at the same text one after another."""
    return Shape(text)
