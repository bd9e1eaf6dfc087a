"""A served embedded store with a few rows, and a TCP listener that records whether anything reached it."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmpulse.clickhouse.chdb_store import ChdbStore
from llmpulse.clickhouse.http.server import Endpoint
from llmpulse.clickhouse.http.settings import READER, WRITER, stored_password
from llmpulse.clickhouse.migrate import migrate

CALLS = 5


@dataclass
class Served:
    store: ChdbStore
    endpoint: Endpoint

    @property
    def port(self) -> int:
        return self.endpoint.port

    def password(self, user: str) -> str:
        secret = stored_password(self.store.data_dir, user)
        assert secret is not None
        return secret.get_secret_value()

    def client(self, user: str = READER, **kwargs: Any) -> Any:
        import clickhouse_connect

        return clickhouse_connect.get_client(host="127.0.0.1", port=self.port, username=user,
                                             password=self.password(user), database="llmpulse", **kwargs)  # fmt: skip

    def close(self) -> None:
        self.endpoint.stop()
        self.store.close()


def serve(data_dir: Path) -> Served:
    store = ChdbStore(data_dir)
    migrate(store)
    store.command(
        "INSERT INTO llm_calls (event_id, ts, latency_ms, provider, model, app, team, status, output_tokens) "
        f"SELECT concat('e', toString(number)), now64(3), 100 + number, 'openai', 'gpt-4o', 'app', 'team', 'ok', 10 "
        f"FROM numbers({CALLS})"
    )
    return Served(store, Endpoint(store))


class Listener:
    """Accepts TCP connections on loopback and counts them (a url()/s3()/remote() target that must stay idle)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


__all__ = ["CALLS", "READER", "WRITER", "Listener", "Served", "serve"]
