"""Kafka plumbing: the embedded broker, topic admin, and client configurations."""

from llmpulse.kafka.admin import ensure_topics, wait_for_kafka
from llmpulse.kafka.broker import EmbeddedBroker, broker_binary, stop_all
from llmpulse.kafka.config import (
    consumer_config,
    faust_credentials,
    producer_config,
    resolve_bootstrap,
    security_config,
)
from llmpulse.kafka.exceptions import (
    BrokerBinaryNotFound,
    BrokerError,
    BrokerStartError,
    KafkaError,
    KafkaUnavailable,
    TopicError,
)

__all__ = [
    "BrokerBinaryNotFound",
    "BrokerError",
    "BrokerStartError",
    "EmbeddedBroker",
    "KafkaError",
    "KafkaUnavailable",
    "TopicError",
    "broker_binary",
    "consumer_config",
    "ensure_topics",
    "faust_credentials",
    "producer_config",
    "resolve_bootstrap",
    "security_config",
    "stop_all",
    "wait_for_kafka",
]
