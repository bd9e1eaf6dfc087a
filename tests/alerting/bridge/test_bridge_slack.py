"""Slack: the Block Kit message, checked by the fake webhook against Slack's published limits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from llmpulse.alerting.bridge.exceptions import PermanentDeliveryError, TransientDeliveryError
from llmpulse.alerting.bridge.slack import SlackDestination, build_message
from llmpulse.schemas.alert import AlertEvent
from tests.fixtures.http_fakes import FakeSlack, check_slack_message


def _slack(fake: FakeSlack) -> SlackDestination:
    return SlackDestination("slack:default", SecretStr(fake.webhook_url), timeout_s=2.0, min_interval_s=0.0)


def _texts(msg: dict) -> str:
    parts = [msg["text"]]
    for block in msg["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [e["text"] for e in block.get("elements", [])]
    return "\n".join(parts)


def test_firing_message_has_header_summary_fields_and_context(
    fake_slack: FakeSlack, make_alert: Callable[..., AlertEvent]
) -> None:
    a = make_alert("firing", severity="critical")
    dest = _slack(fake_slack)
    dest.send(a)
    dest.close()

    assert fake_slack.rejected == []
    [msg] = fake_slack.messages
    req = fake_slack.requests[0]
    assert req.method == "POST" and req.headers["content-type"].startswith("application/json")
    assert msg["text"].startswith("[FIRING critical]") and a.summary in msg["text"]
    header, summary, fields, sql, context = msg["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert header["text"]["text"].startswith(":rotating_light: FIRING")
    assert summary == {"type": "section", "text": {"type": "mrkdwn", "text": a.summary}}
    labels = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in fields["fields"]}
    assert labels["*Metric*"] == "latency_p95_ms"
    assert labels["*Observed*"] == "2,412"
    assert labels["*Expected*"] == "800, threshold 1,500"
    assert labels["*Dimensions*"] == "app=support-bot, model=gpt-4o"
    assert labels["*Window*"].endswith("UTC") and " to " in labels["*Window*"]
    assert labels["*Team*"] == "search"
    assert "```" in sql["text"]["text"] and "llm_rollups_1m_v" in sql["text"]["text"]
    assert context["type"] == "context" and a.alert_id in context["elements"][0]["text"]


@pytest.mark.parametrize(
    ("severity", "emoji"),
    [("critical", ":rotating_light:"), ("error", ":red_circle:"), ("warning", ":warning:"),
     ("info", ":information_source:")],
)  # fmt: skip
def test_header_emoji_follows_severity(
    make_alert: Callable[..., AlertEvent], severity: str, emoji: str
) -> None:
    msg = build_message(make_alert(severity=severity))
    assert msg["blocks"][0]["text"]["text"].startswith(f"{emoji} FIRING · {severity}")
    assert check_slack_message(msg) == []


def test_resolved_message(fake_slack: FakeSlack, make_alert: Callable[..., AlertEvent]) -> None:
    dest = _slack(fake_slack)
    dest.send(make_alert("resolved"))
    dest.close()
    [msg] = fake_slack.messages
    assert msg["text"].startswith("[RESOLVED critical]")
    assert msg["blocks"][0]["text"]["text"].startswith(":white_check_mark: RESOLVED")
    assert msg["blocks"][1]["text"]["text"].startswith("*Resolved*")
    assert "*Lasted*\n11m 01s" in _texts(msg)


def test_oversized_fields_are_cut_to_slack_limits(
    fake_slack: FakeSlack, make_alert: Callable[..., AlertEvent]
) -> None:
    a = make_alert(
        summary="S" * 5000,
        metric="m" * 400,
        dimensions={f"dim{i}": "v" * 300 for i in range(20)},
        query="SELECT " + "x, " * 3000,
        dedup_key="k" * 3000,
    )
    msg = build_message(a)
    assert check_slack_message(msg) == []
    assert len(msg["blocks"][0]["text"]["text"]) == 150
    assert len(msg["blocks"][1]["text"]["text"]) == 3000
    dest = _slack(fake_slack)
    dest.send(a)
    dest.close()
    assert fake_slack.rejected == [] and len(fake_slack.messages) == 1


def test_mrkdwn_control_characters_are_escaped(make_alert: Callable[..., AlertEvent]) -> None:
    msg = build_message(make_alert(summary="cost <@U123> & <!channel> > budget", dimensions={"app": "a<b>"}))
    text = _texts(msg)
    assert "<@U123>" not in text and "<!channel>" not in text
    assert "&lt;@U123&gt; &amp; &lt;!channel&gt; &gt; budget" in msg["blocks"][1]["text"]["text"]
    assert "app=a&lt;b&gt;" in text


def test_400_invalid_payload_is_permanent_and_names_no_url(
    fake_slack: FakeSlack, make_alert: Callable[..., AlertEvent]
) -> None:
    fake_slack.fail_next(400, body="invalid_payload")
    dest = _slack(fake_slack)
    with pytest.raises(PermanentDeliveryError) as info:
        dest.send(make_alert())
    dest.close()
    assert info.value.status == 400
    assert "invalid_payload" in str(info.value)
    assert fake_slack.webhook_url not in str(info.value) and "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(("status", "body"), [(404, "channel_not_found"), (410, "channel_is_archived"),
                                              (403, "action_prohibited")])  # fmt: skip
def test_other_4xx_are_permanent(
    fake_slack: FakeSlack, make_alert: Callable[..., AlertEvent], status: int, body: str
) -> None:
    fake_slack.fail_next(status, body=body)
    dest = _slack(fake_slack)
    with pytest.raises(PermanentDeliveryError, match=body):
        dest.send(make_alert())
    dest.close()


def test_5xx_and_network_errors_are_transient(
    fake_slack: FakeSlack, make_alert: Callable[..., AlertEvent]
) -> None:
    dest = _slack(fake_slack)
    fake_slack.fail_next(500, body="rollup_error")
    with pytest.raises(TransientDeliveryError) as info:
        dest.send(make_alert())
    assert info.value.status == 500
    fake_slack.stop()
    with pytest.raises(TransientDeliveryError, match="network error") as info:
        dest.send(make_alert())
    assert "s3cr3t" not in str(info.value)
    fake_slack.start()
    dest.send(make_alert())
    dest.close()
    assert len(fake_slack.messages) == 1


def test_429_holds_the_destination_for_retry_after(
    fake_slack: FakeSlack, make_alert: Callable[..., AlertEvent]
) -> None:
    dest = _slack(fake_slack)
    fake_slack.fail_next(429, body="rate_limited", headers={"Retry-After": "2"})
    with pytest.raises(TransientDeliveryError) as info:
        dest.send(make_alert())
    assert info.value.retry_after_s == 2.0
    # While held, the bridge does not even call Slack.
    with pytest.raises(TransientDeliveryError, match="holding") as held:
        dest.send(make_alert())
    assert held.value.retry_after_s is not None and 1.0 < held.value.retry_after_s <= 2.0
    assert len(fake_slack.requests) == 1
    dest.close()
