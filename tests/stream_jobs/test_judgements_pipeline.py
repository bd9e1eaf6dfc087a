"""Feedback and evaluations through the real pipeline: Monitor -> broker -> worker -> chdb. Judgements sent hours
after their calls are attributed to the calls' model, app, team and prompt version; the calls' quality signals
are stored; an invalid judgement is a dead letter with its reason."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from llmpulse.producers import Monitor
from llmpulse.schemas import LLMCallEvent
from tests.stream_jobs.pipeline_helpers import private_settings, start_stack, wait_until

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


def _call(event_id: str, ts_ms: int, model: str, app: str, response: str, version: str) -> LLMCallEvent:
    return LLMCallEvent(event_id=event_id, ts_ms=ts_ms, latency_ms=900.0, provider="openai", request_model=model,
                        app=app, team="growth", attributes={"prompt_version": version},
                        prompt="How do I reset my password?", response=response,
                        finish_reason="length" if event_id == "c3" else "stop")  # fmt: skip


def test_feedback_and_evaluations_hours_later_are_attributed_to_their_calls(kafka_bootstrap: str,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    settings = private_settings(kafka_bootstrap, tmp_path, quality_sample_rate=1.0)
    three_hours_ago = int(time.time() * 1000) - 3 * HOUR_MS
    with start_stack(settings, tmp_path) as stack:
        monitor = Monitor(settings.kafka_bootstrap, topic=settings.calls_topic, settings=settings)
        monitor.record(_call("c1", three_hours_ago, "gpt-4o", "support", "I'm sorry, but I can't help with that.",
                             "v7"))  # fmt: skip
        monitor.record(_call("c2", three_hours_ago + 1000, "gpt-4o-mini", "search",
                             "Open Settings, choose Security and click Reset password.", "v2"))  # fmt: skip
        monitor.record(_call("c3", three_hours_ago + 2000, "gpt-4o-mini", "search", "Open Settings and", "v2"))
        assert monitor.flush(60.0) == 0
        stack.wait_caught_up(timeout_s=180)
        # hours later: the users' judgements and an LLM judge's evaluation
        assert monitor.feedback("c1", thumbs="down", rating=1, comment="useless", user_id="u-1")
        assert monitor.feedback("c2", thumbs="up", user_id="u-2")
        assert monitor.feedback("no-such-call", rating=5, app="legacy")
        assert monitor.evaluation("c2", "relevance", score=0.92, label="relevant", evaluator="llm-judge:gpt-4o-mini")
        assert monitor.evaluation("c1", "relevance", score=0.1, label="irrelevant", evaluator="llm-judge:gpt-4o-mini")
        with pytest.raises(ValueError, match="thumbs or rating"):
            monitor.feedback("c1")
        assert monitor.flush(60.0) == 0
        monitor.close()
        # another producer's invalid feedback: no judgement in it
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
        producer.produce(settings.feedback_topic, orjson.dumps({"event_id": "f-bad", "call_id": "c1",
                                                                "ts_ms": int(time.time() * 1000)}))  # fmt: skip
        assert producer.flush(30) == 0
        stack.wait_caught_up(timeout_s=180)
        reader = stack.reader()
        wait_until(lambda: reader.query("SELECT count() FROM llm_dead_letters").scalar() == 1, "the dead letter")
        feedback = reader.query(
            "SELECT call_id, attributed, provider, model, app, team, prompt_version, thumbs, rating, "
            "call_ts IS NOT NULL, comment FROM llm_feedback ORDER BY call_id").rows
        evaluations = reader.query(
            "SELECT call_id, name, score, label, model, app, prompt_version FROM llm_evaluations ORDER BY call_id").rows
        rollups = reader.query(
            "SELECT model, app, prompt_version, sum(feedback), sum(thumbs_up), sum(thumbs_down), sum(ratings), "
            "sum(rating_sum), min(window_start) > now() - INTERVAL 1 HOUR FROM llm_quality_rollups_1m "
            "WHERE feedback > 0 GROUP BY model, app, prompt_version ORDER BY model, app").rows
        quality = reader.query(
            "SELECT event_id, quality_sampled, refusal, truncated FROM llm_calls ORDER BY event_id").rows
        by_call = reader.query(
            "SELECT model, sum(calls), sum(refusals), sum(truncated) FROM llm_quality_rollups_1m WHERE calls > 0 "
            "GROUP BY model ORDER BY model").rows
        evaluated = reader.query(
            "SELECT model, name, sum(evaluations), sum(score_sum), sumMap(labels) FROM llm_evaluation_rollups_1m "
            "GROUP BY model, name ORDER BY model").rows
        dead = reader.query("SELECT topic, reason, detail FROM llm_dead_letters").rows
    assert [tuple(r) for r in feedback] == [
        ("c1", True, "openai", "gpt-4o", "support", "growth", "v7", "down", 1, True, None),  # capture off: no text
        ("c2", True, "openai", "gpt-4o-mini", "search", "growth", "v2", "up", None, True, None),
        ("no-such-call", False, "", "", "legacy", "", "", "", 5, False, None),
    ]
    assert [tuple(r) for r in evaluations] == [
        ("c1", "relevance", 0.1, "irrelevant", "gpt-4o", "support", "v7"),
        ("c2", "relevance", 0.92, "relevant", "gpt-4o-mini", "search", "v2"),
    ]
    # counted in the minute they were given (now), on the calls' dimensions (three hours old)
    assert [tuple(r) for r in rollups] == [
        ("", "legacy", "", 1, 0, 0, 1, 5.0, True),
        ("gpt-4o", "support", "v7", 1, 0, 1, 1, 1.0, True),
        ("gpt-4o-mini", "search", "v2", 1, 1, 0, 0, 0.0, True),
    ]
    assert [tuple(r) for r in quality] == [("c1", True, True, False), ("c2", True, False, False),
                                           ("c3", True, False, True)]  # fmt: skip
    assert [tuple(r) for r in by_call] == [("gpt-4o", 1, 1, 0), ("gpt-4o-mini", 2, 0, 1)]
    assert [(m, n, c, round(s, 2), dict(lab)) for m, n, c, s, lab in evaluated] == [
        ("gpt-4o", "relevance", 1, 0.1, {"irrelevant": 1}),
        ("gpt-4o-mini", "relevance", 1, 0.92, {"relevant": 1}),
    ]
    assert [tuple(r) for r in dead] == [(settings.feedback_topic, "validation", "thumbs or rating is required")]
