"""``llmpulse``: the command line. Each sub-command lives in its own module with ``register()``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from llmpulse import __version__

COMMANDS = (
    "up", "broker", "worker", "demo", "query", "serve", "otlp", "doctor", "migrate", "schema", "detect", "bridge",
    "bench",
)  # fmt: skip

DESCRIPTION = """\
llmpulse: real-time monitoring for LLM applications.
Apps put one event per LLM call on Kafka (llmpulse.producers.Monitor); stream workers validate, price and
aggregate them into ClickHouse (latency/TTFT percentiles, tokens, cost, errors per minute) and raise alerts.

Quick start:  llmpulse demo        (embedded broker + ClickHouse engine, realistic traffic, ~1 minute)
              llmpulse up          (the embedded stack, until Ctrl-C)
              llmpulse query "SELECT * FROM llm_rollups_1m_v LIMIT 10"
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmpulse", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"llmpulse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"llmpulse.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"llmpulse.cli.{name}":
                continue  # a command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
