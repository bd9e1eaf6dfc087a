"""Tests of llmpulse.alerting."""
