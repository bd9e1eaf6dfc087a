"""What runs inside a user's app: the non-blocking event emitter (``Monitor``), call tracking, and the one-line
SDK instrumentation (``instrument_openai``, ``instrument_anthropic``)."""

from llmpulse.producers.exceptions import MonitorConfigError, ProducerError
from llmpulse.producers.instrument import call_labels, instrument_anthropic, instrument_openai
from llmpulse.producers.monitor import Monitor
from llmpulse.producers.track import CallTracker

__all__ = [
    "CallTracker",
    "Monitor",
    "MonitorConfigError",
    "ProducerError",
    "call_labels",
    "instrument_anthropic",
    "instrument_openai",
]
