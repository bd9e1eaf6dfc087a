"""``llmpulse migrate``: apply the ClickHouse schema migrations (or print them)."""

from __future__ import annotations

import argparse

from llmpulse.cli.common import add_store_flags, fail, settings_from
from llmpulse.clickhouse.cluster_ddl import ClusterDDLError
from llmpulse.clickhouse.exceptions import StoreError
from llmpulse.clickhouse.migrate import Schema, migrate
from llmpulse.clickhouse.store import open_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="apply ClickHouse schema migrations",
                       description="Apply the versioned DDL migrations (each once) to the configured store: "
                                   "a ClickHouse server (LLMPULSE_CLICKHOUSE_URL) or the embedded data dir, "
                                   "then the retention settings (LLMPULSE_TTL_*_DAYS: ALTER ... MODIFY TTL where "
                                   "a table differs). Workers also migrate at start-up.")  # fmt: skip
    add_store_flags(p)
    p.add_argument("--cluster", default=None,
                   help="ClickHouse cluster (remote_servers) to create Replicated tables ON CLUSTER behind "
                        "Distributed tables (env LLMPULSE_CLICKHOUSE_CLUSTER); default: single node")  # fmt: skip
    p.add_argument("--print", dest="print_only", action="store_true",
                   help="print the DDL for an empty database (single node or --cluster) and exit; "
                        "connects to nothing")  # fmt: skip
    p.add_argument("--database", default=None,
                   help="with --print --cluster: the database the DDL names (default: the one in "
                        "LLMPULSE_CLICKHOUSE_URL, else llmpulse); a real run uses the connection's")  # fmt: skip
    p.add_argument("--reapply", action="store_true",
                   help="run every migration again (each statement creates only what is missing): after adding "
                        "nodes or shards to the cluster")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args, clickhouse_cluster=args.cluster)
    try:
        schema = Schema.from_settings(settings, database=args.database)
        if args.print_only:
            print(schema.script(), end="")
            return 0
        with open_store(settings) as store:
            applied = migrate(store, settings, reapply=args.reapply)
            where = store.describe()
    except ClusterDDLError as exc:
        return fail(str(exc))
    except StoreError as exc:
        return fail(str(exc))
    mode = f" (cluster {settings.clickhouse_cluster})" if settings.clickhouse_cluster else ""
    print(f"{where}{mode}: " + (f"applied {', '.join(applied)}" if applied else "schema up to date"))
    return 0
