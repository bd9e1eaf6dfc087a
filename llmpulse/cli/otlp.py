"""``llmpulse otlp``: receive OpenTelemetry traces and logs over OTLP/HTTP and put their LLM calls and evaluation
results on Kafka."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from llmpulse.cli.common import fail, settings_from
from llmpulse.producers.exceptions import ProducerError
from llmpulse.producers.monitor import Monitor
from llmpulse.producers.otlp import Receiver, build_app
from llmpulse.schemas.kinds import EVALUATION

log = logging.getLogger("llmpulse.cli.otlp")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "otlp",
        help="OTLP/HTTP receiver: GenAI spans from OpenTelemetry become call events, evaluation results "
        "evaluation events, on Kafka",
        description="Serve OTLP/HTTP POST /v1/traces and /v1/logs (protobuf or JSON, gzip). Every span that follows "
        "the OpenTelemetry GenAI conventions (or OpenLLMetry's / OpenInference's names) goes to the calls topic as a "
        "call event; every gen_ai.evaluation.result event (a span event, or a log record on the evaluated span) to "
        "the evaluations topic as an evaluation of that call. Point the exporters at it: "
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:4318. Other spans and log records are ignored and counted "
        "(GET /stats).",
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
                f"OTLP/HTTP receiver on http://{args.host}:{args.port}/v1/traces and /v1/logs -> Kafka topics "
                f"{monitor.topic} (calls) and {settings.topic(EVALUATION)} (evaluations) at "
                f"{monitor.bootstrap_servers}; Ctrl-C to stop",
                flush=True,
            ),
        )
    finally:
        left = monitor.close()
        print(f"stopped: {dict(receiver.counts)}; {left} events undelivered", flush=True)
    return 0
