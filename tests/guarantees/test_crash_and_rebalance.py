"""Kill -9 a worker at random moments, add and remove a second worker: the store stays exact, no dead letter
appears, alerts fire once — and the workers' logs show that records were indeed replayed and that
ClickHouse dropped the re-written blocks as duplicates (else the exactness would prove nothing)."""

from __future__ import annotations

import random
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from llmpulse.kafka.config import consumer_config
from llmpulse.producers.workload import ErrorBurst
from llmpulse.stack import Stack
from tests.guarantees.checks import assert_alerts_once, assert_exact, replays_in_logs, wait_alerts_evaluated
from tests.stream_jobs.pipeline_helpers import (
    log_has,
    private_settings,
    send_events,
    start_stack,
    wait_stored,
    wait_until,
    workload_events,
)

pytestmark = [pytest.mark.integration, pytest.mark.guarantees]

READING = r"partition \d+: reading from offset"


def stored(stack: Stack) -> int:
    with stack.reader() as store:
        return int(store.query("SELECT count() FROM llm_calls").scalar())


def wait_progress(stack: Stack, more_than: int, timeout_s: float = 180) -> int:
    counts: list[int] = []

    def progressed() -> bool:
        counts.append(stored(stack))
        return counts[-1] > more_than

    wait_until(progressed, f"more than {more_than} stored events", timeout_s, poll_s=0.1)
    return counts[-1]


def kill_when_written_ahead(stack: Stack, worker: subprocess.Popen[bytes], log: Path, timeout_s: float = 20.0) -> bool:
    """Kill -9 ``worker`` as soon as a partition it reads has a chunk stored beyond the group's committed offset
    (written, not yet committed: what a kill must leave for the next owner to replay). Offsets are committed
    every second, so the state lasts long enough to be seen; True when it was seen before the kill (after
    ``timeout_s`` the worker is killed anyway)."""
    topic = stack.settings.calls_topic
    consumer = Consumer(consumer_config(stack.bootstrap, stack.settings.consumer_group, stack.settings))
    seen = False
    try:
        with stack.reader() as store:
            deadline = time.monotonic() + timeout_s
            while not seen and time.monotonic() < deadline:
                mine = {int(p) for p in re.findall(r"partition (\d+): reading from", log.read_text(errors="replace"))}
                ends = dict(store.query("SELECT kafka_partition, max(end_offset) FROM llm_sink_chunks "
                                        "WHERE topic = {t:String} GROUP BY kafka_partition", {"t": topic}).rows)
                # committed offsets read after the chunks: a chunk beyond them was uncommitted at that moment
                committed = consumer.committed([TopicPartition(topic, p) for p in mine], timeout=10)
                seen = any(int(ends.get(tp.partition, 0)) > max(tp.offset, 0) for tp in committed)
                if not seen:
                    time.sleep(0.02)
    finally:
        consumer.close()
    stack.stop_worker(worker, kill=True)
    return seen


def feed_until_reading(stack: Stack, events: list[dict[str, Any]], sent: int, log: Path, limit: int) -> int:
    """Send events 500 at a time until the worker writing ``log`` reads a partition (it has joined the group
    and been given one with records to read); returns how many events are sent in all."""
    while not log_has(log, READING):
        assert sent < limit, f"{log.name}: the worker never got a partition"
        send_events(stack.settings, events[sent:sent + 500])
        sent += 500
        wait_until(lambda: log_has(log, READING) or stack.lag() == 0, "the sink to read what was sent")
    return sent


def burst(start_min: int) -> ErrorBurst:
    """Half of one provider's calls fail for 30 minutes of event time: an incident for the alert rules."""
    return ErrorBurst(provider="anthropic", start_s=start_min * 60, end_s=(start_min + 30) * 60, rate=0.5)


