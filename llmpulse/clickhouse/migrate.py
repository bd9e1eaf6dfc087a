"""Versioned DDL migrations: ``migrations/NNNN_name.sql``, applied in order, each once.

Applied versions are recorded in ``llmpulse_migrations``. The same files serve chdb, a server and a cluster:
``Schema`` renders them with the retention settings (``retention.py``) and, for a cluster, turns each
statement into its cluster form (``cluster_ddl.py``). After the migrations, a TTL that differs from an
explicitly set retention setting is changed with ``ALTER … MODIFY TTL``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from urllib.parse import urlsplit

from llmpulse.clickhouse.cluster_ddl import ClusterDDL, everywhere, shard_by_line
from llmpulse.clickhouse.exceptions import MigrationError, StoreError
from llmpulse.clickhouse.retention import Retention, alter_statement, current_days, with_ttl
from llmpulse.clickhouse.store import Store
from llmpulse.settings import Settings, get_settings

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


def parse_statements(sql: str) -> list[tuple[str, str | None]]:
    """(statement, its ``-- shard by:`` annotation) for each statement. Statements are separated by lines
    holding only ';' (function bodies may contain ';'-free SQL); comment lines are dropped."""
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
            statements.append((body, shard_by_line(chunk)))
    return statements


def split_statements(sql: str) -> list[str]:
    return [body for body, _ in parse_statements(sql)]


@dataclass(frozen=True)
class Schema:
    """The DDL to run: single-node (``cluster`` None) or for a cluster, with the retention settings."""

    retention: Retention
    cluster: str | None = None
    database: str = "llmpulse"  # a cluster's DDL names it (single node: the connection's database)

    @classmethod
    def from_settings(cls, settings: Settings, cluster: str | None = None, database: str | None = None) -> Schema:
        return cls(Retention.from_settings(settings), cluster or settings.clickhouse_cluster,
                   database or database_of(settings))  # fmt: skip

    def ledger(self) -> str:
        return _LEDGER if self.cluster is None else everywhere(_LEDGER, self.cluster, self.database)

    def migrations(self) -> list[tuple[int, str, list[str]]]:
        """(version, name, statements) of every migration, rendered for this schema."""
        cluster = ClusterDDL(self.cluster, self.database) if self.cluster else None
        out = []
        for version, name, sql in migration_files():
            statements: list[str] = []
            for body, shard_by in parse_statements(sql):
                body = with_ttl(body, self.retention)
                statements += cluster.statements(body, shard_by) if cluster else [body]
            out.append((version, name, statements))
        return out

    def physical(self, table: str) -> str:
        """The table that holds the rows (and the TTL): ``t_local`` on a cluster."""
        return table if self.cluster is None else f"{table}_local"

    def alter_target(self, table: str) -> str:
        """``ALTER TABLE`` target for the table that holds the rows, ``ON CLUSTER`` on a cluster."""
        if self.cluster is None:
            return table
        return f"{self.database}.{self.physical(table)}{ClusterDDL(self.cluster, self.database).on}"

    def script(self) -> str:
        """All the DDL for an empty database, for review (``llmpulse migrate --print``)."""
        parts = [f"-- llmpulse schema, {'cluster ' + self.cluster if self.cluster else 'single node'}",
                 self.ledger() + ";"]  # fmt: skip
        for _, name, statements in self.migrations():
            parts.append(f"\n-- {name}")
            parts += [s + ";" for s in statements]
        return "\n".join(parts) + "\n"


def database_of(settings: Settings) -> str:
    """The database of ``LLMPULSE_CLICKHOUSE_URL`` (its path), else ``llmpulse`` (the compose stacks' name)."""
    if settings.clickhouse_url is not None:
        path = urlsplit(settings.clickhouse_url.get_secret_value()).path.strip("/")
        if path:
            return path
    return "llmpulse"


def applied_versions(store: Store, schema: Schema | None = None) -> set[int]:
    # a worker may run with a user that can INSERT and SELECT but not CREATE: only create what is missing
    if not store.query("EXISTS TABLE llmpulse_migrations").scalar():
        store.command((schema or Schema(Retention.defaults())).ledger())
    return {int(r[0]) for r in store.query("SELECT version FROM llmpulse_migrations FINAL").rows}


def retention_changes(store: Store, schema: Schema) -> list[tuple[str, str]]:
    """(description, ALTER statement) for each explicitly set TTL that the tables do not have yet."""
    changes = []
    for rule in sorted(schema.retention.explicit, key=lambda r: (r.table, r.column or "")):
        table = schema.physical(rule.table)
        query = store.query(
            "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            {"t": table},
        ).scalar()
        if query is None:
            raise MigrationError(f"retention: table {table} does not exist")
        want, have = schema.retention.days[rule], current_days(rule, str(query))
        if want != have:
            what = rule.table + (f".{rule.column}" if rule.column else "")
            was = "custom" if have is None else (f"{have} days" if have else "kept")
            now = f"{want} days" if want else "kept"
            statement = alter_statement(rule, want, schema.alter_target(rule.table))
            changes.append((f"ttl {what}: {was} -> {now}", statement))
    return changes


def migrate(store: Store, settings: Settings | None = None, *, cluster: str | None = None,
            reapply: bool = False) -> list[str]:
    """Apply what is missing, then the retention settings; returns what was done now (names of migrations,
    TTL changes). Safe to run concurrently and repeatedly. ``reapply`` runs every migration again (each
    statement creates only what does not exist): for nodes added to a cluster after the schema was made."""
    settings = settings or get_settings()
    schema = Schema.from_settings(settings, cluster)
    if schema.cluster is not None:  # the cluster DDL names the database the connection uses
        schema = replace(schema, database=str(store.query("SELECT currentDatabase()").scalar()))
    done = set() if reapply else applied_versions(store, schema)
    if reapply:
        store.command(schema.ledger())
    applied = []
    for version, name, statements in schema.migrations():
        if version in done:
            continue
        for statement in statements:
            try:
                store.command(statement)
            except StoreError as exc:
                raise MigrationError(f"migration {name} failed: {exc}") from exc
        store.command(
            "INSERT INTO llmpulse_migrations (version, name) VALUES ({v:UInt32}, {n:String})",
            {"v": version, "n": name},
        )
        applied.append(name)
    for description, statement in retention_changes(store, schema):
        try:
            store.command(statement)
        except StoreError as exc:
            raise MigrationError(f"{description} failed (needs a user allowed to ALTER): {exc}") from exc
        applied.append(description)
    return applied
