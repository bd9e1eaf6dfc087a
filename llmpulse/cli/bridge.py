"""``llmpulse bridge``: deliver the alerts on ``llm.alerts`` to Slack, PagerDuty and the console."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from llmpulse.alerting.bridge import (
    GROUP,
    Bridge,
    BridgeStats,
    Dispatcher,
    Ledger,
    RetryPolicy,
    RoutingConfig,
    build_destinations,
)
from llmpulse.alerting.exceptions import RoutingConfigError
from llmpulse.cli.common import add_kafka_flags, fail, settings_from, setup_logging
from llmpulse.settings import Settings

log = logging.getLogger("llmpulse.alerting.bridge")

LEDGER_RETENTION_MS = 30 * 86_400_000

DESCRIPTION = """\
Consume alert events from Kafka (group llmpulse-bridge) and deliver each one to the destinations its
route names: Slack (incoming webhook, Block Kit), PagerDuty (Events API v2: trigger on firing, resolve on
resolved, one dedup_key per incident) and the console. An alert's offset is committed only after every
destination took it or refused it for good; while a destination is down the bridge retries with backoff
and commits nothing past it. A local ledger (sqlite) keeps a restart from paging twice.

Secrets come only from the environment: the config names the variables, e.g.
  [destinations.slack.default]      webhook_url_env = "LLMPULSE_SLACK_WEBHOOK_URL"
  [destinations.pagerduty.default]  routing_key_env = "LLMPULSE_PAGERDUTY_ROUTING_KEY"
"""

EPILOG = """\
example:
  export LLMPULSE_SLACK_WEBHOOK_URL=...  LLMPULSE_PAGERDUTY_ROUTING_KEY=...
  llmpulse bridge --config alerts.toml --bootstrap 127.0.0.1:9092
Without --config every alert is printed to stdout (one line each). Ctrl-C stops cleanly.
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "bridge",
        help="deliver alerts from Kafka to Slack / PagerDuty / console",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", type=Path, default=None, metavar="TOML",
                   help="alerts TOML with [routing] and [destinations] "
                        "(default: every alert to the console)")  # fmt: skip
    add_kafka_flags(p)
    p.add_argument("--ledger", type=Path, default=None, metavar="PATH",
                   help="delivery ledger, a sqlite file "
                        "(default <data dir>/bridge/ledger.sqlite3; env LLMPULSE_DATA_DIR)")  # fmt: skip
    p.add_argument(
        "--topic", default=None, help="alerts topic (default llm.alerts; env LLMPULSE_ALERTS_TOPIC)"
    )
    p.add_argument("--group", default=GROUP, help=f"consumer group (default {GROUP})")
    p.add_argument("--once", action="store_true",
                   help="stop once every assigned partition is read to its end and delivered")  # fmt: skip
    p.add_argument(
        "--max-seconds", type=float, default=None, metavar="S", help="stop after this many seconds"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    settings = settings_from(args)
    if not settings.kafka_bootstrap:
        return fail("no Kafka bootstrap: pass --bootstrap or set LLMPULSE_KAFKA_BOOTSTRAP "
                    "(`llmpulse broker` starts the embedded one)")  # fmt: skip
    ledger = args.ledger or settings.data_dir / "bridge" / "ledger.sqlite3"
    try:
        routing = RoutingConfig.from_toml_file(args.config) if args.config else RoutingConfig.console_only()
        run_bridge(
            routing,
            bootstrap=settings.kafka_bootstrap,
            ledger_path=ledger,
            topic=args.topic or settings.alerts_topic,
            group=args.group,
            once=args.once,
            max_seconds=args.max_seconds,
            settings=settings,
        )
    except RoutingConfigError as exc:
        return fail(str(exc))
    return 0


def run_bridge(
    routing: RoutingConfig,
    *,
    bootstrap: str,
    ledger_path: Path | str,
    topic: str = "llm.alerts",
    group: str = GROUP,
    once: bool = False,
    max_seconds: float | None = None,
    env: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    retry: RetryPolicy | None = None,
    stop_event: threading.Event | None = None,
) -> BridgeStats:
    """Build the destinations (secrets from ``env``, default os.environ), run the bridge, clean up.

    Raises ``MissingSecretError`` (a ``RoutingConfigError``) naming the variable of a routed destination
    whose secret is not set. SIGINT / SIGTERM stop it cleanly when called from the main thread.
    """
    stop = stop_event or threading.Event()
    destinations = build_destinations(routing, env, sleep=stop.wait)
    ledger = Ledger(ledger_path)
    try:
        ledger.prune(int(time.time() * 1000) - LEDGER_RETENTION_MS)
        bridge = Bridge(
            Dispatcher(routing, destinations, ledger),
            bootstrap=bootstrap,
            topic=topic,
            group=group,
            settings=settings,
            retry=retry,
            stop_event=stop,
        )
        with _stop_on_signals(bridge):
            return bridge.run(once=once, max_seconds=max_seconds)
    finally:
        ledger.close()
        for dest in destinations.values():
            dest.close()


@contextmanager
def _stop_on_signals(bridge: Bridge) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("bridge: %s received, stopping", signal.Signals(signum).name)
        bridge.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
