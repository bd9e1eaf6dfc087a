"""The alert configuration: defaults, the shipped example, where/group_by, routing, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmpulse.alerting.config import (
    AlertConfig,
    default_config,
    example_path,
    load_alert_config,
    parse_alert_config,
)
from llmpulse.alerting.exceptions import AlertConfigError
from llmpulse.alerting.metrics import SeriesSpec
from llmpulse.alerting.routing_config import RoutingConfig
from llmpulse.schemas.alert import AlertEvent


def test_defaults_fit_llm_traffic() -> None:
    config = load_alert_config(None)
    assert config.threshold == []  # no fixed latency or error threshold fires on ordinary traffic
    assert config.budget == []
    rules = {(r.detector, m, tuple(g)): r for r in config.anomaly.rule for m in r.metrics for g in r.group_by}
    assert set(rules) == {
        ("rate", "error_rate", ("model",)),
        ("rate", "error_rate", ("provider",)),
        ("level", "latency_p50_ms", ("model",)),
        ("level", "latency_p95_ms", ("model",)),
        ("level", "cost_usd", ("team",)),
        ("rate", "refusal_rate", ("app",)),
        ("rate", "thumbs_down_share", ("app",)),
        ("rate", "thumbs_down_share", ("model",)),
        ("rate", "toxic_rate", ("app",)),
        ("rate", "response_pii_rate", ("app",)),
    }
    assert all(r.counts and r.direction == "up" for r in config.anomaly.rule)
    assert config.anomaly.history_days > 0  # warm start from the stored rollups
    assert config.routing.routed_destinations() == ["console"]


def test_the_shipped_example_parses_holds_the_defaults_and_suits_the_bridge() -> None:
    path = example_path()
    config = load_alert_config(path)
    defaults = default_config()
    assert config.threshold == defaults.threshold and config.anomaly == defaults.anomaly
    assert config.routing.routed_destinations() == ["pagerduty:default", "slack:default", "console"]
    assert RoutingConfig.from_toml_file(path) == config.routing  # one file, one routing format
    text = path.read_text()
    for commented in ("[[budget]]", 'user = "*"', 'where = { model = "gpt-4o", team = "*" }'):
        assert f"# {commented}" in text  # documented examples, off by default
    uncommented = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert parse_alert_config(uncommented) == config


def test_where_star_means_one_series_per_value_and_lists_filter() -> None:
    config = parse_alert_config(
        """
[anomaly]
enabled = false
[[threshold]]
name = "a"
metric = "ttft_p95_ms"
where = { model = "gpt-4o", team = "*" }
value = 1500
[[threshold]]
name = "b"
metric = "cost_per_hour_usd"
where = { provider = ["openai", "anthropic"] }
group_by = ["app", "team"]
value = 10
"""
    )
    a, b = config.threshold
    assert a.spec() == SeriesSpec(("team",), (("model", ("gpt-4o",)),))
    assert b.spec() == SeriesSpec(("app", "team"), (("provider", ("anthropic", "openai")),))


def routed(severity: str, team: str) -> AlertEvent:
    return AlertEvent(
        alert_id="x",
        dedup_key="x",
        kind="threshold",
        status="firing",
        metric="m",
        severity=severity,  # type: ignore[arg-type]
        window_start_ms=0,
        window_end_ms=1,
        started_at_ms=0,
        emitted_at_ms=1,
        summary="s",
        team=team,
    )


def test_routing_by_severity_and_team() -> None:
    config = parse_alert_config(
        """
