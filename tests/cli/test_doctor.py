"""llmpulse doctor: each misconfiguration is named with its fix; a healthy setup passes (real broker, real chdb)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmpulse.kafka import ensure_topics

pytestmark = pytest.mark.integration


def doctor(tmp_path: Path, **env: str) -> tuple[int, dict[str, Any]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LLMPULSE_")}
    clean.setdefault("LLMPULSE_DATA_DIR", str(tmp_path / "no-store"))
    clean.update(env)
    proc = subprocess.run([sys.executable, "-m", "llmpulse", "doctor", "--json", "--timeout", "3"],
                          env=clean, capture_output=True, timeout=120, cwd=tmp_path)  # fmt: skip
    return proc.returncode, orjson.loads(proc.stdout.splitlines()[-1])


def by_name(report: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for check in report["checks"]:
        out.setdefault(check["name"], []).append(check)
    return out


def test_every_problem_is_named_with_its_fix(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.toml"
    alerts.write_text('[[threshold]]\nname = "p95"\nmetric = "latency_p95_ms"\nabove = "fast"\n')
    prices = tmp_path / "prices.toml"
    prices.write_text("[[model]]\nprovider = 'acme'\n")
    routed = tmp_path / "routed.toml"
    code, report = doctor(tmp_path, LLMPULSE_KAFKA_BOOTSTRAP="127.0.0.1:9", LLMPULSE_ALERTS_FILE=str(alerts),
                          LLMPULSE_PRICES_FILE=str(prices))  # fmt: skip
    checks = by_name(report)
    assert code == 1 and report["ok"] is False
    assert checks["kafka"][0]["status"] == "fail" and "127.0.0.1:9" in checks["kafka"][0]["detail"]
    assert "LLMPULSE_KAFKA_BOOTSTRAP" in checks["kafka"][0]["fix"]
    assert checks["alert rules"][0]["status"] == "fail" and "p95" in checks["alert rules"][0]["detail"]
    assert checks["prices"][0]["status"] == "fail" and str(prices) in checks["prices"][0]["detail"]
    assert checks["clickhouse"][0]["status"] == "warn"

    routed.write_text(
        '[routing]\nroutes = [{ destinations = ["slack:ops", "pagerduty:oncall"] }]\n'
        '[destinations.slack.ops]\nwebhook_url_env = "OPS_SLACK_URL"\n'
        '[destinations.pagerduty.oncall]\nrouting_key_env = "ONCALL_PD_KEY"\n'
    )
    code, report = doctor(tmp_path, LLMPULSE_ALERTS_FILE=str(routed), OPS_SLACK_URL="http://not-https.example",
                          ONCALL_PD_KEY="")  # fmt: skip
    hooks = by_name(report)["webhooks"]
    assert code == 1
    assert [(h["status"], "ONCALL_PD_KEY" in h["detail"]) for h in hooks if h["status"] == "fail"] == [("fail", True)]
    assert any(h["status"] == "warn" and "https" in h["detail"] for h in hooks)
    assert "not-https" not in orjson.dumps(report).decode()  # secret values are never printed


def test_bad_settings_say_which_variable(tmp_path: Path) -> None:
    code, report = doctor(tmp_path, LLMPULSE_PRODUCER_BATCH_EVENTS="0")
    assert code == 1 and report["checks"][0]["detail"].startswith("LLMPULSE_PRODUCER_BATCH_EVENTS:")


def test_a_healthy_setup_passes(kafka_bootstrap: str, tmp_path: Path) -> None:
    names = {"calls": "doctor.calls", "feedback": "doctor.feedback", "evaluations": "doctor.evaluations",
             "alerts": "doctor.alerts", "dlq": "doctor.dlq"}
    env = {
        "LLMPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap, "LLMPULSE_CALLS_TOPIC": names["calls"],
        "LLMPULSE_FEEDBACK_TOPIC": names["feedback"], "LLMPULSE_EVALUATIONS_TOPIC": names["evaluations"],
        "LLMPULSE_ALERTS_TOPIC": names["alerts"],
        "LLMPULSE_DLQ_TOPIC": names["dlq"], "LLMPULSE_DATA_DIR": str(tmp_path / "data"),
    }  # fmt: skip
    code, report = doctor(tmp_path, **env)
    assert by_name(report)["topics"][0]["status"] == "warn" and code == 0  # warnings do not fail
    ensure_topics(kafka_bootstrap, list(names.values()), 3)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LLMPULSE_")}
    subprocess.run([sys.executable, "-m", "llmpulse", "migrate", "--data-dir", env["LLMPULSE_DATA_DIR"]],
                   env=clean, check=True, capture_output=True, timeout=120, cwd=tmp_path)  # fmt: skip
    code, report = doctor(tmp_path, **env)
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert code == 0 and set(statuses.values()) == {"ok"}, report
    assert "(3 partitions)" in by_name(report)["topics"][0]["detail"]
