"""The alert engine: one closed window in, alert transitions out. Pure (no I/O), picklable, clock injected.

Per window it evaluates the threshold rules, feeds the spike and drift detectors (one per metric and
grouping values, created lazily, fed only windows with enough calls), checks the budgets, and passes every
decision through the lifecycle so each incident fires once and resolves once.

A level rule with ``corroborate`` (the default latency rule: ``ttft_p50_ms``) also keeps a LevelTest of that
metric per series, fed every window with that metric's own calls (``Metric.calls``: TTFT counts the calls
that streamed). A new alert of the rule on a series is held back (observed as clear) unless the series'
corroborating metric is at least ``corroborate_z`` standard deviations beyond its level the watched way in
the same window; a series with no data for it (too few calls, or none: a model whose apps do not stream),
or whose corroborating test is still warming up, is judged on the rule's metrics alone, and an alert
already open is never held back.
"""

from __future__ import annotations

import math
import pickle
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from llmpulse.alerting.budgets import BudgetTracker, spend_specs
from llmpulse.alerting.config import AlertConfig, AnomalyRule, ThresholdRule
from llmpulse.alerting.counts import TAIL_CALLS, CountSettings, LevelTest, RateTest
from llmpulse.alerting.detectors import Detection, DetectorConfig, SeriesDetector, make_detector
from llmpulse.alerting.exceptions import AlertingError, StateFormatError
from llmpulse.alerting.lifecycle import Lifecycle, LifecyclePolicy, Signal, dedup_key
from llmpulse.alerting.metrics import METRICS, Dims, Needs, SeriesSpec, Values, WindowMetrics
from llmpulse.alerting.rules import SeriesRef, build_event, detection_signal, threshold_signal
from llmpulse.schemas.alert import AlertEvent, AlertKind

Clock = Callable[[], int]
#: 2: the level test knows its metric's quantile (a state of format 1 is learned anew from history)
STATE_FORMAT = 2


def system_clock() -> int:
    return time.time_ns() // 1_000_000


CountTest = RateTest | LevelTest
#: latencies that depend on how much is generated: level rules judge them given the output tokens per call
LENGTH_EXPLAINS = frozenset({"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_avg_ms"})


@dataclass
class DetectorSlot:
    detector: SeriesDetector | CountTest
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
    warmed: set[str] = field(default_factory=set)  # anomaly rules that learned the stored history

    def __setstate__(self, data: dict[str, Any]) -> None:
        if "warmed" not in data:  # a state saved before warm start: its rules with detectors have learned
            data["warmed"] = {key.split(":")[1] for key in data.get("detectors", {})}
        self.__dict__.update(data)


def needs(config: AlertConfig) -> Needs:
    """The series (spec -> metrics) and spend the engine reads for each window."""
    series: dict[SeriesSpec, set[str]] = {}
    for rule in config.threshold:
        series.setdefault(rule.spec(), set()).add(rule.metric)
    if config.anomaly.enabled:
        for arule in config.anomaly.rule:
            for spec in arule.specs():
                series.setdefault(spec, set()).update(arule.metrics)
            if _uses_exposure(arule):
                series.setdefault(arule.exposure_spec(), set()).add("requests")
            if arule.detector == "level" and LENGTH_EXPLAINS.intersection(arule.metrics):
                for spec in arule.specs():
                    series[spec].add("output_tokens_per_call")
            if arule.detector == "level" and arule.corroborate is not None:
                for spec in arule.specs():
                    series[spec].update({arule.corroborate, METRICS[arule.corroborate].calls})
            if arule.detector == "rate":  # a rate is tested as a count out of its trials
                for spec in arule.specs():
                    series[spec].update(_trials(m) for m in arule.metrics)
    return Needs({s: frozenset(m) for s, m in series.items()}, spend_specs(config.budget))


def history_needs(config: AlertConfig, rules: list[AnomalyRule]) -> Needs:
    """What warm start reads for ``rules``: their series only (no spend)."""
    sub = config.model_copy(update={"threshold": [], "budget": [],
                                    "anomaly": config.anomaly.model_copy(update={"rule": rules})})  # fmt: skip
    return Needs(needs(sub).series, ())


def _trials(metric: str) -> str:
    trials = METRICS[metric].trials
    if trials is None:
        raise AlertingError(f"{metric} is not a rate (it names no trials)")
    return trials


def _corroborating_inputs(metric: str, values: Values) -> tuple[float, float] | None:
    """(value, calls it is computed from) of a corroborating metric; None: no data, or too few calls."""
    value = values.get(metric)
    calls = values.get(METRICS[metric].calls) or 0.0
    if value is None or not math.isfinite(value) or value <= 0 or calls < METRICS[metric].min_calls(TAIL_CALLS):
        return None
    return float(value), float(calls)


