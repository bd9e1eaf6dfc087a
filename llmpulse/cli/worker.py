"""``llmpulse worker``: the stream jobs and the ClickHouse sink, against the configured Kafka."""

from __future__ import annotations

import argparse
import logging
import os

from llmpulse.cli.common import add_kafka_flags, add_store_flags, fail, settings_from, setup_logging
from llmpulse.clickhouse.exceptions import StoreError
from llmpulse.kafka.admin import ensure_topics, wait_for_kafka
from llmpulse.kafka.config import resolve_bootstrap, security_config
from llmpulse.kafka.exceptions import KafkaError
from llmpulse.settings import Settings

log = logging.getLogger("llmpulse.worker")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("worker", help="run the stream jobs and the ClickHouse sink",
                       description="Consume llm.calls, llm.feedback and llm.evaluations, validate, price and "
                                   "aggregate, judge quality, write ClickHouse, "
                                   "dead-letter bad input, evaluate alerts. More workers with the same "
                                   "LLMPULSE_CONSUMER_GROUP split the partitions (needs a ClickHouse server; "
                                   "the embedded store belongs to one worker, which owns --data-dir).")  # fmt: skip
    add_kafka_flags(p)
    add_store_flags(p)
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=run)


def prepare_kafka(settings: Settings, bootstrap: str) -> None:
    cfg = security_config(settings)
    wait_for_kafka(bootstrap, timeout_s=30.0, client_config=cfg)
    topics = settings.all_topics()
    ensure_topics(bootstrap, topics, settings.kafka_partitions, cfg)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    settings = settings_from(args)
    bootstrap = resolve_bootstrap(None, settings)
    if not bootstrap:
        return fail("no Kafka configured: set LLMPULSE_KAFKA_BOOTSTRAP or --bootstrap "
                    "(or run `llmpulse up` for the embedded stack)")  # fmt: skip
    try:
        prepare_kafka(settings, bootstrap)
    except KafkaError as exc:
        return fail(str(exc))
    return run_worker(settings, bootstrap)


def settings_debug() -> bool:
    return logging.getLogger().level == logging.DEBUG


# glibc mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def hold_less_memory() -> None:
    """Allocator set-up that keeps the worker's peak RSS down; an explicit MALLOC_ARENA_MAX,
    MALLOC_MMAP_THRESHOLD_ or ARROW_DEFAULT_MEMORY_POOL in the environment wins.

    Measured on `llmpulse bench --events 400000 --windows 60` (embedded stack, the worker's peak RSS): most of
    the worker's memory was neither ClickHouse's (its MemoryTracking stays at 40-260 MiB) nor live Python
    objects, but memory glibc kept after the Kafka records of a batch were freed: its per-thread arenas held
    780 MiB, 450 MiB of it free. Two arenas and a fixed 128 KiB mmap threshold (large blocks such as record
    values go back to the system when freed; the dynamic threshold otherwise rises to 32 MiB and keeps them
    in the arenas): peak 1,341-1,406 -> 1,155 MiB, CPU per event 41-43 -> 41 µs. Arrow's buffers from the
    system allocator under the same rule (mimalloc kept ~130 MiB of freed segments): 1,020 -> 918 MiB.
    (Those runs set the environment; through this function: 1,009 MiB, and 1,140 MiB on the full bench.)
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        if "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(M_ARENA_MAX, 2)
        if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
            libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())


def run_worker(settings: Settings, bootstrap: str) -> int:
    """Open the store (migrating it), then run Faust until SIGINT/SIGTERM."""
    hold_less_memory()
    import faust

    from llmpulse.stream_jobs.app import create_app
    from llmpulse.stream_jobs.runtime import Runtime

    runtime = Runtime(settings, bootstrap=bootstrap)
    try:
        runtime.open()
    except StoreError as exc:
        return fail(str(exc))
    server = None
    if runtime.store.kind == "chdb":  # this worker owns the embedded store: serve ClickHouse's HTTP interface
        from llmpulse.clickhouse.http.server import serve_owned

        server = serve_owned(runtime.store)
    app = create_app(settings, bootstrap, runtime)
    log.info("worker %d consuming %s from %s", os.getpid(), settings.calls_topic, bootstrap)
    # Faust's own logging at WARNING (it reconfigures the root logger); llmpulse's own lines (progress,
    # outages, alerts) keep their INFO level on a handler of their own
    own = logging.getLogger("llmpulse")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    own.addHandler(handler)
    own.setLevel(logging.DEBUG if settings_debug() else logging.INFO)
    own.propagate = False
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    else:
        code = 0
    finally:
        if server is not None:
            server.stop()
        runtime.close()
    return code
