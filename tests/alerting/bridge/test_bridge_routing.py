"""Routing by severity and team, and the config shape shared with the alert config loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from llmpulse.alerting.bridge.exceptions import MissingSecretError
from llmpulse.alerting.bridge.factory import build_destinations
from llmpulse.alerting.exceptions import AlertConfigError, RoutingConfigError
from llmpulse.alerting.routing_config import PAGERDUTY_EVENTS_URL, RoutingConfig
from llmpulse.schemas.alert import AlertEvent
from llmpulse.tomlfile import parse_toml

CONFIG = """
[routing]
routes = [
  {match = {severity = ["critical", "error"]}, destinations = ["pagerduty:default", "slack:default"]},
  {match = {team = ["search"], severity = ["warning"]}, destinations = ["slack:search"]},
  {match = {team = ["search"]}, destinations = ["console", "slack:default"]},
]

[destinations.slack.default]
webhook_url_env = "LLMPULSE_SLACK_WEBHOOK_URL"

[destinations.slack.search]
webhook_url_env = "SEARCH_SLACK_WEBHOOK_URL"

[destinations.pagerduty.default]
routing_key_env = "LLMPULSE_PAGERDUTY_ROUTING_KEY"

[rules.p95]  # someone else's section: ignored here
metric = "latency_p95_ms"
"""


@pytest.fixture
def config() -> RoutingConfig:
    return RoutingConfig.from_toml_dict(parse_toml(CONFIG))


def test_parses_the_shared_shape(config: RoutingConfig) -> None:
    assert len(config.routes) == 3
    assert config.routes[0].match.severity == ["critical", "error"]
    assert config.destinations.slack["search"].webhook_url_env == "SEARCH_SLACK_WEBHOOK_URL"
    assert config.destinations.pagerduty["default"].events_url == PAGERDUTY_EVENTS_URL
    assert config.routed_destinations() == ["pagerduty:default", "slack:default", "slack:search", "console"]


@pytest.mark.parametrize(
    ("severity", "team", "expected"),
    [
        ("critical", "search", ["pagerduty:default", "slack:default", "console"]),
        ("error", "", ["pagerduty:default", "slack:default"]),
        ("warning", "search", ["slack:search", "console", "slack:default"]),
        ("warning", "billing", []),
        ("info", "search", ["console", "slack:default"]),
    ],
)
def test_routes_by_severity_and_team(
    config: RoutingConfig,
    make_alert: Callable[..., AlertEvent],
    severity: str,
    team: str,
    expected: list[str],
) -> None:
    assert config.destinations_for(make_alert(severity=severity, team=team)) == expected


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[routing]\nroutes = [{destinations = ["slack:nope"]}]', "no [destinations.slack.nope] section"),
        ('[routing]\nroutes = [{destinations = ["email:x"]}]', "unknown kind 'email'"),
        ('[routing]\nroutes = [{destinations = ["slack"]}]', "expected 'console'"),
        ("[routing]\nroutes = [{destinations = []}]", "routes.0.destinations"),
        ('[routing]\nroutes = [{match = {severity = ["fatal"]}, destinations = ["console"]}]', "severity"),
        ('[routing]\nroutes = [{match = {tier = ["x"]}, destinations = ["console"]}]', "tier"),
        ("[routing]\nroute = []", "unknown keys ['route']"),
        ('[destinations.slack.a]\nwebhook_url = "https://hooks.slack.com/x"', "webhook_url"),
    ],
)
def test_invalid_configs_are_refused_with_the_place(toml: str, message: str) -> None:
    with pytest.raises(
        RoutingConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")
    ):
        RoutingConfig.from_toml_dict(parse_toml(toml))


def test_config_errors_are_alert_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text("[routing\n")
    with pytest.raises(AlertConfigError, match="not valid TOML"):
        RoutingConfig.from_toml_file(path)


def test_missing_secret_names_the_variable(config: RoutingConfig) -> None:
    env = {"LLMPULSE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/abcdefgh"}
    with pytest.raises(MissingSecretError) as info:
        build_destinations(config, env)
    message = str(info.value)
    assert "SEARCH_SLACK_WEBHOOK_URL (for slack:search)" in message
    assert "LLMPULSE_PAGERDUTY_ROUTING_KEY (for pagerduty:default)" in message
    assert "LLMPULSE_SLACK_WEBHOOK_URL" not in message and "abcdefgh" not in message


def test_only_routed_destinations_need_secrets() -> None:
    config = RoutingConfig.from_toml_dict(
        {
            "routing": {"routes": [{"destinations": ["console"]}]},
            "destinations": {"pagerduty": {"default": {"routing_key_env": "UNSET_VARIABLE_FOR_TEST"}}},
        }
    )
    built = build_destinations(config, {})
    assert list(built) == ["console"]


def test_console_line(make_alert: Callable[..., AlertEvent], capsys: pytest.CaptureFixture[str]) -> None:
    config = RoutingConfig.console_only()
    [console] = build_destinations(config, {}).values()
    console.send(make_alert("firing"))
    console.send(make_alert("resolved"))
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert "FIRING" in out[0] and "critical" in out[0] and "latency_p95_ms" in out[0]
    assert "model=gpt-4o" in out[0] and "observed=2,412" in out[0] and "team=search" in out[0]
    assert out[1].split()[1] == "RESOLVED"
