"""Kafka topic names. Every topic name in the code comes from here (or from Settings overrides)."""

CALLS = "llm.calls"
FEEDBACK = "llm.feedback"
ALERTS = "llm.alerts"
CALLS_DLQ = "llm.calls.dlq"

ALL = (CALLS, FEEDBACK, ALERTS, CALLS_DLQ)
