"""Default Kafka topic names (each can be overridden by a setting). The event kinds' topics are registered
with their kinds (``schemas.kinds``); every topic list in the code is derived from there
(``Settings.event_topics`` / ``Settings.all_topics``)."""

CALLS = "llm.calls"
FEEDBACK = "llm.feedback"
EVALUATIONS = "llm.evaluations"
ALERTS = "llm.alerts"
DEAD_LETTERS = "llm.calls.dlq"  # dead letters of every kind (each names its source topic)
