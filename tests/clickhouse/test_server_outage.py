"""A real server's outages are "unavailable" (retry, hold offsets); only a rejection of the data is an error.

The server is the embedded store's endpoint, reached by clickhouse-connect through ``ServerStore``: first
behind a TCP proxy that refuses, resets, hangs or answers 5xx; then as its own process (``llmpulse serve``),
killed and restarted while a worker streams into it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from llmpulse.clickhouse.exceptions import StoreError, StoreUnavailable
from llmpulse.clickhouse.server_store import ServerStore, with_credentials
from llmpulse.stack import Stack
from tests.clickhouse.endpoint_helpers import READER, WRITER, Served, serve
from tests.guarantees.checks import assert_exact
from tests.stream_jobs.pipeline_helpers import log_has, private_settings, send_events, wait_until, workload_events

pytestmark = pytest.mark.integration


class Proxy:
    """TCP proxy to the endpoint whose behaviour for new connections can be switched: ``forward``, ``refuse``
    (nothing listens), ``reset`` (RST on accept), ``hang`` (accepts, never answers), or an HTTP status."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "forward"
        self.port = self._free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self.listen()

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(32)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def set(self, mode: str) -> None:
        for conn in self._open:  # connections kept alive by the client's pool end with the mode
            with contextlib.suppress(OSError):
                conn.close()
        self._open.clear()
        if mode == "refuse" and self._listener is not None:
            self._listener.close()
            self._listener = None
        elif mode != "refuse" and self._listener is None:
            self.listen()
        self.mode = mode

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self._open.append(conn)
            if self.mode == "forward":
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
                self._open.append(upstream)
                threading.Thread(target=self._pipe, args=(conn, upstream), daemon=True).start()
                threading.Thread(target=self._pipe, args=(upstream, conn), daemon=True).start()
            elif self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif self.mode.isdigit():
                threading.Thread(target=self._status, args=(conn, int(self.mode)), daemon=True).start()
            # "hang": keep the connection open and say nothing

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    @staticmethod
    def _status(conn: socket.socket, status: int) -> None:
        with contextlib.suppress(OSError):
            conn.recv(65536)
            body = b"upstream trouble"
            conn.sendall(f"HTTP/1.1 {status} Trouble\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                         .encode() + body)  # fmt: skip
            conn.close()

    def close(self) -> None:
        self.set("refuse")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = serve(tmp_path / "data")
    yield s
    s.close()


def dead_letter_rows(n: int, offset: int = 0) -> pa.Table:
    now = int(time.time() * 1000)
    return pa.table({"received_at": pa.array([now] * n, pa.timestamp("ms", tz="UTC")), "topic": ["t"] * n,
                     "kafka_offset": pa.array(range(offset, offset + n), pa.uint64()),
                     "reason": ["validation"] * n})  # fmt: skip


def test_refused_reset_timeout_and_5xx_are_unavailable_bad_data_is_rejected(served: Served) -> None:
    proxy = Proxy(served.port)
    url = with_credentials(f"http://127.0.0.1:{proxy.port}", WRITER, served.password(WRITER), "llmpulse")
    store = ServerStore(url, timeout_s=3)
    try:
        store.insert("llm_dead_letters", dead_letter_rows(3), "t/0/0-3")
        wrong_type = pa.table({"received_at": pa.array([int(time.time() * 1000)], pa.timestamp("ms", tz="UTC")),
                               "kafka_offset": pa.array(["not a number"])})  # fmt: skip
        with pytest.raises(StoreError) as rejected:
            store.insert("llm_dead_letters", wrong_type, "t/0/3-4")
        assert not isinstance(rejected.value, StoreUnavailable), rejected.value
        for mode in ("refuse", "reset", "hang", "503", "502", "500"):
            proxy.set(mode)
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                store.insert("llm_dead_letters", dead_letter_rows(1, 10), "t/0/10-11")
            with pytest.raises(StoreUnavailable):
                store.query("SELECT 1")
            assert time.monotonic() - started < 60, mode
        proxy.set("forward")
        store.insert("llm_dead_letters", dead_letter_rows(1, 10), "t/0/10-11")  # back: the same client recovers
        assert store.query("SELECT count() FROM llm_dead_letters").scalar() == 4
    finally:
        store.close()
        proxy.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_endpoint_process_killed_and_restarted_mid_stream(kafka_bootstrap: str, tmp_path: Path) -> None:
    """A worker writes into ``llmpulse serve`` as a ClickHouse server; the server is killed mid-stream, stays
    down, and comes back on the same port: no valid event dead-lettered, every one stored exactly once."""
    port = free_port()
    passwords = {"LLMPULSE_ENDPOINT_WRITER_PASSWORD": "w-secret", "LLMPULSE_ENDPOINT_READER_PASSWORD": "r-secret"}
    base = f"http://127.0.0.1:{port}"
    settings = private_settings(kafka_bootstrap, tmp_path, clickhouse_url=with_credentials(base, WRITER, "w-secret",
                                                                                           "llmpulse"))  # fmt: skip
    events = workload_events(20_000, seed=41)
    worker_log = tmp_path / "logs" / "worker-0.log"
    with Stack(settings, log_dir=tmp_path / "logs") as stack:
        stack.start_broker()
        endpoint = stack.start_endpoint(port, passwords)
        stack.start_worker()
        stack.wait_worker_ready()
        send_events(settings, events[:5_000])
        stack.wait_caught_up(timeout_s=180)
        stack.stop_worker(endpoint, kill=True)  # the server dies (kill -9): connections refused from now on
        send_events(settings, events[5_000:])
        wait_until(lambda: log_has(worker_log, r"ClickHouse unavailable.*holding offsets"), "the sink to hold", 120)
        time.sleep(8)  # down a while: the sink keeps retrying with backoff
        assert stack.lag() > 0, "offsets were committed for unstored data"
        assert stack.workers[0].poll() is None, "the worker died during the outage"
        stack.start_endpoint(port, passwords)  # back, same address
        stack.wait_caught_up(timeout_s=300)
        assert log_has(worker_log, r"ClickHouse is back after")
        reader = ServerStore(with_credentials(base, READER, "r-secret", "llmpulse"))
        with reader:
            assert_exact(reader, events)  # and no dead letters at all: none store_rejected
    log = worker_log.read_text()
    assert "w-secret" not in log and "store_rejected" not in log
