"""``llmpulse query "SQL"``: run SQL against the store and print a table or JSON rows."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from llmpulse.cli.common import add_store_flags, fail, settings_from
from llmpulse.clickhouse.exceptions import StoreError
from llmpulse.clickhouse.store import QueryResult, open_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("query", help="run SQL against ClickHouse",
                       description="Run SQL against the configured ClickHouse: a server "
                                   "(LLMPULSE_CLICKHOUSE_URL), the running worker that owns the embedded data "
                                   "dir (read-only), or the data dir itself.")  # fmt: skip
    p.add_argument("sql", help='e.g. "SELECT model, latency_p95_ms FROM llm_rollups_1m_v LIMIT 5"')
    add_store_flags(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    p.set_defaults(func=run)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_table(result: QueryResult, max_width: int = 40) -> str:
    cells = [[_cell(v)[:max_width] for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        with open_store(settings) as store:
            result = store.query(args.sql)
    except StoreError as exc:
        return fail(str(exc))
    if args.json:
        for row in result.dicts():
            sys.stdout.write(orjson.dumps(row, default=str).decode() + "\n")
    else:
        print(format_table(result))
    return 0
