"""The alert engine: one closed window in, alert transitions out. Pure (no I/O), picklable, clock injected.

Per window it evaluates the threshold rules, feeds the spike and drift detectors (one per metric and
grouping values, created lazily, fed only windows with enough calls), checks the budgets, and passes every
decision through the lifecycle so each incident fires once and resolves once.
"""

from __future__ import annotations

import math
import pickle
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmpulse.alerting.budgets import BudgetTracker, spend_specs
from llmpulse.alerting.config import AlertConfig, AnomalyRule, ThresholdRule
from llmpulse.alerting.detectors import Detection, DetectorConfig, SeriesDetector, make_detector
from llmpulse.alerting.exceptions import AlertingError
from llmpulse.alerting.lifecycle import Lifecycle, LifecyclePolicy, Signal, dedup_key
from llmpulse.alerting.rules import SeriesRef, build_event, detection_signal, threshold_signal
from llmpulse.alerting.series import METRICS, Dims, Needs, SeriesSpec, Values, WindowMetrics
from llmpulse.schemas.alert import AlertEvent, AlertKind

Clock = Callable[[], int]
STATE_FORMAT = 1


def system_clock() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class DetectorSlot:
    detector: SeriesDetector
    learned: int = 0  # windows fed to the detector
    last: Detection | None = None  # the detector's decision on the last window fed to it


@dataclass
class EngineState:
    seed: int
    last_window_start_ms: int | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    refs: dict[str, SeriesRef] = field(default_factory=dict)  # incident key -> what it watches
    detectors: dict[str, DetectorSlot] = field(default_factory=dict)  # incident key -> its detector
    groups: dict[tuple[str, str, tuple[str, ...]], set[Dims]] = field(default_factory=dict)  # with detectors
    threshold_groups: dict[str, set[Dims]] = field(default_factory=dict)  # seen by additive threshold rules
    budgets: BudgetTracker = field(default_factory=BudgetTracker)


def needs(config: AlertConfig) -> Needs:
    """The series (spec -> metrics) and spend the engine reads for each window."""
    series: dict[SeriesSpec, set[str]] = {}
    for rule in config.threshold:
        series.setdefault(rule.spec(), set()).add(rule.metric)
    if config.anomaly.enabled:
        for arule in config.anomaly.rule:
            for spec in arule.specs():
                series.setdefault(spec, set()).update(arule.metrics)
    return Needs({s: frozenset(m) for s, m in series.items()}, spend_specs(config.budget))


def _seed_for(seed: int, key: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(key.encode())) % (2**31 - 1)


