"""Every registered event kind, one suite (river's checks/ style): a valid event of the kind goes through the
kind's real decoder and table builder and into the real tables (chdb); every model field lands in a column
(by its name, or as its table module's ``STORED_AS`` says), and every column without a default is written
by the builder. A field added to a model and forgotten by its builder, or a column the builder stops
writing, fails here."""

from __future__ import annotations

import importlib
import time
from typing import Any

import orjson
import pytest

from llmpulse.clickhouse.migrate import migrate
from llmpulse.clickhouse.store import Store
from llmpulse.schemas.kinds import KINDS, EventKind
from llmpulse.settings import Settings
from llmpulse.stream_jobs.decode import Source
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink

NOW = int(time.time() * 1000)
#: one event of each kind with every field set
FULL: dict[str, dict[str, Any]] = {
    "call": {"event_id": "c1", "ts_ms": NOW, "latency_ms": 800.0, "end_ts_ms": NOW + 800, "ttft_ms": 120.0,
             "provider": "openai", "request_model": "gpt-4o", "response_model": "gpt-4o-2024-08-06",
             "operation": "chat", "streaming": True, "status": "ok", "error_type": "x", "finish_reason": "stop",
             "input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 1, "cache_write_tokens": 1,
             "reasoning_tokens": 1, "app": "a", "team": "t", "user_id": "u", "session_id": "s",
             "environment": "production", "attributes": {"prompt_version": "v1"}, "prompt": "hi",
             "response": "hello", "client_cost_usd": 0.01, "tokens_estimated": True, "schema_version": 1},
    "feedback": {"event_id": "f1", "call_id": "c1", "ts_ms": NOW, "thumbs": "up", "rating": 4, "comment": "good",
                 "user_id": "u", "app": "a", "team": "t", "schema_version": 1},
    "evaluation": {"event_id": "v1", "call_id": "c1", "ts_ms": NOW, "name": "relevance", "score": 0.5,
                   "label": "ok", "explanation": "fine", "evaluator": "judge", "app": "a", "team": "t",
                   "schema_version": 1},
}  # fmt: skip


def _columns(store: Store, table: str) -> dict[str, str]:
    """column -> its default kind ('' = none)"""
    rows = store.query("SELECT name, default_kind FROM system.columns WHERE database = currentDatabase() "
                       "AND table = {t:String}", {"t": table}).rows  # fmt: skip
    return {str(name): str(default) for name, default in rows}


def test_every_kind_has_a_full_example() -> None:
    assert set(FULL) == set(KINDS)
    for name, kind in KINDS.items():
        assert set(FULL[name]) == set(kind.model.model_fields), name


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_every_field_is_stored_and_every_column_written(kind: EventKind, store: Store) -> None:
    migrate(store)
    settings = Settings(capture_text=True)
    sink = EventSink(store, settings, PriceBook(), kind=kind, redact=lambda text: (text, 0))
    decoded = sink.decoder.decode([(Source(f"t-{kind.name}", 0, 1, NOW), orjson.dumps(FULL[kind.name]))])
    assert not decoded.dead and decoded.events == 1
    built = sink.build(decoded.table, sink.context)
    assert set(built.tables) == set(kind.tables)
    raw_table = kind.tables[0]
    assert raw_table in built.tables
    stored_as: dict[str, str] = getattr(importlib.import_module(kind.builder.partition(":")[0]), "STORED_AS", {})
    columns = _columns(store, raw_table)
    written = set(built.tables[raw_table].column_names)
    for field in kind.model.model_fields:
        column = stored_as.get(field, field)
        assert column in columns and column in written, f"{kind.name}.{field} is not stored ({column})"
    for name, table in built.tables.items():
        expected = _columns(store, name)
        assert set(table.column_names) <= set(expected), (name, set(table.column_names) - set(expected))
        if name == raw_table:  # the raw row: every column without a default is written
            missing = {c for c, default in expected.items() if not default} - set(table.column_names)
            assert not missing, (name, missing)
        store.insert(name, table, f"kinds-test/{kind.name}/{name}")
    assert store.query(f"SELECT count() FROM {raw_table} WHERE event_id = {{e:String}}",
                       {"e": FULL[kind.name]["event_id"]}).scalar() == 1  # fmt: skip
