"""The alert configuration: a TOML file (see ``llmpulse/data/alerts.example.toml``), validated with pydantic.

Sections: ``[[threshold]]`` rules, ``[[budget]]`` spend limits, ``[anomaly]`` detectors, ``[routing]`` and
``[destinations.*]``. The last two are the bridge's format (``llmpulse.alerting.routing_config``), validated
here with the same model the bridge reads, so one file serves both. Secrets never live in the file: a destination
names the environment variable that holds its webhook URL or routing key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from llmpulse.alerting.exceptions import AlertConfigError
from llmpulse.alerting.lifecycle import LifecyclePolicy
from llmpulse.alerting.metrics import METRICS, RATE_METRICS, SeriesSpec
from llmpulse.alerting.routing_config import RoutingConfig
from llmpulse.schemas.alert import AlertEvent, Severity
from llmpulse.tomlfile import TomlFileError, parse_toml, read_toml

Dimension = Literal["provider", "model", "app", "team"]
Op = Literal[">", ">=", "<", "<="]
Direction = Literal["up", "down", "both"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE_TAG_RE = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\]|function-.*)$")
_SECRET_KEYS = {"webhook_url", "url", "routing_key", "integration_key", "token", "api_key", "secret"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"name {value!r} must be 1-80 letters, digits, '_', '.', '-' (it is part of alert ids)"
        )
    return value


def _check_metric(value: str) -> str:
    if value not in METRICS:
        raise ValueError(f"unknown metric {value!r}; known: {', '.join(METRICS)}")
    return value


def _spec(where: Mapping[Dimension, str | list[str]], group_by: Sequence[Dimension]) -> SeriesSpec:
    """``team = "*"`` in ``where`` means one series per team (like ``group_by``)."""
    stars = [dim for dim, v in where.items() if v == "*"]
    filters: dict[str, Iterable[str]] = {
        dim: [v] if isinstance(v, str) else v for dim, v in where.items() if v != "*"
    }
    return SeriesSpec.of([*group_by, *stars], filters)


def _check_where(where: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
    for dim, value in where.items():
        values = [value] if isinstance(value, str) else value
        if not values or any(not v for v in values):
            raise ValueError(
                f"where.{dim}: give a non-empty value, a list of values, or '*' (one series each)"
            )
        if isinstance(value, list) and "*" in value:
            raise ValueError(f"where.{dim}: '*' stands alone (one series per {dim}), not inside a list")
    return where


Name = Annotated[str, AfterValidator(_check_name)]
MetricName = Annotated[str, AfterValidator(_check_metric)]
Where = Annotated[dict[Dimension, str | list[str]], AfterValidator(_check_where)]


class ThresholdRule(_Strict):
    name: Name
    metric: MetricName
    where: Where = Field(default_factory=dict)
    group_by: list[Dimension] = Field(default_factory=list)
    op: Op = ">"
    value: float
    resolve_value: float | None = Field(
        default=None, description="hysteresis: resolve only on this side of it"
    )
    for_windows: int = Field(default=1, ge=1, le=1440)
    resolve_windows: int = Field(default=3, ge=1, le=1440)
    flap_windows: int = Field(default=5, ge=0, le=1440)
    severity: Severity = "warning"
    min_requests: int = Field(default=0, ge=0, description="windows with fewer calls are not evaluated")
    team: str = Field(default="", description="owning team for routing when the rule is not per team")
    description: str = ""

    @model_validator(mode="after")
    def _check_resolve(self) -> ThresholdRule:
        if self.resolve_value is not None:
            upward = self.op in (">", ">=")
            if (upward and self.resolve_value > self.value) or (
                not upward and self.resolve_value < self.value
            ):
                side = "at or below" if upward else "at or above"
                raise ValueError(f"resolve_value {self.resolve_value} must be {side} value {self.value}")
        return self

    def spec(self) -> SeriesSpec:
        return _spec(self.where, self.group_by)

    def lifecycle(self) -> LifecyclePolicy:
        return LifecyclePolicy(self.for_windows, self.resolve_windows, self.flap_windows)


def _by_model() -> list[list[Dimension]]:
    return [["model"]]


COUNT_DETECTORS = ("rate", "level")


class AnomalyRule(_Strict):
    name: Name
    detector: Literal["spike", "drift", "rate", "level"] = "spike"
    metrics: list[MetricName] = Field(min_length=1)
    group_by: list[list[Dimension]] = Field(default_factory=_by_model, min_length=1)
    where: Where = Field(default_factory=dict)
    direction: Direction = "both"
    severity: Severity = "warning"
    min_requests: int | None = Field(default=None, ge=0, description="default: [anomaly] min_requests")
    warmup_windows: int | None = Field(default=None, ge=0, description="default: [anomaly] warmup_windows")
    for_windows: int | None = Field(default=None, ge=1, le=1440)
    resolve_windows: int | None = Field(default=None, ge=1, le=1440)
    flap_windows: int | None = Field(default=None, ge=0, le=1440)
    min_ratio: float | None = Field(
        default=None, gt=1.0, description="rate/level: alert only at this many times the level (or 1/x of it)"
    )
    corroborate: MetricName | None = Field(
        default=None,
        description="level: a new alert also needs this metric of the same series beyond its own level "
        "(by corroborate_z standard deviations, the watched way); a series without data for it is not held back",
    )
    corroborate_z: float = Field(default=1.5, gt=0.0, description="level: see corroborate")
    team: str = ""

    @model_validator(mode="after")
    def _check_kind(self) -> AnomalyRule:
        if self.detector == "rate" and any(m not in RATE_METRICS for m in self.metrics):
            raise ValueError(f"detector 'rate' tests a count out of its trials: metrics must be among "
                             f"{list(RATE_METRICS)}")  # fmt: skip
        rates = [m for m in self.metrics if m in RATE_METRICS]
        if self.detector == "level" and rates:
            raise ValueError(f"{rates[0]}: use detector 'rate' (it counts {rates[0]}'s events and trials)")
        if self.min_ratio is not None and self.detector not in COUNT_DETECTORS:
            raise ValueError("min_ratio applies to the 'rate' and 'level' detectors")
        if self.corroborate is not None:
            if self.detector != "level":
                raise ValueError("corroborate applies to the 'level' detector")
            if METRICS[self.corroborate].additive or self.corroborate in RATE_METRICS:
                raise ValueError(f"corroborate: {self.corroborate} is not a level (a percentile or a per-call mean)")
        return self

    @property
    def counts(self) -> bool:
        """A count-aware test (weighs each window by its calls) rather than a value-only detector."""
        return self.detector in COUNT_DETECTORS

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a metric is listed twice")
        return value

    @field_validator("group_by")
    @classmethod
    def _groupings(cls, value: list[list[str]]) -> list[list[str]]:
        keys = [tuple(sorted(set(g))) for g in value]
        if len(set(keys)) != len(keys):
            raise ValueError("a grouping is listed twice")
        return value

    def specs(self) -> list[SeriesSpec]:
        return [_spec(self.where, g) for g in self.group_by]

    def exposure_spec(self) -> SeriesSpec:
        """All the traffic the rule looks at, as one series (a volume is judged relative to its calls)."""
        return _spec({d: v for d, v in self.where.items() if v != "*"}, [])


def _default_anomaly_rules() -> list[AnomalyRule]:
    """The default rules: each series against its own learned level, every window weighed by its calls.

    - error rate per model and per provider (a provider outage hits all its models), count-aware: errors
      are judged as a binomial count against the series' own rate, so 4 errors in 40 calls can page and
      1 in 12 does not; it pages at twice the usual rate and at least one percentage point more;
    - p50 and p95 latency per model, against the model's own level (multi-second latencies are normal
      for some models and slow for others: no absolute threshold), at 1.6x the level or more, judged given
      the window's output tokens per call; a new alert also needs the model's median time to first token
      at least 1.5 standard deviations above its own level (``corroborate``): minutes of unusually long
      answers raise the latency, not the TTFT, while a slow model raises both (a model without TTFT data,
      e.g. one whose apps do not stream, is judged on latency alone). On the demo's quiet replays
      (development seeds 100-349) this removed all 3 false latency alerts and delayed no latency spike
      (fresh seeds 350-449: no change, 1 quiet alert left whose minute had 1 streamed call);
    - spend per team relative to all traffic in the window (a burst of ordinary traffic is not a spend
      anomaly, a team spending twice its usual share of it is);
    - answer quality, count-aware like the error rate (each a count out of its trials, against the series'
      own rate): refusals per judged answer per app, thumbs down per thumbs given per app and per model
      (dissatisfaction), toxic prompts or answers per model-judged call per app, and answers with PII per
      call per app (PII appearing in responses; found only with text capture on).
    """
    return [
        AnomalyRule(
            name="error-rate",
            detector="rate",
            metrics=["error_rate"],
            group_by=[["model"], ["provider"]],
            direction="up",
            severity="error",
        ),
        AnomalyRule(
            name="latency-level",
            detector="level",
            metrics=["latency_p50_ms", "latency_p95_ms"],
            group_by=[["model"]],
            direction="up",
            corroborate="ttft_p50_ms",
            corroborate_z=1.5,
        ),
        AnomalyRule(
            name="team-spend",
            detector="level",
            metrics=["cost_usd"],
            group_by=[["team"]],
            direction="up",
            min_ratio=2.0,
        ),
        AnomalyRule(name="refusal-rate", detector="rate", metrics=["refusal_rate"], group_by=[["app"]], direction="up"),
        AnomalyRule(
            name="dissatisfaction",
            detector="rate",
            metrics=["thumbs_down_share"],
            group_by=[["app"], ["model"]],
            direction="up",
        ),
        AnomalyRule(name="toxic-rate", detector="rate", metrics=["toxic_rate"], group_by=[["app"]], direction="up"),
        AnomalyRule(
            name="response-pii",
            detector="rate",
            metrics=["response_pii_rate"],
            group_by=[["app"]],
            direction="up",
            severity="error",
        ),
    ]


class AnomalyConfig(_Strict):
    enabled: bool = True
    warmup_windows: int = Field(
        default=120, ge=0, description="spike/drift: windows a series is learned before it may alert"
    )
    min_requests: int = Field(
        default=20, ge=0, description="spike/drift: windows with fewer calls are not fed to detectors"
    )
    outside_band: bool = Field(default=True, description="alert only when the value leaves the normal band")
    for_windows: int = Field(default=1, ge=1, le=1440)
    resolve_windows: int = Field(default=2, ge=1, le=1440)
    flap_windows: int = Field(default=2, ge=0, le=1440)
    history_days: float = Field(
        default=7.0, ge=0.0, le=90.0,
        description="warm start: a new evaluator or a new rule first learns this much of the stored rollups",
    )
    count_z: float = Field(
        default=5.0, gt=0.0, description="rate: flag at a tail probability of this many standard deviations"
    )
    level_z: float = Field(
        default=4.5, gt=0.0, description="level: flag at this many standard deviations above the level"
    )
    count_warmup_windows: int = Field(
        default=20, ge=0, description="rate/level: normal windows with calls learned before alerting"
    )
    count_warmup_calls: int = Field(default=300, ge=0, description="rate/level: and calls in them")
    count_horizon: int = Field(
        default=240, ge=10, le=100_000, description="rate/level: windows behind the learned level"
    )
    detector: dict[str, Any] = Field(
        default_factory=dict, description="advanced detector tuning: DetectorConfig fields"
    )
    rule: list[AnomalyRule] = Field(default_factory=_default_anomaly_rules)

    @field_validator("detector")
    @classmethod
    def _tuning(cls, value: dict[str, Any]) -> dict[str, Any]:
        from llmpulse.alerting.detectors import DetectorConfig

        DetectorConfig(**value)  # raises a ValidationError naming the bad key
        return value

    def lifecycle(self, rule: AnomalyRule) -> LifecyclePolicy:
        return LifecyclePolicy(
            rule.for_windows or self.for_windows,
            rule.resolve_windows or self.resolve_windows,
            self.flap_windows if rule.flap_windows is None else rule.flap_windows,
        )


class Budget(_Strict):
    name: Name
    team: str | None = None
    app: str | None = None
    user: str | None = None
    daily_usd: float | None = Field(default=None, gt=0)
    monthly_usd: float | None = Field(default=None, gt=0)
    alert_at: list[float] = Field(default_factory=lambda: [0.8, 1.0], min_length=1)
    projection: bool = Field(default=True, description="alert when the burn rate would overrun the limit")
    burn_window_minutes: int = Field(
        default=60, ge=1, le=1440, description="burn rate = spend over this window"
    )
    project_from: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="project only once this fraction is spent"
    )
    severity: Severity = "warning"
    limit_severity: Severity = Field(default="error", description="severity of fractions >= 1.0")
    owner: str = Field(default="", description="owning team for routing (app and user budgets)")

    @field_validator("alert_at")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0 < f <= 10 for f in value):
            raise ValueError("alert_at fractions must be in (0, 10], e.g. [0.8, 1.0]")
        return sorted(set(value))

    @model_validator(mode="after")
    def _check(self) -> Budget:
        scopes = [s for s in ("team", "app", "user") if getattr(self, s) is not None]
        if len(scopes) != 1:
            raise ValueError('set exactly one of team, app, user (a name, or "*" for each)')
        if not getattr(self, scopes[0]):
            raise ValueError(f'{scopes[0]} must be a name or "*"')
        if self.daily_usd is None and self.monthly_usd is None:
            raise ValueError("set daily_usd and/or monthly_usd")
        return self

    @property
    def scope(self) -> Literal["team", "app", "user"]:
        return "team" if self.team is not None else "app" if self.app is not None else "user"

    @property
    def subject(self) -> str:
        return str(getattr(self, self.scope))

    def limits(self) -> dict[Literal["day", "month"], float]:
        out: dict[Literal["day", "month"], float] = {}
        if self.daily_usd is not None:
            out["day"] = self.daily_usd
        if self.monthly_usd is not None:
            out["month"] = self.monthly_usd
        return out


def _check_destinations(data: Any) -> None:
    """Secrets never in the file: a destination names the environment variable that holds its secret."""
    if not isinstance(data, dict):
        return
    for kind, entries in data.items():
        for name, entry in (entries or {}).items() if isinstance(entries, dict) else ():
            if not isinstance(entry, dict):
                continue
            where = f"[destinations.{kind}.{name}]"
            found = sorted(k for k in entry if k in _SECRET_KEYS)
            if found:
                raise ValueError(
                    f"{where}: {found[0]!r}: secrets are not allowed in the file; put the secret in an "
                    "environment variable and give its name (webhook_url_env / routing_key_env)"
                )
            for key, value in entry.items():
                if key.endswith("_env") and isinstance(value, str) and not _ENV_RE.match(value):
                    raise ValueError(f"{where}: {key} = {value!r} is not an environment variable name")


class AlertConfig(_Strict):
    """The whole file. ``routing`` holds ``[routing]`` and ``[destinations.*]``, in the bridge's own model."""

    threshold: list[ThresholdRule] = Field(default_factory=list)
    budget: list[Budget] = Field(default_factory=list)
    anomaly: AnomalyConfig = Field(default_factory=AnomalyConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig.console_only)

    @model_validator(mode="before")
    @classmethod
    def _routing_section(cls, data: Any) -> Any:
        if not isinstance(data, dict) or ("routing" not in data and "destinations" not in data):
            return data
        data = dict(data)
        destinations = data.pop("destinations", {})
        _check_destinations(destinations)
        routing = data.get("routing", {})
        if isinstance(routing, dict):
            data["routing"] = {**routing, "destinations": destinations}
        return data

    @model_validator(mode="after")
    def _check(self) -> AlertConfig:
        seen: set[str] = set()
        names = [r.name for r in self.threshold] + [r.name for r in self.anomaly.rule]
        for name in names + [b.name for b in self.budget]:
            if name in seen:
                raise ValueError(f"name {name!r} is used twice (rule and budget names must be unique)")
            seen.add(name)
        return self

    def destinations_for(self, alert: AlertEvent) -> list[str]:
        """Where an alert goes: the destinations of every matching route, each once (the bridge's rule)."""
        return self.routing.destinations_for(alert)


