"""Helpers shared by the sub-commands: settings from flags, logging, errors."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from llmpulse.settings import Settings


def add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="embedded ClickHouse (chdb) data directory (env LLMPULSE_DATA_DIR, "
                             "default .llmpulse/data); ignored when LLMPULSE_CLICKHOUSE_URL is set")  # fmt: skip


def add_kafka_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", default=None,
                        help="Kafka bootstrap servers host:port[,…] (env LLMPULSE_KAFKA_BOOTSTRAP)")  # fmt: skip


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Environment settings, overridden by the flags the user gave."""
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    if getattr(args, "bootstrap", None):
        overrides["kafka_bootstrap"] = args.bootstrap
    overrides.update({k: v for k, v in extra.items() if v is not None})
    return Settings(**overrides)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aiokafka", "faust", "mode", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str, code: int = 2) -> int:
    print(f"llmpulse: error: {message}", file=sys.stderr)
    return code
