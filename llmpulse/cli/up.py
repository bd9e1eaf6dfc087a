"""``llmpulse up``: the embedded stack (broker, a stream worker owning the store) until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from llmpulse.cli.common import add_store_flags, fail, settings_from
from llmpulse.kafka.exceptions import KafkaError
from llmpulse.stack import Stack, StackError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("up", help="run the embedded stack until Ctrl-C",
                       description="Start the embedded Kafka-protocol broker (unless LLMPULSE_KAFKA_BOOTSTRAP "
                                   "points at a Kafka), create the topics and run a stream worker that owns "
                                   "the store. Point your app's Monitor at the printed bootstrap address; "
                                   "query with `llmpulse query` meanwhile.")  # fmt: skip
    add_store_flags(p)
    p.add_argument("--port", type=int, default=None, help="embedded broker port (default 9092; 0 = any free)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args, embedded_broker_port=9092 if args.port is None else args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with Stack(settings, log_dir=Path(settings.data_dir).parent / "logs") as stack:
            bootstrap = stack.start_broker()
            stack.start_worker()
            stack.wait_worker_ready()
            print(f"llmpulse is up: Kafka at {bootstrap} (topic {settings.calls_topic}), store "
                  f"{(settings.clickhouse_url and 'ClickHouse server') or settings.data_dir}; logs in {stack.log_dir}. "
                  "Ctrl-C stops.", flush=True)  # fmt: skip
            while not stop.wait(1.0):
                for proc in stack.workers:
                    if proc.poll() is not None:
                        return fail(f"the worker exited with {proc.returncode}; see {stack.log_dir}")
    except KeyboardInterrupt:
        pass
    except (KafkaError, StackError) as exc:
        return fail(str(exc))
    return 0
