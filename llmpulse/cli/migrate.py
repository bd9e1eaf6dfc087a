"""``llmpulse migrate``: apply the ClickHouse schema migrations."""

from __future__ import annotations

import argparse

from llmpulse.cli.common import add_store_flags, fail, settings_from
from llmpulse.clickhouse.exceptions import StoreError
from llmpulse.clickhouse.migrate import migrate
from llmpulse.clickhouse.store import open_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="apply ClickHouse schema migrations",
                       description="Apply the versioned DDL migrations (each once) to the configured store: "
                                   "a ClickHouse server (LLMPULSE_CLICKHOUSE_URL) or the embedded data dir. "
                                   "Workers also migrate at start-up.")  # fmt: skip
    add_store_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        with open_store(settings) as store:
            applied = migrate(store)
            where = store.describe()
    except StoreError as exc:
        return fail(str(exc))
    print(f"{where}: " + (f"applied {', '.join(applied)}" if applied else "schema up to date"))
    return 0
