"""Errors raised by the Slack / PagerDuty bridge.

No message built here ever contains a webhook URL or a routing key: callers pass only safe parts
(destination name, HTTP status, a trimmed and redacted response body).
"""

from __future__ import annotations

from llmpulse.alerting.exceptions import AlertingError, RoutingConfigError


class BridgeError(AlertingError):
    """Base class of bridge errors."""


class BridgeConfigError(BridgeError, RoutingConfigError):
    """The routing / destination configuration is invalid."""


class MissingSecretError(BridgeConfigError):
    """A routed destination names an environment variable that is not set (the message names the variable)."""


class DeliveryError(BridgeError):
    """One alert could not be delivered to one destination."""

    def __init__(self, destination: str, reason: str, *, status: int | None = None) -> None:
        self.destination = destination
        self.reason = reason
        self.status = status
        super().__init__(f"{destination}: {reason}")


class PermanentDeliveryError(DeliveryError):
    """The destination refused this message (4xx other than 429): retrying the same message cannot help."""


class TransientDeliveryError(DeliveryError):
    """The destination is unavailable for now (network error, timeout, 5xx, 429): try again later.

    ``retry_after_s`` is the wait the destination asked for (HTTP ``Retry-After``), if any.
    """

    def __init__(
        self,
        destination: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(destination, reason, status=status)
        self.retry_after_s = retry_after_s
