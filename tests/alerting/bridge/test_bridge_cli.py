"""``llmpulse bridge``: help, configuration errors, and a real process stopped by Ctrl-C (SIGINT)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from llmpulse.cli.bridge import register
from llmpulse.schemas.alert import AlertEvent
from tests.fixtures.http_fakes import PAGERDUTY_ROUTING_KEY, SLACK_WEBHOOK_PATH, FakePagerDuty, FakeSlack

# The same wiring as llmpulse.cli.main, for this one sub-command.
ENTRY = (
    "import argparse, sys\n"
    "from llmpulse.cli.bridge import register\n"
    "p = argparse.ArgumentParser(prog='llmpulse'); register(p.add_subparsers())\n"
    "args = p.parse_args(sys.argv[1:]); sys.exit(args.func(args))\n"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmpulse")
    register(parser.add_subparsers())
    return parser


def _config(tmp_path: Path, fake_pagerduty: FakePagerDuty) -> Path:
    path = tmp_path / "alerts.toml"
    path.write_text(
        f"""
[routing]
routes = [
  {{match = {{severity = ["critical"]}}, destinations = ["pagerduty:default"]}},
  {{destinations = ["slack:default", "console"]}},
]
[destinations.slack.default]
webhook_url_env = "LLMPULSE_SLACK_WEBHOOK_URL"
[destinations.pagerduty.default]
routing_key_env = "LLMPULSE_PAGERDUTY_ROUTING_KEY"
events_url = "{fake_pagerduty.events_url}"
"""
    )
    return path


def test_help_describes_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(["bridge", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--config", "--bootstrap", "--ledger", "--once", "--max-seconds", "--group", "--topic"):
        assert option in out
    assert "LLMPULSE_SLACK_WEBHOOK_URL" in out and "LLMPULSE_PAGERDUTY_ROUTING_KEY" in out
    assert "Ctrl-C" in out


def test_missing_secret_is_a_clear_error(
    tmp_path: Path,
    fake_pagerduty: FakePagerDuty,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("LLMPULSE_PAGERDUTY_ROUTING_KEY", raising=False)
    monkeypatch.setenv("LLMPULSE_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/v3rySecretT0ken")
    args = _parser().parse_args(
        ["bridge", "--config", str(_config(tmp_path, fake_pagerduty)), "--bootstrap", "127.0.0.1:9",
         "--ledger", str(tmp_path / "l.sqlite3")]
    )  # fmt: skip
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "LLMPULSE_PAGERDUTY_ROUTING_KEY (for pagerduty:default)" in err
    assert "v3rySecretT0ken" not in err


def test_bad_config_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text('[routing]\nroutes = [{destinations = ["slack:nope"]}]\n')
    args = _parser().parse_args(["bridge", "--config", str(path), "--bootstrap", "127.0.0.1:9"])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "no [destinations.slack.nope] section" in err


@pytest.mark.integration
def test_process_delivers_then_stops_cleanly_on_ctrl_c(
    kafka_bootstrap: str,
    alerts_topic: str,
    produce: Callable[[str, list[AlertEvent]], None],
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    produce(alerts_topic, [make_alert("firing"), make_alert("resolved")])
    env = dict(os.environ, LLMPULSE_SLACK_WEBHOOK_URL=fake_slack.webhook_url,
               LLMPULSE_PAGERDUTY_ROUTING_KEY=PAGERDUTY_ROUTING_KEY)  # fmt: skip
    cmd = [sys.executable, "-c", ENTRY, "bridge", "--config", str(_config(tmp_path, fake_pagerduty)),
           "--bootstrap", kafka_bootstrap, "--topic", alerts_topic, "--group", f"cli-{uuid.uuid4().hex[:8]}",
           "--ledger", str(tmp_path / "ledger.sqlite3"), "-v"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(fake_pagerduty.events) < 2 or len(fake_slack.messages) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "bridge did not deliver in time"
            time.sleep(0.1)
        time.sleep(0.5)  # let it commit
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGINT received, stopping" in err and "bridge stopped: 2 consumed, 6 sent" in err
    assert "Traceback" not in err
    lines = out.splitlines()
    assert len(lines) == 2 and "FIRING" in lines[0] and "RESOLVED" in lines[1]  # the console destination
    assert fake_pagerduty.actions() == ["trigger", "resolve"]
    for secret in (fake_slack.webhook_url, SLACK_WEBHOOK_PATH, PAGERDUTY_ROUTING_KEY):
        assert secret not in out and secret not in err
