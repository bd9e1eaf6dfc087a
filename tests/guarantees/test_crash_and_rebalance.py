"""Kill -9 a worker at random moments, add and remove a second worker: the store stays exact."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from llmpulse.stack import Stack
from tests.guarantees.checks import assert_alerts_once, assert_exact
from tests.stream_jobs.pipeline_helpers import private_settings, send_events, start_stack, workload_events

pytestmark = [pytest.mark.integration, pytest.mark.guarantees]


def stored(stack: Stack) -> int:
    with stack.reader() as store:
        return int(store.query("SELECT count() FROM llm_calls").scalar())


def wait_progress(stack: Stack, more_than: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while (n := stored(stack)) <= more_than:
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.1)
    return n


def test_kill_minus_nine_three_times_at_random_moments(kafka_bootstrap: str, tmp_path: Path) -> None:
    rng = random.Random(5)
    settings = private_settings(kafka_bootstrap, tmp_path, batch_max_records=10)
    events = workload_events(80_000, seed=21)
    with start_stack(settings, tmp_path) as stack:
        send_events(settings, events)
        for _ in range(3):
            seen = wait_progress(stack, stored(stack))
            time.sleep(rng.uniform(0.0, 1.5))  # a random moment: mid-chunk, mid-insert, mid-commit
            stack.stop_worker(stack.workers[0], kill=True)
            stack.start_worker()
            stack.wait_worker_ready()
            assert seen <= stored(stack)
        stack.wait_caught_up(timeout_s=300)
        time.sleep(15)  # the idle stream closes the last windows; the leader evaluates them
        with stack.reader() as store:
            assert_exact(store, events)
            assert_alerts_once(store)


def test_second_worker_joins_and_leaves_mid_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = private_settings(kafka_bootstrap, tmp_path, batch_max_records=10)
    events = workload_events(60_000, seed=22)
    with start_stack(settings, tmp_path) as stack:
        send_events(settings, events[:30_000])
        wait_progress(stack, 5_000)
        second = stack.start_worker()  # joins the group, writes through the first worker's store endpoint
        send_events(settings, events[30_000:])
        wait_progress(stack, 40_000, timeout_s=180)
        stack.stop_worker(second)  # leaves the group: a clean rebalance
        stack.wait_caught_up(timeout_s=300)
        with stack.reader() as store:
            assert_exact(store, events)
            assert_alerts_once(store)
        log = (tmp_path / "logs" / "worker-1.log").read_text()
        assert "Traceback" not in log, log[-2000:]


def test_second_worker_killed_mid_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = private_settings(kafka_bootstrap, tmp_path, batch_max_records=10)
    events = workload_events(40_000, seed=23)
    with start_stack(settings, tmp_path) as stack:
        second = stack.start_worker()
        time.sleep(8)  # both in the group
        send_events(settings, events)
        wait_progress(stack, 10_000)
        stack.stop_worker(second, kill=True)  # its partitions move to the first after the session timeout
        stack.wait_caught_up(timeout_s=300)
        with stack.reader() as store:
            assert_exact(store, events)
