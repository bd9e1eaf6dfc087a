"""Deliver one alert to each of its routed destinations, consulting and updating the ledger.

No Kafka here: :class:`Dispatcher` is what the consumer loop calls for every alert (and again, later, while
some destination is still pending), so it is testable on its own.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from llmpulse.alerting.bridge.destination import Destination
from llmpulse.alerting.bridge.exceptions import PermanentDeliveryError, TransientDeliveryError
from llmpulse.alerting.bridge.ledger import Ledger, Outcome, decide
from llmpulse.alerting.bridge.redact import redact
from llmpulse.alerting.routing_config import RoutingConfig
from llmpulse.schemas.alert import AlertEvent

log = logging.getLogger("llmpulse.alerting.bridge")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; a ``Retry-After`` from the destination wins.

    There is no attempt limit: an alert is retried until its destinations take it (or refuse it for good),
    so an outage loses nothing; ``max_delay_s`` bounds the wait between two attempts.
    """

    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.5  # the delay is drawn from [(1 - jitter) * d, d]

    def delay(
        self, attempt: int, retry_after_s: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        draw = (rng or random).random()
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_delay_s * 10) * (1 + 0.1 * draw)
        capped = min(self.max_delay_s, self.base_delay_s * self.multiplier ** max(attempt - 1, 0))
        return capped * (1 - self.jitter * draw)


@dataclass
class DispatchResult:
    """Destinations still to retry (empty = done with this alert) and the wait any of them asked for."""

    pending: list[str] = field(default_factory=list)
    retry_after_s: float | None = None

    @property
    def done(self) -> bool:
        return not self.pending


@dataclass
class DispatchStats:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    transient_errors: int = 0
    unrouted: int = 0


class Dispatcher:
    def __init__(
        self,
        routing: RoutingConfig,
        destinations: Mapping[str, Destination],
        ledger: Ledger,
    ) -> None:
        missing = sorted(set(routing.routed_destinations()) - set(destinations))
        if missing:
            raise ValueError(f"routed destinations without an instance: {missing}")
        self.routing = routing
        self.destinations = destinations
        self.ledger = ledger
        self.stats = DispatchStats()

    def dispatch(self, alert: AlertEvent) -> DispatchResult:
        """Try every routed destination not yet done with ``alert``; never raises a delivery error."""
        result = DispatchResult()
        names = self.routing.destinations_for(alert)
        if not names:
            self.stats.unrouted += 1
            log.debug("alert %s matches no route", alert.alert_id)
        for name in names:
            if self.ledger.is_done(alert.alert_id, name):
                continue
            skip = decide(alert, self.ledger.incident(name, alert.dedup_key))
            if skip is not None:
                self.ledger.record(alert, name, skip)
                self.stats.skipped += 1
                log.info("%s: %s %s skipped (%s)", name, alert.status, alert.alert_id, skip.value)
                continue
            try:
                self.destinations[name].send(alert)
            except TransientDeliveryError as exc:
                self.stats.transient_errors += 1
                result.pending.append(name)
                if exc.retry_after_s is not None:
                    result.retry_after_s = max(result.retry_after_s or 0.0, exc.retry_after_s)
                log.warning("%s: %s %s not delivered yet: %s", name, alert.status, alert.alert_id, exc.reason)
                continue
            except PermanentDeliveryError as exc:
                self.ledger.record(alert, name, Outcome.FAILED, redact(exc.reason)[:500])
                self.stats.failed += 1
                log.error("%s: %s %s refused for good: %s", name, alert.status, alert.alert_id, exc.reason)
                continue
            except Exception as exc:  # a bug must not lose the alert: keep it pending, say what happened
                self.stats.transient_errors += 1
                result.pending.append(name)
                log.error(
                    "%s: %s %s failed unexpectedly (%s: %s); will retry",
                    name,
                    alert.status,
                    alert.alert_id,
                    type(exc).__name__,
                    redact(str(exc))[:300],
                )
                continue
            self.ledger.record(alert, name, Outcome.SENT)
            self.stats.sent += 1
            log.info("%s: %s %s delivered", name, alert.status, alert.alert_id)
        return result
