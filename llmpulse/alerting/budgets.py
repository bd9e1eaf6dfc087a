"""Spend budgets: daily and monthly limits per team, app or user. Pure and picklable.

Per budget, period and subject, each ``alert_at`` fraction fires once per period, and a projected overrun
(spend so far + burn rate x time left in the period > limit) fires once, before the money is gone.
Everything a budget fired resolves when its period rolls over (UTC day or UTC calendar month).

An incident is (budget, period, subject, level); its ``started_at_ms`` is the start of the period, so a
replay or a second worker produces the same ``alert_id`` whichever window it crossed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from llmpulse.alerting.config import Budget
from llmpulse.alerting.lifecycle import alert_id, dedup_key
from llmpulse.alerting.metrics import (
    MINUTE_MS,
    BudgetScope,
    Spend,
    SpendSpec,
    day_start_ms,
    month_start_ms,
    next_month_start_ms,
)
from llmpulse.schemas.alert import AlertEvent, Severity

Period = Literal["day", "month"]
_HOUR_MS = 3_600_000
_NO_FLOOR = 1e300


@dataclass
class SubjectState:
    period_start_ms: int
    scope: str
    fired: dict[str, float] = field(default_factory=dict)  # level tag -> threshold it fired at
    last_spent: float = 0.0
    history: list[tuple[int, float]] = field(default_factory=list)  # (window end, spent): users' burn


def period_bounds(period: Period, window_start_ms: int) -> tuple[int, int]:
    if period == "day":
        start = day_start_ms(window_start_ms)
        return start, start + 86_400_000
    return month_start_ms(window_start_ms), next_month_start_ms(window_start_ms)


def level_tag(fraction: float) -> str:
    return f"at{round(fraction * 100):d}"


def spend_specs(budgets: list[Budget]) -> tuple[SpendSpec, ...]:
    """One spend read per scope covering every budget of that scope."""
    specs = []
    for scope in ("team", "app", "user"):
        mine = [b for b in budgets if b.scope == scope]
        if not mine:
            continue
        subjects = {b.subject for b in mine}
        names = None if "*" in subjects else tuple(sorted(subjects))
        floors: dict[Period, float] = {"day": _NO_FLOOR, "month": _NO_FLOOR}
        for b in mine:
            fraction = min([*b.alert_at, b.project_from] if b.projection else b.alert_at)
            for period, limit in b.limits().items():
                floors[period] = min(floors[period], fraction * limit)
        burns = tuple(sorted({b.burn_window_minutes * MINUTE_MS for b in mine if b.projection}))
        specs.append(SpendSpec(scope, names, floors["day"], floors["month"], burns))  # type: ignore[arg-type]
    return tuple(specs)


class BudgetTracker:
    def __init__(self) -> None:
        self.states: dict[tuple[str, Period, str], SubjectState] = {}

    def on_window(
        self,
        budgets: list[Budget],
        window_start_ms: int,
        window_end_ms: int,
        spend: dict[BudgetScope, dict[str, Spend]],
        now_ms: int,
    ) -> list[AlertEvent]:
        by_name = {b.name: b for b in budgets}
        events = self._roll_over(by_name, window_start_ms, window_end_ms, now_ms)
        for budget in budgets:
            subjects = spend.get(budget.scope, {})
            if budget.subject != "*":
                subjects = {budget.subject: subjects[budget.subject]} if budget.subject in subjects else {}
            for subject, amount in sorted(subjects.items()):
                for period, limit in budget.limits().items():
                    spent = amount.day_usd if period == "day" else amount.month_usd
                    events += self._check(
                        budget, period, limit, subject, spent, amount, window_start_ms, window_end_ms, now_ms
                    )
        return events

    def _roll_over(
        self, by_name: dict[str, Budget], window_start_ms: int, window_end_ms: int, now_ms: int
    ) -> list[AlertEvent]:
        events = []
        for key, state in list(self.states.items()):
            name, period, subject = key
            budget = by_name.get(name)
            if budget is not None and period_bounds(period, window_start_ms)[0] == state.period_start_ms:
                continue
            del self.states[key]
            for tag, threshold in sorted(state.fired.items()):
                events.append(
                    _event(
                        name,
                        state.scope,
                        period,
                        subject,
                        tag,
                        "resolved",
                        state,
                        threshold,
                        budget,
                        window_start_ms,
                        window_end_ms,
                        now_ms,
                    )
                )
        return events

    def _check(
        self,
        budget: Budget,
        period: Period,
        limit: float,
        subject: str,
        spent: float,
        amount: Spend,
        window_start_ms: int,
        window_end_ms: int,
        now_ms: int,
    ) -> list[AlertEvent]:
        start, end = period_bounds(period, window_start_ms)
        state = self.states.setdefault((budget.name, period, subject), SubjectState(start, budget.scope))
        state.last_spent = spent
        events = []
        for fraction in budget.alert_at:
            tag = level_tag(fraction)
            if spent >= fraction * limit and tag not in state.fired:
                state.fired[tag] = fraction * limit
                events.append(
                    _event(
                        budget.name,
                        budget.scope,
                        period,
                        subject,
                        tag,
                        "firing",
                        state,
                        fraction * limit,
                        budget,
                        window_start_ms,
                        window_end_ms,
                        now_ms,
                    )
                )
        burn = self._burn(budget, state, amount, window_end_ms)
        if (
            budget.projection
            and burn is not None
            and "projected" not in state.fired
            and budget.project_from * limit <= spent < limit
        ):
            projected = spent + burn * (end - window_end_ms) / _HOUR_MS
            if projected > limit:
                state.fired["projected"] = limit
                events.append(
                    _event(
                        budget.name,
                        budget.scope,
                        period,
                        subject,
                        "projected",
                        "firing",
                        state,
                        limit,
                        budget,
                        window_start_ms,
                        window_end_ms,
                        now_ms,
                        projected=projected,
                        burn=burn,
                    )
                )
        if not state.fired and not state.history and budget.scope != "user":
            del self.states[(budget.name, period, subject)]  # nothing to remember
        return events

    @staticmethod
    def _burn(budget: Budget, state: SubjectState, amount: Spend, window_end_ms: int) -> float | None:
        """USD per hour over the budget's burn window: from the rollups, else from the spend seen so far."""
        burn_ms = budget.burn_window_minutes * MINUTE_MS
        if amount.burn_usd_per_hour is not None:
            return amount.burn_usd_per_hour.get(burn_ms)
        state.history.append((window_end_ms, state.last_spent))
        state.history = [(t, s) for t, s in state.history if t >= window_end_ms - burn_ms]
        t0, s0 = state.history[0]
        if window_end_ms - t0 < burn_ms // 2:
            return None  # too little history for a rate
        return (state.last_spent - s0) * _HOUR_MS / (window_end_ms - t0)


