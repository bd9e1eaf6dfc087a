"""Cluster DDL, derived from the single-node migrations (one definition of each table).

For a cluster named in ``remote_servers`` (``llmpulse migrate --cluster NAME``), each statement becomes:

- ``CREATE TABLE t`` → ``t_local``, created ``ON CLUSTER`` with the ``Replicated`` form of its engine (Keeper
  path ``/clickhouse/tables/{shard}/{database}/t_local``, replica ``{replica}``; the engine's own arguments
  follow), and ``t`` itself, a ``Distributed`` table over ``t_local`` with the table's sharding key: the
  documented names stay the same for SQL, dashboards and workers.
- The sharding key is the ``-- shard by: EXPR`` line above the table in its migration, else
  ``cityHash64`` of the table's sorting key (rows that merges collapse must meet on one shard).
- Views and functions are created ``ON CLUSTER``; a view reads the ``Distributed`` tables (same names).
- Names are qualified with the database (``ClusterDDL.database``).
  A materialized view runs on every shard: it reads the local table and writes the local target.
- ``ALTER TABLE t`` goes to ``t_local`` ``ON CLUSTER``; a column change also goes to ``t``.
- ``non_replicated_deduplication_window`` becomes ``replicated_deduplication_window`` (same window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LOCAL_SUFFIX = "_local"
KEEPER_PATH = "/clickhouse/tables/{{shard}}/{{database}}/{table}"
REPLICA = "{replica}"
# tables with one copy on every node (not sharded): the migrations ledger
EVERYWHERE_PATH = "/clickhouse/tables/all/{{database}}/{table}"
EVERYWHERE_REPLICA = "{shard}-{replica}"

_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_SHARD_BY = re.compile(r"^\s*--\s*shard by:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)\s*\(", re.IGNORECASE)
_CREATE_VIEW = re.compile(r"^CREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\s+(\w+)\b", re.IGNORECASE)
_CREATE_MV = re.compile(r"^CREATE\s+MATERIALIZED\s+VIEW\s+IF\s+NOT\s+EXISTS\s+(\w+)\b", re.IGNORECASE)
_CREATE_FUNCTION = re.compile(r"^CREATE\s+FUNCTION\s+IF\s+NOT\s+EXISTS\s+(\w+)\b", re.IGNORECASE)
_ALTER_TABLE = re.compile(r"^ALTER\s+TABLE\s+(\w+)\b", re.IGNORECASE)
_COLUMN_ALTER = re.compile(r"\b(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.IGNORECASE)
_ENGINE = re.compile(r"^ENGINE\s*=\s*(\w*MergeTree)\b(\s*\(([^)]*)\))?", re.IGNORECASE | re.MULTILINE)
_ORDER_BY = re.compile(r"^ORDER\s+BY\s+(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


class ClusterDDLError(ValueError):
    """A migration statement that cannot be turned into cluster DDL."""


def check_cluster_name(name: str) -> str:
    if not _CLUSTER_NAME.match(name):
        raise ClusterDDLError(f"bad cluster name {name!r}")
    return name


def quote_cluster(name: str) -> str:
    check_cluster_name(name)
    return name if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name) else f"`{name}`"


def shard_by_line(raw_chunk: str) -> str | None:
    """The ``-- shard by: EXPR`` annotation of a migration statement, if any."""
    found = _SHARD_BY.search(raw_chunk)
    return found.group(1) if found else None


def replicated_engine(statement: str, path: str, replica: str) -> str:
    """``ENGINE = XMergeTree(args)`` → ``ENGINE = ReplicatedXMergeTree('path', 'replica', args)``."""
    found = _ENGINE.search(statement)
    if found is None:
        raise ClusterDDLError(f"no MergeTree engine in: {statement.splitlines()[0]}")
    engine, args = found.group(1), (found.group(3) or "").strip()
    if engine.lower().startswith("replicated"):
        raise ClusterDDLError(f"already replicated: {statement.splitlines()[0]}")
    new_args = ", ".join(x for x in (f"'{path}'", f"'{replica}'", args) if x)
    replaced = f"ENGINE = Replicated{engine}({new_args})"
    statement = statement[: found.start()] + replaced + statement[found.end():]
    return statement.replace("non_replicated_deduplication_window", "replicated_deduplication_window")


def sorting_key_hash(statement: str) -> str:
    found = _ORDER_BY.search(statement)
    if found is None:
        raise ClusterDDLError(f"no ORDER BY in: {statement.splitlines()[0]}")
    key = found.group(1)
    if key.startswith("(") and key.endswith(")"):
        key = key[1:-1]
    return f"cityHash64({key})"


@dataclass
class ClusterDDL:
    """Turns single-node statements (in migration order) into cluster statements.

    Every name is qualified with ``database``: on the other nodes an ``ON CLUSTER`` query does not always
    resolve unqualified names (or ``currentDatabase()``) in the initiator's database (ClickHouse issues 6104,
    8170, 39500), so the cluster DDL names the database everywhere.
    """

    cluster: str
    database: str = "llmpulse"
    sharded: dict[str, str] = field(default_factory=dict)  # documented table name -> sharding key

    def __post_init__(self) -> None:
        self.on = f" ON CLUSTER {quote_cluster(self.cluster)}"
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.database):
            raise ClusterDDLError(f"bad database name {self.database!r}")

    def local(self, table: str) -> str:
        return table + LOCAL_SUFFIX if table in self.sharded else table

    def q(self, name: str) -> str:
        return f"{self.database}.{name}"

    def statements(self, statement: str, shard_by: str | None = None) -> list[str]:
        statement = statement.strip()
        if m := _CREATE_TABLE.match(statement):
            return self._table(statement, m, shard_by)
        if shard_by is not None:
            raise ClusterDDLError(f"'-- shard by:' on a statement that creates no table: {statement[:60]}")
        if m := _CREATE_MV.match(statement):
            return [self._materialized_view(statement, m)]
        if m := _CREATE_VIEW.match(statement):
            head = f"CREATE VIEW IF NOT EXISTS {self.q(m.group(1))}{self.on}"
            return [head + self._sources(statement[m.end():], local=False)]
        if m := _CREATE_FUNCTION.match(statement):  # functions are global, not in a database
            return [statement[: m.end()] + self.on + statement[m.end():]]
        if m := _ALTER_TABLE.match(statement):
            return self._alter(statement, m)
        raise ClusterDDLError(f"no cluster form for: {statement.splitlines()[0]}")

    def _table(self, statement: str, m: re.Match[str], shard_by: str | None) -> list[str]:
        table = m.group(1)
        local = table + LOCAL_SUFFIX
        key = shard_by or sorting_key_hash(statement)
        head = f"CREATE TABLE IF NOT EXISTS {self.q(local)}{self.on}"
        body = statement[m.end() - 1:]
        local_stmt = replicated_engine(f"{head}\n{body}", KEEPER_PATH.format(table=local), REPLICA)
        engine = f"Distributed('{self.cluster}', '{self.database}', '{local}', {key})"
        distributed = f"CREATE TABLE IF NOT EXISTS {self.q(table)}{self.on}\nAS {self.q(local)}\nENGINE = {engine}"
        self.sharded[table] = key
        return [local_stmt, distributed]

    def _sources(self, text: str, *, local: bool) -> str:
        """Tables a query reads, qualified (and, for a materialized view, the local tables)."""
        def name(t: re.Match[str]) -> str:
            table = t.group(3)
            if table not in self.sharded:
                return t.group(0)
            return t.group(1) + t.group(2) + self.q(self.local(table) if local else table)

        return re.sub(r"\b(FROM|JOIN)(\s+)(\w+)\b(?!\.)", name, text, flags=re.IGNORECASE)

    def _materialized_view(self, statement: str, m: re.Match[str]) -> str:
        rest = statement[m.end():]
        rest = re.sub(r"^(\s+TO\s+)(\w+)", lambda t: t.group(1) + self.q(self.local(t.group(2))), rest, count=1,
                      flags=re.IGNORECASE)  # fmt: skip
        return f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self.q(m.group(1))}{self.on}" + self._sources(rest, local=True)

    def _alter(self, statement: str, m: re.Match[str]) -> list[str]:
        table = m.group(1)
        if table not in self.sharded:
            raise ClusterDDLError(f"ALTER of a table no migration created: {table}")
        rest = statement[m.end():]
        out = [f"ALTER TABLE {self.q(table + LOCAL_SUFFIX)}{self.on}{rest}"]
        if _COLUMN_ALTER.search(rest) and not re.search(r"\b(TTL|CODEC)\b", rest, re.IGNORECASE):
            out.append(f"ALTER TABLE {self.q(table)}{self.on}{rest}")
        return out


def everywhere(statement: str, cluster: str, database: str) -> str:
    """A ``CREATE TABLE`` for a small table that every node holds whole (one replica set across the cluster)."""
    m = _CREATE_TABLE.match(statement.strip())
    if m is None:
        raise ClusterDDLError(f"not a CREATE TABLE: {statement[:60]}")
    table = m.group(1)
    on = f" ON CLUSTER {quote_cluster(cluster)}"
    stmt = statement.strip()
    stmt = stmt[: m.start(1)] + f"{database}.{table}{on}" + stmt[m.end(1):]
    return replicated_engine(stmt, EVERYWHERE_PATH.format(table=table), EVERYWHERE_REPLICA)
