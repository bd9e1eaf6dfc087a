"""Tests of llmpulse.alerting.detectors, the NAB scorer and llmpulse detect."""
