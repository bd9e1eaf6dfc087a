"""The event contracts: validation rules, OTel names, JSON Schema export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from llmpulse.cli.main import main
from llmpulse.schemas import AlertEvent, EvaluationEvent, FeedbackEvent, LLMCallEvent
from llmpulse.schemas.otel import CALL_FIELD_TO_OTEL


def call(**kw: object) -> LLMCallEvent:
    return LLMCallEvent(**{"provider": "openai", "request_model": "gpt-4o", "latency_ms": 5.0, **kw})


def test_defaults_and_wire_form() -> None:
    event = call()
    wire = event.to_wire()
    assert wire["schema_version"] == 1 and len(wire["event_id"]) == 32 and wire["ts_ms"] > 1_700_000_000_000
    assert "prompt" not in wire  # None fields stay off the wire
    assert LLMCallEvent.model_validate(wire) == event


@pytest.mark.parametrize("bad", [
    {"input_tokens": -1}, {"output_tokens": 100_000_001}, {"latency_ms": float("nan")}, {"latency_ms": -1.0},
    {"status": "failed"}, {"schema_version": 2}, {"provider": ""}, {"event_id": "x" * 129},
    {"latency_ms": None}, {"latency_ms": None, "ts_ms": 1000, "end_ts_ms": 500}, {"client_cost_usd": -0.1},
])  # fmt: skip
def test_rules(bad: dict) -> None:
    with pytest.raises(ValidationError):
        call(**bad)


def test_end_time_gives_the_duration() -> None:
    assert call(latency_ms=None, ts_ms=1_000, end_ts_ms=1_250).latency_ms == 250.0


def test_feedback_needs_a_judgement() -> None:
    assert FeedbackEvent(call_id="c", thumbs="up").thumbs == "up"
    assert FeedbackEvent(call_id="c", rating=4).rating == 4
    with pytest.raises(ValidationError):
        FeedbackEvent(call_id="c")
    with pytest.raises(ValidationError):
        FeedbackEvent(call_id="c", rating=6)
    assert EvaluationEvent(call_id="c", name="relevance", label="pass").label == "pass"
    with pytest.raises(ValidationError):
        EvaluationEvent(call_id="c", name="relevance")
    with pytest.raises(ValidationError):
        EvaluationEvent(call_id="c", name="relevance", score=float("nan"))


def test_otel_mapping_covers_every_call_field() -> None:
    assert set(CALL_FIELD_TO_OTEL) == set(LLMCallEvent.model_fields)
    assert CALL_FIELD_TO_OTEL["cache_read_tokens"] == "gen_ai.usage.cache_read.input_tokens"


def test_schema_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "export", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["llm_call_event.schema.json", "llm_evaluation_event.schema.json",
                     "llm_feedback_event.schema.json", "rollup_row.schema.json"]
    schema = json.loads((tmp_path / "llm_call_event.schema.json").read_text())
    assert schema["properties"]["input_tokens"]["maximum"] == 100_000_000
    assert "llm_call_event.schema.json" in capsys.readouterr().out


def test_alert_event_is_frozen() -> None:
    alert = AlertEvent(alert_id="a", dedup_key="k", kind="anomaly", status="firing", metric="m", window_start_ms=0,
                       window_end_ms=60_000, started_at_ms=0, emitted_at_ms=1, summary="s")  # fmt: skip
    with pytest.raises(ValidationError):
        alert.status = "resolved"  # type: ignore[misc]
