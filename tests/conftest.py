"""Shared fixtures. The Kafka and ClickHouse fixtures live in tests/fixtures/ (one plugin each)."""

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.clickhouse"]
