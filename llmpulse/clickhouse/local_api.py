"""The embedded store's endpoint on 127.0.0.1: read-only SQL, and Arrow inserts.

chdb lets one process own a data directory. While a worker owns it, everything else on the machine goes
through this endpoint: ``llmpulse query``, the demo and the benchmark read (only read-only statements are
accepted), and further workers in the same consumer group insert (Arrow IPC, with the deduplication token),
so the embedded mode can scale to several worker processes too. The owner writes its address to
``<data_dir>/worker.json``. It listens on loopback only.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path.startswith("/insert"):
                self._insert(raw)
                return
            body = orjson.loads(raw or b"{}")
            sql, params = body.get("sql", ""), body.get("params") or None
            if not is_read_only(sql):
                self._reply(400, {"error": "only read-only statements (SELECT, SHOW, …) are accepted"})
                return
            try:
                result = store.query(sql, params)
                self._reply(200, {"columns": result.columns, "rows": result.rows})
            except StoreError as exc:
                self._reply(400, {"error": str(exc)})
            except Exception as exc:  # never drop the connection without an answer
                self._reply(500, {"error": f"{type(exc).__name__}: {exc}"})

        def _insert(self, raw: bytes) -> None:
            query = parse_qs(urlsplit(self.path).query)
            table = query.get("table", [""])[0]
            token = query.get("token", [None])[0]
            try:
                data = pa.ipc.open_stream(raw).read_all()
                store.insert(table, data, token)
            except (StoreError, ValueError, pa.ArrowInvalid) as exc:
                self._reply(400, {"error": str(exc)})
                return
            self._reply(200, {"rows": data.num_rows})

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
    """The Store of a worker that owns the embedded data directory: SELECTs and inserts, no DDL."""

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
        raise StoreError("the store is owned by a running worker, which accepts no DDL; stop it to change the schema")

    def insert(self, table: str, data: pa.Table, dedup_token: str | None = None) -> None:
        if data.num_rows == 0:
            return
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        params = {"table": table, **({"token": dedup_token} if dedup_token else {})}
        try:
            response = self._client.post(f"{self.url}/insert", params=params, content=sink.getvalue().to_pybytes())
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"the worker at {self.url} does not answer: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise StoreError(response.json().get("error", f"HTTP {response.status_code}"))

    def close(self) -> None:
        self._client.close()
