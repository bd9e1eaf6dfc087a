"""llmpulse up stops in order on SIGTERM (what systemd, Docker and Kubernetes send): workers first, then the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_sigterm_stops_the_worker_before_the_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPULSE_")}
    out = tmp_path / "up.log"
    with out.open("wb") as sink:
        command = [sys.executable, "-m", "llmpulse", "up", "--port", "0", "--data-dir", str(tmp_path / "data")]
        up = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path)
    worker_log = tmp_path / "logs" / "worker-0.log"
    try:
        wait_for(lambda: b"is up" in out.read_bytes(), 120, "llmpulse up")
        wait_for(lambda: worker_log.exists() and b"consuming" in worker_log.read_bytes(), 120, "the worker")
        started = time.monotonic()
        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0
        took = time.monotonic() - started
    finally:
        if up.poll() is None:
            up.kill()
    log = worker_log.read_text(errors="replace")
    assert "Stopping" in log
    # the broker was still there while the worker stopped: no failed connections, no wait for a kill
    assert "Connect call failed" not in log and "Unable connect" not in log, log[-2000:]
    assert took < 20, f"SIGTERM took {took:.1f}s"