class AlertEngine:
    def __init__(self, config: AlertConfig, seed: int = 0, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or system_clock
        self.state = EngineState(seed)
        self._detector_configs: dict[str, DetectorConfig] = {}

    # -------------------------------------------------------------- persistence

    def state_bytes(self) -> bytes:
        return zlib.compress(pickle.dumps((STATE_FORMAT, self.state), protocol=5), 6)

    @classmethod
    def from_state(cls, data: bytes, config: AlertConfig, clock: Clock | None = None) -> AlertEngine:
        try:
            fmt, state = pickle.loads(zlib.decompress(data))
        except Exception as exc:
            raise AlertingError(f"cannot read the alert engine state: {exc}") from exc
        if fmt != STATE_FORMAT or not isinstance(state, EngineState):
            raise AlertingError(f"alert engine state has format {fmt!r}; this version reads {STATE_FORMAT}")
        engine = cls(config, state.seed, clock)
        engine.state = state
        return engine

    def __getstate__(self) -> dict[str, object]:
        """Pickles without its clock (a clock may be a lambda); an unpickled engine uses the system clock."""
        return {"config": self.config, "state": self.state}

    def __setstate__(self, data: dict[str, Any]) -> None:
        self.config, self.state = data["config"], data["state"]
        self.clock = system_clock
        self._detector_configs = {}

    @property
    def last_window_start_ms(self) -> int | None:
        return self.state.last_window_start_ms

    # -------------------------------------------------------------- evaluation

    def on_window(self, window_start_ms: int, window_end_ms: int, metrics: WindowMetrics) -> list[AlertEvent]:
        """Alert transitions caused by one closed window. A window at or before the last one is ignored."""
        last = self.state.last_window_start_ms
        if last is not None and window_start_ms <= last:
            return []
        now = self.clock()
        events: list[AlertEvent] = []
        seen: set[str] = set()
        window = (window_start_ms, window_end_ms, now)
        for rule in self.config.threshold:
            events += self._threshold(rule, metrics, seen, window)
        if self.config.anomaly.enabled:
            for arule in self.config.anomaly.rule:
                events += self._anomaly(arule, metrics, seen, window)
        events += self._unseen(seen, window)
        events += self.state.budgets.on_window(
            self.config.budget, window_start_ms, window_end_ms, metrics.spend, now
        )
        self.state.last_window_start_ms = window_start_ms
        return events

    def _observe(
        self,
        key: str,
        ref: SeriesRef,
        signal: Signal,
        policy: LifecyclePolicy,
        window: tuple[int, int, int],
        observed: float | None,
        detection: Detection | None = None,
    ) -> list[AlertEvent]:
        lifecycle = self.state.lifecycle
        transition = lifecycle.observe(key, window[0], signal, policy)
        if key in lifecycle.states:
            self.state.refs[key] = ref
        else:
            self.state.refs.pop(key, None)
        if transition is None:
            return []
        return [build_event(ref, key, transition, window[0], window[1], window[2], observed, detection)]

    def _threshold(
        self, rule: ThresholdRule, metrics: WindowMetrics, seen: set[str], window: tuple[int, int, int]
    ) -> list[AlertEvent]:
        spec, events = rule.spec(), []
        policy = rule.lifecycle()
        groups: dict[Dims, Values] = dict(metrics.groups(spec))
        if METRICS[rule.metric].additive:
            # a volume is 0 in a window without calls (so "requests < 1" can fire): fill in known groups
            known = self.state.threshold_groups.setdefault(rule.name, set())
            known.update(groups)
            for dims in known - groups.keys():
                groups[dims] = {rule.metric: 0.0, "requests": 0.0}
        for dims, values in sorted(groups.items()):
            key = dedup_key("threshold", rule.name, rule.metric, dims)
            ref = SeriesRef(
                "threshold", rule.name, rule.metric, spec, dims, rule.severity, rule.team, rule.value, rule.op
            )
            value = values.get(rule.metric)
            enough = (values.get("requests") or 0.0) >= rule.min_requests
            signal = threshold_signal(rule.op, value, rule.value, rule.resolve_value, enough)
            seen.add(key)
            events += self._observe(key, ref, signal, policy, window, value)
        return events

    def _detector_config(self, rule: AnomalyRule) -> DetectorConfig:
        cfg = self._detector_configs.get(rule.name)
        if cfg is None:
            anomaly = self.config.anomaly
            warmup = anomaly.warmup_windows if rule.warmup_windows is None else rule.warmup_windows
            tuning = {**anomaly.detector, "warmup_points": warmup, "direction": rule.direction}
            tuning.setdefault("cooldown_points", 0)  # the lifecycle owns incidents, not the detector
            cfg = self._detector_configs[rule.name] = DetectorConfig(**tuning)
        return cfg

    def _anomaly(
        self, rule: AnomalyRule, metrics: WindowMetrics, seen: set[str], window: tuple[int, int, int]
    ) -> list[AlertEvent]:
        anomaly = self.config.anomaly
        min_requests = anomaly.min_requests if rule.min_requests is None else rule.min_requests
        warmup = anomaly.warmup_windows if rule.warmup_windows is None else rule.warmup_windows
        policy = anomaly.lifecycle(rule)
        kind: AlertKind = "anomaly" if rule.detector == "spike" else "drift"
        events = []
        for spec in rule.specs():
            groups = metrics.groups(spec)
            for metric in rule.metrics:
                zero_fill = METRICS[metric].additive and (metric == "requests" or min_requests == 0)
                candidates: dict[Dims, Values | None] = dict.fromkeys(self._known(rule, spec, metric), None)
                candidates.update(groups)
                for dims, values in sorted(candidates.items()):
                    key = dedup_key(kind, rule.name, metric, dims)
                    if values is None and not zero_fill:
                        continue  # no data: _unseen() clears the key if it is open
                    value = 0.0 if values is None else values.get(metric)
                    requests = 0.0 if values is None else values.get("requests") or 0.0
                    ref = SeriesRef(kind, rule.name, metric, spec, dims, rule.severity, rule.team)
                    seen.add(key)
                    gated = metric != "requests" and requests < min_requests
                    if value is None or gated or not math.isfinite(value):
                        events += self._observe(key, ref, Signal.CLEAR, policy, window, value)
                        continue
                    slot = self._slot(key, rule, spec, dims, metric)
                    detection = slot.detector.update(window[0], float(value))
                    slot.learned += 1
                    slot.last = detection
                    signal = detection_signal(
                        detection,
                        float(value),
                        rule.direction,
                        slot.learned,
                        warmup,
                        anomaly.outside_band,
                        open_incident=self.state.lifecycle.is_open(key),
                    )
                    events += self._observe(key, ref, signal, policy, window, value, detection)
        return events

    def _known(self, rule: AnomalyRule, spec: SeriesSpec, metric: str) -> set[Dims]:
        """Groups that already have a detector for this rule, grouping and metric."""
        return self.state.groups.get((rule.name, metric, spec.group_by), set())

    def _slot(self, key: str, rule: AnomalyRule, spec: SeriesSpec, dims: Dims, metric: str) -> DetectorSlot:
        slot = self.state.detectors.get(key)
        if slot is None:
            detector = make_detector(
                rule.detector, self._detector_config(rule), _seed_for(self.state.seed, key)
            )
            slot = self.state.detectors[key] = DetectorSlot(detector)
            self.state.groups.setdefault((rule.name, metric, spec.group_by), set()).add(dims)
        return slot

    def _unseen(self, seen: set[str], window: tuple[int, int, int]) -> list[AlertEvent]:
        """Open incidents without data this window: observed as CLEAR (closed if their rule is gone)."""
        events = []
        for key in sorted(set(self.state.lifecycle.active_keys()) - seen):
            ref = self.state.refs.get(key)
            policy = self._policy(ref)
            if ref is None or policy is None:
                transition = self.state.lifecycle.close(key)
                self.state.refs.pop(key, None)
                if transition is not None and ref is not None:
                    events.append(build_event(ref, key, transition, window[0], window[1], window[2]))
                continue
            events += self._observe(key, ref, Signal.CLEAR, policy, window, None)
        return events

    def _policy(self, ref: SeriesRef | None) -> LifecyclePolicy | None:
        if ref is None:
            return None
        if ref.kind == "threshold":
            for rule in self.config.threshold:
                if rule.name == ref.rule:
                    return rule.lifecycle()
            return None
        if not self.config.anomaly.enabled:
            return None
        for arule in self.config.anomaly.rule:
            if arule.name == ref.rule:
                return self.config.anomaly.lifecycle(arule)
        return None
