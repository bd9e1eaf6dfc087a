"""The embedded store's ClickHouse HTTP interface (aiohttp), run by the process that owns the data dir.

The subset of ClickHouse's HTTP protocol that clients use: ``GET``/``POST /?query=…`` and SQL in the body,
``database``, ``default_format``, settings and ``param_*`` as URL parameters, ``FORMAT …`` in the query,
``/ping``, Basic auth or ``X-ClickHouse-User``/``X-ClickHouse-Key``, the ``X-ClickHouse-Summary``,
``-Format``, ``-Timezone`` and ``-Query-Id`` headers, ClickHouse's exception text with
``X-ClickHouse-Exception-Code``, and HTTP compression (``enable_http_compression=1`` + ``Accept-Encoding``;
compressed request bodies by ``Content-Encoding``). ClickHouse's own block framing (``compress=1`` /
``decompress=1``) is not spoken: clients are told to turn it off. Statements run on a thread pool (chdb
blocks), at most ``max_concurrent_queries`` at once; the rest wait their turn.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
from aiohttp import web
from pydantic import SecretStr

from llmpulse.clickhouse.chdb_store import ChdbStore
from llmpulse.clickhouse.http import codecs, errors
from llmpulse.clickhouse.http.engine import Engine, Request, Result
from llmpulse.clickhouse.http.errors import ClickHouseError
from llmpulse.clickhouse.http.settings import EndpointSettings, passwords, remove_address, write_address

log = logging.getLogger(__name__)

# URL parameters that are the HTTP interface's own, not settings to pass to the query
TRANSPORT = {"query", "database", "default_format", "user", "password", "query_id", "session_id", "session_timeout",
             "session_check", "compress", "decompress", "buffer_size", "wait_end_of_query", "quota_key",
             "client_protocol_version", "role", "enable_http_compression", "http_zlib_compression_level",
             "send_progress_in_http_headers", "http_headers_progress_interval_ms", "http_response_buffer_size",
             "cancel_http_readonly_queries_on_client_close", "add_http_cors_header", "max_query_size",
             "http_write_exception_in_output_format",
             "http_native_compression_disable_checksumming_on_decompress"}  # fmt: skip


def content_type(fmt: str) -> str:
    if fmt.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if fmt.startswith(("TabSeparated", "TSV")):
        return "text/tab-separated-values; charset=UTF-8"
    if fmt.startswith("CSV"):
        return "text/csv; charset=UTF-8"
    if fmt.startswith(("Pretty", "Markdown", "Vertical", "Values", "XML", "Template", "LineAsString")):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


def credentials(request: web.Request) -> tuple[str | None, str | None]:
    """(user, password) from X-ClickHouse-User/-Key, the user/password parameters, or Basic auth."""
    user = request.headers.get("X-ClickHouse-User") or request.query.get("user")
    key = request.headers.get("X-ClickHouse-Key") or request.query.get("password")
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            basic_user, _, basic_key = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            basic_user, basic_key = "", ""
        user, key = user or basic_user, key if key is not None else basic_key
    return user, key


class Endpoint:
    """Serves ``store`` on ``host:port`` from a thread of its own until ``stop()``."""

    def __init__(self, store: ChdbStore, settings: EndpointSettings | None = None, *,
                 host: str | None = None, port: int | None = None) -> None:  # fmt: skip
        self.settings = settings or EndpointSettings()
        self.store = store
        self.data_dir: Path = store.data_dir
        self.engine = Engine(store, self.settings)
        self._passwords = passwords(self.data_dir, self.settings)
        self._pool = ThreadPoolExecutor(self.settings.max_concurrent_queries, thread_name_prefix="llmpulse-sql")
        self._display_name = socket.gethostname()
        self.host = host or self.settings.host
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._serve, args=(port if port is not None else self.settings.port,),
                                        name="llmpulse-endpoint", daemon=True)  # fmt: skip
        self._thread.start()
        self._ready.wait(30)
        if self._failure is not None:
            self.engine.close()
            raise self._failure
        write_address(self.data_dir, self.url)
        log.info("ClickHouse HTTP endpoint of %s on %s (users reader, writer)", self.data_dir, self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=self.settings.max_body_bytes)
        app.router.add_route("*", "/ping", self._ping)
        app.router.add_route("*", "/", self._query)
        app.router.add_route("*", "/query", self._query)
        self._runner = web.AppRunner(app, access_log=None)  # no SQL in logs
        try:
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, port, reuse_address=True)
            self._loop.run_until_complete(site.start())
            server = site._server
            self.port = server.sockets[0].getsockname()[1] if server is not None else port  # type: ignore[attr-defined]
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        self._pool.shutdown(wait=True)
        self.engine.close()
        remove_address(self.data_dir)

    # -- handlers -------------------------------------------------------------------------------------
    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    def _authenticate(self, request: web.Request) -> str:
        user, key = credentials(request)
        if not user and not key:
            raise ClickHouseError(errors.REQUIRED_PASSWORD, "default: Authentication failed: a user and password "
                                                            "are required (users: reader, writer)")  # fmt: skip
        expected: SecretStr | None = self._passwords.get(user or "")
        if expected is None or not hmac.compare_digest((key or "").encode(), expected.get_secret_value().encode()):
            raise ClickHouseError(errors.AUTHENTICATION_FAILED,
                                  f"{user}: Authentication failed: password is incorrect, or there is no user "
                                  "with such name")  # fmt: skip
        return str(user)

    async def _query(self, request: web.Request) -> web.StreamResponse:
        query_id = request.query.get("query_id") or str(uuid.uuid4())
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Server-Display-Name": self._display_name,
                   "X-ClickHouse-Timezone": self.engine.timezone}  # fmt: skip
        try:
            user = self._authenticate(request)
            if request.method == "GET" and "query" not in request.query:
                return web.Response(text="Ok.\n", headers=headers)
            if request.method not in ("GET", "POST"):
                raise ClickHouseError(errors.SUPPORT_IS_DISABLED, f"HTTP method {request.method} is not supported")
            for flag in ("compress", "decompress"):
                if request.query.get(flag, "0") not in ("0", "false"):
                    raise ClickHouseError(errors.SUPPORT_IS_DISABLED, f"{flag}=1 (ClickHouse's compressed block "
                                          "framing) is not supported by this endpoint: connect with compress=false "
                                          "and use HTTP compression (enable_http_compression=1)")  # fmt: skip
            try:
                body = codecs.decode(await request.read(), request.headers.get("Content-Encoding"))
            except (codecs.UnknownEncoding, Exception) as exc:
                raise ClickHouseError((1002, "UNKNOWN_EXCEPTION"), f"Cannot read the request body: {exc}") from exc
            req = Request(
                user=user, query=request.query.get("query"), body=body, method=request.method,
                params={k[6:]: v for k, v in request.query.items() if k.startswith("param_")},
                settings={k: v for k, v in request.query.items() if k not in TRANSPORT and not k.startswith("param_")},
                default_format=request.query.get("default_format"), database=request.query.get("database"),
            )  # fmt: skip
            result: Result = await asyncio.get_running_loop().run_in_executor(self._pool, self.engine.execute, req)
        except ClickHouseError as exc:
            return self._error(exc, headers)
        except Exception as exc:  # never drop a connection without an answer
            log.exception("endpoint: unexpected failure")
            return self._error(ClickHouseError((1001, "STD_EXCEPTION"), f"{type(exc).__name__}: {exc}"), headers)
        headers.update({"X-ClickHouse-Format": result.format, "Content-Type": content_type(result.format),
                        "X-ClickHouse-Summary": orjson.dumps(result.summary).decode()})  # fmt: skip
        payload = result.body
        compress = request.query.get("enable_http_compression", "1" if user == "reader" else "0") == "1"
        encoding = codecs.choose(request.headers.get("Accept-Encoding")) if compress else None
        if encoding is not None and payload:
            payload = codecs.encode(payload, encoding)
            headers["Content-Encoding"] = encoding
        return web.Response(body=payload, headers=headers)

    @staticmethod
    def _error(exc: ClickHouseError, headers: dict[str, str]) -> web.Response:
        headers = {**headers, "X-ClickHouse-Exception-Code": str(exc.code), "Content-Type": "text/plain; charset=UTF-8"}
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="ClickHouse"'
        return web.Response(status=exc.http_status, text=exc.text(), headers=headers, content_type=None)


def serve_owned(store: object, settings: EndpointSettings | None = None) -> Endpoint:
    """Serve the embedded store a process owns (unwrapping a fault-drill wrapper)."""
    inner = getattr(store, "inner", store)
    if not isinstance(inner, ChdbStore):
        raise TypeError(f"only the embedded store is served, not {type(inner).__name__}")
    return Endpoint(inner, settings)
