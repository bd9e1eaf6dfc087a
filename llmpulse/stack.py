"""The embedded stack as one object: a broker (unless Kafka is configured) and stream worker processes.

Used by ``llmpulse up``, ``llmpulse demo``, the benchmark and the integration tests. Workers are separate
processes (they use the second core, and chdb lets one process own a data directory); the stack reads the
store through the owning worker's ClickHouse HTTP endpoint, as the read-only ``reader``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from confluent_kafka import Consumer, TopicPartition
from pydantic import SecretStr

from llmpulse.clickhouse.http import endpoint_url
from llmpulse.clickhouse.store import Store, open_store
from llmpulse.kafka.admin import ensure_topics, wait_for_kafka
from llmpulse.kafka.broker import EmbeddedBroker
from llmpulse.kafka.config import consumer_config, security_config
from llmpulse.settings import Settings

log = logging.getLogger(__name__)


class StackError(RuntimeError):
    pass


def settings_env(settings: Settings) -> dict[str, str]:
    """Settings as the environment variables that recreate them in another process."""
    env = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"LLMPULSE_{name.upper()}"] = str(value)
    return env


class Stack:
    def __init__(self, settings: Settings, *, log_dir: Path | None = None) -> None:
        self.settings = settings
        self.log_dir = log_dir or settings.data_dir.parent / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.broker: EmbeddedBroker | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.endpoints: list[subprocess.Popen[bytes]] = []
        self.bootstrap = settings.kafka_bootstrap or ""

    # -- start / stop -------------------------------------------------------------------------------
    def start_broker(self) -> str:
        if not self.bootstrap:
            self.broker = EmbeddedBroker(port=self.settings.embedded_broker_port, log_dir=self.log_dir)
            self.bootstrap = self.broker.bootstrap
        cfg = security_config(self.settings)
        wait_for_kafka(self.bootstrap, 30.0, cfg)
        s = self.settings
        ensure_topics(self.bootstrap, s.all_topics(), s.kafka_partitions, cfg)
        return self.bootstrap

    def worker_env(self) -> dict[str, str]:
        """The environment of a worker process: this stack's settings as LLMPULSE_* variables."""
        env = dict(os.environ)
        env.update(settings_env(self.settings))
        env["LLMPULSE_KAFKA_BOOTSTRAP"] = self.bootstrap
        env["LLMPULSE_DATA_DIR"] = str(self.settings.data_dir)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start_worker(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        index = len(self.workers)
        logfile = open(self.log_dir / f"worker-{index}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmpulse", "worker"],
            env={**self.worker_env(), **(extra_env or {})},
            stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.workers.append(proc)
        return proc

    def wait_worker_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until the worker has opened the store (embedded: its endpoint answers)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for i, proc in enumerate(self.workers):
                if proc.poll() is not None:
                    raise StackError(f"worker {i} exited with {proc.returncode}; see {self.log_dir}/worker-{i}.log")
            if self.settings.clickhouse_url is not None or endpoint_url(self.settings.data_dir):
                return
            time.sleep(0.1)
        raise StackError(f"worker not ready after {timeout_s:g}s; see {self.log_dir}")

    def start_endpoint(self, port: int, extra_env: dict[str, str] | None = None,
                       timeout_s: float = 60.0) -> subprocess.Popen[bytes]:  # fmt: skip
        """``llmpulse serve``: a process that owns the embedded store and serves it over ClickHouse's HTTP
        interface on ``port`` (and nothing else); returns once it answers."""
        logfile = open(self.log_dir / "endpoint.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmpulse", "serve", "--data-dir", str(self.settings.data_dir), "--port", str(port)],
            env={**self.worker_env(), **(extra_env or {})},
            stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.endpoints.append(proc)
        deadline = time.monotonic() + timeout_s
        while endpoint_url(self.settings.data_dir) != f"http://127.0.0.1:{port}":
            if proc.poll() is not None:
                raise StackError(f"the endpoint exited with {proc.returncode}; see {self.log_dir}/endpoint.log")
            if time.monotonic() > deadline:
                raise StackError(f"the endpoint did not start within {timeout_s:g}s; see {self.log_dir}")
            time.sleep(0.1)
        return proc

    def stop_worker(self, proc: subprocess.Popen[bytes], *, kill: bool = False, timeout_s: float = 30.0) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for group in (self.workers, self.endpoints):
            if proc in group:
                group.remove(proc)

    def stop(self) -> None:
        for proc in list(self.workers) + list(self.endpoints):
            self.stop_worker(proc)
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- observing ----------------------------------------------------------------------------------
    def reader(self) -> Store:
        """The store as the read-only ``reader`` (embedded: through the owner's ClickHouse HTTP endpoint)."""
        return open_store(self.settings, user="reader")

    def lag(self) -> int:
        """Records of the event topics not yet committed by the worker group (i.e. not yet stored)."""
        consumer = Consumer(consumer_config(self.bootstrap, self.settings.consumer_group, self.settings))
        try:
            parts = []
            for topic in self.settings.event_topics():
                meta = consumer.list_topics(topic, timeout=10)
                parts += [TopicPartition(topic, p) for p in meta.topics[topic].partitions]
            committed = consumer.committed(parts, timeout=10)
            total = 0
            for tp in committed:
                low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
                done = tp.offset if tp.offset >= 0 else low
                total += max(high - done, 0)
            return total
        finally:
            consumer.close()

    def wait_caught_up(self, timeout_s: float = 300.0, poll_s: float = 0.5,
                       on_progress: object = None) -> None:  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while True:
            for i, proc in enumerate(self.workers):
                if proc.poll() is not None:
                    raise StackError(f"worker {i} exited with {proc.returncode}; see {self.log_dir}/worker-{i}.log")
            lag = self.lag()
            if callable(on_progress):
                on_progress(lag)
            if lag == 0:
                return
            if time.monotonic() > deadline:
                raise StackError(f"the sink did not catch up within {timeout_s:g}s ({lag} records behind)")
            time.sleep(poll_s)
