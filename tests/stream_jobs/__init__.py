"""Tests of llmpulse.stream_jobs."""
