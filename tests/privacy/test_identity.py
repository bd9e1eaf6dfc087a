"""Identity fields (user_id, session_id, team, app): PII is never stored raw; keyed hashes on request."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from pydantic import ValidationError

from llmpulse.clickhouse.store import Store
from llmpulse.privacy.identity import IdentityCleaner, hash_id, id_cleaner
from llmpulse.settings import Settings
from llmpulse.stack import Stack
from llmpulse.stream_jobs.chunks import ChunkPlanner
from llmpulse.stream_jobs.pricing import PriceBook
from llmpulse.stream_jobs.sink import EventSink, Record
from tests.stream_jobs.pipeline_helpers import private_settings, send_events, workload_events

KEY = "k3y-for-tests-only-0123456789abcdef"
RAW_IDS = {
    "user_id": ["jane.doe@acme-corp.com", "+49 151 23456789", "4155550132", "user-00017"],
    "session_id": ["sess-jane.doe@acme-corp.com-1", "s-8812", "(415) 555-0199", "2a7f9c"],
    "team": ["growth", "bob.smith@acme-corp.com"],
    "app": ["support-bot", "app-for-+44 20 7946 0958"],
}
PII_VALUES = ["jane.doe@acme-corp.com", "+49 151 23456789", "4155550132", "(415) 555-0199",
              "bob.smith@acme-corp.com", "+44 20 7946 0958"]  # fmt: skip


def test_an_id_that_is_or_holds_pii_is_redacted_without_a_key() -> None:
    cleaner = IdentityCleaner()
    assert cleaner.clean("user_id", "jane.doe@acme-corp.com") == ("<EMAIL>", 1)
    assert cleaner.clean("user_id", "4155550132") == ("<PHONE>", 1)  # bare digits: a phone as a whole
    assert cleaner.clean("user_id", "+4915123456789") == ("<PHONE>", 1)
    assert cleaner.clean("session_id", "sess-jane@acme.io-1") == ("<EMAIL>-1", 1)
    assert cleaner.clean("team", "bob.smith@acme-corp.com") == ("<EMAIL>", 1)
    for plain in ("user-00017", "u_77812", "2a7f9c", "1700000000", "growth", ""):
        assert cleaner.clean("user_id", plain) == (plain, 0)


def test_with_a_key_pii_ids_become_stable_keyed_hashes() -> None:
    cleaner = IdentityCleaner(KEY.encode())
    stored, found = cleaner.clean("user_id", "jane.doe@acme-corp.com")
    assert found == 1 and stored == hash_id(KEY.encode(), "jane.doe@acme-corp.com")
    assert stored.startswith("hmac:") and len(stored) == 37 and "jane" not in stored
    assert cleaner.clean("user_id", "jane.doe@acme-corp.com")[0] == stored  # same user, same id
    assert IdentityCleaner(b"another-key-0123456789").clean("user_id", "jane.doe@acme-corp.com")[0] != stored
    assert cleaner.clean("user_id", "user-00017") == ("user-00017", 0)  # no PII: kept readable
    assert cleaner.clean("user_id", stored) == (stored, 0)  # an already hashed id is not hashed again


def test_hash_all_hashes_user_and_session_ids_but_not_team_or_app() -> None:
    cleaner = IdentityCleaner(KEY.encode(), hash_all=True)
    assert cleaner.clean("user_id", "user-00017") == (hash_id(KEY.encode(), "user-00017"), 0)
    assert cleaner.clean("session_id", "s-1")[0] == hash_id(KEY.encode(), "s-1")
    assert cleaner.clean("team", "growth") == ("growth", 0)
    assert cleaner.clean("team", "bob.smith@acme-corp.com")[0] == hash_id(KEY.encode(), "bob.smith@acme-corp.com")
    with pytest.raises(ValueError, match="needs a key"):
        IdentityCleaner(None, hash_all=True)


def test_settings_read_the_key_as_a_secret_and_check_it() -> None:
    settings = Settings(id_hash_key=KEY, hash_ids=True)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
    assert id_cleaner(settings).clean("user_id", "u1")[0] == hash_id(KEY.encode(), "u1")
    with pytest.raises(ValidationError, match="needs LLMPULSE_ID_HASH_KEY"):
        Settings(hash_ids=True)
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(id_hash_key="short")


def test_clean_column_counts_per_row_and_keeps_clean_columns_as_they_are() -> None:
    cleaner = IdentityCleaner()
    column = pa.array(["a@b.de", "u1", "a@b.de", "u2"])
    cleaned, found = cleaner.clean_column("user_id", column)
    assert cleaned.to_pylist() == ["<EMAIL>", "u1", "<EMAIL>", "u2"] and found.tolist() == [1, 0, 1, 0]
    plain = pa.array(["u1", "u2"])
    same, none = cleaner.clean_column("user_id", plain)
    assert same is plain and none.tolist() == [0, 0]


def _events_with_ids(n: int) -> list[dict[str, object]]:
    events = workload_events(n, seed=7)
    for i, event in enumerate(events):
        for field, values in RAW_IDS.items():
            event[field] = values[i % len(values)]
    return events


def _stored(store: Store) -> str:
    parts = []
    for table in ("llm_calls", "llm_call_rollups_1m", "llm_user_cost_1d", "llm_dead_letters"):
        parts.extend("\t".join(str(v) for v in row) for row in store.query(f"SELECT * FROM {table}").rows)
    return "\n".join(parts)


def _write(store: Store, settings: Settings, events: list[dict[str, object]]) -> None:
    sink = EventSink(store, settings, PriceBook())
    planner: ChunkPlanner[Record] = ChunkPlanner("llm.calls")
    planner.start_partition(0, [])
    now = int(time.time() * 1000)
    records = [Record(0, i, now, orjson.dumps(events[i * 20 : (i + 1) * 20])) for i in range(len(events) // 20)]
    for chunk in planner.add(0, records):
        sink.write_chunk(chunk)


def test_sink_stores_no_raw_pii_id_by_default(store: Store) -> None:
    events = _events_with_ids(200)
    _write(store, Settings(), events)
    everything = _stored(store)
    assert [v for v in PII_VALUES if v in everything] == []
    users = dict(store.query("SELECT user_id, count() FROM llm_calls GROUP BY user_id").rows)
    assert users == {"<EMAIL>": 50, "<PHONE>": 100, "user-00017": 50}
    flagged = store.query("SELECT countIf(has(flags, 'pii:user_id')), sum(pii_detections) FROM llm_calls").rows[0]
    # per event: user (3 of 4), session (2 of 4), team (1 of 2), app (1 of 2)
    assert flagged == (150, 150 + 100 + 100 + 100)
    assert int(store.query("SELECT sum(pii_detections) FROM llm_call_rollups_1m").scalar()) == 450


def test_sink_stores_keyed_hashes_with_a_key(store: Store) -> None:
    events = _events_with_ids(200)
    _write(store, Settings(id_hash_key=KEY), events)
    everything = _stored(store)
    assert [v for v in PII_VALUES if v in everything] == []
    users = dict(store.query("SELECT user_id, sum(requests) FROM llm_user_cost_1d GROUP BY user_id").rows)
    expected = {hash_id(KEY.encode(), v): 50 for v in RAW_IDS["user_id"][:3]} | {"user-00017": 50}
    assert {k: int(v) for k, v in users.items()} == expected  # one id per user: per-user cost still adds up
    teams = {r[0] for r in store.query("SELECT DISTINCT team FROM llm_call_rollups_1m").rows}
    assert teams == {"growth", hash_id(KEY.encode(), "bob.smith@acme-corp.com")}


@pytest.mark.integration
def test_pipeline_hashes_every_id_when_asked(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The real path: Monitor -> broker -> worker process (settings from the environment) -> ClickHouse."""
    settings = private_settings(kafka_bootstrap, tmp_path, id_hash_key=KEY, hash_ids=True)
    events = _events_with_ids(400)
    with Stack(settings, log_dir=tmp_path / "logs") as stack:
        stack.start_broker()
        stack.start_worker()
        stack.wait_worker_ready()
        send_events(settings, events)
        stack.wait_caught_up(timeout_s=300)
        with stack.reader() as store:
            assert store.query("SELECT count() FROM llm_calls").scalar() == len(events)
            everything = _stored(store)
            users = {r[0] for r in store.query("SELECT DISTINCT user_id FROM llm_calls").rows}
            sessions = {r[0] for r in store.query("SELECT DISTINCT session_id FROM llm_calls").rows}
            apps = {r[0] for r in store.query("SELECT DISTINCT app FROM llm_calls").rows}
    key = KEY.encode()
    assert users == {hash_id(key, v) for v in RAW_IDS["user_id"]}
    assert sessions == {hash_id(key, v) for v in RAW_IDS["session_id"]}
    assert apps == {"support-bot", hash_id(key, "app-for-+44 20 7946 0958")}
    raw = [v for values in RAW_IDS.values() for v in values if v not in ("growth", "support-bot")]
    assert [v for v in raw if v in everything] == []
    log = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*.log"))
    assert KEY not in log and [v for v in PII_VALUES if v in log] == []


def test_types_and_phone_regions_come_from_the_settings() -> None:
    from llmpulse.privacy.redact import redactor_for

    only = redactor_for("email, phone", "de")
    assert only.types == frozenset({"EMAIL", "PHONE"}) and only.phone_regions == ("DE",)
    assert only.redact("Maria Gonzalez, maria@acme.io, Handy 0151 23456789").counts == {"EMAIL": 1, "PHONE": 1}
    every = redactor_for(None, None)
    assert len(every.types) == 12 and "US" in every.phone_regions
    with pytest.raises(ValueError, match="unknown PII types"):
        redactor_for("EMAIL,NAMES", None)
