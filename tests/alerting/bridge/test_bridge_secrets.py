"""Webhook URLs and routing keys never reach a log line, an exception message or a repr."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from llmpulse.alerting.bridge import Dispatcher, Ledger, RoutingConfig, build_destinations
from llmpulse.alerting.bridge.exceptions import DeliveryError, MissingSecretError
from llmpulse.schemas.alert import AlertEvent
from tests.fixtures.http_fakes import PAGERDUTY_ROUTING_KEY, SLACK_WEBHOOK_PATH, FakePagerDuty, FakeSlack


def _secrets(fake_slack: FakeSlack) -> list[str]:
    token = SLACK_WEBHOOK_PATH.rsplit("/", 1)[1]
    return [fake_slack.webhook_url, SLACK_WEBHOOK_PATH, token, PAGERDUTY_ROUTING_KEY]


def test_no_secret_in_logs_errors_or_reprs(
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    routing: RoutingConfig,
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "llmpulse"):
        caplog.set_level(logging.DEBUG, logger=name)
    dests = build_destinations(routing, env, sleep=lambda s: None)
    errors: list[str] = []
    for d in dests.values():
        d._poster.throttle.min_interval_s = 0.0  # type: ignore[attr-defined]
        try:  # a direct failure, to see the exception message itself
            fake_slack.fail_next(404, body=f"channel_not_found for {fake_slack.webhook_url}")
            fake_pagerduty.fail_next(400, body=f'{{"errors": ["bad key {PAGERDUTY_ROUTING_KEY}"]}}')
            d.send(make_alert(key=f"direct-{d.name}"))
        except DeliveryError as exc:
            errors += [str(exc), repr(exc), exc.reason]
    ledger = Ledger(tmp_path / "l.sqlite3")
    dispatcher = Dispatcher(routing, dests, ledger)

    # Success, a refusal echoing the secret, 5xx, 429 and a network outage, all through the dispatcher.
    dispatcher.dispatch(make_alert(key="ok"))
    fake_slack.fail_next(400, body=f"invalid_payload at {fake_slack.webhook_url}")
    fake_pagerduty.fail_next(
        400, body=f'{{"status": "invalid event", "errors": ["{PAGERDUTY_ROUTING_KEY}"]}}'
    )
    dispatcher.dispatch(make_alert(key="refused"))
    fake_slack.fail_next(503)
    fake_pagerduty.fail_next(429, headers={"Retry-After": "0"})
    dispatcher.dispatch(make_alert(key="later"))
    fake_slack.stop()
    fake_pagerduty.stop()
    dispatcher.dispatch(make_alert(key="down"))
    ledger.close()
    for d in dests.values():
        d.close()

    text = caplog.text
    assert "HTTP Request: POST" in text  # httpx did log its requests: the filter is what keeps them clean
    assert "***" in text
    assert "invalid_payload" in text and "network error" in text and "HTTP 503" in text
    assert len(errors) == 6
    exposed = "\n".join([text, *errors, repr(dests), repr(routing), str(routing.model_dump())])
    for secret in _secrets(fake_slack):
        assert secret not in exposed


def test_missing_secret_error_names_the_variable_not_the_value(
    routing: RoutingConfig, env: dict[str, str]
) -> None:
    partial = {k: v for k, v in env.items() if "PAGERDUTY" not in k}
    with pytest.raises(MissingSecretError) as info:
        build_destinations(routing, partial)
    assert "LLMPULSE_TEST_PAGERDUTY_ROUTING_KEY" in str(info.value)
    for value in env.values():
        assert value not in str(info.value)


def test_a_non_url_webhook_is_refused_without_echoing_it(routing: RoutingConfig, env: dict[str, str]) -> None:
    bad = dict(env, LLMPULSE_TEST_SLACK_WEBHOOK_URL="T0/B0/n0tAUrlButSecret")
    with pytest.raises(Exception) as info:
        build_destinations(routing, bad)
    assert "LLMPULSE_TEST_SLACK_WEBHOOK_URL" in str(info.value)
    assert "n0tAUrlButSecret" not in str(info.value)
