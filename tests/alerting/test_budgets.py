"""Budgets: each fraction once per period, projected overrun before the limit, rollover resolves."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

from llmpulse.alerting.budgets import BudgetTracker, period_bounds, spend_specs
from llmpulse.alerting.config import Budget, parse_alert_config
from llmpulse.alerting.evaluator import AlertEvaluator, read_alerts
from llmpulse.alerting.metrics import BudgetScope, Spend
from llmpulse.clickhouse.store import Store
from llmpulse.schemas.alert import AlertEvent
from tests.alerting.test_series import rollup, write_rollups

W = 60_000
NOV30_22H = int(datetime(2026, 11, 30, 22, 0, tzinfo=UTC).timestamp() * 1000)
DEC1 = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)


def budget(**kw: object) -> Budget:
    base: dict[str, object] = {"name": "b", "team": "search", "daily_usd": 100.0, "projection": False}
    return Budget.model_validate({**base, **kw})


def tags(events: list[AlertEvent]) -> list[tuple[str, str]]:
    return [(e.dedup_key.split(".")[-1].split(":")[0], e.status) for e in events]


def test_each_fraction_fires_once_per_period_and_resolves_at_rollover() -> None:
    tracker, b = BudgetTracker(), budget()
    t = NOV30_22H
    out = []
    for i, spent in enumerate([10.0, 79.9, 80.0, 85.0, 99.0, 150.0, 160.0]):
        ws = t + i * W
        out += tracker.on_window([b], ws, ws + W, {"team": {"search": Spend(spent, spent)}}, now_ms=1)
    assert tags(out) == [("at80", "firing"), ("at100", "firing")]
    assert [e.severity for e in out] == ["warning", "error"]
    assert out[0].threshold == 80.0 and out[0].observed == 80.0 and out[0].upper == 100.0
    day_start = period_bounds("day", t)[0]
    assert all(e.started_at_ms == day_start and e.team == "search" for e in out)
    rolled = tracker.on_window([b], DEC1, DEC1 + W, {"team": {"search": Spend(0.5, 0.5)}}, now_ms=2)
    assert tags(rolled) == [("at100", "resolved"), ("at80", "resolved")]
    assert {e.alert_id.replace(":resolved:", ":firing:") for e in rolled} == {e.alert_id for e in out}
    assert rolled[0].observed == 160.0  # the period's final spend


def test_a_jump_past_several_fractions_fires_each_once() -> None:
    tracker, b = BudgetTracker(), budget(alert_at=[1.0, 0.5, 0.8])
    out = tracker.on_window([b], NOV30_22H, NOV30_22H + W, {"team": {"search": Spend(120, 120)}}, 1)
    assert tags(out) == [("at50", "firing"), ("at80", "firing"), ("at100", "firing")]


def test_projection_fires_before_the_limit_and_only_once() -> None:
    tracker, b = BudgetTracker(), budget(projection=True, project_from=0.1)
    t = NOV30_22H  # 2 h left in the day
    h = 3_600_000

    def at(i: int, spent: float, burn: float) -> list[AlertEvent]:
        amount = Spend(spent, spent, {h: burn})
        return tracker.on_window([b], t + i * W, t + (i + 1) * W, {"team": {"search": amount}}, 1)

    assert at(0, 5.0, 500.0) == []  # below project_from: too early to extrapolate
    assert at(1, 20.0, 30.0) == []  # 20 + 30/h x ~2h = 79: fine
    fired = at(2, 30.0, 60.0)  # 30 + 60/h x ~1.95h = 147 > 100
    assert tags(fired) == [("projected", "firing")]
    assert fired[0].expected is not None and fired[0].expected > 100 > fired[0].observed  # type: ignore[operator]
    assert at(3, 40.0, 90.0) == []  # once per period


def test_user_burn_rate_comes_from_the_spend_seen_growing() -> None:
    tracker = BudgetTracker()
    b = Budget(name="u", user="*", daily_usd=10.0, alert_at=[1.0], burn_window_minutes=10)
    t = NOV30_22H
    out = []
    for i in range(12):  # $0.10 a minute: $6/h, 1.9 h left -> projected well over $10 once $1 is spent
        spent = 0.5 + 0.1 * i
        ws = t + i * W
        out += tracker.on_window([b], ws, ws + W, {"user": {"u-1": Spend(spent, spent)}}, 1)
    assert tags(out) == [("projected", "firing")]
    assert out[0].dimensions == {"user": "u-1"} and "u-1" not in out[0].summary


def test_named_subject_and_spend_specs() -> None:
    tracker = BudgetTracker()
    b = budget(team="ads")
    spend: dict[BudgetScope, dict[str, Spend]] = {"team": {"search": Spend(500, 500), "ads": Spend(85, 85)}}
    assert [e.dimensions for e in tracker.on_window([b], NOV30_22H, NOV30_22H + W, spend, 1)] == [
        {"team": "ads"}
    ]
    specs = spend_specs([b, budget(name="c", team="*"), Budget(name="u", user="*", daily_usd=10.0)])
    assert [(s.scope, s.names) for s in specs] == [("team", None), ("user", None)]
    assert specs[1].day_floor_usd == 1.0  # min(project_from 0.1, 0.8) x $10: users below are not read
    pickle.loads(pickle.dumps(tracker))


CONFIG = parse_alert_config(
    """
[anomaly]
enabled = false

[[budget]]
name = "team-daily"
team = "*"
daily_usd = 100.0
alert_at = [0.8, 1.0]
projection = true
burn_window_minutes = 60
project_from = 0.1

[[budget]]
name = "team-monthly"
team = "search"
monthly_usd = 5000.0
alert_at = [0.01]
projection = false
"""
)


def test_budgets_end_to_end_on_rollups(store: Store) -> None:
    # team search spends $1 a minute from 22:00 on Nov 30 to 00:30 on Dec 1; team ads spends a little
    rows = [rollup(NOV30_22H + i * W, [100.0], team="search", cost_usd=1.0) for i in range(150)]
    rows += [rollup(NOV30_22H + i * W, [100.0], team="ads", cost_usd=0.01) for i in range(150)]
    write_rollups(store, rows)
    evaluator = AlertEvaluator(store, CONFIG, lookback_ms=None)
    events = evaluator.tick(NOV30_22H + 150 * W)

    def minute(e: AlertEvent) -> int:
        return (e.window_start_ms - NOV30_22H) // W

    got = [(minute(e), e.rule, e.dedup_key.split(".")[-1].split(":")[0], e.status) for e in events]
    assert got == [
        (44, "team-daily", "projected", "firing"),  # $45 spent, $45/h, 1h15 left: projected $101
        (49, "team-monthly", "at1", "firing"),  # $50 of $5000
        (79, "team-daily", "at80", "firing"),
        (99, "team-daily", "at100", "firing"),
        (120, "team-daily", "at100", "resolved"),  # the day rolled over
        (120, "team-daily", "at80", "resolved"),
        (120, "team-daily", "projected", "resolved"),
        (120, "team-monthly", "at1", "resolved"),  # and the month
        (129, "team-daily", "projected", "firing"),  # new day: $10 spent at $60/h
    ]
    assert all(e.dimensions == {"team": "search"} for e in events)
    assert events[-1].alert_id != events[0].alert_id and events[-1].dedup_key == events[0].dedup_key
    assert sorted(a.alert_id for a in read_alerts(store)) == sorted(e.alert_id for e in events)
    for e in events:
        assert store.query(e.query).rows  # the alert's SQL runs and shows the spend
