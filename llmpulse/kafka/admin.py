"""Reaching Kafka and creating topics (works the same against tansu and Apache Kafka)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from llmpulse.kafka.config import LIBRDKAFKA_LOG
from llmpulse.kafka.exceptions import KafkaUnavailable, TopicError


def admin_client(bootstrap: str, client_config: dict[str, Any] | None = None) -> AdminClient:
    cfg: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": LIBRDKAFKA_LOG}
    cfg.update(client_config or {})
    return AdminClient(cfg)


def _describe(exc: BaseException) -> str:
    """A short reason for an error message (librdkafka error name and text, no config values)."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], ConfluentError):
        err = exc.args[0]
        return f"{err.name()}: {err.str()}"
    return f"{type(exc).__name__}: {exc}"


def wait_for_kafka(
    bootstrap: str, timeout_s: float = 30.0, client_config: dict[str, Any] | None = None
) -> None:
    """Return once a broker at ``bootstrap`` answers a metadata request; raise ``KafkaUnavailable``."""
    deadline = time.monotonic() + timeout_s
    admin = admin_client(bootstrap, client_config)
    last = "no answer"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap} within {timeout_s:g}s: {last}")
        try:
            metadata = admin.list_topics(timeout=min(max(remaining, 0.05), 2.0))
        except KafkaException as exc:
            last = _describe(exc)
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0)))
            continue
        if metadata.brokers:
            return
        last = "metadata without brokers"


def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 3,
    client_config: dict[str, Any] | None = None,
    *,
    replication_factor: int = -1,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created (existing ones are fine).

    ``replication_factor=-1`` lets the broker pick its default. Returns once every topic shows up in
    the broker's metadata (topic creation is asynchronous in Apache Kafka).
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    admin = admin_client(bootstrap, client_config)
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {bootstrap} within {timeout_s:g}s: {_describe(exc)}"
        ) from exc
    missing = [n for n in wanted if n not in existing]
    created: list[str] = []
    if missing:
        new = [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in missing]
        futures = admin.create_topics(new, operation_timeout=timeout_s, request_timeout=timeout_s)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
                created.append(name)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if isinstance(err, ConfluentError) and err.code() == ConfluentError.TOPIC_ALREADY_EXISTS:
                    continue
                raise TopicError(f"cannot create topic {name!r}: {_describe(exc)}") from exc
            except Exception as exc:
                raise TopicError(f"cannot create topic {name!r}: {_describe(exc)}") from exc
    _wait_for_metadata(admin, wanted, time.monotonic() + timeout_s)
    return created


def _wait_for_metadata(admin: AdminClient, names: list[str], deadline: float) -> None:
    pending = set(names)
    while True:
        try:
            topics = admin.list_topics(timeout=max(min(deadline - time.monotonic(), 2.0), 0.05)).topics
            pending = {n for n in pending if n not in topics or not topics[n].partitions}
        except KafkaException:
            pass
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise TopicError(f"topics not visible in metadata in time: {sorted(pending)}")
        time.sleep(0.05)
