"""Runs one HTTP request's statement on the embedded store, as ``reader`` or ``writer``.

Each user gets its own chdb sessions on the store's data directory (one per concurrent query):
``reader`` sessions are ``readonly=1`` with bounded result size, time and memory, set before ``readonly``
so they cannot be lifted; ``writer`` sessions are ``readonly=2`` (reads; settings may change, ``readonly``
may not). A writer's INSERT is rebuilt from its syntax tree (target table in the llmpulse database, columns,
format, settings) and fed the request body in the owner's session: the only write path there is.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from llmpulse.clickhouse.chdb_store import ChdbStore, open_session
from llmpulse.clickhouse.exceptions import StoreError
from llmpulse.clickhouse.http import errors
from llmpulse.clickhouse.http.errors import ClickHouseError
from llmpulse.clickhouse.http.settings import READER, WRITER, EndpointSettings
from llmpulse.clickhouse.http.sql import (
    Statement,
    check_read,
    insert_target,
    parse,
    quote_ident,
    quote_value,
)

DEFAULT_FORMAT = "TabSeparated"
CACHE_SIZE = 512
MAX_INSERT_LINES = 16  # an INSERT statement sent in the body spans at most this many lines


def _rows_follow(stmt: Statement, text: str) -> Statement:
    """Rows written inline (``VALUES (1), …`` on the statement's line) would be lost: refuse them."""
    words = text.split()
    last = words[-1].lower() if words else ""
    if stmt.format is not None and last not in (stmt.format.lower(), "values"):
        raise ClickHouseError(errors.SYNTAX_ERROR, "Put an INSERT's rows after its statement: the statement in the "
                                                   "`query` parameter or on the first line(s) of the body, ending "
                                                   "with FORMAT <format> or VALUES, and the rows after it")  # fmt: skip
    return stmt


@dataclass
class Request:
    user: str
    query: str | None  # the ``query`` URL parameter
    body: bytes = b""
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)  # ``param_x`` values, by name ``x``
    settings: dict[str, str] = field(default_factory=dict)
    default_format: str | None = None
    database: str | None = None


@dataclass
class Result:
    body: bytes
    format: str
    summary: dict[str, str]


def _summary(read_rows: int = 0, read_bytes: int = 0, written_rows: int = 0, written_bytes: int = 0,
             elapsed_s: float = 0.0) -> dict[str, str]:  # fmt: skip
    return {"read_rows": str(read_rows), "read_bytes": str(read_bytes), "written_rows": str(written_rows),
            "written_bytes": str(written_bytes), "total_rows_to_read": str(read_rows),
            "elapsed_ns": str(int(elapsed_s * 1e9))}  # fmt: skip


