"""NAB benchmark of ``llmpulse detect``: ``python -m benchmarks.nab`` prints per-file and total scores."""