def _corroborated(rule: AnomalyRule, z: float | None) -> bool:
    """A new alert may fire: the rule names no corroborating metric, the series has no judgement of it
    (no data, warming up), or it is at least ``corroborate_z`` beyond its level the watched way."""
    return rule.corroborate is None or z is None or z >= rule.corroborate_z


def _uses_exposure(rule: AnomalyRule) -> bool:
    return rule.detector == "level" and any(METRICS[m].additive for m in rule.metrics)


def _scaled(detection: Detection, scale: float) -> Detection:
    """A detection of value / scale, in the units of value."""
    if scale == 1.0:
        return detection

    def times(x: float | None) -> float | None:
        return None if x is None else x * scale

    return replace(detection, expected=times(detection.expected), lower=times(detection.lower),
                   upper=times(detection.upper))  # fmt: skip


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
            raise StateFormatError(f"alert engine state has format {fmt!r}; this version reads {STATE_FORMAT}")
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

    def _count_settings(self, rule: AnomalyRule) -> CountSettings:
        anomaly = self.config.anomaly
        kind_ratio = 2.0 if rule.detector == "rate" else 1.6
        return CountSettings(
            z_alert=anomaly.count_z if rule.detector == "rate" else anomaly.level_z,
            min_ratio=rule.min_ratio or kind_ratio,
            warmup_windows=anomaly.count_warmup_windows if rule.warmup_windows is None else rule.warmup_windows,
            warmup_calls=anomaly.count_warmup_calls,
            horizon=anomaly.count_horizon,
        )

    def _count_inputs(
        self, rule: AnomalyRule, metric: str, values: Values, metrics: WindowMetrics
    ) -> tuple[float, float, float, float | None] | None:
        """(value fed to the test, calls it stands for, scale back to the metric's units, covariate);
        None: no data, or too few calls for the metric (a percentile needs calls beyond it). A rate stands
        for its trials (refusals per judged answer: the answers judged)."""
        value = values.get(metric)
        requests = values.get(_trials(metric) if rule.detector == "rate" else "requests") or 0.0
        if value is None or not math.isfinite(value) or requests < METRICS[metric].min_calls(TAIL_CALLS):
            return None
        if requests <= 0:
            return None
        covariate = None
        if rule.detector == "level" and metric in LENGTH_EXPLAINS:
            per_call = values.get("output_tokens_per_call")
            covariate = math.log1p(per_call) if per_call is not None and math.isfinite(per_call) else None
        if not METRICS[metric].additive or rule.detector != "level":
            return float(value), float(requests), 1.0, covariate
        total = metrics.groups(rule.exposure_spec()).get((), {}).get("requests") or 0.0
        if total <= 0:
            return None
        return float(value) / total, float(total), float(total), None

    def _count_anomaly(
        self, rule: AnomalyRule, metrics: WindowMetrics, seen: set[str], window: tuple[int, int, int]
    ) -> list[AlertEvent]:
        """A count-aware rule: each window is judged with its calls; windows without calls are not judged."""
        policy = self.config.anomaly.lifecycle(rule)
        events = []
        for spec in rule.specs():
            support = self._corroboration(rule, metrics.groups(spec), window[0])
            for metric in rule.metrics:
                for dims, values in sorted(metrics.groups(spec).items()):
                    inputs = self._count_inputs(rule, metric, values, metrics)
                    if inputs is None:
                        continue  # no calls: _unseen() observes an open incident as clear
                    key = dedup_key("anomaly", rule.name, metric, dims)
                    ref = SeriesRef("anomaly", rule.name, metric, spec, dims, rule.severity, rule.team)
                    seen.add(key)
                    fed, calls, scale, covariate = inputs
                    slot = self._slot(key, rule, spec, dims, metric)
                    test = slot.detector
                    if isinstance(test, LevelTest):
                        detection = _scaled(test.update(window[0], fed, calls, covariate), scale)
                    else:
                        assert isinstance(test, RateTest)
                        detection = test.update(window[0], fed, calls)
                    slot.learned += 1
                    is_open = self.state.lifecycle.is_open(key)
                    signal = detection_signal(
                        detection, fed * scale, rule.direction, slot.learned, 0,
                        self.config.anomaly.outside_band, open_incident=is_open,
                    )  # fmt: skip
                    if signal is Signal.BREACH and not is_open and not _corroborated(rule, support.get(dims)):
                        signal = Signal.CLEAR
                    events += self._observe(key, ref, signal, policy, window, values.get(metric), detection)
        return events

    def _corroboration(self, rule: AnomalyRule, groups: dict[Dims, Values], ts_ms: int) -> dict[Dims, float | None]:
        """Per series of ``groups``: the z of the rule's corroborating metric in this window against its own
        level, signed the watched way (None: no data or still warming up), each series' test then fed the
        window. Empty for a rule without ``corroborate``."""
        if rule.corroborate is None:
            return {}
        support: dict[Dims, float | None] = {}
        for dims, values in sorted(groups.items()):
            inputs = _corroborating_inputs(rule.corroborate, values)
            if inputs is None:
                support[dims] = None
                continue
            test = self._corroborating_test(rule, dims)  # made with the rule's direction: z is signed its way
            support[dims] = test.window_z(*inputs)
            test.update(ts_ms, *inputs)
        return support

    def _corroborating_test(self, rule: AnomalyRule, dims: Dims) -> LevelTest:
        assert rule.corroborate is not None
        key = dedup_key("corroborate", rule.name, rule.corroborate, dims)
        slot = self.state.detectors.get(key)
        if slot is None:
            test = LevelTest(self._count_settings(rule), rule.direction, METRICS[rule.corroborate].quantile)
            slot = self.state.detectors[key] = DetectorSlot(test)
        assert isinstance(slot.detector, LevelTest)
        slot.learned += 1
        return slot.detector

    def learn_history(self, windows: list[WindowMetrics], rules: list[AnomalyRule]) -> int:
        """Warm start: ``rules`` learn stored windows (oldest first) without alerting; returns points learned.

        The windows are older than anything the engine will evaluate; nothing enters the lifecycle."""
        learned = 0
        for wm in windows:
            for rule in rules:
                for spec in rule.specs():
                    for metric in rule.metrics:
                        for dims, values in sorted(wm.groups(spec).items()):
                            learned += self._learn_point(rule, spec, dims, metric, values, wm)
                    if rule.detector == "level" and rule.corroborate is not None:
                        for dims, values in sorted(wm.groups(spec).items()):
                            inputs = _corroborating_inputs(rule.corroborate, values)
                            if inputs is not None:
                                self._corroborating_test(rule, dims).learn_one(wm.window_start_ms, *inputs)
        self.state.warmed.update(r.name for r in rules)
        return learned

    def _learn_point(
        self, rule: AnomalyRule, spec: SeriesSpec, dims: Dims, metric: str, values: Values, wm: WindowMetrics
    ) -> int:
        kind: AlertKind = "drift" if rule.detector == "drift" else "anomaly"
        key = dedup_key(kind, rule.name, metric, dims)
        if rule.counts:
            inputs = self._count_inputs(rule, metric, values, wm)
            if inputs is None:
                return 0
            slot = self._slot(key, rule, spec, dims, metric)
            if isinstance(slot.detector, LevelTest):
                slot.detector.learn_one(wm.window_start_ms, inputs[0], inputs[1], inputs[3])
            else:
                assert isinstance(slot.detector, RateTest)
                slot.detector.learn_one(wm.window_start_ms, inputs[0], inputs[1])
        else:
            anomaly = self.config.anomaly
            min_requests = anomaly.min_requests if rule.min_requests is None else rule.min_requests
            value = values.get(metric)
            requests = values.get("requests") or 0.0
            if value is None or not math.isfinite(value) or (metric != "requests" and requests < min_requests):
                return 0
            slot = self._slot(key, rule, spec, dims, metric)
            slot.detector.learn_one(wm.window_start_ms, float(value))
        slot.learned += 1
        return 1

    def unwarmed_rules(self) -> list[AnomalyRule]:
        """Anomaly rules that have not learned the stored history yet (a new engine, or a rule just added)."""
        if not self.config.anomaly.enabled:
            return []
        return [r for r in self.config.anomaly.rule if r.name not in self.state.warmed]

    def _anomaly(
        self, rule: AnomalyRule, metrics: WindowMetrics, seen: set[str], window: tuple[int, int, int]
    ) -> list[AlertEvent]:
        if rule.counts:
            return self._count_anomaly(rule, metrics, seen, window)
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
            detector: SeriesDetector | CountTest
            if rule.detector == "rate":
                detector = RateTest(self._count_settings(rule), rule.direction, METRICS[metric].typical_rate)
            elif rule.detector == "level":
                detector = LevelTest(self._count_settings(rule), rule.direction, METRICS[metric].quantile)
            else:
                detector = make_detector(rule.detector, self._detector_config(rule), _seed_for(self.state.seed, key))
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