[routing]
routes = [
  { match = { severity = ["critical"] }, destinations = ["pagerduty:default"] },
  { match = { team = ["search"] }, destinations = ["slack:search", "pagerduty:default"] },
]
[destinations.slack.search]
webhook_url_env = "SEARCH_WEBHOOK"
[destinations.pagerduty.default]
routing_key_env = "PD_KEY"
"""
    )
    assert config.destinations_for(routed("critical", "search")) == ["pagerduty:default", "slack:search"]
    assert config.destinations_for(routed("warning", "search")) == ["slack:search", "pagerduty:default"]
    assert config.destinations_for(routed("warning", "ads")) == []
    assert config.routing.destinations.slack["search"].webhook_url_env == "SEARCH_WEBHOOK"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[[threshold]]\nname = "p95"\nmetric = "latency_p96_ms"\nvalue = 1',
            "[[threshold]] #1 'p95' > metric: unknown metric 'latency_p96_ms'; known: requests",
        ),
        (
            '[[threshold]]\nname = "ok"\nmetric = "error_rate"\nvalue = 1\n'
            '[[threshold]]\nname = "x"\nmetric = "error_rate"\nvalue = 0.1\nop = "=>"',
            "[[threshold]] #2 'x' > op: Input should be '>', '>=', '<' or '<='",
        ),
        (
            '[[threshold]]\nname = "x"\nmetric = "error_rate"\nvalue = 0.1\nresolve_value = 0.2',
            "[[threshold]] #1 'x': resolve_value 0.2 must be at or below value 0.1",
        ),
        (
            '[[threshold]]\nname = "x"\nmetric = "requests"\nvalue = 1\nwhere = { model = ["a", "*"] }',
            "'*' stands alone (one series per model)",
        ),
        (
            '[[threshold]]\nname = "x"\nmetric = "requests"\nvalue = 1\nwhere = { user = "u" }',
            "[[threshold]] #1 'x' > where > user",
        ),
        (
            '[[threshold]]\nname = "x"\nmetric = "requests"\nvalu = 1',
            "[[threshold]] #1 'x' > valu: unknown key",
        ),
        ('[[threshold]]\nname = "has space"\nmetric = "requests"\nvalue = 1', "name 'has space' must be"),
        (
            '[[budget]]\nname = "b"\nteam = "x"\nuser = "y"\ndaily_usd = 1',
            "[[budget]] #1 'b': set exactly one of",
        ),
        ('[[budget]]\nname = "b"\nteam = "x"', "[[budget]] #1 'b': set daily_usd and/or monthly_usd"),
        (
            '[[budget]]\nname = "b"\napp = "*"\ndaily_usd = 5\nalert_at = [80]',
            "alert_at fractions must be in (0, 10]",
        ),
        (
            "[anomaly]\nwarmup_windows = -1",
            "anomaly > warmup_windows: Input should be greater than or equal to 0",
        ),
        (
            '[[anomaly.rule]]\nname = "r"\nmetrics = ["latency_p95_ms", "nope"]',
            "[[anomaly.rule]] #1 'r' > metrics #2: unknown metric 'nope'",
        ),
        ("[anomaly]\ndetector = { alert_treshold = 0.5 }", "anomaly > detector"),
        (
            '[[threshold]]\nname = "a"\nmetric = "requests"\nvalue = 1\n'
            '[[budget]]\nname = "a"\nteam = "*"\ndaily_usd = 1',
            "name 'a' is used twice",
        ),
        (
            '[routing]\nroutes = [{ destinations = ["slack:missing"] }]',
            "destination 'slack:missing': no [destinations.slack.missing] section",
        ),
        (
            '[destinations.slack.default]\nwebhook_url = "https://hooks.slack.com/services/T/B/x"',
            "[destinations.slack.default]: 'webhook_url': secrets are not allowed in the file",
        ),
        (
            '[destinations.pagerduty.default]\nrouting_key_env = "R0ut1ngK3y value"',
            "routing_key_env = 'R0ut1ngK3y value' is not an environment variable name",
        ),
        ("[[threshold]\nname = 1", "not valid TOML"),
    ],
)
def test_errors_name_the_file_the_entry_and_the_problem(toml: str, expected: str) -> None:
    with pytest.raises(AlertConfigError) as err:
        parse_alert_config(toml, "alerts.toml")
    message = str(err.value)
    assert message.startswith("alerts.toml: ")
    assert expected in message
    assert "hooks.slack.com" not in message  # a secret pasted by mistake is not echoed


def test_load_from_a_file_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text('[anomaly]\nenabled = false\n[[threshold]]\nname = "t"\nmetric = "requests"\nvalue = 5\n')
    config = load_alert_config(path)
    assert [r.name for r in config.threshold] == ["t"] and not config.anomaly.enabled
    with pytest.raises(AlertConfigError, match=r"nope\.toml: cannot read"):
        load_alert_config(tmp_path / "nope.toml")
    path.write_text('[[threshold]]\nname = "t"\nmetric = "requests"\n')
    with pytest.raises(AlertConfigError, match=rf"{path}: \[\[threshold\]\] #1 't' > value: Field required"):
        load_alert_config(path)


def test_config_is_frozen_and_a_file_without_anomaly_keeps_the_default_detectors() -> None:
    config = parse_alert_config('[[threshold]]\nname = "t"\nmetric = "requests"\nvalue = 5\n')
    assert config.anomaly == AlertConfig().anomaly and config.anomaly.enabled
    with pytest.raises(ValueError):
        config.threshold[0].value = 6  # type: ignore[misc]
