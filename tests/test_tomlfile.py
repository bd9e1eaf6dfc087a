"""The one TOML loader: errors name the file and the line; floats can be read exactly."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from llmpulse.tomlfile import TomlFileError, parse_toml, read_toml


def test_reads_a_file_and_floats_as_asked(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[[model]]\nname = "m"\ninput_mtok = 0.1\n', encoding="utf-8")
    assert read_toml(path) == {"model": [{"name": "m", "input_mtok": 0.1}]}
    assert read_toml(path, parse_float=Decimal)["model"][0]["input_mtok"] == Decimal("0.1")


def test_a_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text('[anomaly]\nenabled = true\n[[threshold]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(TomlFileError) as info:
        read_toml(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid TOML: ") and "line 3" in message
    with pytest.raises(TomlFileError, match=r"^alerts\.toml: not valid TOML: .*line 2"):
        parse_toml("a = 1\nb = ]\n", "alerts.toml")


def test_a_missing_or_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TomlFileError, match=r"nope\.toml: cannot read: No such file or directory$"):
        read_toml(tmp_path / "nope.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(TomlFileError, match=r"binary\.toml: cannot read: .*utf-8"):
        read_toml(binary)
