"""PagerDuty Events API v2: trigger on firing, resolve on resolved, one dedup_key, severities mapped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from pydantic import SecretStr

from llmpulse.alerting.bridge.exceptions import PermanentDeliveryError, TransientDeliveryError
from llmpulse.alerting.bridge.pagerduty import PagerDutyDestination, build_event, pagerduty_dedup_key
from llmpulse.schemas.alert import AlertEvent
from tests.fixtures.http_fakes import PAGERDUTY_ROUTING_KEY, FakePagerDuty, check_pagerduty_event


def _pd(fake: FakePagerDuty, key: str = PAGERDUTY_ROUTING_KEY) -> PagerDutyDestination:
    return PagerDutyDestination(
        "pagerduty:default", SecretStr(key), events_url=fake.events_url, timeout_s=2.0, min_interval_s=0.0
    )


def test_trigger_then_resolve_share_the_dedup_key(
    fake_pagerduty: FakePagerDuty, make_alert: Callable[..., AlertEvent]
) -> None:
    firing, resolved = make_alert("firing"), make_alert("resolved")
    dest = _pd(fake_pagerduty)
    dest.send(firing)
    assert list(fake_pagerduty.open_alerts) == [firing.dedup_key]
    dest.send(resolved)
    dest.close()

    assert fake_pagerduty.rejected == []
    trigger, resolve = fake_pagerduty.events
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == firing.dedup_key
    assert trigger["routing_key"] == PAGERDUTY_ROUTING_KEY
    p = trigger["payload"]
    assert p["summary"] == firing.summary
    assert p["severity"] == "critical"
    assert p["source"] == "llmpulse"
    assert p["component"] == "latency_p95_ms" and p["group"] == "search" and p["class"] == "threshold"
    assert datetime.fromisoformat(p["timestamp"]).timestamp() * 1000 == firing.emitted_at_ms
    details = p["custom_details"]
    assert details["alert_id"] == firing.alert_id
    assert details["observed"] == 2412.5 and details["expected"] == 800.0 and details["threshold"] == 1500.0
    assert details["dimensions"] == {"model": "gpt-4o", "app": "support-bot"}
    assert set(resolve) == {"routing_key", "event_action", "dedup_key"}
    assert fake_pagerduty.open_alerts == {}


@pytest.mark.parametrize("severity", ["critical", "error", "warning", "info"])
def test_severity_maps_to_pagerduty_severity(
    fake_pagerduty: FakePagerDuty, make_alert: Callable[..., AlertEvent], severity: str
) -> None:
    dest = _pd(fake_pagerduty)
    dest.send(make_alert(severity=severity))
    dest.close()
    assert fake_pagerduty.rejected == []
    assert fake_pagerduty.events[0]["payload"]["severity"] == severity


def test_long_summary_and_dedup_key_fit_pagerduty_limits(
    fake_pagerduty: FakePagerDuty, make_alert: Callable[..., AlertEvent]
) -> None:
    long_key = "anomaly:cost_usd:" + ",".join(f"dim{i}=value{i}" for i in range(40))
    assert len(long_key) > 255
    firing = make_alert("firing", key=long_key, summary="x" * 3000, team="")
    dest = _pd(fake_pagerduty)
    dest.send(firing)
    dest.send(make_alert("resolved", key=long_key))
    dest.close()
    assert fake_pagerduty.rejected == []
    trigger, resolve = fake_pagerduty.events
    assert len(trigger["payload"]["summary"]) == 1024
    assert "group" not in trigger["payload"]
    assert len(trigger["dedup_key"]) == 255 and trigger["dedup_key"] == resolve["dedup_key"]
    assert pagerduty_dedup_key(long_key) != pagerduty_dedup_key(long_key + "x")


def test_every_built_event_passes_the_published_format(make_alert: Callable[..., AlertEvent]) -> None:
    for status in ("firing", "resolved"):
        for kind in ("threshold", "budget", "anomaly", "drift"):
            ev = build_event(
                make_alert(status, kind=kind, observed=None, expected=None), PAGERDUTY_ROUTING_KEY
            )
            assert check_pagerduty_event(ev, PAGERDUTY_ROUTING_KEY) == []


def test_400_invalid_event_is_permanent_and_keeps_the_key_secret(
    fake_pagerduty: FakePagerDuty, make_alert: Callable[..., AlertEvent]
) -> None:
    wrong_key = "W" * 31  # 31 chars: PagerDuty answers 400 invalid event
    dest = _pd(fake_pagerduty, wrong_key)
    with pytest.raises(PermanentDeliveryError) as info:
        dest.send(make_alert())
    dest.close()
    assert info.value.status == 400
    assert "Event object is invalid" in str(info.value) and "routing_key" in str(info.value)
    assert wrong_key not in str(info.value)


def test_429_and_5xx_are_transient(
    fake_pagerduty: FakePagerDuty, make_alert: Callable[..., AlertEvent]
) -> None:
    dest = _pd(fake_pagerduty)
    fake_pagerduty.fail_next(502, body='{"status": "error"}')
    with pytest.raises(TransientDeliveryError) as info:
        dest.send(make_alert())
    assert info.value.status == 502 and info.value.retry_after_s is None
    fake_pagerduty.fail_next(429, body='{"status": "throttled"}', headers={"Retry-After": "0.2"})
    with pytest.raises(TransientDeliveryError) as info:
        dest.send(make_alert())
    assert info.value.status == 429 and info.value.retry_after_s == pytest.approx(0.2)
    assert dest._poster.throttle.interval_s >= 0.5  # slowed down after the 429
    dest.close()
    assert fake_pagerduty.events == []
