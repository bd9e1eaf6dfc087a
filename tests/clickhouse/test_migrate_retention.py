"""Retention as settings: TTLs change the DDL, take effect on the embedded store, and change on re-migrate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmpulse.clickhouse.chdb_store import ChdbStore
from llmpulse.clickhouse.exceptions import MigrationError
from llmpulse.clickhouse.migrate import Schema, migrate, migration_files
from llmpulse.clickhouse.retention import RULES, Retention, current_days
from llmpulse.settings import Settings

pytestmark = pytest.mark.integration

# each table with a TTL: the column holding its time, and the value for "N days ago"
TIME_COLUMN = {"llm_calls": "ts", "llm_call_rollups_1m": "window_start", "llm_user_cost_1d": "day",
               "llm_dead_letters": "received_at", "llm_alerts": "started_at"}  # fmt: skip
KEY_COLUMN = {"llm_calls": "event_id", "llm_call_rollups_1m": "provider", "llm_user_cost_1d": "user_id",
              "llm_dead_letters": "detail", "llm_alerts": "alert_id"}  # fmt: skip


@pytest.fixture
def chdb_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "chdb"


def ddl(settings: Settings, cluster: str | None = None) -> str:
    return Schema.from_settings(settings, cluster).script()


def test_ttl_settings_change_the_ddl_in_both_modes() -> None:
    default = ddl(Settings())
    assert "TTL toDateTime(received_at) + INTERVAL 30 DAY" in default  # the built-in default for dead letters
    assert default.count("TTL ") == 1
    custom = Settings(ttl_calls_days=90, ttl_text_days=7, ttl_rollups_days=400, ttl_dead_letters_days=14,
                      ttl_alerts_days=365)  # fmt: skip
    for cluster in (None, "demo"):
        text = ddl(custom, cluster)
        calls = re.split(r"CREATE TABLE IF NOT EXISTS (?:llmpulse\.)?llm_calls", text)[1].split(";")[0]
        assert "\nTTL toDateTime(ts) + INTERVAL 90 DAY\n" in calls
        assert "prompt             Nullable(String) CODEC(ZSTD(3)) TTL toDateTime(ts) + INTERVAL 7 DAY," in calls
        assert "response           Nullable(String) CODEC(ZSTD(3)) TTL toDateTime(ts) + INTERVAL 7 DAY," in calls
        assert "TTL window_start + INTERVAL 400 DAY" in text and "TTL day + INTERVAL 400 DAY" in text
        assert "TTL toDateTime(received_at) + INTERVAL 14 DAY" in text
        assert "TTL toDateTime(started_at) + INTERVAL 365 DAY" in text
        assert "INTERVAL 30 DAY" not in text
    # on a cluster the TTL belongs to the local (Replicated) tables, never to the Distributed ones
    for statement in ddl(custom, "demo").split(";"):
        if "ENGINE = Distributed" in statement:
            assert " TTL " not in statement


def insert_aged(store: ChdbStore, table: str, ages_days: list[int]) -> None:
    columns = [TIME_COLUMN[table], KEY_COLUMN[table]] + (["prompt", "response"] if table == "llm_calls" else [])
    texts = ", 'text'" * (len(columns) - 2)
    values = ", ".join(f"(now() - INTERVAL {age} DAY, 'age-{age}'{texts})" for age in ages_days)
    store.command(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")


def ages_left(store: ChdbStore, table: str) -> list[int]:
    store.command(f"OPTIMIZE TABLE {table} FINAL")
    key = KEY_COLUMN[table]
    return sorted(int(r[0].split("-")[1]) for r in store.query(f"SELECT {key} FROM {table}").rows)


def test_ttls_take_effect_and_change_on_remigrate(chdb_dir: Path) -> None:
    settings = Settings(ttl_calls_days=10, ttl_text_days=2, ttl_rollups_days=20, ttl_dead_letters_days=5,
                        ttl_alerts_days=40)  # fmt: skip
    store = ChdbStore(chdb_dir)
    try:
        assert "0001_core.sql" in migrate(store, settings)
        for table in TIME_COLUMN:
            insert_aged(store, table, [0, 3, 7, 15, 30, 60])
        assert ages_left(store, "llm_calls") == [0, 3, 7]
        texts = store.query("SELECT event_id, prompt, response FROM llm_calls ORDER BY ts DESC").rows
        assert texts == [("age-0", "text", "text"), ("age-3", None, None), ("age-7", None, None)]
        assert ages_left(store, "llm_call_rollups_1m") == [0, 3, 7, 15]
        assert ages_left(store, "llm_user_cost_1d") == [0, 3, 7, 15]
        assert ages_left(store, "llm_dead_letters") == [0, 3]
        assert ages_left(store, "llm_alerts") == [0, 3, 7, 15, 30]

        assert migrate(store, settings) == []  # nothing differs: nothing to do
        shorter = Settings(ttl_calls_days=5, ttl_rollups_days=0, ttl_alerts_days=40)
        changes = migrate(store, shorter)
        assert changes == ["ttl llm_call_rollups_1m: 20 days -> kept", "ttl llm_calls: 10 days -> 5 days",
                           "ttl llm_evaluation_rollups_1m: 20 days -> kept", "ttl llm_evaluations: 10 days -> 5 days",
                           "ttl llm_feedback: 10 days -> 5 days", "ttl llm_quality_rollups_1m: 20 days -> kept",
                           "ttl llm_user_cost_1d: 20 days -> kept"]  # fmt: skip
        assert ages_left(store, "llm_calls") == [0, 3]
        insert_aged(store, "llm_call_rollups_1m", [100])
        assert ages_left(store, "llm_call_rollups_1m") == [0, 3, 7, 15, 100]  # kept forever now
        # unset settings (text, dead letters) left the tables' TTLs as they were
        query = store.query("SELECT create_table_query FROM system.tables WHERE name = 'llm_calls'").scalar()
        prompt_rule = next(r for r in RULES if r.column == "prompt")
        assert current_days(prompt_rule, query) == 2
        assert migrate(store, shorter) == []
        assert migrate(store, Settings()) == []
    finally:
        store.close()


def test_a_hand_made_ttl_is_reported_and_replaced_only_when_a_setting_asks(chdb_dir: Path) -> None:
    store = ChdbStore(chdb_dir)
    try:
        migrate(store, Settings())
        store.command("ALTER TABLE llm_alerts MODIFY TTL toDateTime(started_at) + INTERVAL 1 MONTH")
        assert migrate(store, Settings()) == []
        assert migrate(store, Settings(ttl_alerts_days=30)) == ["ttl llm_alerts: custom -> 30 days"]
        assert migrate(store, Settings(ttl_alerts_days=30)) == []
    finally:
        store.close()


def test_a_user_without_alter_gets_a_clear_error(chdb_dir: Path) -> None:
    store = ChdbStore(chdb_dir)
    try:
        migrate(store, Settings())
        store.command("SET readonly = 1")  # like a writer without ALTER
        with pytest.raises(MigrationError, match="ttl llm_calls: kept -> 9 days failed"):
            migrate(store, Settings(ttl_calls_days=9))
    finally:
        store.close()


def test_every_rule_names_a_setting_and_a_column() -> None:
    fields = Settings.model_fields
    statements = Schema(Retention.defaults()).script()
    for rule in RULES:
        assert rule.setting in fields and fields[rule.setting].default is None
        assert f"CREATE TABLE IF NOT EXISTS {rule.table}\n" in statements
        assert rule.column is None or f"\n    {rule.column} " in statements


def test_reapply_creates_what_is_missing(chdb_dir: Path) -> None:
    store = ChdbStore(chdb_dir)
    try:
        migrate(store, Settings())
        store.command("DROP TABLE llm_sink_chunks")
        assert migrate(store, Settings()) == []  # the ledger says everything is applied
        assert store.query("EXISTS TABLE llm_sink_chunks").scalar() == 0
        shipped = [name for _, name, _ in migration_files()]
        assert migrate(store, Settings(), reapply=True) == shipped
        assert store.query("EXISTS TABLE llm_sink_chunks").scalar() == 1
        assert store.query("SELECT count() FROM llmpulse_migrations FINAL").scalar() == len(shipped)
    finally:
        store.close()


def test_the_migrate_command_applies_and_reports_ttl_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from tests.clickhouse.test_migrate_cluster import main

    data = str(tmp_path / "data")
    monkeypatch.setenv("LLMPULSE_TTL_CALLS_DAYS", "5")
    assert main(["migrate", "--data-dir", data]) == 0
    assert f"applied {', '.join(name for _, name, _ in migration_files())}" in capsys.readouterr().out
    monkeypatch.setenv("LLMPULSE_TTL_CALLS_DAYS", "7")
    monkeypatch.setenv("LLMPULSE_TTL_TEXT_DAYS", "")  # compose passes unset variables as empty strings
    assert main(["migrate", "--data-dir", data]) == 0
    assert capsys.readouterr().out.strip().endswith(
        "applied ttl llm_calls: 5 days -> 7 days, ttl llm_evaluations: 5 days -> 7 days, "
        "ttl llm_feedback: 5 days -> 7 days")
    assert main(["migrate", "--data-dir", data]) == 0
    assert capsys.readouterr().out.strip().endswith("schema up to date")
