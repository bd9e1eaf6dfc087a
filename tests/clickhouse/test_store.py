"""Both store paths share one interface; chdb runs here, a server via testcontainers where Docker runs."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from llmpulse.clickhouse.exceptions import StoreError
from llmpulse.clickhouse.migrate import migrate, migration_files, split_statements
from llmpulse.clickhouse.server_store import redact_url
from llmpulse.clickhouse.store import Store, check_token

pytestmark = pytest.mark.integration


def test_migrations_apply_once_and_create_the_documented_objects(store: Store) -> None:
    assert migrate(store) == []
    tables = {r[0] for r in store.query("SELECT name FROM system.tables WHERE database = currentDatabase()").rows}
    assert {"llm_calls", "llm_call_rollups_1m", "llm_rollups_1m_v", "llm_dead_letters", "llm_sink_chunks",
            "llm_user_cost_1d", "llm_alerts", "llm_alert_state"} <= tables  # fmt: skip
    versions = [v for v, _, _ in migration_files()]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_llm_calls_merges_vertically(store: Store) -> None:
    """Every merge of the widest table goes column by column (0005_merges.sql): a horizontal merge of a few
    chunk-sized parts held ~250 MiB in the worker."""
    ddl = store.query("SELECT create_table_query FROM system.tables WHERE database = currentDatabase() "
                      "AND name = 'llm_calls'").scalar()  # fmt: skip
    assert "vertical_merge_algorithm_min_rows_to_activate = 1" in str(ddl)


def test_contract_columns(store: Store) -> None:
    calls = {r[0] for r in store.query("DESCRIBE TABLE llm_calls").rows}
    assert {"event_id", "ts", "provider", "model", "app", "team", "user_id", "status", "latency_ms", "ttft_ms",
            "input_tokens", "output_tokens", "cost_usd"} <= calls  # fmt: skip
    view = {r[0] for r in store.query("DESCRIBE TABLE llm_rollups_1m_v").rows}
    assert {"window_start", "provider", "model", "app", "team", "requests", "errors", "latency_p50_ms",
            "latency_p95_ms", "latency_p99_ms", "ttft_p95_ms", "input_tokens", "output_tokens",
            "cost_usd"} <= view  # fmt: skip


def test_insert_with_token_is_idempotent_and_values_are_binary(store: Store) -> None:
    evil = "x'); DROP TABLE llm_calls; --\x00\n\"quoted\""
    now_ms = int(time.time() * 1000)
    table = pa.table({"received_at": pa.array([now_ms], pa.timestamp("ms", tz="UTC")), "topic": ["t"],
                      "kafka_partition": pa.array([0], pa.uint32()), "kafka_offset": pa.array([1], pa.uint64()),
                      "item_index": pa.array([0], pa.int32()), "reason": ["validation"], "detail": [evil],
                      "event_id": [evil], "payload": [evil], "payload_bytes": pa.array([3], pa.uint64())})  # fmt: skip
    for _ in range(3):
        store.insert("llm_dead_letters", table, "t/0/1-2")
    rows = store.query("SELECT detail FROM llm_dead_letters").rows
    assert rows == [(evil,)]
    assert store.query("EXISTS TABLE llm_calls").scalar() == 1
    with pytest.raises(ValueError):
        check_token("bad token'")


def test_query_parameters_and_errors(store: Store) -> None:
    assert store.query("SELECT {x:String} AS v", {"x": "it's"}).dicts() == [{"v": "it's"}]
    with pytest.raises(StoreError):
        store.query("SELECT * FROM no_such_table")


def test_split_statements_and_url_redaction() -> None:
    assert split_statements("-- c\nSELECT 1\n;\n\nSELECT 2\n;\n") == ["SELECT 1", "SELECT 2"]
    assert redact_url("http://u:secret@host:8123/db") == "http://host:8123/db"
