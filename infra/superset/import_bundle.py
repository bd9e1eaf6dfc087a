"""Imports llmpulse's Superset bundle, overwriting what an earlier import created (dashboards as code).

Run with the Superset venv's Python, with SUPERSET_CONFIG_PATH set:

    python import_bundle.py BUNDLE_DIR --uri clickhousedb://reader:…@host:port/llmpulse [--user admin]

The bundle's database URI holds no password; ``--uri`` (or ``LLMPULSE_SUPERSET_DATABASE_URL``) is written into
the copy that is imported. Superset's ``ImportAssetsCommand`` overwrites databases, datasets, charts and
dashboards alike (``superset import-dashboards`` would keep stale datasets and charts).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PLACEHOLDER = "clickhousedb://reader:XXXXXXXXXX@127.0.0.1:8123/llmpulse"


def contents_of(bundle: Path, uri: str) -> dict[str, str]:
    contents = {}
    for path in sorted(bundle.rglob("*.yaml")):
        text = path.read_text()
        if path.parent.name == "databases":
            text = text.replace(PLACEHOLDER, uri)
        contents[str(path.relative_to(bundle))] = text
    return contents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--uri", default=os.environ.get("LLMPULSE_SUPERSET_DATABASE_URL"))
    parser.add_argument("--user", default=os.environ.get("SUPERSET_ADMIN_USER", "admin"))
    args = parser.parse_args()
    if not args.uri:
        parser.error("--uri or LLMPULSE_SUPERSET_DATABASE_URL is required")
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.utils.core import override_user

        with override_user(user=security_manager.find_user(username=args.user)):
            ImportAssetsCommand(contents_of(args.bundle, args.uri)).run()
    print(f"imported {args.bundle} (database llmpulse -> {args.uri.split('@')[-1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
