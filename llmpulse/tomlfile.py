"""Reading TOML configuration (alert rules, routing, prices): one loader, one error format.

Errors name the source and say what is wrong: ``alerts.toml: cannot read: No such file or directory``,
``alerts.toml: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)``.
Each caller wraps ``TomlFileError`` in its own error type.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any


class TomlFileError(ValueError):
    """A TOML file could not be read or parsed; the message starts with the file's name."""


def parse_toml(text: str, source: str = "<string>", *, parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """The document in ``text``; ``parse_float`` reads every float (e.g. ``Decimal`` for exact prices)."""
    try:
        return tomllib.loads(text, parse_float=parse_float)
    except tomllib.TOMLDecodeError as exc:
        raise TomlFileError(f"{source}: not valid TOML: {exc}") from None


def read_toml(path: str | Path, *, parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """The document in the file at ``path`` (UTF-8)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TomlFileError(f"{file}: cannot read: {reason}") from None
    return parse_toml(text, str(file), parse_float=parse_float)
