"""What runs inside a user's app: the non-blocking event emitter (``Monitor``) and call tracking."""

from llmpulse.producers.exceptions import MonitorConfigError, ProducerError
from llmpulse.producers.monitor import Monitor
from llmpulse.producers.track import CallTracker

__all__ = ["CallTracker", "Monitor", "MonitorConfigError", "ProducerError"]
