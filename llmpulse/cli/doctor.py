"""``llmpulse doctor``: check the settings and everything they point at, and say exactly what to fix."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from pydantic import ValidationError

from llmpulse.settings import Settings

OK, WARN, FAIL = "ok", "warn", "fail"
_MARK = {OK: "✔", WARN: "!", FAIL: "✘"}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor",
        help="check settings, Kafka, ClickHouse, alert rules, webhooks and prices; say what to fix",
        description="Reads the settings as every llmpulse process does (LLMPULSE_* environment variables) and "
        "checks what they point at: the Kafka brokers and topics, the ClickHouse store and its tables, the alert "
        "rules file, the Slack/PagerDuty secrets its routes need, and the prices file. Nothing is changed and no "
        "alert is sent. Exit status 1 when a check fails.",
    )
    p.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for Kafka (default 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks = list(diagnose(timeout_s=args.timeout))
    if args.json:
        print(
            orjson.dumps({"ok": all(c.status != FAIL for c in checks), "checks": [asdict(c) for c in checks]}).decode()
        )
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{_MARK[c.status]} {c.name:<{width}}  {c.detail}")
            if c.fix:
                print(f"  {'':<{width}}  fix: {c.fix}")
    return 1 if any(c.status == FAIL for c in checks) else 0


def diagnose(timeout_s: float = 5.0) -> Iterator[Check]:
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            var = "LLMPULSE_" + "_".join(str(part) for part in error["loc"]).upper() if error["loc"] else "settings"
            yield Check("settings", FAIL, f"{var}: {error['msg']}", f"correct or unset {var}")
        return
    yield Check("settings", OK, "LLMPULSE_* environment read")
    for check in (_kafka, _clickhouse, _alerts, _prices):
        try:
            yield from check(settings, timeout_s)
        except Exception as exc:  # a check that breaks is itself a finding, never a traceback
            yield Check(check.__name__.strip("_"), FAIL, f"could not be checked: {type(exc).__name__}: {exc}")


def _kafka(settings: Settings, timeout_s: float) -> Iterator[Check]:
    from llmpulse.kafka.admin import admin_client, wait_for_kafka
    from llmpulse.kafka.config import security_config
    from llmpulse.kafka.exceptions import KafkaUnavailable

    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        yield Check("kafka", OK, "no LLMPULSE_KAFKA_BOOTSTRAP: `llmpulse up` and `demo` start the embedded broker")
        return
    client = security_config(settings)
    try:
        wait_for_kafka(bootstrap, timeout_s=timeout_s, client_config=client)
    except KafkaUnavailable as exc:
        yield Check("kafka", FAIL, str(exc),
                    "check LLMPULSE_KAFKA_BOOTSTRAP (host:port as the brokers advertise it), the network, and "
                    "LLMPULSE_KAFKA_SECURITY_PROTOCOL / SASL settings")  # fmt: skip
        return
    yield Check("kafka", OK, f"brokers answer at {bootstrap} ({settings.kafka_security_protocol})")
    metadata = admin_client(bootstrap, client).list_topics(timeout=timeout_s)
    wanted = settings.all_topics()
    missing = [name for name in wanted if name not in metadata.topics]
    if missing:
        yield Check("topics", WARN, f"missing: {', '.join(missing)}",
                    "`llmpulse worker` creates them on start, or create them with your tooling "
                    f"({settings.kafka_partitions} partitions each by LLMPULSE_KAFKA_PARTITIONS)")  # fmt: skip
    else:
        counts = {name: len(metadata.topics[name].partitions) for name in wanted}
        yield Check("topics", OK, ", ".join(f"{name} ({n} partitions)" for name, n in counts.items()))


def _clickhouse(settings: Settings, timeout_s: float) -> Iterator[Check]:
    from llmpulse.clickhouse.exceptions import StoreError
    from llmpulse.clickhouse.store import open_store

    if settings.clickhouse_url is None and not Path(settings.data_dir).exists():
        yield Check("clickhouse", WARN, f"no embedded store yet in {settings.data_dir}",
                    "`llmpulse up` or `demo` creates it; or set LLMPULSE_CLICKHOUSE_URL for a server")  # fmt: skip
        return
    where = (
        "ClickHouse server (LLMPULSE_CLICKHOUSE_URL)"
        if settings.clickhouse_url
        else f"embedded store {settings.data_dir}"
    )
    try:
        with open_store(settings, user="reader") as store:
            version = store.query("SELECT version()").rows[0][0]
            has_calls = store.query("EXISTS TABLE llm_calls").rows[0][0]
    except StoreError as exc:
        fix = (
            "check the URL, user and password in LLMPULSE_CLICKHOUSE_URL and that the server is up"
            if settings.clickhouse_url
            else "another process may hold the data dir without serving its endpoint: stop it or use its endpoint"
        )
        yield Check("clickhouse", FAIL, f"{where}: {exc}", fix)
        return
    yield Check("clickhouse", OK, f"{where} answers (ClickHouse {version})")
    if not has_calls:
        yield Check(
            "schema", WARN, "llm_calls does not exist yet", "run `llmpulse migrate` (workers also migrate on start)"
        )
    else:
        yield Check("schema", OK, "llmpulse tables present")


def _alerts(settings: Settings, timeout_s: float) -> Iterator[Check]:
    from llmpulse.alerting.bridge.factory import missing_secrets
    from llmpulse.alerting.config import load_alert_config
    from llmpulse.alerting.exceptions import AlertConfigError

    source = str(settings.alerts_file) if settings.alerts_file else "the built-in defaults"
    try:
        config = load_alert_config(settings.alerts_file)
    except AlertConfigError as exc:
        yield Check("alert rules", FAIL, str(exc), "fix what the message names (see alerts.example.toml)")
        return
    yield Check("alert rules", OK, f"{source}: {len(config.threshold)} threshold, {len(config.anomaly.rule)} anomaly "
                                   f"rules, {len(config.budget)} budgets")  # fmt: skip
    routed = config.routing.routed_destinations()
    missing = missing_secrets(config.routing, os.environ)
    for entry in missing:
        var = entry.split(" ", 1)[0]
        yield Check("webhooks", FAIL, f"{entry} is not set", f"export {var}=… in the bridge's environment")
    for problem in _secret_shapes(config, os.environ.get):
        yield Check("webhooks", WARN, problem[0], problem[1])
    if not missing:
        yield Check("webhooks", OK, f"routes to {', '.join(routed) or 'the console only'}; every secret is set")


def _secret_shapes(config: object, env: Callable[[str], str | None]) -> Iterator[tuple[str, str]]:
    """Secrets that are set but cannot be right (their values are never printed)."""
    destinations = config.routing.destinations  # type: ignore[attr-defined]
    for name, slack in destinations.slack.items():
        url = env(slack.webhook_url_env) or ""
        if url and not url.startswith("https://"):
            yield (f"{slack.webhook_url_env} (slack:{name}) is not an https:// URL",
                   "use the incoming-webhook URL Slack shows for the channel")  # fmt: skip
    for name, pagerduty in destinations.pagerduty.items():
        key = env(pagerduty.routing_key_env) or ""
        if key and len(key.strip()) != 32:
            yield (f"{pagerduty.routing_key_env} (pagerduty:{name}) is {len(key.strip())} characters, not 32",
                   "use the Events API v2 integration key of the PagerDuty service")  # fmt: skip


def _prices(settings: Settings, timeout_s: float) -> Iterator[Check]:
    from llmpulse.stream_jobs.pricing import PricesFileError, load_overrides

    if settings.prices_file is None:
        yield Check("prices", OK, "genai-prices' built-in table (no LLMPULSE_PRICES_FILE)")
        return
    try:
        rates = load_overrides(settings.prices_file)
    except PricesFileError as exc:
        yield Check("prices", FAIL, str(exc), "fix what the message names (see prices.example.toml)")
        return
    yield Check("prices", OK, f"{settings.prices_file}: {len(rates)} custom model prices")
