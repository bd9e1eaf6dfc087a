"""The Superset service's bundle step: a folder or ZIP export becomes the ZIP Superset imports, with the
database URI (the reader's password) from the environment and nowhere else."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "superset-compose" / "bundle_zip.py"
URI = "clickhousedb://llmpulse_reader:s3cret@clickhouse:8123/llmpulse"


def make_export(root: Path) -> None:
    (root / "databases").mkdir(parents=True)
    (root / "charts").mkdir()
    (root / "metadata.yaml").write_text("version: 1.0.0\ntype: Dashboard\n")
    (root / "databases" / "llmpulse.yaml").write_text(
        "database_name: llmpulse\nsqlalchemy_uri: clickhousedb://reader:XXXXXXXXXX@127.0.0.1:8123/llmpulse\n")
    (root / "charts" / "Requests_1.yaml").write_text("slice_name: Requests\n")
    (root / "README.md").write_text("not part of the bundle\n")


def run(src: Path, out: Path) -> int:
    env = {**os.environ, "LLMPULSE_SUPERSET_DATABASE_URI": URI}
    return subprocess.run([sys.executable, str(SCRIPT), str(src), str(out)], env=env).returncode


def check(out: Path) -> None:
    with zipfile.ZipFile(out) as zf:
        names = sorted(zf.namelist())
        assert names == ["llmpulse_dashboards/charts/Requests_1.yaml", "llmpulse_dashboards/databases/llmpulse.yaml",
                         "llmpulse_dashboards/metadata.yaml"]  # fmt: skip
        db = zf.read("llmpulse_dashboards/databases/llmpulse.yaml").decode()
    assert f"sqlalchemy_uri: {URI}\n" in db and "XXXX" not in db
    assert out.stat().st_mode & 0o077 == 0  # the password is in it: owner only


def test_folder_export(tmp_path: Path) -> None:
    make_export(tmp_path / "superset" / "bundle")
    assert run(tmp_path / "superset", tmp_path / "out.zip") == 0
    check(tmp_path / "out.zip")


def test_zip_export_and_no_bundle(tmp_path: Path) -> None:
    make_export(tmp_path / "export" / "dashboard_export_1")
    src = tmp_path / "superset"
    src.mkdir()
    with zipfile.ZipFile(src / "dashboards.zip", "w") as zf:
        for path in (tmp_path / "export").rglob("*"):
            if path.is_file():
                zf.write(path, path.relative_to(tmp_path / "export"))
    assert run(src, tmp_path / "out.zip") == 0
    check(tmp_path / "out.zip")
    (tmp_path / "empty").mkdir()
    assert run(tmp_path / "empty", tmp_path / "none.zip") == 3
    assert run(tmp_path / "missing", tmp_path / "none.zip") == 3
