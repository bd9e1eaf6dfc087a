"""ClickHouse's error shape: ``Code: N. DB::Exception: message. (NAME) (version V)``, with the code also in
the ``X-ClickHouse-Exception-Code`` header and the HTTP status ClickHouse's own HTTP handler would use."""

from __future__ import annotations

import re

# the ClickHouse error codes this endpoint raises itself (names and numbers as in ClickHouse's ErrorCodes.cpp)
SYNTAX_ERROR = (62, "SYNTAX_ERROR")
NO_DATA_TO_INSERT = (108, "NO_DATA_TO_INSERT")
UNKNOWN_SETTING = (115, "UNKNOWN_SETTING")
READONLY = (164, "READONLY")
REQUIRED_PASSWORD = (194, "REQUIRED_PASSWORD")
UNKNOWN_FORMAT = (73, "UNKNOWN_FORMAT")
SUPPORT_IS_DISABLED = (344, "SUPPORT_IS_DISABLED")
ACCESS_DENIED = (497, "ACCESS_DENIED")
AUTHENTICATION_FAILED = (516, "AUTHENTICATION_FAILED")
HTTP_LENGTH_REQUIRED = (381, "HTTP_LENGTH_REQUIRED")
UNKNOWN_EXCEPTION = (1002, "UNKNOWN_EXCEPTION")

_BAD_REQUEST = {6, 25, 26, 27, 32, 33, 38, 41, 53, 62, 72, 76, 108, 117, 166, 167, 168, 169, 309, 336, 389}
_NOT_FOUND = {46, 47, 60, 73, 81, 115, 50, 63, 104, 111, 114}
_FORBIDDEN = {164, 192, 193, 195, 497, 516, 344}
_CODE_RE = re.compile(r"Code: (\d+)\. ")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")
_TRAILING_NAME_RE = re.compile(r"\.?\s*\([A-Z][A-Z0-9_]+\)\.?$")
_VERSION_RE = re.compile(r" \(version [^)]*\)")

VERSION = "0"  # set at start from the engine's version()


class ClickHouseError(Exception):
    """An error to answer with, in ClickHouse's words."""

    def __init__(self, code: tuple[int, str] | int, message: str, name: str | None = None) -> None:
        if isinstance(code, tuple):
            code, name = code
        super().__init__(message)
        self.code = code
        self.name = name or "UNKNOWN_EXCEPTION"
        self.message = message

    @classmethod
    def from_engine(cls, exc: BaseException) -> ClickHouseError:
        """Wrap what chdb raised (its message is already ClickHouse's ``Code: N. DB::Exception: …``)."""
        text = str(exc)
        codes = _CODE_RE.findall(text)
        if not codes:
            return cls(UNKNOWN_EXCEPTION, text)
        names = _NAME_RE.findall(text)
        start = text.rfind("DB::Exception: ")
        message = text[start + len("DB::Exception: "):] if start >= 0 else text  # fmt: skip
        message = _VERSION_RE.sub("", message)
        while True:  # drop the trailing "(NAME)" markers of nested exceptions; text() adds one back
            stripped = _TRAILING_NAME_RE.sub("", message).rstrip()
            if stripped == message:
                break
            message = stripped
        return cls(int(codes[0]), message.strip(), names[0] if names else None)

    def text(self) -> str:
        message = self.message if self.message.endswith(".") else self.message + "."
        return f"Code: {self.code}. DB::Exception: {message} ({self.name}) (version {VERSION})\n"

    @property
    def http_status(self) -> int:
        if self.code == REQUIRED_PASSWORD[0]:
            return 401
        if self.code in _FORBIDDEN:
            return 403
        if self.code in _BAD_REQUEST:
            return 400
        if self.code in _NOT_FOUND:
            return 404
        if self.code == 159:  # TIMEOUT_EXCEEDED
            return 408
        return 500
