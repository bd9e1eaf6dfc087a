"""``llmpulse bench``: throughput, producer cost, accuracy, memory and query latency, as JSON."""
