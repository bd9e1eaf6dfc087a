"""Online anomaly and drift detectors for one series each (river's learn_one / score_one contract)."""

from llmpulse.alerting.detectors.base import Detection, DetectorConfig, SeriesDetector, make_detector

__all__ = ["Detection", "DetectorConfig", "SeriesDetector", "make_detector"]
