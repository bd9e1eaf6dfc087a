"""Calls made through the instrumented SDKs, LiteLLM and OTLP reach ClickHouse: real SDKs / LiteLLM callback / OTLP
receiver -> Monitor -> broker -> worker -> chdb; so do OTLP evaluation results, into llm_evaluations."""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import openai
import pytest

from llmpulse.producers import Monitor, call_labels, instrument_anthropic, instrument_openai
from llmpulse.producers.otlp import Receiver
from tests.producers.provider_fakes import USAGE_CHAT, USAGE_STREAM, ProviderServer
from tests.producers.test_litellm import instrument_litellm, litellm, no_callbacks
from tests.producers.test_otlp import EVALUATION, GENAI, SPAN_ID, logs_json, otlp_json
from tests.stream_jobs.pipeline_helpers import private_settings, start_stack

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_instrumented_calls_are_stored_with_model_tokens_ttft_cost_and_labels(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = private_settings(kafka_bootstrap, tmp_path)
    with ProviderServer() as server, start_stack(settings, tmp_path) as stack:
        monitor = Monitor(settings.kafka_bootstrap, topic=settings.calls_topic, settings=settings)
        oai = instrument_openai(
            openai.OpenAI(api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0), monitor, app="search"
        )
        claude = instrument_anthropic(
            anthropic.Anthropic(api_key="sk-ant", base_url=server.url, max_retries=0), monitor, app="support"
        )
        with call_labels(team="core", user_id="u-42", feature="answer"):
            oai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            list(oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
            list(claude.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, stream=True))
            no_callbacks(monkeypatch)
            instrument_litellm(monitor, app="gateway")
            litellm.completion(model="openai/gpt-4o", messages=MESSAGES, api_base=f"{server.url}/v1", api_key="sk")
            stream = litellm.completion(  # not asked for usage: counted by llmpulse, flagged as estimated
                model="openai/gpt-4o-mini", messages=MESSAGES, api_base=f"{server.url}/v1", api_key="sk", stream=True
            )
            list(stream)
        for _ in range(500):  # LiteLLM runs the sync success callbacks in a thread pool
            if monitor.stats()["recorded"] == 5:
                break
            time.sleep(0.01)
        receiver = Receiver(monitor)  # a GenAI span with an evaluation result on it
        status, _, _ = receiver.export(otlp_json(GENAI, events=[EVALUATION]), "application/json")
        assert status == 200
        assert monitor.flush(60.0) == 0
        stack.wait_caught_up(timeout_s=180)
        # later, a judge's result as an OpenTelemetry log record on the call's span: attributed to the stored call
        faithful = {"gen_ai.evaluation.name": "faithfulness", "gen_ai.evaluation.score.label": "faithful"}
        logs = logs_json((SPAN_ID, "gen_ai.evaluation.result", faithful), time_ns=time.time_ns())
        assert receiver.export_logs(logs, "application/json")[0] == 200
        assert monitor.flush(60.0) == 0
        monitor.close()
        stack.wait_caught_up(timeout_s=180)
        reader = stack.reader()
        (otlp_call,) = reader.query("SELECT event_id FROM llm_calls WHERE app = 'rag-api'").rows
        evaluations = reader.query("SELECT name, score, label, explanation, evaluator, call_id, app, team "
                                   "FROM llm_evaluations ORDER BY name").rows  # fmt: skip
        judged = reader.query("SELECT attributed, provider, model, app FROM llm_evaluations "
                              "WHERE name = 'faithfulness'").rows  # fmt: skip
        rows = reader.query(
            "SELECT provider, model, input_tokens, output_tokens, cache_read_tokens, ttft_ms IS NOT NULL, cost_usd>0, "
            "app, team, user_id, attributes['feature'], tokens_estimated FROM llm_calls ORDER BY model, app"
        ).rows
    assert [tuple(row[:-1]) for row in rows] == [
        ("anthropic", "claude-sonnet-4-6", 2140, 27, 2000, 1, 1, "support", "core", "u-42", "answer"),
        ("openai", "gpt-4o", USAGE_CHAT["prompt_tokens"], USAGE_CHAT["completion_tokens"], 1024, 0, 1,
         "gateway", "core", "u-42", "answer"),  # via LiteLLM
        ("openai", "gpt-4o", 1200, 80, 1024, 1, 1, "rag-api", "payments", "u-1", "refund-bot"),  # via OTLP
        ("openai", "gpt-4o", USAGE_CHAT["prompt_tokens"], USAGE_CHAT["completion_tokens"], 1024, 0, 1,
         "search", "core", "u-42", "answer"),
        ("openai", "gpt-4o-mini", 9, 2, 0, 1, 1, "gateway", "core", "u-42", "answer"),  # via LiteLLM, counted
        ("openai", "gpt-4o-mini", USAGE_STREAM["prompt_tokens"], USAGE_STREAM["completion_tokens"], 0, 1, 1,
         "search", "core", "u-42", "answer"),
    ]  # fmt: skip
    assert [bool(row[-1]) for row in rows] == [False, False, False, False, True, False]
    assert [tuple(row) for row in evaluations] == [
        ("faithfulness", None, "faithful", None, "ragas", otlp_call[0], "rag-api", "payments"),  # the call's team
        ("relevance", 0.92, "relevant", EVALUATION["gen_ai.evaluation.explanation"], "rag-api", otlp_call[0],
         "rag-api", "payments"),
    ]  # fmt: skip
    assert [tuple(row) for row in judged] == [(True, "openai", "gpt-4o", "rag-api")]
