"""Retention as settings: the TTL of each table (and of the captured text columns), in days.

The migrations carry no TTL of their own: ``with_ttl`` adds each table's TTL to its ``CREATE TABLE`` from the
settings, and ``retention_changes`` finds tables whose TTL differs from an explicitly set value, for
``ALTER … MODIFY TTL``. A setting left unset keeps the built-in default for new tables (dead letters 30 days,
everything else kept forever) and leaves an existing table's TTL as it is, so a worker started without these
variables never undoes what ``llmpulse migrate`` applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmpulse.settings import Settings


@dataclass(frozen=True)
class TTLRule:
    setting: str  # the Settings field (env LLMPULSE_<SETTING>)
    table: str
    column: str | None  # None: the table's TTL (rows go); a column: its values are reset to NULL/default
    time_expr: str  # the row's time, as a Date or DateTime expression
    default_days: int  # 0 = keep forever


RULES: tuple[TTLRule, ...] = (
    TTLRule("ttl_calls_days", "llm_calls", None, "toDateTime(ts)", 0),
    TTLRule("ttl_text_days", "llm_calls", "prompt", "toDateTime(ts)", 0),
    TTLRule("ttl_text_days", "llm_calls", "response", "toDateTime(ts)", 0),
    TTLRule("ttl_rollups_days", "llm_call_rollups_1m", None, "window_start", 0),
    TTLRule("ttl_rollups_days", "llm_user_cost_1d", None, "day", 0),
    TTLRule("ttl_rollups_days", "llm_quality_rollups_1m", None, "window_start", 0),
    TTLRule("ttl_rollups_days", "llm_evaluation_rollups_1m", None, "window_start", 0),
    TTLRule("ttl_calls_days", "llm_feedback", None, "toDateTime(ts)", 0),
    TTLRule("ttl_text_days", "llm_feedback", "comment", "toDateTime(ts)", 0),
    TTLRule("ttl_calls_days", "llm_evaluations", None, "toDateTime(ts)", 0),
    TTLRule("ttl_text_days", "llm_evaluations", "explanation", "toDateTime(ts)", 0),
    TTLRule("ttl_dead_letters_days", "llm_dead_letters", None, "toDateTime(received_at)", 30),
    TTLRule("ttl_alerts_days", "llm_alerts", None, "toDateTime(started_at)", 0),
)


@dataclass(frozen=True)
class Retention:
    """Days per rule (0 = keep forever), and which of them the settings set explicitly."""

    days: dict[TTLRule, int]
    explicit: frozenset[TTLRule]

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        days: dict[TTLRule, int] = {}
        explicit = set()
        for rule in RULES:
            value = getattr(settings, rule.setting)
            days[rule] = rule.default_days if value is None else int(value)
            if value is not None:
                explicit.add(rule)
        return cls(days, frozenset(explicit))

    @classmethod
    def defaults(cls) -> Retention:
        return cls({rule: rule.default_days for rule in RULES}, frozenset())

    def rules_for(self, table: str) -> list[TTLRule]:
        return [rule for rule in RULES if rule.table == table]


def ttl_clause(rule: TTLRule, days: int) -> str:
    return f"{rule.time_expr} + INTERVAL {days} DAY"


_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)
_SETTINGS_LINE = re.compile(r"^SETTINGS\b", re.MULTILINE)


def with_ttl(statement: str, retention: Retention) -> str:
    """The ``CREATE TABLE`` statement with its table and column TTLs (days > 0) added."""
    match = _CREATE_TABLE.match(statement)
    if match is None:
        return statement
    for rule in retention.rules_for(match.group(1)):
        days = retention.days[rule]
        if days <= 0:
            continue
        if rule.column is None:
            line = f"TTL {ttl_clause(rule, days)}"
            settings = _SETTINGS_LINE.search(statement)
            if settings is None:
                statement = f"{statement}\n{line}"
            else:
                statement = f"{statement[: settings.start()]}{line}\n{statement[settings.start():]}"
        else:
            column = re.compile(rf"^(\s+{re.escape(rule.column)}\s+[^\n]*?)(,?)$", re.MULTILINE)
            found = column.search(statement)
            if found is None:
                raise ValueError(f"{rule.table}.{rule.column}: no such column in the migration")
            clause = f"{found.group(1)} TTL {ttl_clause(rule, days)}{found.group(2)}"
            statement = statement[: found.start()] + clause + statement[found.end():]
    return statement


_DAYS = r"(.+?) \+ toIntervalDay\((\d+)\)"


def current_days(rule: TTLRule, create_table_query: str) -> int | None:
    """The TTL in days that a table has now (``system.tables.create_table_query``): 0 = none,
    None = a TTL of another shape (set by hand), which an explicit setting replaces."""
    if rule.column is None:
        engine = create_table_query.split(" ENGINE = ", 1)[-1]
        if " TTL " not in engine:
            return 0
        found = re.search(r" TTL " + _DAYS + r"(?: SETTINGS |$)", engine)
    else:
        definition = re.search(rf"`{re.escape(rule.column)}` ((?:(?!`).)*)", create_table_query)
        if definition is None:
            raise ValueError(f"{rule.table} has no column {rule.column}")
        if " TTL " not in definition.group(1):
            return 0
        found = re.search(r" TTL " + _DAYS + r"[,)]", definition.group(1))
    if found is None or found.group(1).replace(" ", "") != rule.time_expr.replace(" ", ""):
        return None
    return int(found.group(2))


def alter_statement(rule: TTLRule, days: int, target: str) -> str:
    """``ALTER TABLE … MODIFY TTL`` (or ``REMOVE TTL`` for 0 days) for one rule; ``target`` names the table that
    holds the rows (on a cluster: ``db.t_local ON CLUSTER c``)."""
    target = f"ALTER TABLE {target}"
    if rule.column is None:
        return f"{target} MODIFY TTL {ttl_clause(rule, days)}" if days > 0 else f"{target} REMOVE TTL"
    action = f"TTL {ttl_clause(rule, days)}" if days > 0 else "REMOVE TTL"
    return f"{target} MODIFY COLUMN {rule.column} {action}"
