"""``llmpulse bench --json`` end to end on a small run: the keys are there and the values make sense
(no timing assertions: speed is what the benchmark reports, not what a test asserts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.integration

EVENTS = 12_000


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work: Path = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "llmpulse", "bench", "--events", str(EVENTS), "--windows", "60",
         "--history-windows", "2", "--capture-events", "300",
         "--quality-events", "300", "--producer-events", "2000", "--query-calls", "0",
         "--soak", "12", "--dir", str(work), "--json"],
        capture_output=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr.decode()[-3000:]
    out = orjson.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert proc.returncode == (0 if out["soak_ok"] else 1)
    return dict(out)


def test_pipeline_keys_and_counts(result: dict) -> None:
    assert result["pipeline_events"] == result["pipeline_calls_stored"] == result["pipeline_rollup_requests"] == EVENTS
    assert result["pipeline_undelivered"] == 0
    assert result["pipeline_eps"] > 0 and result["pipeline_worker_cpu_us_per_event"] > 0
    assert result["pipeline_event_time_windows"] >= 59
    assert result["history_windows"] == 2 and result["history_events"] == 2 * (EVENTS // 60)
    assert result["alert_lag_windows_max"] == result["pipeline_alert_lag_windows_max"] >= 0
    assert result["pipeline_alert_catch_up_seconds"] >= 0
    assert 0 < result["worker_peak_rss_mb"] < 24 * 1024


def test_ceiling(result: dict) -> None:
    assert result["raw_consume_complete"] is True
    assert result["raw_consume_events"] >= EVENTS and result["raw_consume_dead_letters"] == 0
    assert result["pipeline_to_raw_ratio"] == round(result["pipeline_eps"] / result["raw_consume_eps"], 4)


def test_capture_run(result: dict) -> None:
    assert result["capture_calls_stored"] == 300
    assert result["pipeline_eps_capture"] == result["capture_eps"] > 0
    assert result["capture_prompt_chars_mean"] > 1_000
    assert result["capture_to_pipeline_ratio"] == round(result["pipeline_eps_capture"] / result["pipeline_eps"], 3)


def test_quality_runs(result: dict) -> None:
    """Apps sending text, capture off: the signals off (rate 0), then at the default rate, which judges
    about that share of the calls (the warm-up's 200 calls are judged too)."""
    assert result["text_calls_stored"] == result["quality_calls_stored"] == 300
    assert result["text_quality_sampled"] == 0
    rate = result["quality_sample_rate"]
    assert 0 < rate <= 1
    assert 0.3 * rate * 500 <= result["quality_quality_sampled"] <= 3 * rate * 500
    assert result["pipeline_eps_quality"] == result["quality_eps"] > 0
    assert result["quality_to_text_ratio"] == round(result["quality_eps"] / result["text_eps"], 3)


def test_producer_figures(result: dict) -> None:
    for key in ("record", "event", "track"):
        assert 0 < result[f"producer_{key}_us_p50"] <= result[f"producer_{key}_us_p99"]
    assert result["producer_event_us_p50"] > result["producer_record_us_p50"]  # building the model costs
    assert result["producer_buffer_events"] == 100_000
    assert result["producer_sent_while_down"] > result["producer_buffer_events"]
    assert 0 < result["producer_dropped_while_down"] < result["producer_sent_while_down"]


def test_soak_and_accuracy(result: dict) -> None:
    assert result["soak_events"] > 0 and result["rss_mb_start"] > 0
    assert isinstance(result["soak_ok"], bool) and result["soak_ok"] is not result["lag_growing"]
    assert result["p99_rel_error_max"] <= 0.01
