"""Every labelled PII value of the corpus, sent as prompts, responses, attributes and broken records, is
nowhere to be found afterwards: not in any ClickHouse table, not on the dead-letter topic, not in the log."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from llmpulse.stack import Stack
from tests.fixtures.kafka import read_records
from tests.guarantees.checks import wait_alerts_evaluated
from tests.stream_jobs.pipeline_helpers import private_settings, send_events, wait_stored, workload_events

pytestmark = [pytest.mark.integration, pytest.mark.guarantees]

CORPUS = Path(__file__).parent.parent / "privacy" / "pii_corpus.jsonl"


def corpus() -> list[tuple[str, list[str]]]:
    rows = [orjson.loads(line) for line in CORPUS.read_bytes().splitlines() if line.strip()]
    return [(r["text"], [r["text"][e["start"]:e["end"]] for e in r["entities"]]) for r in rows]


def unlabelled() -> str:
    """What the corpus says outside its labelled values (hard negatives, context), one text a line."""
    rows = [orjson.loads(line) for line in CORPUS.read_bytes().splitlines() if line.strip()]
    out = []
    for r in rows:
        text = r["text"]
        for e in sorted(r["entities"], key=lambda e: -e["start"]):
            text = text[: e["start"]] + "\0" + text[e["end"] :]
        out.append(text)
    return "\n".join(out)


def dump_everything(store: object, tables: list[str]) -> str:
    parts = []
    for table in tables:
        result = store.query(f"SELECT * FROM {table}")  # type: ignore[attr-defined]
        parts.append("\n".join("\t".join(str(v) for v in row) for row in result.rows))
    return "\n".join(parts)


def test_no_raw_pii_anywhere_after_a_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    texts = corpus()
    # a labelled value that the corpus also holds as ordinary text (a passport "123456789" inside an order
    # number) would be found however well redaction works: it proves nothing either way
    plain = unlabelled()
    secrets = sorted({v for _, values in texts for v in values if len(v) >= 6 and v not in plain})
    assert len(secrets) > 200
    settings = private_settings(kafka_bootstrap, tmp_path, capture_text=True)
    base = workload_events(len(texts), seed=51)
    events = []
    for event, (text, _) in zip(base, texts, strict=True):
        events.append({**event, "prompt": text, "response": f"Noted: {text}", "attributes": {"note": text}})
    with Stack(settings, log_dir=tmp_path / "logs") as stack:
        stack.start_broker()
        stack.start_worker()
        stack.wait_worker_ready()
        send_events(settings, events)
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        for text, _ in texts[:100]:  # broken records carrying PII go to the dead-letter path
            producer.produce(settings.calls_topic, orjson.dumps({"prompt": text, "input_tokens": -1}))
            producer.produce(settings.calls_topic, b'{"truncated": "' + text.encode())
        assert producer.flush(30) == 0
        stack.wait_caught_up(timeout_s=300)
        wait_stored(stack, len(events))
        wait_alerts_evaluated(stack.reader)  # every window evaluated: alerts (if any) carry no PII either
        with stack.reader() as store:
            tables = [r[0] for r in store.query(
                "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View'").rows]
            assert "llm_calls" in tables and "llm_dead_letters" in tables
            everything = dump_everything(store, tables)
            assert store.query("SELECT count() FROM llm_calls").scalar() == len(events)
            bad_records = store.query("SELECT uniqExact(kafka_partition, kafka_offset) FROM llm_dead_letters").scalar()
            dead_letters = int(store.query("SELECT count() FROM llm_dead_letters").scalar())
            assert bad_records == 200  # each broken record is dead-lettered (a line at a time if it is NDJSON)
            detections = store.query("SELECT sum(pii_detections) FROM llm_call_rollups_1m").scalar()
            assert int(detections) >= 3 * len(secrets) * 0.9  # counted per app as a metric
            assert "<EMAIL>" in everything and "<CREDIT_CARD>" in everything
    dlq = read_topic(kafka_bootstrap, settings.dlq_topic, dead_letters)
    log = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*.log"))
    for haystack, where in ((everything, "ClickHouse"), (dlq, "the dead-letter topic"), (log, "the logs")):
        leaked = [s for s in secrets if s in haystack]
        assert not leaked, f"{len(leaked)} PII values found in {where}, e.g. {leaked[:3]}"


def read_topic(bootstrap: str, topic: str, at_least: int) -> str:
    """The payloads of every record on the topic, read back from the start (not up to the broker's high
    watermark, which the embedded broker undercounts)."""
    values = read_records(bootstrap, topic, min_records=at_least, timeout_s=120, idle_s=2.0)
    return "\n".join(orjson.loads(v)["payload"] for _, v in values)
