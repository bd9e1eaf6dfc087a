"""Cluster DDL: parsed by ClickHouse's own parser (chdb), consistent with the single-node schema.

chdb has no Keeper and no distributed DDL queue, so ``ON CLUSTER`` and ``Replicated*`` engines are checked by
the parser only; everything else (the Distributed tables over their local tables, the view over the
Distributed tables) is executed on chdb with a two-shard ``remote_servers`` config and compared, table by
table and column by column, with the single-node tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmpulse.cli import migrate as migrate_cli
from llmpulse.clickhouse.cluster_ddl import ClusterDDL, ClusterDDLError, sorting_key_hash
from llmpulse.clickhouse.migrate import Schema
from llmpulse.clickhouse.retention import Retention

pytestmark = pytest.mark.integration

DOCUMENTED = ["llm_calls", "llm_call_rollups_1m", "llm_user_cost_1d", "llm_dead_letters", "llm_sink_chunks",
              "llm_alerts", "llm_alert_state", "llm_feedback", "llm_evaluations", "llm_quality_rollups_1m",
              "llm_evaluation_rollups_1m"]  # fmt: skip
VIEWS = ["llm_rollups_1m_v", "llm_quality_1m_v", "llm_sessions_v"]

_CLUSTER_XML = """<clickhouse>
  <remote_servers>
    <demo>
      <shard><internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>9000</port></replica></shard>
      <shard><internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>9001</port></replica></shard>
    </demo>
  </remote_servers>
  <macros><shard>01</shard><replica>ch-s1-r1</replica></macros>
</clickhouse>
"""


def cluster_statements(schema: Schema) -> list[str]:
    return [schema.ledger()] + [s for _, _, statements in schema.migrations() for s in statements]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[object]:
    """A chdb session that knows a two-shard cluster named ``demo`` (remote_servers + macros)."""
    from chdb import session as chdb_session

    config = tmp_path / "cluster.xml"
    config.write_text(_CLUSTER_XML)
    s = chdb_session.Session(f"{tmp_path / 'db'}?config-file={config}")
    yield s
    s.close()


def rows(session: object, sql: str, params: dict[str, str] | None = None) -> list[list[str]]:
    out = str(session.query(sql, "TSVRaw", params=params))  # type: ignore[attr-defined]
    return [line.split("\t") for line in out.splitlines() if line]


def formatted(session: object, statement: str) -> str:
    """The statement as ClickHouse's parser understands it (fails on a syntax error)."""
    escaped = statement.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")  # parameters are TSV-escaped
    out = str(session.query("SELECT formatQuery({q:String})", "TSV", params={"q": escaped}))  # type: ignore[attr-defined]
    return out.strip().replace("\\n", "\n").replace("\\'", "'").replace("\\\\", "\\")


def without_keeper(statement: str) -> str:
    """The parts of a cluster statement that need Keeper removed: ON CLUSTER, the Replicated engine prefix."""
    statement = re.sub(r" ON CLUSTER \w+", "", statement)
    statement = re.sub(r"Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?", r"\1(", statement)
    return statement.replace("replicated_deduplication_window", "non_replicated_deduplication_window")


def describe(session: object, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in rows(session, f"DESCRIBE TABLE {table}")]


def test_every_cluster_statement_parses_and_runs_on_cluster(session: object) -> None:
    statements = cluster_statements(Schema(Retention.defaults(), "demo"))
    assert len(statements) >= 18
    for statement in statements:
        text = formatted(session, statement)
        assert re.search(r"\bON CLUSTER demo\b", text), text[:200]


def test_local_tables_are_replicated_with_unique_keeper_paths(session: object) -> None:
    paths = []
    for statement in cluster_statements(Schema(Retention.defaults(), "demo")):
        text = formatted(session, statement)
        if m := re.search(r"ENGINE = (Replicated\w*MergeTree)\('([^']+)', '([^']+)'", text):
            table = re.match(r"CREATE TABLE IF NOT EXISTS llmpulse\.(\w+)", text).group(1)  # type: ignore[union-attr]
            paths.append(m.group(2))
            if table == "llmpulse_migrations":  # one copy on every node
                assert m.group(2) == "/clickhouse/tables/all/{database}/llmpulse_migrations"
                assert m.group(3) == "{shard}-{replica}"
            else:
                assert table.endswith("_local")
                assert m.group(2) == f"/clickhouse/tables/{{shard}}/{{database}}/{table}"
                assert m.group(3) == "{replica}"
            assert "non_replicated_deduplication_window" not in text
        elif text.startswith("CREATE TABLE"):
            assert "ENGINE = Distributed('demo', 'llmpulse', '" in text, text[:300]
    assert len(paths) == len(DOCUMENTED) + 1 and len(set(paths)) == len(paths)


def test_sharding_keys_keep_a_calls_rows_and_a_rollups_series_together() -> None:
    ddl = ClusterDDL("demo")
    schema = Schema(Retention.defaults(), "demo")
    text = "\n".join(cluster_statements(schema))
    assert "AS llmpulse.llm_calls_local\nENGINE = Distributed('demo', 'llmpulse', 'llm_calls_local', " \
        "cityHash64(event_id))" in text
    assert "'llm_call_rollups_1m_local', cityHash64(provider, model, app, team))" in text
    assert "'llm_user_cost_1d_local', cityHash64(app, team, user_id))" in text
    assert "'llm_alerts_local', cityHash64(alert_id))" in text
    # a table without a '-- shard by:' line is sharded by its sorting key (what merges collapse on)
    assert sorting_key_hash("CREATE TABLE IF NOT EXISTS t (a String)\nENGINE = MergeTree\nORDER BY (a, b)\n") \
        == "cityHash64(a, b)"
    local, dist = ddl.statements("CREATE TABLE IF NOT EXISTS t\n(a String, b UInt8)\n"
                                 "ENGINE = MergeTree\nORDER BY (a, b)")
    assert local.startswith("CREATE TABLE IF NOT EXISTS llmpulse.t_local ON CLUSTER demo")
    assert dist.endswith("Distributed('demo', 'llmpulse', 't_local', cityHash64(a, b))")


