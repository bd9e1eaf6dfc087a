"""``llmpulse otlp``: receive OpenTelemetry traces over OTLP/HTTP and put their LLM calls on Kafka."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from llmpulse.cli.common import fail, settings_from
from llmpulse.producers.exceptions import ProducerError
from llmpulse.producers.monitor import Monitor
from llmpulse.producers.otlp import Receiver, build_app

log = logging.getLogger("llmpulse.cli.otlp")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "otlp",
        help="OTLP/HTTP receiver: GenAI spans from OpenTelemetry become call events on Kafka",
        description="Serve OTLP/HTTP POST /v1/traces (protobuf or JSON, gzip) and send every span that follows "
        "the OpenTelemetry GenAI conventions (or OpenLLMetry's / OpenInference's names) to the calls topic "
        "as a call event. Point an exporter at it: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="
        "http://HOST:4318/v1/traces. Other spans are ignored and counted (GET /stats).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 = all)")
    p.add_argument("--port", type=int, default=4318, help="port to listen on (default 4318, OTLP/HTTP's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        monitor = Monitor(settings=settings)
    except ProducerError as exc:
        return fail(str(exc))
    receiver = Receiver(monitor)
    try:
        web.run_app(
            build_app(receiver),
            host=args.host,
            port=args.port,
            print=lambda _: print(
                f"OTLP/HTTP receiver on http://{args.host}:{args.port}/v1/traces -> Kafka topic "
                f"{monitor.topic} at {monitor.bootstrap_servers}; Ctrl-C to stop",
                flush=True,
            ),
        )
    finally:
        left = monitor.close()
        print(f"stopped: {dict(receiver.counts)}; {left} events undelivered", flush=True)
    return 0
