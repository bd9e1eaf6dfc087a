"""The alert bridge: ``llm.alerts`` → Slack (incoming webhook, Block Kit), PagerDuty (Events API v2), console.

- :mod:`routing`: which destinations an alert goes to (severity, team), from the alerts TOML;
- :mod:`slack`, :mod:`pagerduty`, :mod:`console`: the destinations; :mod:`http`: retries' building blocks;
- :mod:`ledger`: the sqlite3 delivery ledger (no double page after a restart);
- :mod:`dispatch`: one alert to its destinations; :mod:`service`: the Kafka consumer loop.
"""

from llmpulse.alerting.bridge.console import ConsoleDestination
from llmpulse.alerting.bridge.destination import Destination
from llmpulse.alerting.bridge.dispatch import Dispatcher, DispatchResult, RetryPolicy
from llmpulse.alerting.bridge.exceptions import (
    BridgeConfigError,
    BridgeError,
    DeliveryError,
    MissingSecretError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from llmpulse.alerting.bridge.factory import build_destinations
from llmpulse.alerting.bridge.ledger import Ledger, Outcome
from llmpulse.alerting.bridge.pagerduty import PagerDutyDestination
from llmpulse.alerting.bridge.service import GROUP, Bridge, BridgeStats
from llmpulse.alerting.bridge.slack import SlackDestination
from llmpulse.alerting.routing_config import RoutingConfig

__all__ = [
    "GROUP",
    "Bridge",
    "BridgeConfigError",
    "BridgeError",
    "BridgeStats",
    "ConsoleDestination",
    "DeliveryError",
    "Destination",
    "DispatchResult",
    "Dispatcher",
    "Ledger",
    "MissingSecretError",
    "Outcome",
    "PagerDutyDestination",
    "PermanentDeliveryError",
    "RetryPolicy",
    "RoutingConfig",
    "SlackDestination",
    "TransientDeliveryError",
    "build_destinations",
]