def test_cluster_schema_has_every_documented_table_and_column(session: object) -> None:
    """Run the single-node migrations in one database and the cluster DDL (minus Keeper) in another; compare."""
    run = session.query  # type: ignore[attr-defined]
    run("CREATE DATABASE single")
    run("USE single")
    for statement in cluster_statements(Schema(Retention.defaults())):
        run(statement)
    single_tables = {t: describe(session, t) for t in DOCUMENTED + VIEWS}
    run("CREATE DATABASE clustered")
    run("USE clustered")
    for statement in cluster_statements(Schema(Retention.defaults(), "demo", "clustered")):
        run(without_keeper(statement))
    here = "FROM system.tables WHERE database = currentDatabase()"
    engines = {r[0]: r[1] for r in rows(session, f"SELECT name, engine {here}")}
    for table in DOCUMENTED:
        assert engines[table] == "Distributed"
        assert engines[f"{table}_local"].endswith("MergeTree")
        want = single_tables[table]
        assert describe(session, table) == want, table
        assert describe(session, f"{table}_local") == want, table
    for view in VIEWS:
        assert engines[view] == "View"
        assert describe(session, view) == single_tables[view]
        query = rows(session, f"SELECT create_table_query {here} AND name = {{v:String}}", {"v": view})
        sources = re.findall(r"\bFROM (?:\w+\.)?(\w+)", query[0][0])
        assert sources and all(engines[s] == "Distributed" for s in sources), sources


def test_materialized_views_and_alters_target_the_right_tables(session: object) -> None:
    ddl = ClusterDDL("demo")
    for statement in ["CREATE TABLE IF NOT EXISTS src\n(a String, n UInt64)\nENGINE = MergeTree\nORDER BY a",
                      "CREATE TABLE IF NOT EXISTS dst\n(a String, n UInt64)\nENGINE = SummingMergeTree\nORDER BY a"]:
        ddl.statements(statement)
    [mv] = ddl.statements("CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO dst "
                          "AS SELECT a, sum(n) AS n FROM src GROUP BY a")
    text = formatted(session, mv)
    assert "ON CLUSTER demo TO llmpulse.dst_local" in text and "FROM llmpulse.src_local" in text
    add = ddl.statements("ALTER TABLE src ADD COLUMN IF NOT EXISTS b String")
    assert [formatted(session, s).split("\n")[0] for s in add] == ["ALTER TABLE llmpulse.src_local ON CLUSTER demo",
                                                                    "ALTER TABLE llmpulse.src ON CLUSTER demo"]
    ttl = ddl.statements("ALTER TABLE src MODIFY TTL now() + INTERVAL 1 DAY")
    assert len(ttl) == 1 and ttl[0].startswith("ALTER TABLE llmpulse.src_local ON CLUSTER demo")
    with pytest.raises(ClusterDDLError):
        ddl.statements("ALTER TABLE unknown ADD COLUMN c String")
    with pytest.raises(ClusterDDLError):
        ClusterDDL("demo; DROP TABLE x")


def main(argv: list[str]) -> int:
    """``llmpulse migrate …`` (the sub-command alone: the other commands' imports play no part here)."""
    import argparse

    parser = argparse.ArgumentParser(prog="llmpulse")
    migrate_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_prints_single_node_and_cluster_ddl(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    assert main(["migrate", "--print"]) == 0
    single = capsys.readouterr().out
    assert "ON CLUSTER" not in single and "Distributed" not in single
    assert "ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMM(ts)" in single
    assert main(["migrate", "--cluster", "demo", "--print"]) == 0
    cluster = capsys.readouterr().out
    assert "-- llmpulse schema, cluster demo" in cluster
    assert cluster.count("ENGINE = Distributed(") == len(DOCUMENTED)
    monkeypatch.setenv("LLMPULSE_CLICKHOUSE_CLUSTER", "prod")
    monkeypatch.setenv("LLMPULSE_TTL_CALLS_DAYS", "90")
    assert main(["migrate", "--print"]) == 0
    from_env = capsys.readouterr().out
    assert "ON CLUSTER prod" in from_env
    assert "TTL toDateTime(ts) + INTERVAL 90 DAY" in from_env.split("CREATE TABLE IF NOT EXISTS llmpulse.llm_calls ")[0]
    # the database the cluster DDL names: --database, else the URL's, else llmpulse
    monkeypatch.setenv("LLMPULSE_CLICKHOUSE_URL", "http://admin:pw@ch:8123/observability")
    assert main(["migrate", "--print"]) == 0
    assert "CREATE TABLE IF NOT EXISTS observability.llm_calls_local ON CLUSTER prod" in capsys.readouterr().out
    assert main(["migrate", "--print", "--database", "llm"]) == 0
    assert "ENGINE = Distributed('prod', 'llm', 'llm_calls_local', cityHash64(event_id))" in capsys.readouterr().out
