"""The drift detector: slow, lasting level shifts (latency creeping up, outputs getting longer, cost per
call rising), with river's ADWIN and Page-Hinkley tests.

- Warm-up learns a reference: the mean and standard deviation of the first ``warmup_points`` values.
- Each value is standardised against the reference and clipped to +/- ``CLIP_Z`` (a lone spike is the
  spike detector's business, not a drift).
- Page-Hinkley (a CUSUM test, one- or two-sided following ``direction``) watches the standardised values;
  ADWIN watches them rescaled to [0, 1] (its bound assumes that range). Either one firing is a drift.
- A drift in a watched direction alerts unless one did in the last ``cooldown_points``. After any drift
  the detector re-learns its reference (mean and deviation) from the next ``window_points`` values,
  reporting ``warming_up`` meanwhile, and both tests restart: one shift is one alert.
- ``score`` is the evidence that the recent level (an exponentially weighted mean over about
  ``window_points``) left the reference, on the same 0-1 log-tail scale as the spike detector;
  ``anomalous`` is the tests' decision. Every point is learned: drift is about what keeps happening.
"""

from __future__ import annotations

import math

from river import drift, stats

from llmpulse.alerting.detectors.base import Detection, DetectorConfig
from llmpulse.alerting.detectors.likelihood import tail_to_score

CLIP_Z = 5.0
_SQRT2 = math.sqrt(2.0)
_TINY = 1e-12


class DriftDetector:
    """See the module docstring. Pickles; deterministic (``seed`` is kept for the shared contract)."""

    def __init__(self, config: DetectorConfig | None = None, seed: int = 0) -> None:
        self.config = config if config is not None else DetectorConfig()
        self.seed = seed
        self._alpha = 2.0 / (self.config.window_points + 1)
        self._learning = stats.Var()  # values behind the next reference
        self._learn_points = max(self.config.warmup_points, 2)  # how many: warm-up, then window_points
        self._reference_mean: float | None = None
        self._reference_std = 0.0
        self._recent_z = 0.0
        self._quiet_for = self.config.cooldown_points
        self._ph, self._adwin = self._new_tests()

    def _new_tests(self) -> tuple[drift.PageHinkley, drift.ADWIN]:
        cfg = self.config
        ph = drift.PageHinkley(
            min_instances=max(cfg.window_points // 2, 1),
            delta=cfg.ph_delta,
            threshold=cfg.ph_threshold,
            alpha=1.0,  # no fading: with fading the sums settle and wander over the threshold by chance
            mode=cfg.direction,
        )
        return ph, drift.ADWIN(delta=cfg.adwin_delta)

    @property
    def warming_up(self) -> bool:
        """True while a reference is being learned: at the start, and again after each drift."""
        return self._learn_points > 0

    def _standardise(self, value: float) -> float:
        if self._reference_mean is None or self.warming_up:
            return 0.0
        z = (value - self._reference_mean) / self._reference_std
        return max(-CLIP_Z, min(CLIP_Z, z))

    def _score(self, recent_z: float) -> float:
        """Evidence that the recent level moved, from the EW mean of standardised values."""
        if self.warming_up:
            return 0.0
        spread = math.sqrt(self._alpha / (2.0 - self._alpha))
        z = recent_z / spread
        if self.config.direction == "up":
            tail = 0.5 * math.erfc(z / _SQRT2)
        elif self.config.direction == "down":
            tail = 0.5 * math.erfc(-z / _SQRT2)
        else:
            tail = math.erfc(abs(z) / _SQRT2)
        return tail_to_score(tail)

    # -- river contract -------------------------------------------------------------------------------

    def score_one(self, ts_ms: int, value: float) -> float:
        z = self._standardise(value)
        return self._score((1.0 - self._alpha) * self._recent_z + self._alpha * z)

    def learn_one(self, ts_ms: int, value: float) -> None:
        self._learn(value)

    def update(self, ts_ms: int, value: float) -> Detection:
        cfg = self.config
        warming_up = self.warming_up
        expected = self._reference_mean
        drifted, direction = self._learn(value)
        watched = drifted and cfg.direction in ("both", direction)
        alert = watched and self._quiet_for >= cfg.cooldown_points
        self._quiet_for = 0 if watched else self._quiet_for + 1
        score = 1.0 if drifted else self._score(self._recent_z)
        return Detection(
            score=score,
            anomalous=alert,
            expected=expected,
            lower=None,
            upper=None,
            warming_up=warming_up,
            direction=direction if drifted else None,
        )

    # -- internals ------------------------------------------------------------------------------------

    def _learn(self, value: float) -> tuple[bool, str | None]:
        """Learn one value; returns whether a drift was detected and its direction."""
        if self.warming_up:
            self._learning.update(value)
            self._learn_points -= 1
            if not self._learn_points:
                self._set_reference(self._learning.mean.get(), math.sqrt(self._learning.get()))
            return False, None
        z = self._standardise(value)
        self._recent_z = (1.0 - self._alpha) * self._recent_z + self._alpha * z
        self._ph.update(z)
        self._adwin.update((z + CLIP_Z) / (2.0 * CLIP_Z))
        if not (self._ph.drift_detected or self._adwin.drift_detected):
            return False, None
        direction = "up" if self._recent_z > 0 else "down"
        # Re-learn the reference from the next window_points values, once the new level has settled.
        self._learning = stats.Var()
        self._learn_points = self.config.window_points
        return True, direction

    def _set_reference(self, mean: float, std: float) -> None:
        floor = max(abs(mean) * self.config.min_relative_scale, _TINY)
        self._reference_mean = mean
        self._reference_std = max(std, floor)
        self._recent_z = 0.0
        self._ph, self._adwin = self._new_tests()
