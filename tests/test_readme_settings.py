"""The README's configuration table names every setting (one definition: ``llmpulse.settings.Settings``)."""

from __future__ import annotations

from pathlib import Path

from llmpulse.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in Settings.model_fields if f"| `LLMPULSE_{name.upper()}` |" not in table]
    assert not missing, f"settings missing from the README's configuration table: {missing}"