def test_kill_minus_nine_three_times_at_random_moments(kafka_bootstrap: str, tmp_path: Path) -> None:
    rng = random.Random(5)
    settings = private_settings(kafka_bootstrap, tmp_path, batch_max_records=10)
    events = workload_events(80_000, seed=21, incidents=[burst(200)])
    with start_stack(settings, tmp_path) as stack:
        # a third of the events before each kill, so there is work left at every kill (with all of them sent at
        # once, a fast worker had stored everything before the third kill, and no progress could be waited for)
        for part in range(3):
            before = stored(stack)
            send_events(settings, events[part * len(events) // 3:(part + 1) * len(events) // 3])
            seen = wait_progress(stack, before)
            if part < 2:
                time.sleep(rng.uniform(0.0, 1.5))  # a random moment: mid-chunk, mid-insert, mid-commit
                stack.stop_worker(stack.workers[0], kill=True)
            else:  # and once where a replay must follow: a chunk written, its offsets not yet committed
                kill_when_written_ahead(stack, stack.workers[0], tmp_path / "logs" / "worker-0.log")
            stack.start_worker()
            stack.wait_worker_ready()
            assert seen <= stored(stack)
        stack.wait_caught_up(timeout_s=300)
        wait_stored(stack, len(events))
        wait_alerts_evaluated(stack.reader)
        with stack.reader() as store:
            assert_exact(store, events)
            assert_alerts_once(store)
    replayed, deduplicated = replays_in_logs(tmp_path / "logs")
    assert replayed >= 1 and deduplicated >= 1, f"{replayed} chunks replayed, {deduplicated} dropped as duplicates"


def test_second_worker_joins_and_leaves_mid_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = private_settings(kafka_bootstrap, tmp_path, batch_max_records=10)
    events = workload_events(60_000, seed=22, incidents=[burst(150)])
    with start_stack(settings, tmp_path) as stack:
        send_events(settings, events[:30_000])
        wait_progress(stack, 5_000)
        second = stack.start_worker()  # joins the group, writes through the first worker's store endpoint
        sent = feed_until_reading(stack, events, 30_000, tmp_path / "logs" / "worker-1.log", limit=50_000)
        send_events(settings, events[sent:])
        wait_progress(stack, 40_000)
        stack.stop_worker(second)  # leaves the group: a clean rebalance
        stack.wait_caught_up(timeout_s=300)
        wait_stored(stack, len(events))
        wait_alerts_evaluated(stack.reader)
        with stack.reader() as store:
            # no dead letters: records a worker gets back after a rebalance are not "duplicate_event_id"
            assert_exact(store, events)
            assert_alerts_once(store)
    for log in ("worker-0.log", "worker-1.log"):
        text = (tmp_path / "logs" / log).read_text()
        assert "Traceback" not in text, text[-2000:]


def test_second_worker_killed_mid_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = private_settings(kafka_bootstrap, tmp_path, batch_max_records=10)
    events = workload_events(60_000, seed=23)
    logs = tmp_path / "logs"
    sent = replayed = 0
    with start_stack(settings, tmp_path) as stack:
        # A kill that lands between a commit and the next write leaves nothing to replay, so the second worker is
        # killed when the store holds a chunk of its partitions beyond the committed offset. It can lose its
        # partitions to a rebalance before it writes again: start a second worker again, up to five times,
        # until one of its written-but-uncommitted chunks is replayed by the first. Exactness is checked over
        # everything.
        for attempt in range(5):
            second = stack.start_worker()
            sent = feed_until_reading(stack, events, sent, logs / "worker-1.log", limit=sent + 15_000)
            slice_end = min(sent + 12_000, len(events))
            send_events(settings, events[sent:slice_end])
            # kill it when it has written a chunk it has not committed yet; its partitions move to the first
            # after the session timeout, which must replay that chunk
            kill_when_written_ahead(stack, second, logs / "worker-1.log")
            stack.wait_caught_up(timeout_s=300)
            wait_stored(stack, slice_end)
            sent = slice_end
            (logs / "worker-1.log").rename(logs / f"worker-1-kill{attempt}.log")
            replayed, _ = replays_in_logs(logs)
            if replayed:
                break
        with stack.reader() as store:
            assert_exact(store, events[:sent])
    assert replayed >= 1, "in five kills, no chunk of the killed worker was replayed"
