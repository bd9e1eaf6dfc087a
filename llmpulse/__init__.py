"""llmpulse: real-time monitoring for LLM applications (Kafka -> Faust -> ClickHouse)."""

__version__ = "0.1.0"
