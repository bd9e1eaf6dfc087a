"""The llmpulse dashboards bundle (infra/superset/, mounted read-only) as the ZIP Superset imports, with the
database URI from the environment: the committed bundle holds no password, and Superset refuses a masked one.

    python bundle_zip.py SRC OUT.zip     # exit 3 when SRC holds no bundle (no metadata.yaml, no .zip)
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path

TOP = "llmpulse_dashboards"


def entries(src: Path) -> dict[str, bytes]:
    """Bundle-relative path -> content, from an unzipped export (a folder with metadata.yaml) or a ZIP."""
    for meta in sorted(src.rglob("metadata.yaml")):
        root = meta.parent
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.yaml"))}
    for archive in sorted(src.rglob("*.zip")):
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.endswith(".yaml")]
            prefix = min((n.rsplit("metadata.yaml", 1)[0] for n in names if n.endswith("metadata.yaml")), default="")
            return {n[len(prefix):]: zf.read(n) for n in names if n.startswith(prefix)}
    return {}


def main() -> int:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    found = entries(src) if src.is_dir() else {}
    if not found:
        return 3
    uri = os.environ["LLMPULSE_SUPERSET_DATABASE_URI"]
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in found.items():
            if name.startswith("databases/"):
                text = re.sub(r"(?m)^sqlalchemy_uri:.*$", lambda _: f"sqlalchemy_uri: {uri}", content.decode())
                content = text.encode()
            zf.writestr(f"{TOP}/{name}", content)
    os.chmod(out, 0o600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
