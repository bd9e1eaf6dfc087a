"""ClickHouse down for 60 s: backpressure, no commits, nothing dropped. Kafka down: the app never waits."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from llmpulse.kafka.broker import EmbeddedBroker
from llmpulse.producers import Monitor
from llmpulse.settings import Settings
from llmpulse.stack import Stack
from tests.guarantees.checks import assert_exact
from tests.stream_jobs.pipeline_helpers import private_settings, send_events, wait_stored, workload_events

pytestmark = [pytest.mark.integration, pytest.mark.guarantees]


def test_clickhouse_down_for_60_seconds(kafka_bootstrap: str, tmp_path: Path) -> None:
    gate = tmp_path / "clickhouse-down"
    settings = private_settings(kafka_bootstrap, tmp_path, store_fault_file=gate)
    events = workload_events(20_000, seed=31)
    with Stack(settings, log_dir=tmp_path / "logs") as stack:
        stack.start_broker()
        stack.start_worker()
        stack.wait_worker_ready()
        send_events(settings, events[:5_000])
        stack.wait_caught_up(timeout_s=120)
        wait_stored(stack, 5_000)
        gate.touch()  # ClickHouse goes away
        send_events(settings, events[5_000:])
        lags = []
        for _ in range(12):  # 60 s
            time.sleep(5)
            lags.append(stack.lag())
            assert stack.workers[0].poll() is None, "the worker died during the outage"
        assert min(lags) > 0 and lags[-1] >= lags[0], f"offsets were committed for unstored data: {lags}"
        log = (tmp_path / "logs" / "worker-0.log").read_text()
        assert "ClickHouse unavailable" in log and "holding offsets" in log
        gate.unlink()  # back
        stack.wait_caught_up(timeout_s=300)
        wait_stored(stack, len(events))
        with stack.reader() as store:
            assert_exact(store, events)
        assert "ClickHouse is back" in (tmp_path / "logs" / "worker-0.log").read_text()


def test_kafka_down_app_keeps_answering_in_microseconds(tmp_path: Path) -> None:
    events = workload_events(30_000, seed=32)
    with EmbeddedBroker() as broker:
        settings = Settings(kafka_bootstrap=broker.bootstrap, data_dir=tmp_path / "data")
        monitor = Monitor(broker.bootstrap, topic="calls-outage", buffer_events=10_000, settings=settings)
        send_ok = events[:5_000]
        for e in send_ok:
            monitor.record(e)
        assert monitor.flush(30) == 0
        broker.pause()
        costs = []
        for e in events[5_000:]:
            t0 = time.perf_counter_ns()
            monitor.record(e)
            costs.append(time.perf_counter_ns() - t0)
        stats = monitor.stats()
        assert np.percentile(costs, 99) / 1000 < 50, "record() waited for Kafka"
        assert stats["dropped_buffer_full"] > 0  # 25,000 events against a 10,000-event bound: counted drops
        broker.resume()
        left = monitor.flush(60)
        stats = monitor.stats()
        monitor.close()
        assert left == 0
        assert stats["delivered"] + stats["dropped_buffer_full"] == len(events)
        assert stats["delivered"] >= 5_000 + 10_000 - 1_000