class Engine:
    def __init__(self, store: ChdbStore, settings: EndpointSettings) -> None:
        self.store = store
        self.database = store.database
        self.settings = settings
        n = settings.max_concurrent_queries
        limits = ", ".join([
            f"max_execution_time = {settings.max_execution_time_s}",
            f"max_result_rows = {settings.max_result_rows}",
            f"max_result_bytes = {settings.max_result_bytes}",
            "result_overflow_mode = 'throw'",
            f"max_memory_usage = {settings.max_memory_usage}",
        ])
        self._pools: dict[str, queue.SimpleQueue[Any]] = {}
        for user, prelude in ((READER, [f"SET {limits}, enable_http_compression = 1", "SET readonly = 1"]),
                              (WRITER, [f"SET {limits}", "SET readonly = 2"])):  # fmt: skip
            pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
            for _ in range(n):
                session = open_session(store.data_dir)
                session.query(f"USE {quote_ident(self.database)}", "TSV")
                for statement in prelude:
                    session.query(statement, "TSV")
                pool.put(session)
            self._pools[user] = pool
        probe = self._pools[READER].get()
        try:
            self.version, self.timezone = self._rows(probe, "SELECT version(), timezone()")[0]
            self.output_formats = {r[0] for r in self._rows(probe, "SELECT name FROM system.formats WHERE is_output")}
            self.input_formats = {r[0] for r in self._rows(probe, "SELECT name FROM system.formats WHERE is_input")}
            self.setting_names = {r[0] for r in self._rows(probe, "SELECT name FROM system.settings")}
        finally:
            self._pools[READER].put(probe)
        errors.VERSION = self.version
        self._cache: OrderedDict[str, Statement] = OrderedDict()
        self._cache_lock = threading.Lock()

    @staticmethod
    def _rows(session: Any, sql: str) -> list[list[str]]:
        text = session.query(sql, "TabSeparatedRaw").bytes().decode()
        return [line.split("\t") for line in text.splitlines()]

    def close(self) -> None:
        for pool in self._pools.values():
            while not pool.empty():
                pool.get().close()

    # -- one request ----------------------------------------------------------------------------------
    def execute(self, req: Request) -> Result:
        if req.database not in (None, "", self.database):
            raise ClickHouseError(errors.ACCESS_DENIED, f"{req.user}: Not enough privileges. To execute this query, "
                                  f"it's necessary to have the grant SHOW DATABASES ON {req.database}.*")  # fmt: skip
        for name in req.settings:
            if name not in self.setting_names:
                raise ClickHouseError(errors.UNKNOWN_SETTING, f"Unknown setting '{name}'")
        pool = self._pools[req.user]
        session = pool.get()
        try:
            stmt, data = self._statement(session, req)
            if stmt.is_insert:
                return self._insert(req, stmt, data)
            return self._read(session, req, stmt)
        finally:
            pool.put(session)

    def _parse(self, session: Any, sql: str, params: dict[str, str]) -> Statement:
        with self._cache_lock:
            cached = self._cache.get(sql)
            if cached is not None:
                self._cache.move_to_end(sql)
                return cached
        stmt = parse(session, sql, params)
        with self._cache_lock:
            self._cache[sql] = stmt
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return stmt

    def _statement(self, session: Any, req: Request) -> tuple[Statement, bytes]:
        """The statement and an INSERT's rows. As in ClickHouse, the text is the ``query`` parameter followed
        by the body; an INSERT's rows follow its ``FORMAT name`` (or ``VALUES``) from the next line on."""
        if req.query is not None:
            if req.body:
                try:
                    stmt = self._parse(session, req.query, req.params)
                except ClickHouseError:
                    stmt = None
                if stmt is not None and stmt.is_insert:
                    return _rows_follow(stmt, req.query), req.body
                return self._parse(session, req.query + "\n" + req.body.decode("utf-8", "replace"), req.params), b""
            return self._parse(session, req.query, req.params), b""
        if req.body.lstrip()[:6].upper() == b"INSERT":  # look for where the statement ends and the rows begin
            start = 0
            for _ in range(MAX_INSERT_LINES):
                end = req.body.find(b"\n", start)
                head = req.body if end < 0 else req.body[:end]
                try:
                    stmt = self._parse(session, head.decode(), req.params)
                except (ClickHouseError, UnicodeDecodeError):
                    stmt = None
                if stmt is not None and stmt.is_insert and stmt.format:
                    return _rows_follow(stmt, head.decode()), b"" if end < 0 else req.body[end + 1 :]
                if end < 0:
                    break
                start = end + 1
        return self._parse(session, req.body.decode("utf-8", "replace"), req.params), b""

    def _read(self, session: Any, req: Request, stmt: Statement) -> Result:
        check_read(stmt, req.user, self.database)
        fmt = stmt.format or req.default_format or DEFAULT_FORMAT
        if fmt not in self.output_formats:
            raise ClickHouseError(errors.UNKNOWN_FORMAT, f"Unknown output format {fmt}")
        text = stmt.canonical
        if req.settings:  # ClickHouse applies them, and refuses any change in a readonly=1 session
            if stmt.format is None:
                text += f"\nFORMAT {fmt}"
            text += "\nSETTINGS " + ", ".join(f"{k} = {quote_value(v)}" for k, v in req.settings.items())
        try:
            result = session.query(text, fmt, params=req.params or None)
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from exc
        summary = _summary(result.rows_read(), result.bytes_read(), elapsed_s=result.elapsed())
        return Result(result.bytes(), fmt, summary)

    def _insert(self, req: Request, stmt: Statement, data: bytes) -> Result:
        if req.user != WRITER:
            raise ClickHouseError(errors.READONLY, f"{req.user}: Cannot execute query in readonly mode")
        if req.method != "POST":
            raise ClickHouseError(errors.READONLY, "Cannot execute query in readonly mode. For queries over HTTP, "
                                                   "method GET implies readonly. You should use method POST for "
                                                   "modifying queries")  # fmt: skip
        target = insert_target(stmt, req.user, self.database)
        fmt = stmt.format or ""
        if fmt not in self.input_formats:
            raise ClickHouseError(errors.UNKNOWN_FORMAT, f"Unknown input format {fmt or '(none)'}")
        if not data:
            raise ClickHouseError(errors.NO_DATA_TO_INSERT, "No data to insert: put the INSERT statement in the "
                                                            "`query` parameter and the rows in the body")  # fmt: skip
        sql = f"INSERT INTO {quote_ident(target.database)}.{quote_ident(target.table)}"
        if target.columns:
            sql += " (" + ", ".join(quote_ident(c) for c in target.columns) + ")"
        if req.settings:
            sql += " SETTINGS " + ", ".join(f"{k} = {quote_value(v)}" for k, v in req.settings.items())
        started = time.perf_counter()
        try:
            rows, size = self.store.insert_encoded(sql, fmt, data)
        except StoreError as exc:
            raise ClickHouseError.from_engine(exc) from exc
        elapsed = time.perf_counter() - started
        return Result(b"", fmt, _summary(written_rows=rows, written_bytes=size, elapsed_s=elapsed))