def _event(
    name: str,
    scope: str,
    period: Period,
    subject: str,
    tag: str,
    status: Literal["firing", "resolved"],
    state: SubjectState,
    threshold: float,
    budget: Budget | None,
    window_start_ms: int,
    window_end_ms: int,
    now_ms: int,
    projected: float | None = None,
    burn: float | None = None,
) -> AlertEvent:
    metric = "daily_spend_usd" if period == "day" else "monthly_spend_usd"
    dims = ((scope, subject),)
    key = dedup_key("budget", name, f"{metric}.{tag}", dims)
    limit = (budget.limits().get(period) if budget else None) or threshold
    who = "A user" if scope == "user" else f"{scope.capitalize()} {subject}"
    word = "daily" if period == "day" else "monthly"
    if status == "resolved":
        text = f"Resolved: the {word} budget {name!r} period ended (final spend ${state.last_spent:,.2f})"
    elif tag == "projected":
        text = (
            f"{who} is on track to overrun the {word} budget {name!r}: ${state.last_spent:,.2f} spent, "
            f"burning ${burn or 0:,.2f}/h, projected ${projected or 0:,.2f} of ${limit:,.2f}"
        )
    else:
        text = (
            f"{who} has spent ${state.last_spent:,.2f} of the {word} budget {name!r} "
            f"(${limit:,.2f}): {tag[2:]}% reached"
        )
    severity: Severity = "warning"
    if budget is not None:
        severity = budget.limit_severity if tag != "projected" and threshold >= limit else budget.severity
    return AlertEvent(
        alert_id=alert_id(key, status, state.period_start_ms),
        dedup_key=key,
        kind="budget",
        severity=severity,
        status=status,
        rule=name,
        metric=metric,
        dimensions=dict(dims),
        observed=state.last_spent,
        expected=projected,
        upper=limit,
        threshold=threshold,
        window_start_ms=window_start_ms,
        window_end_ms=window_end_ms,
        started_at_ms=state.period_start_ms,
        emitted_at_ms=now_ms,
        summary=text,
        query=_spend_sql(scope, subject, state.period_start_ms),
        team=subject if scope == "team" else (budget.owner if budget else ""),
    )


def _spend_sql(scope: str, subject: str, period_start_ms: int) -> str:
    quoted = "'" + subject.replace("\\", "\\\\").replace("'", "\\'") + "'"
    since = f"toDateTime({period_start_ms // 1000}, 'UTC')"
    if scope == "user":
        return (
            "SELECT day, sum(cost_usd) AS cost_usd FROM llm_user_cost_1d "
            f"WHERE user_id = {quoted} AND day >= toDate({since}) GROUP BY day ORDER BY day"
        )
    return (
        "SELECT toStartOfHour(window_start) AS hour, sum(cost_usd) AS cost_usd FROM llm_call_rollups_1m "
        f"WHERE {scope} = {quoted} AND window_start >= {since} GROUP BY hour ORDER BY hour"
    )