def default_config() -> AlertConfig:
    """No file: the default anomaly rules (``_default_anomaly_rules``), no thresholds, no budgets.

    Fixed thresholds are not defaults: a 3 s p95 fires all day on models whose normal p95 is 4 s, and a
    0.5% error rate on any provider that rate-limits. Spend limits depend on the team. Both are one
    ``[[threshold]]`` / ``[[budget]]`` entry away (``alerts.example.toml``).
    """
    return AlertConfig()


def example_path() -> Path:
    return Path(str(resources.files("llmpulse") / "data" / "alerts.example.toml"))


# ---------------------------------------------------------------- loading, with clear errors


def _entry_label(loc: tuple[int | str, ...], data: Any) -> str:
    """('threshold', 1, 'metric') -> "[[threshold]] #2 'p95' > metric"; '' for the whole file."""
    parts: list[str] = []
    node, section, i = data, "", 0
    while i < len(loc):
        key = loc[i]
        child = node.get(key) if isinstance(node, dict) and isinstance(key, str) else None
        if isinstance(child, list) and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            index = int(loc[i + 1])
            item = child[index] if index < len(child) else None
            if isinstance(item, dict):
                name = item.get("name")
                label = f"[[{section}{key}]] #{index + 1}" + (f" {name!r}" if isinstance(name, str) else "")
                parts = [label]  # the [[table]] header says where it is
            else:
                parts.append(f"{key} #{index + 1}")
            node, i = item, i + 2
        else:
            if isinstance(child, dict):
                section = f"{section}{key}."
            parts.append(str(key))
            node, i = child, i + 1
    return " > ".join(parts)


def _format_errors(exc: ValidationError, data: Any, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and _TYPE_TAG_RE.match(x)))
        if loc[:2] == ("routing", "destinations"):
            loc = loc[1:]  # [destinations] is a top-level table in the file
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see alerts.example.toml)"
        where = _entry_label(loc, data)
        lines.append(f"{source}: {where}: {msg}" if where else f"{source}: {msg}")
    return "\n".join(lines)


def parse_alert_config(text: str, source: str = "<string>") -> AlertConfig:
    try:
        data = parse_toml(text, source)
    except TomlFileError as exc:
        raise AlertConfigError(str(exc)) from None
    return _validate(data, source)


def _validate(data: dict[str, Any], source: str) -> AlertConfig:
    try:
        return AlertConfig.model_validate(data)
    except ValidationError as exc:
        raise AlertConfigError(_format_errors(exc, data, source)) from None


def load_alert_config(path: str | Path | None = None) -> AlertConfig:
    """The configuration in ``path`` (TOML), or the defaults when ``path`` is None."""
    if path is None:
        return default_config()
    try:
        data = read_toml(path)
    except TomlFileError as exc:
        raise AlertConfigError(str(exc)) from None
    return _validate(data, str(Path(path)))
