"""Kafka client configurations built from ``Settings``: the one place that turns settings into options.

Every Kafka client llmpulse creates gets the same security options (``security_config``): the
confluent-kafka (librdkafka) clients as a dict, Faust's aiokafka clients as credentials derived from that
dict (``faust_credentials``). librdkafka's log lines go to the ``llmpulse.kafka.librdkafka`` logger
instead of stderr.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from llmpulse.kafka.logs import RateLimitedLog
from llmpulse.settings import Settings, get_settings

#: librdkafka's own log lines end up here, one line per facility per 10 s at most.
LIBRDKAFKA_LOGGER = logging.getLogger("llmpulse.kafka.librdkafka")
LIBRDKAFKA_LOG = RateLimitedLog(LIBRDKAFKA_LOGGER)

#: The broker's default limit for one record batch is 1 MiB (+ framing); records stay well below it.
MAX_RECORD_BYTES = 900_000

DEFAULT_MESSAGE_TIMEOUT_MS = 300_000
DEFAULT_QUEUE_MAX_KBYTES = 64 * 1024
DEFAULT_QUEUE_MAX_MESSAGES = 1_000


def security_config(settings: Settings) -> dict[str, str]:
    """librdkafka security options (protocol, SASL, TLS CA) shared by every Kafka client llmpulse creates."""
    cfg: dict[str, str] = {"security.protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism:
        cfg["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username:
        cfg["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        cfg["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_ca_location:
        cfg["ssl.ca.location"] = settings.kafka_ssl_ca_location
    return cfg


def faust_credentials(settings: Settings) -> Any:
    """The same security options as Faust credentials for its aiokafka clients (None for PLAINTEXT)."""
    import faust  # the stream worker's dependency: producers import this module without it

    cfg = security_config(settings)
    protocol = cfg["security.protocol"].upper()
    if protocol == "PLAINTEXT":
        return None
    ssl_context = None
    if "SSL" in protocol:
        ssl_context = ssl.create_default_context(cafile=cfg.get("ssl.ca.location"))
    if "sasl.mechanism" in cfg:
        return faust.SASLCredentials(
            username=cfg.get("sasl.username", ""),
            password=cfg.get("sasl.password", ""),
            mechanism=cfg["sasl.mechanism"],
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl_context)


def resolve_bootstrap(bootstrap: str | None, settings: Settings) -> str | None:
    """An explicit bootstrap, else the settings' one, else the fixed embedded broker port (if set)."""
    if bootstrap:
        return bootstrap
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    if settings.embedded_broker_port:
        return f"127.0.0.1:{settings.embedded_broker_port}"
    return None


def client_config(
    bootstrap: str, settings: Settings | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Options shared by every client: bootstrap, security, logging; ``extra`` wins."""
    settings = settings or get_settings()
    cfg: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": LIBRDKAFKA_LOG}
    cfg.update(security_config(settings))
    if extra:
        cfg.update(extra)
    return cfg


def producer_config(
    bootstrap: str,
    settings: Settings | None = None,
    *,
    linger_ms: float = 20.0,
    message_timeout_ms: int = DEFAULT_MESSAGE_TIMEOUT_MS,
    queue_max_kbytes: int = DEFAULT_QUEUE_MAX_KBYTES,
    queue_max_messages: int = DEFAULT_QUEUE_MAX_MESSAGES,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An idempotent, lz4-compressing producer with a bounded librdkafka queue.

    The queue bounds are per *record*: llmpulse packs hundreds of events into each record, so
    ``queue_max_messages`` records hold ``queue_max_messages * batch_events`` events at most.
    """
    cfg: dict[str, Any] = {
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": linger_ms,
        "batch.size": 1_000_000,
        "message.max.bytes": 1_000_000,
        "queue.buffering.max.kbytes": queue_max_kbytes,
        "queue.buffering.max.messages": queue_max_messages,
        "message.timeout.ms": message_timeout_ms,
    }
    cfg.update(extra or {})
    return client_config(bootstrap, settings, cfg)


def consumer_config(
    bootstrap: str,
    group_id: str,
    settings: Settings | None = None,
    *,
    auto_offset_reset: str = "earliest",
    enable_auto_commit: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A consumer in ``group_id``; commits are explicit by default (commit after the work is done).

    Session and heartbeat timeouts are short because a first group assignment against the embedded
    broker otherwise waits 20-30 s (see DESIGN.md).
    """
    cfg: dict[str, Any] = {
        "group.id": group_id,
        "auto.offset.reset": auto_offset_reset,
        "enable.auto.commit": enable_auto_commit,
        "session.timeout.ms": 6_000,
        "heartbeat.interval.ms": 500,
        "max.poll.interval.ms": 300_000,
    }
    cfg.update(extra or {})
    return client_config(bootstrap, settings, cfg)
