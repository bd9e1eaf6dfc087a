"""Build the routed destinations from the config, reading their secrets from the environment."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from pydantic import SecretStr

from llmpulse.alerting.bridge.console import ConsoleDestination
from llmpulse.alerting.bridge.destination import Destination
from llmpulse.alerting.bridge.exceptions import BridgeConfigError, MissingSecretError
from llmpulse.alerting.bridge.http import Sleep
from llmpulse.alerting.bridge.pagerduty import PagerDutyDestination
from llmpulse.alerting.bridge.slack import SlackDestination
from llmpulse.alerting.routing_config import CONSOLE, PAGERDUTY, SLACK, RoutingConfig


def missing_secrets(routing: RoutingConfig, env: Mapping[str, str]) -> list[str]:
    """``"VAR (for slack:default)"`` for every routed destination whose secret variable is unset."""
    missing = []
    for ref in routing.routed_destinations():
        kind, _, name = ref.partition(":")
        if kind == SLACK:
            var = routing.destinations.slack[name].webhook_url_env
        elif kind == PAGERDUTY:
            var = routing.destinations.pagerduty[name].routing_key_env
        else:
            continue
        if not env.get(var, "").strip():
            missing.append(f"{var} (for {ref})")
    return missing


def build_destinations(
    routing: RoutingConfig,
    env: Mapping[str, str] | None = None,
    *,
    sleep: Sleep = time.sleep,
) -> dict[str, Destination]:
    """One destination per name some route uses; unset secret variables raise ``MissingSecretError``."""
    env = os.environ if env is None else env
    missing = missing_secrets(routing, env)
    if missing:
        raise MissingSecretError(
            "routed destinations need secrets from the environment; not set: " + ", ".join(missing)
        )
    built: dict[str, Destination] = {}
    try:
        for ref in routing.routed_destinations():
            kind, _, name = ref.partition(":")
            if ref == CONSOLE:
                built[ref] = ConsoleDestination()
            elif kind == SLACK:
                sc = routing.destinations.slack[name]
                url = SecretStr(env[sc.webhook_url_env].strip())
                if not url.get_secret_value().startswith(("https://", "http://")):
                    raise BridgeConfigError(f"{sc.webhook_url_env} (for {ref}) is not an http(s) URL")
                built[ref] = SlackDestination(ref, url, timeout_s=sc.timeout_s, sleep=sleep)
            elif kind == PAGERDUTY:
                pc = routing.destinations.pagerduty[name]
                key = SecretStr(env[pc.routing_key_env].strip())
                built[ref] = PagerDutyDestination(
                    ref, key, events_url=pc.events_url, source=pc.source, timeout_s=pc.timeout_s, sleep=sleep
                )
    except BaseException:
        for dest in built.values():
            dest.close()
        raise
    return built
