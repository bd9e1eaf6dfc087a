"""``llmpulse broker``: the embedded Kafka-protocol broker alone, with llmpulse's topics."""

from __future__ import annotations

import argparse
import signal
import threading

from llmpulse.cli.common import fail, settings_from
from llmpulse.kafka.admin import ensure_topics
from llmpulse.kafka.broker import EmbeddedBroker
from llmpulse.kafka.exceptions import KafkaError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("broker", help="run the embedded Kafka-protocol broker (tansu) until Ctrl-C",
                       description="Start tansu (memory storage: nothing survives its restart) on "
                                   "127.0.0.1, create llmpulse's topics and print the bootstrap address.")  # fmt: skip
    p.add_argument("--port", type=int, default=9092, help="port to listen on (default 9092; 0 = any free)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        broker = EmbeddedBroker(port=args.port)
        topics = settings.all_topics()
        ensure_topics(broker.bootstrap, topics, settings.kafka_partitions)
    except KafkaError as exc:
        return fail(str(exc))
    print(f"broker ready at {broker.bootstrap} (topics: {', '.join(topics)}); Ctrl-C to stop", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if not broker.running:
                return fail(f"the broker exited; log tail:\n{broker.log_tail()}")
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0
