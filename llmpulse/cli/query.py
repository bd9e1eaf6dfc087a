"""``llmpulse query "SQL"``: run SQL against the store, as a read-only user, and print a table or JSON rows."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from llmpulse.cli.common import add_store_flags, fail, settings_from
from llmpulse.clickhouse.exceptions import StoreError
from llmpulse.clickhouse.store import QueryResult, Store, open_store
from llmpulse.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("query", help="run SQL against ClickHouse (read-only)",
                       description="Run SQL against the configured ClickHouse: a server "
                                   "(LLMPULSE_CLICKHOUSE_URL), or the embedded store through the ClickHouse HTTP "
                                   "endpoint of the process that owns it (as the read-only `reader`; when none "
                                   "runs, this command serves the data dir itself for the query).")  # fmt: skip
    p.add_argument("sql", help='e.g. "SELECT model, latency_p95_ms FROM llm_rollups_1m_v LIMIT 5"')
    add_store_flags(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    p.set_defaults(func=run)


_JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _cell(value: Any) -> str:
    """Times as ISO 8601 UTC, maps/arrays/tuples as JSON, floats to 6 significant digits."""
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)  # the store's time zone is UTC
        return utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds").replace("+00:00", "Z")
    if isinstance(value, dict | list | tuple):
        return orjson.dumps(value, default=str, option=_JSON_OPTIONS).decode()
    return str(value)


def format_table(result: QueryResult, max_width: int = 40) -> str:
    cells = [[_cell(v)[:max_width] for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)


def read_query(settings: Settings, sql: str) -> QueryResult:
    """``sql`` as the endpoint's ``reader``: one client path and one set of rules, whoever owns the store."""
    from llmpulse.clickhouse.chdb_store import ChdbStore

    with open_store(settings, user="reader") as store:
        if not isinstance(store, ChdbStore):
            return store.query(sql)
        from llmpulse.clickhouse.http.server import Endpoint
        from llmpulse.clickhouse.http.settings import EndpointSettings
        from llmpulse.clickhouse.store import endpoint_store

        endpoint = Endpoint(store, EndpointSettings(max_concurrent_queries=1), host="127.0.0.1", port=0)
        try:
            reader: Store = endpoint_store(store.data_dir, endpoint.url, "reader")
            with reader:
                return reader.query(sql)
        finally:
            endpoint.stop()


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        result = read_query(settings, args.sql)
    except StoreError as exc:
        return fail(str(exc))
    if args.json:
        for row in result.dicts():
            sys.stdout.write(orjson.dumps(row, default=str, option=_JSON_OPTIONS).decode() + "\n")
    else:
        print(format_table(result))
    return 0
