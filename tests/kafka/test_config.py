"""Client configurations built from Settings, checked by librdkafka itself."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer
from pydantic import SecretStr

from llmpulse.kafka import consumer_config, faust_credentials, producer_config, resolve_bootstrap, security_config
from llmpulse.settings import Settings


def test_producer_config_is_idempotent_compressed_and_bounded() -> None:
    cfg = producer_config("k1:9092,k2:9092", Settings(), message_timeout_ms=12_000, queue_max_messages=40)
    assert cfg["bootstrap.servers"] == "k1:9092,k2:9092"
    assert cfg["enable.idempotence"] is True
    assert cfg["acks"] == "all"
    assert cfg["compression.type"] == "lz4"
    assert cfg["message.timeout.ms"] == 12_000
    assert cfg["queue.buffering.max.messages"] == 40
    assert 0 < cfg["queue.buffering.max.kbytes"] <= 1_048_576
    Producer(cfg)  # librdkafka accepts every option


def test_security_options_and_overrides_reach_every_client() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr("pw"),
    )
    prod = producer_config("k:9093", settings, extra={"linger.ms": 7})
    cons = consumer_config("k:9093", "grp", settings)
    for cfg in (prod, cons):
        assert cfg["security.protocol"] == "SASL_SSL"
        assert cfg["sasl.mechanism"] == "SCRAM-SHA-512"
        assert cfg["sasl.username"] == "svc"
        assert cfg["sasl.password"] == "pw"
    assert prod["linger.ms"] == 7


def test_consumer_config_commits_explicitly() -> None:
    cfg = consumer_config("k:9092", "llmpulse-stream", Settings())
    assert cfg["group.id"] == "llmpulse-stream"
    assert cfg["enable.auto.commit"] is False
    assert cfg["auto.offset.reset"] == "earliest"
    Consumer(cfg).close()


def test_resolve_bootstrap_order() -> None:
    assert resolve_bootstrap("a:1", Settings(kafka_bootstrap="b:2")) == "a:1"
    assert resolve_bootstrap(None, Settings(kafka_bootstrap="b:2")) == "b:2"
    assert (
        resolve_bootstrap(None, Settings(kafka_bootstrap=None, embedded_broker_port=9099)) == "127.0.0.1:9099"
    )
    assert resolve_bootstrap(None, Settings(kafka_bootstrap=None, embedded_broker_port=0)) is None


def test_security_config_is_the_one_source_of_security_options() -> None:
    assert security_config(Settings()) == {"security.protocol": "PLAINTEXT"}
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr("pw"),
    )
    assert security_config(settings) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "svc",
        "sasl.password": "pw",
    }
    assert "pw" not in repr(settings)  # the secret only leaves the settings in a client's options


def test_faust_credentials_carry_the_same_options() -> None:
    import faust

    assert faust_credentials(Settings()) is None
    sasl = faust_credentials(
        Settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-256",
            kafka_sasl_username="svc",
            kafka_sasl_password=SecretStr("pw"),
        )
    )
    assert isinstance(sasl, faust.SASLCredentials)
    assert (sasl.username, sasl.password, sasl.mechanism.value) == ("svc", "pw", "SCRAM-SHA-256")
    assert sasl.ssl_context is not None
    plain_sasl = faust_credentials(
        Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="PLAIN", kafka_sasl_username="u")
    )
    assert isinstance(plain_sasl, faust.SASLCredentials)
    assert plain_sasl.ssl_context is None and plain_sasl.password == ""
    tls = faust_credentials(Settings(kafka_security_protocol="SSL"))
    assert isinstance(tls, faust.SSLCredentials) and tls.context is not None
