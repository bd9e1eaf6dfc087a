"""The spike detector: spikes, dips, sudden changes and never-seen moves in a windowed metric, online.

Per point:

1. Two baselines predict the value: a rolling median of recent learned values ("local") and, once a
   season of history exists, the time-of-day profile plus the recent median offset from it
   ("seasonal"). The one with the smaller recent error is used, so a daily pattern is expected rather
   than flagged, and a series without one is not forced into one.
2. The residual over the residual scale is a z-score, squashed into a raw surprise in [0, 1).
3. The anomaly likelihood (Numenta's post-processing for HTM) turns the recent average of raw surprises
   into a score in [0, 1] calibrated for this series against a long memory (``history_points``) of its
   own surprises (0.5 is a one-in-100,000 tail): a series that is always a bit surprising does not page,
   a quiet one pages on its first real surprise. A lone point whose |z| exceeds 1.5 times the largest
   recent deviation (a maximum decaying over 1,000 points) by about 4.4 also reaches 0.5 on its
   own: a clean spike needs no company, while a series whose spikes are routine keeps a high maximum.
4. Context novelty (after NAB's contextOSE, and the "spatial anomaly" of NAB's HTM detector:
   ``novelty.py``): a point far outside the normal band (|z| >= 6) that completes a sequence of coarse levels
   the series never produced, or lies beyond the range it ever showed, scores ``alert_threshold``: it is
   flagged (when only the longer contexts are new, a fraction of it). The score is the largest of the
   three. Tying novelty to the threshold keeps the score calibrated: the best threshold on any set of
   series stays at the live one.
5. Decision: after warm-up, a point scoring at least ``alert_threshold`` is flagged; a flagged point in a
   watched ``direction`` alerts unless a watched flagged point came in the last ``cooldown_points``
   (0 in the live engine: its lifecycle owns incidents). ``Detection.score`` rests after a watched flag,
   as contextOSE's and KNN-CAD's do: for ``rest_points`` (and inside a cooldown) it is capped at half
   the threshold, so one episode is one peak of the score. It is 0 during warm-up.
6. Flagged points are not learned by the level, the offsets or the model choice: a long anomaly does not
   become the baseline. The scales and the likelihood learn them clipped (they learn that something
   happened, not how big it was), and the time-of-day profile learns every point (it takes the median
   over days, so one odd day does not move it, and a pattern that recurs every day becomes expected).
   If a flagged run lasts ``max_flagged_run`` points, it is the new normal: its points are learned.
   The novelty memory learns every point.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from river import stats

from llmpulse.alerting.detectors.base import Detection, DetectorConfig
from llmpulse.alerting.detectors.baseline import ResidualScale, RollingLevel
from llmpulse.alerting.detectors.likelihood import AnomalyLikelihood, tail_to_score
from llmpulse.alerting.detectors.novelty import ContextNovelty
from llmpulse.alerting.detectors.seasonal import SeasonalProfile

BAND_Z = 4.0  # the normal band is expected +/- this many scales; flagged residuals are learned clipped here
RAW_Z = 4.0  # z at which the raw surprise is 1 - 1/e
LIKELIHOOD_CLIP_Z = 4.0  # flagged moving averages are learned at most this many deviations high
SPIKE_RATIO = 1.5  # a lone spike must exceed 1.5 x the largest recent |z| (by ~4.4 more to reach 0.5)
EXTREME_MEMORY_POINTS = 1000  # the largest recent |z| decays e-fold over this many points
NOVELTY_Z = 1.5 * BAND_Z  # a new move is news when the value is also far outside the normal band
REST_FACTOR = 0.5  # inside an open incident the score is at most this fraction of the threshold
_MINUTE_MS = 60_000
_SQRT2 = math.sqrt(2.0)


def raw_surprise(z: float) -> float:
    """A z-score squashed into [0, 1): 0 at z = 0, about 0.63 at RAW_Z, about 0.95 at 3 * RAW_Z."""
    return 1.0 - math.exp(-abs(z) / RAW_Z)


def _clip(x: float, limit: float) -> float:
    return max(-limit, min(limit, x))


@dataclass(frozen=True)
class Assessment:
    """Everything ``update`` needs about one point, computed without changing the detector."""

    score: float
    raw: float
    z: float
    expected: float | None
    scale: float
    residual_local: float | None
    residual_seasonal: float | None
    local_scale: float
    seasonal_scale: float


class SpikeDetector:
    """See the module docstring. Pickles; deterministic (``seed`` is kept for the shared contract)."""

    def __init__(self, config: DetectorConfig | None = None, seed: int = 0) -> None:
        self.config = config if config is not None else DetectorConfig()
        self.seed = seed
        cfg = self.config
        self._level = RollingLevel(cfg.window_points)
        self._local_scale = ResidualScale(cfg.scale_points, cfg.min_relative_scale)
        self._season: SeasonalProfile | None = None
        if cfg.seasonality:
            self._season = SeasonalProfile(
                cfg.season_period_minutes * _MINUTE_MS,
                cfg.season_bucket_minutes * _MINUTE_MS,
                cfg.season_memory,
            )
        self._season_offset = RollingLevel(cfg.window_points)
        self._season_scale = ResidualScale(cfg.scale_points, cfg.min_relative_scale)
        # Model choice: recent mean absolute error of each baseline, over every point.
        self._error_local = stats.EWMean(fading_factor=2.0 / (cfg.scale_points + 1))
        self._error_seasonal = stats.EWMean(fading_factor=2.0 / (cfg.scale_points + 1))
        self._compared = 0
        self._likelihood = AnomalyLikelihood(cfg.history_points, cfg.average_points)
        self._extreme = 0.0  # largest recent |z| of learned points, decaying over history_points
        self._extreme_decay = math.exp(-1.0 / EXTREME_MEMORY_POINTS)
        self._learned = 0
        self._flagged_run: deque[tuple[int, float]] = deque(maxlen=cfg.max_flagged_run)
        self._novelty = ContextNovelty(cfg.novelty_levels, cfg.novelty_order) if cfg.novelty_levels else None
        self._quiet_for = max(cfg.cooldown_points, cfg.rest_points)  # points since the last watched flag

    @property
    def learned(self) -> int:
        """Points learned so far (warm-up counts these)."""
        return self._learned

    # -- river contract -------------------------------------------------------------------------------

    def score_one(self, ts_ms: int, value: float) -> float:
        """The surprise score of the point, in [0, 1], without learning it (no cooldown applied)."""
        return self._assess(ts_ms, value).score

    def learn_one(self, ts_ms: int, value: float) -> None:
        """Learn the point unconditionally (as during warm-up)."""
        a = self._assess(ts_ms, value)
        self._likelihood.observe(a.raw)
        self._compare(a)
        self._learn(ts_ms, value, a)
        if self._novelty is not None:
            self._novelty.learn_one(value)

    def update(self, ts_ms: int, value: float) -> Detection:
        """Score, decide, then learn unless flagged."""
        cfg = self.config
        a = self._assess(ts_ms, value)
        warming_up = self._learned < cfg.warmup_points
        direction = None
        if a.expected is not None and value != a.expected:
            direction = "up" if value > a.expected else "down"
        flagged = not warming_up and a.score >= cfg.alert_threshold
        watched = flagged and cfg.direction in ("both", direction)
        alert = watched and self._quiet_for >= cfg.cooldown_points
        score = 0.0 if warming_up else a.score  # no verdict before the warm-up ends
        resting = self._quiet_for < cfg.rest_points
        if (flagged and not alert) or resting:
            score = min(score, REST_FACTOR * cfg.alert_threshold)
        self._quiet_for = 0 if watched else self._quiet_for + 1

        self._likelihood.observe(a.raw)
        self._compare(a)
        if self._novelty is not None:
            self._novelty.learn_one(value)
        if self._season is not None:
            self._season.learn_one(ts_ms, value)
        if flagged:
            self._learn_clipped(a)
            self._flagged_run.append((ts_ms, value))
            if len(self._flagged_run) >= cfg.max_flagged_run:
                self._accept_new_normal()
        else:
            self._flagged_run.clear()
            self._learn(ts_ms, value, a, season=False)

        lower = upper = None
        if a.expected is not None:
            lower, upper = a.expected - BAND_Z * a.scale, a.expected + BAND_Z * a.scale
        return Detection(
            score=score,
            anomalous=alert,
            expected=a.expected,
            lower=lower,
            upper=upper,
            warming_up=warming_up,
            direction=direction if flagged else None,
        )

    # -- internals ------------------------------------------------------------------------------------

    def _assess(self, ts_ms: int, value: float) -> Assessment:
        level = self._level.get()
        if level is None:
            return Assessment(0.0, 0.0, 0.0, None, 0.0, None, None, 0.0, 0.0)
        local_scale = self._local_scale.get(level)
        expected, scale = level, local_scale
        seasonal = None
        seasonal_scale = 0.0
        if self._season is not None:
            profile = self._season.expected(ts_ms)
            if profile is not None:
                seasonal = profile + (self._season_offset.get() or 0.0)
                seasonal_scale = self._season_scale.get(seasonal)
                if self._compared >= self.config.window_points and (
                    self._error_seasonal.get() < self._error_local.get()
                ):
                    expected, scale = seasonal, seasonal_scale
        z = (value - expected) / scale
        raw = raw_surprise(z)
        # A lone point far beyond the largest recent deviation is a spike on its own, whatever the average.
        excess = abs(z) - SPIKE_RATIO * self._extreme
        spike = tail_to_score(math.erfc(excess / _SQRT2)) if excess > 0 else 0.0
        novel = 0.0
        if self._novelty is not None and abs(z) >= NOVELTY_Z:
            novel = self.config.alert_threshold * self._novelty.score(value)
        return Assessment(
            score=max(self._likelihood.score(raw), spike, novel),
            raw=raw,
            z=z,
            expected=expected,
            scale=scale,
            residual_local=value - level,
            residual_seasonal=None if seasonal is None else value - seasonal,
            local_scale=local_scale,
            seasonal_scale=seasonal_scale,
        )

    def _compare(self, a: Assessment) -> None:
        """Track both baselines' errors on every point (flagged ones too: the choice must stay fair)."""
        if a.residual_local is not None and a.residual_seasonal is not None:
            self._error_local.update(abs(a.residual_local))
            self._error_seasonal.update(abs(a.residual_seasonal))
            self._compared += 1

    def _learn(self, ts_ms: int, value: float, a: Assessment, season: bool = True) -> None:
        if a.residual_local is not None:
            self._local_scale.learn_one(a.residual_local)
        if self._season is not None:
            if a.residual_seasonal is not None:
                self._season_scale.learn_one(a.residual_seasonal)
            profile = self._season.expected(ts_ms)
            if profile is not None:
                self._season_offset.learn_one(value - profile)
            if season:
                self._season.learn_one(ts_ms, value)
        self._level.learn_one(value)
        self._likelihood.learn()
        self._remember_extreme(a.z)
        self._learned += 1

    def _learn_clipped(self, a: Assessment) -> None:
        """A flagged point: the scales and the likelihood learn that it happened, clipped to the band."""
        if a.residual_local is not None:
            self._local_scale.learn_one(_clip(a.residual_local, BAND_Z * a.local_scale))
        if a.residual_seasonal is not None:
            self._season_scale.learn_one(_clip(a.residual_seasonal, BAND_Z * a.seasonal_scale))
        self._likelihood.learn(clip_z=LIKELIHOOD_CLIP_Z)
        self._remember_extreme(a.z)

    def _remember_extreme(self, z: float) -> None:
        if self._learned < self.config.warmup_points // 2:
            return  # the first residuals are measured against an unsettled scale
        self._extreme = max(abs(z), self._extreme * self._extreme_decay)

    def __setstate__(self, state: dict[str, object]) -> None:
        """Reads states saved by earlier versions (no novelty memory, fewer settings)."""
        config = state.get("config")
        if isinstance(config, DetectorConfig):
            known = {k: v for k, v in config.__dict__.items() if k in DetectorConfig.model_fields}
            state["config"] = DetectorConfig.model_validate(known)
        state.setdefault("_novelty", None)  # an old state goes on without novelty rather than start blank
        self.__dict__.update(state)

    def _accept_new_normal(self) -> None:
        """A flagged run lasted ``max_flagged_run`` points: it is the new normal; learn its points."""
        run = list(self._flagged_run)
        self._flagged_run.clear()
        for ts_ms, value in run:
            self._learn(ts_ms, value, self._assess(ts_ms, value), season=False)
