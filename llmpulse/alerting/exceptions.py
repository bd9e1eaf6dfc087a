"""Errors raised by the alerting package."""


class AlertingError(RuntimeError):
    """Base class of alerting errors."""


class AlertConfigError(AlertingError, ValueError):
    """The alert configuration (TOML) is invalid. The message names the file, the entry and the problem."""


class RoutingConfigError(AlertConfigError):
    """``[routing]`` / ``[destinations.*]`` are invalid, or a routed destination cannot be built."""


class EvaluatorError(AlertingError):
    """The evaluator cannot continue (e.g. its saved state cannot be read)."""


class StateFormatError(AlertingError):
    """Saved alert engine state written by another version of llmpulse (its detectors are learned anew)."""
