"""``llmpulse serve``: own the embedded store and serve ClickHouse's HTTP interface, nothing else.

For BI tools and SQL clients when no worker runs (after ``llmpulse demo``, say): Superset, Metabase,
Grafana, clickhouse-connect or curl connect as ``reader``; further workers as ``writer``.
"""

from __future__ import annotations

import argparse
import signal
import threading

from llmpulse.cli.common import add_store_flags, fail, settings_from, setup_logging
from llmpulse.clickhouse.exceptions import StoreError
from llmpulse.clickhouse.http.settings import CREDENTIALS_FILE, EndpointSettings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="serve the embedded store over ClickHouse's HTTP interface",
                       description="Open the embedded store (--data-dir), apply migrations and serve it over "
                                   "ClickHouse's HTTP interface until Ctrl-C: users `reader` (read-only) and "
                                   "`writer`, passwords from LLMPULSE_ENDPOINT_READER_PASSWORD / "
                                   "LLMPULSE_ENDPOINT_WRITER_PASSWORD or generated into "
                                   f"<data-dir>/{CREDENTIALS_FILE}. "
                                   "Listens on 127.0.0.1 unless --host says otherwise.")  # fmt: skip
    add_store_flags(p)
    p.add_argument("--host", default=None, help="listen address (default LLMPULSE_ENDPOINT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default LLMPULSE_ENDPOINT_PORT, else 8123)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llmpulse.clickhouse.chdb_store import ChdbStore
    from llmpulse.clickhouse.http.server import Endpoint
    from llmpulse.clickhouse.migrate import migrate

    setup_logging()
    settings = settings_from(args)
    endpoint_settings = EndpointSettings()
    port = args.port if args.port is not None else (endpoint_settings.port or 8123)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        store = ChdbStore(settings.data_dir)
    except StoreError as exc:
        return fail(str(exc))
    try:
        migrate(store)
        endpoint = Endpoint(store, endpoint_settings, host=args.host, port=port)
    except (StoreError, OSError) as exc:
        store.close()
        return fail(f"cannot serve {settings.data_dir}: {exc}")
    print(f"serving {settings.data_dir} on {endpoint.url} (database {store.database}; users reader, writer; "
          f"passwords in the environment or {settings.data_dir / CREDENTIALS_FILE}). Ctrl-C stops.", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        endpoint.stop()
        store.close()
    return 0
