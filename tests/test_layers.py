"""The architecture's layers hold: ``lint-imports`` checks the contracts in pyproject.toml [tool.importlinter]."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import llmpulse

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contracts() -> dict[str, dict[str, list[str]]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["source_modules"][0]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_import_contracts_are_kept() -> None:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} missing: install the dev extra (pip install -e '.[dev]')"
    result = subprocess.run([str(LINT_IMPORTS)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_leaf_contracts_name_every_other_top_level_module() -> None:
    """A new llmpulse package is forbidden to the leaves from the start, not after someone remembers it."""
    top = {f"llmpulse.{m.name}" for m in pkgutil.iter_modules(llmpulse.__path__)} - {"llmpulse.__main__"}
    allowed = {
        "llmpulse.schemas": {"llmpulse.schemas"},
        "llmpulse.privacy": {"llmpulse.privacy", "llmpulse.settings", "llmpulse.schemas"},
    }
    contracts = _contracts()
    for leaf, own in allowed.items():
        assert set(contracts[leaf]["forbidden_modules"]) == top - own, leaf
