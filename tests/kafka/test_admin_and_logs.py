"""wait_for_kafka's error message, and the rate-limited log used for librdkafka and drop warnings."""

from __future__ import annotations

import logging
import time

import pytest

from llmpulse.kafka import KafkaUnavailable, wait_for_kafka
from llmpulse.kafka.logs import RateLimitedLog


def test_unreachable_kafka_is_a_clear_timely_error() -> None:
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable) as info:
        wait_for_kafka("127.0.0.1:9", timeout_s=1.0)
    assert time.monotonic() - started < 4
    assert str(info.value).startswith("cannot reach Kafka at 127.0.0.1:9 within 1s: ")
    assert "_TRANSPORT" in str(info.value) or "no answer" in str(info.value)


def test_rate_limited_log_lets_one_line_per_key_through(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("test.ratelimit"), interval_s=10, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="test.ratelimit"):
        for _ in range(50):
            limited.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "connection refused")
        limited.log(logging.ERROR, "%s [%s] %s", "PARTCNT", "rdkafka#producer-1", "another facility")
        now[0] = 11.0
        limited.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "connection refused")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "FAIL [rdkafka#producer-1] connection refused"
    assert lines[1] == "PARTCNT [rdkafka#producer-1] another facility"
    assert lines[2].startswith("FAIL [rdkafka#producer-1] connection refused (49 similar lines held back")
    assert len(lines) == 3
