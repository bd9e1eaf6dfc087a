"""A read-only SQL endpoint on 127.0.0.1 for the embedded store.

chdb lets one process own a data directory; while a worker owns it, ``llmpulse query``, the demo and the
dashboard read through this endpoint instead. The worker writes its address to ``<data_dir>/worker.json``.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa

from llmpulse.clickhouse.exceptions import StoreError, StoreUnavailable
from llmpulse.clickhouse.store import QueryResult, Store

READ_PREFIXES = ("select", "with", "show", "describe", "desc", "explain", "exists")
ADDRESS_FILE = "worker.json"


def is_read_only(sql: str) -> bool:
    words = sql.lstrip(" \t\r\n(").split(None, 1)
    return bool(words) and words[0].lower() in READ_PREFIXES


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)


def serve_store(store: Store, data_dir: Path, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread and record its address in ``data_dir``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            body = orjson.loads(self.rfile.read(length) or b"{}")
            sql, params = body.get("sql", ""), body.get("params") or None
            if not is_read_only(sql):
                self._reply(400, {"error": "only read-only statements (SELECT, SHOW, …) are accepted"})
                return
            try:
                result = store.query(sql, params)
            except StoreError as exc:
                self._reply(400, {"error": str(exc)})
                return
            self._reply(200, {"columns": result.columns, "rows": result.rows})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = orjson.dumps(payload, default=_jsonable, option=orjson.OPT_NON_STR_KEYS)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: no SQL in logs
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, name="llmpulse-sql", daemon=True).start()
    address = {"url": f"http://{host}:{server.server_address[1]}", "pid": os.getpid()}
    (data_dir / ADDRESS_FILE).write_text(json.dumps(address))
    return server


def worker_url(data_dir: Path) -> str | None:
    """The endpoint of a live worker owning ``data_dir``, if any."""
    path = data_dir / ADDRESS_FILE
    if not path.exists():
        return None
    try:
        address = json.loads(path.read_text())
        os.kill(int(address["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(address["url"])


class RemoteStore(Store):
    """Read-only Store over a worker's endpoint."""

    kind = "worker"

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout_s)

    def describe(self) -> str:
        return f"worker:{self.url}"

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        try:
            response = self._client.post(self.url, content=orjson.dumps({"sql": sql, "params": params}))
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"the worker at {self.url} does not answer: {type(exc).__name__}") from exc
        payload = response.json()
        if response.status_code != 200:
            raise StoreError(payload.get("error", f"HTTP {response.status_code}"))
        return QueryResult(payload["columns"], [tuple(r) for r in payload["rows"]])

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        raise StoreError("the worker's endpoint is read-only; stop the worker to change the store")

    def insert(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        raise StoreError("the worker's endpoint is read-only")

    def close(self) -> None:
        self._client.close()
