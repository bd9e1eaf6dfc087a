"""What every destination offers the dispatcher."""

from __future__ import annotations

from typing import Protocol

from llmpulse.schemas.alert import AlertEvent


class Destination(Protocol):
    """Delivers one alert transition.

    ``send`` returns when the destination accepted the alert, raises ``TransientDeliveryError`` when it
    should be retried later and ``PermanentDeliveryError`` when this message can never be delivered.
    """

    name: str

    def send(self, alert: AlertEvent) -> None: ...

    def close(self) -> None: ...
