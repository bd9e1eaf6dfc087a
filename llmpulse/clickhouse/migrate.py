"""Versioned DDL migrations: ``migrations/NNNN_name.sql``, applied in order, each once.

Applied versions are recorded in ``llmpulse_migrations``. The same files serve chdb and a server.
"""

from __future__ import annotations

from importlib import resources

from llmpulse.clickhouse.exceptions import MigrationError, StoreError
from llmpulse.clickhouse.store import Store

_LEDGER = """CREATE TABLE IF NOT EXISTS llmpulse_migrations
(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = ReplacingMergeTree ORDER BY version"""


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every shipped migration, by version."""
    folder = resources.files("llmpulse.clickhouse") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def split_statements(sql: str) -> list[str]:
    """Statements are separated by lines holding only ';' (function bodies may contain ';'-free SQL)."""
    chunks: list[str] = []
    current: list[str] = []
    for line in sql.splitlines():
        if line.strip() == ";":
            chunks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    chunks.append("\n".join(current))
    statements = []
    for chunk in chunks:
        body = "\n".join(x for x in chunk.splitlines() if not x.strip().startswith("--")).strip()
        if body:
            statements.append(body)
    return statements


def applied_versions(store: Store) -> set[int]:
    # a worker may run with a user that can INSERT and SELECT but not CREATE: only create what is missing
    if not store.query("EXISTS TABLE llmpulse_migrations").scalar():
        store.command(_LEDGER)
    return {int(r[0]) for r in store.query("SELECT version FROM llmpulse_migrations FINAL").rows}


def migrate(store: Store) -> list[str]:
    """Apply what is missing; returns the names applied now. Safe to run concurrently and repeatedly."""
    done = applied_versions(store)
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        for statement in split_statements(sql):
            try:
                store.command(statement)
            except StoreError as exc:
                raise MigrationError(f"migration {name} failed: {exc}") from exc
        store.command(
            "INSERT INTO llmpulse_migrations (version, name) VALUES ({v:UInt32}, {n:String})",
            {"v": version, "n": name},
        )
        applied.append(name)
    return applied
