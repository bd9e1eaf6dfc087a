"""Which destinations an alert goes to: routes matched by severity and team (pure: read by the alert
configuration and by the bridge that delivers).

The TOML shape (the same sections the alert config loader reads)::

    [routing]
    routes = [
      {match = {severity = ["critical", "error"]}, destinations = ["pagerduty:default", "slack:default"]},
      {match = {team = ["search"]}, destinations = ["slack:search"]},
      {destinations = ["console"]},                      # no match = every alert
    ]

    [destinations.slack.default]
    webhook_url_env = "LLMPULSE_SLACK_WEBHOOK_URL"

    [destinations.pagerduty.default]
    routing_key_env = "LLMPULSE_PAGERDUTY_ROUTING_KEY"

Secrets are never in the file: a destination names the environment variable that holds them.
An alert goes to the union of the destinations of every route that matches it (in route order, each once).
An empty or missing ``severity`` / ``team`` list matches any value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmpulse.alerting.exceptions import RoutingConfigError
from llmpulse.schemas.alert import AlertEvent, Severity
from llmpulse.tomlfile import TomlFileError, read_toml

CONSOLE = "console"
SLACK = "slack"
PAGERDUTY = "pagerduty"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class RouteMatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: list[Severity] = Field(default_factory=list, description="empty = any severity")
    team: list[str] = Field(default_factory=list, description="empty = any team ('' is 'no team')")

    def matches(self, alert: AlertEvent) -> bool:
        if self.severity and alert.severity not in self.severity:
            return False
        return not (self.team and alert.team not in self.team)


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match: RouteMatch = Field(default_factory=RouteMatch)
    destinations: list[str] = Field(min_length=1)


class SlackDestinationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url_env: str = Field(min_length=1, description="name of the env var holding the webhook URL")
    timeout_s: float = Field(10.0, gt=0)


class PagerDutyDestinationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routing_key_env: str = Field(min_length=1, description="name of the env var holding the integration key")
    events_url: str = Field(PAGERDUTY_EVENTS_URL, description="Events API v2 enqueue endpoint")
    source: str = Field("llmpulse", min_length=1, description="payload.source of every event")
    timeout_s: float = Field(10.0, gt=0)


class DestinationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slack: dict[str, SlackDestinationConfig] = Field(default_factory=dict)
    pagerduty: dict[str, PagerDutyDestinationConfig] = Field(default_factory=dict)


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[Route] = Field(default_factory=list)
    destinations: DestinationsConfig = Field(default_factory=DestinationsConfig)

    @model_validator(mode="after")
    def _destinations_exist(self) -> RoutingConfig:
        for i, route in enumerate(self.routes):
            for ref in route.destinations:
                problem = self._check_ref(ref)
                if problem:
                    raise ValueError(f"routing.routes[{i}]: destination {ref!r}: {problem}")
        return self

    def _check_ref(self, ref: str) -> str:
        if ref == CONSOLE:
            return ""
        kind, sep, name = ref.partition(":")
        if not sep or not name:
            return "expected 'console', 'slack:<name>' or 'pagerduty:<name>'"
        if kind == SLACK:
            known: set[str] = set(self.destinations.slack)
        elif kind == PAGERDUTY:
            known = set(self.destinations.pagerduty)
        else:
            return f"unknown kind {kind!r} (expected slack, pagerduty or console)"
        if name not in known:
            return f"no [destinations.{kind}.{name}] section"
        return ""

    def routed_destinations(self) -> list[str]:
        """Every destination some route sends to, in first-use order."""
        seen: dict[str, None] = {}
        for route in self.routes:
            for ref in route.destinations:
                seen.setdefault(ref, None)
        return list(seen)

    def destinations_for(self, alert: AlertEvent) -> list[str]:
        """The destinations of every route that matches ``alert``, each once, in route order."""
        seen: dict[str, None] = {}
        for route in self.routes:
            if route.match.matches(alert):
                for ref in route.destinations:
                    seen.setdefault(ref, None)
        return list(seen)

    @classmethod
    def console_only(cls) -> RoutingConfig:
        """Every alert to the console: the embedded default when no config file is given."""
        return cls(routes=[Route(destinations=[CONSOLE])])

    @classmethod
    def from_toml_dict(cls, d: dict[str, Any]) -> RoutingConfig:
        """Read ``[routing]`` and ``[destinations]`` from a parsed alerts TOML; others are ignored."""
        routing = d.get("routing", {})
        if not isinstance(routing, dict):
            raise RoutingConfigError("[routing] must be a table")
        unknown = sorted(set(routing) - {"routes"})
        if unknown:
            raise RoutingConfigError(f"[routing]: unknown keys {unknown} (expected 'routes')")
        try:
            return cls.model_validate(
                {"routes": routing.get("routes", []), "destinations": d.get("destinations", {})}
            )
        except ValidationError as exc:
            raise RoutingConfigError(_describe(exc)) from None

    @classmethod
    def from_toml_file(cls, path: Path) -> RoutingConfig:
        try:
            data = read_toml(path)
        except TomlFileError as exc:
            raise RoutingConfigError(str(exc)) from None
        try:
            return cls.from_toml_dict(data)
        except RoutingConfigError as exc:
            raise RoutingConfigError(f"{path}: {exc}") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else str(err["msg"]))
    return "; ".join(parts)
