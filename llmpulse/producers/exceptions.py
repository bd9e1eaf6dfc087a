"""Errors raised by the producers package (only at construction: recording never raises)."""


class ProducerError(RuntimeError):
    """Base class for producer errors."""


class MonitorConfigError(ProducerError, ValueError):
    """A Monitor was given settings it cannot work with (no bootstrap servers, a bad size, ...)."""
