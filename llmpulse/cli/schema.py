"""``llmpulse schema export DIR``: JSON Schema of the event contracts."""

from __future__ import annotations

import argparse
from pathlib import Path

from llmpulse.schemas.export import export_json_schemas


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("schema", help="export the event contracts as JSON Schema")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write <name>.schema.json files into DIR")
    export.add_argument("dir", type=Path)
    export.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in export_json_schemas(args.dir):
        print(path)
    return 0
