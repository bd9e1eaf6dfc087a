"""The delivery ledger and the dispatcher: no double page, no resolve for what was never triggered."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from llmpulse.alerting.bridge.dispatch import Dispatcher, RetryPolicy
from llmpulse.alerting.bridge.factory import build_destinations
from llmpulse.alerting.bridge.ledger import Ledger, Outcome
from llmpulse.alerting.routing_config import RoutingConfig
from llmpulse.schemas.alert import AlertEvent
from tests.fixtures.http_fakes import FakePagerDuty, FakeSlack

PD = "pagerduty:default"
SLACK = "slack:default"


@pytest.fixture
def dispatcher_factory(
    routing: RoutingConfig, env: dict[str, str]
) -> Callable[[Path], tuple[Dispatcher, Callable[[], None]]]:
    def make(ledger_path: Path) -> tuple[Dispatcher, Callable[[], None]]:
        dests = build_destinations(routing, env, sleep=lambda s: None)
        for d in dests.values():
            d._poster.throttle.min_interval_s = d._poster.throttle.interval_s = 0.0  # type: ignore[attr-defined]
        ledger = Ledger(ledger_path)

        def close() -> None:
            ledger.close()
            for d in dests.values():
                d.close()

        return Dispatcher(routing, dests, ledger), close

    return make


def test_ledger_survives_reopen(tmp_path: Path, make_alert: Callable[..., AlertEvent]) -> None:
    path = tmp_path / "data" / "bridge" / "ledger.sqlite3"
    firing = make_alert("firing")
    ledger = Ledger(path)
    ledger.record(firing, PD, Outcome.SENT)
    ledger.close()
    again = Ledger(path)
    assert again.is_done(firing.alert_id, PD) and not again.is_done(firing.alert_id, SLACK)
    assert again.outcome(firing.alert_id, PD) is Outcome.SENT
    assert again.open_incidents(PD) == [firing.dedup_key]
    again.record(make_alert("resolved"), PD, Outcome.SENT)
    assert again.open_incidents(PD) == []
    again.close()


def test_replayed_alerts_are_not_sent_twice(
    tmp_path: Path,
    dispatcher_factory: Callable[[Path], tuple[Dispatcher, Callable[[], None]]],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    firing, resolved = make_alert("firing"), make_alert("resolved")
    d1, close1 = dispatcher_factory(tmp_path / "ledger.sqlite3")
    assert d1.dispatch(firing).done
    close1()
    d2, close2 = dispatcher_factory(tmp_path / "ledger.sqlite3")  # a restart, same ledger
    for a in (firing, resolved, firing, resolved):
        assert d2.dispatch(a).done
    close2()
    assert fake_pagerduty.actions() == ["trigger", "resolve"]
    assert [m["text"].split("]")[0] for m in fake_slack.messages] == [
        "[FIRING critical",
        "[RESOLVED critical",
    ]
    assert d2.stats.sent == 2 and d2.stats.skipped == 0  # replays of done alerts are not even "skipped"


def test_second_firing_of_an_open_incident_does_not_page_again(
    tmp_path: Path,
    dispatcher_factory: Callable[[Path], tuple[Dispatcher, Callable[[], None]]],
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    first = make_alert("firing", started_at_ms=1_795_000_000_000)
    second = make_alert("firing", started_at_ms=1_795_000_060_000)  # same incident, another transition id
    assert first.alert_id != second.alert_id and first.dedup_key == second.dedup_key
    d, close = dispatcher_factory(tmp_path / "l.sqlite3")
    d.dispatch(first)
    d.dispatch(second)
    assert d.ledger.outcome(second.alert_id, PD) is Outcome.SKIPPED_OPEN
    d.dispatch(make_alert("resolved", started_at_ms=1_795_000_060_000))
    later = make_alert("firing", started_at_ms=1_795_003_600_000)  # a new incident after the resolve
    d.dispatch(later)
    close()
    assert fake_pagerduty.actions() == ["trigger", "resolve", "trigger"]


def test_resolve_for_an_incident_never_triggered_is_not_sent(
    tmp_path: Path,
    dispatcher_factory: Callable[[Path], tuple[Dispatcher, Callable[[], None]]],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    d, close = dispatcher_factory(tmp_path / "l.sqlite3")
    resolved = make_alert("resolved")
    assert d.dispatch(resolved).done
    assert d.ledger.outcome(resolved.alert_id, PD) is Outcome.SKIPPED_NOT_OPEN
    # The firing of that very incident arriving late is stale: no page that nobody would ever resolve.
    late = make_alert("firing")
    d.dispatch(late)
    assert d.ledger.outcome(late.alert_id, PD) is Outcome.SKIPPED_STALE
    close()
    assert fake_pagerduty.requests == [] and fake_slack.requests == []


def test_transient_failure_leaves_only_that_destination_pending(
    tmp_path: Path,
    dispatcher_factory: Callable[[Path], tuple[Dispatcher, Callable[[], None]]],
    fake_slack: FakeSlack,
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    d, close = dispatcher_factory(tmp_path / "l.sqlite3")
    firing = make_alert("firing")
    fake_slack.fail_next(503)
    result = d.dispatch(firing)
    assert result.pending == [SLACK]
    assert d.dispatch(firing).done  # retry: PagerDuty is not called again
    close()
    assert fake_pagerduty.actions() == ["trigger"]
    assert len(fake_slack.messages) == 1


def test_permanent_failure_is_recorded_and_not_retried(
    tmp_path: Path,
    dispatcher_factory: Callable[[Path], tuple[Dispatcher, Callable[[], None]]],
    fake_pagerduty: FakePagerDuty,
    make_alert: Callable[..., AlertEvent],
) -> None:
    d, close = dispatcher_factory(tmp_path / "l.sqlite3")
    firing = make_alert("firing")
    fake_pagerduty.fail_next(400, body='{"status": "invalid event", "message": "Event object is invalid"}')
    assert d.dispatch(firing).done
    assert d.ledger.outcome(firing.alert_id, PD) is Outcome.FAILED
    assert d.dispatch(firing).done and len(fake_pagerduty.requests) == 1
    # never opened there, so its resolve is not sent either
    d.dispatch(make_alert("resolved"))
    close()
    assert len(fake_pagerduty.requests) == 1


def test_retry_policy_backs_off_with_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=30.0, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay(n, rng=rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        cap = min(30.0, 2.0 ** (n - 1))
        assert cap / 2 <= delay <= cap
    assert len({round(x, 6) for x in delays}) == len(delays)  # jittered
    assert delays[-1] <= 30.0
    assert 5.0 <= policy.delay(1, retry_after_s=5.0, rng=rng) <= 5.5
