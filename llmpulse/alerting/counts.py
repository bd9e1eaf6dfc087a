"""Count-aware anomaly tests: how surprising a window is, given how many calls it had.

A rate or a percentile computed from 12 calls moves much more from one minute to the next than one computed
from 1,200. A detector that sees only the value must either skip small windows (``min_requests``) or widen
its band for every window. These tests weigh each window by its calls instead, so they work at the volumes
LLM applications really have (tens of calls a minute per model) and get sharper as volume grows:

- ``RateTest`` (``error_rate`` and the other rates of the catalogue: refusals per judged answer, thumbs down
  per thumbs given, ...): errors in a window are Binomial(calls, p0), p0 being the series' own
  error rate learned from its history (pooled over calls, not averaged over windows); for another rate read
  its events for errors and its trials for calls. Real error rates
  vary more than a binomial (bursts of rate limits): the over-dispersion factor (mean squared Pearson
  residual of normal windows, at least 1) scales the counts down before the tail is taken.
- ``LevelTest`` (latency percentiles, per-call means, and volumes such as spend relative to the traffic):
  the log of the value is Normal(mu, k / n) around the series' own level mu, n being the window's calls
  (a percentile of a window with few calls beyond it: an exact binomial count of the calls above it, see
  the class)
  (or, for a volume, the calls of all traffic in the window: spend per call of the whole system, so a
  burst of ordinary traffic is not a spend anomaly). k, the per-call dispersion, is learned from normal
  windows as the mean of n * (log value - mu)^2, robustly: each window's term is clipped at 4 k and the
  clipped mean rescaled to estimate k, windows beyond the band are not learned, and the z is read as a
  Student t on the windows k was learned from (a k from 20 windows is itself uncertain). Without that, the
  unflagged first minutes of a slow model inflated k and the level that judged the minutes after them.

Both look at the current window alone and at the current and previous window together (evidence that
builds over two minutes, e.g. 10% errors at 40 calls a minute), and flag when the tail probability of
either is below that of ``z_alert`` standard deviations *and* the change is large enough to matter
(``min_ratio`` times the level; for error rates also at least one percentage point more). Flagged windows
are not learned, unless a flagged run lasts ``max_flagged_run`` windows (then it is the new normal). The
level and the dispersion are exponentially weighted over ``horizon`` windows (a plain mean until then),
so they follow slow changes (time of day, a new model version) but not an incident.

A level rule may name a second metric of the same series that must *corroborate* a new alert
(``corroborate`` in the rule; the default latency rule names ``ttft_p50_ms``). That metric has a LevelTest of
its own, fed every window like the rule's; ``LevelTest.window_z`` gives its z for the window alone, and the
engine drops a new alert whose series shows that metric less than ``corroborate_z`` standard deviations
above its level. Latency that rises because answers are long (several minutes of 2 to 4 times the usual
output, more than the output-tokens covariate explains) leaves the time to first token where it was; a
slow model or provider raises both. A series without data for that metric (an app that does not stream has
no TTFT), or whose test is still warming up, is not vetoed; an open alert is never vetoed.

Same contract as the other detectors (``score_one`` reads, ``learn_one`` learns, ``update`` scores, decides
and learns unless flagged), with the window's call count as an extra argument. Pure, picklable.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from scipy.special import betainc, ndtri, stdtr

from llmpulse.alerting.detectors import Detection

Direction = Literal["up", "down", "both"]
POOLED = 3  # evidence is also pooled over the last 2 and 3 windows (an incident builds up over minutes)
PAIR_GAP_MS = 180_000  # an earlier window is pooled if it started at most this long before the next one
TAIL_CALLS = 3  # a percentile is judged only in windows where at least 3 calls lie beyond it ...
NORMAL_TAIL_CALLS = 8  # ... by the normal approximation from 8 calls beyond it, below by the exact count test
FEW_POOLED = 2  # which judges the window only together with the one before (one minute of a few calls is not enough)
#: ... or alone, at a z this much higher: the calls of one minute are not independent draws (same apps, same
#: load), so one minute of a few slow calls is weaker evidence than the count says (quiet replays of the demo,
#: seeds 100-299: no lone window of few calls above z 6.7), while the first minute of a spike that hits a
#: model between its bursts of calls often stands alone (z 11 to 13 from 13 to 15 calls)
FEW_ALONE_MARGIN = 3.5
Z_BAND = 3.0  # the "normal band" reported with an alert (and kept while it is open) is level +/- 3 sd
#: k (busy windows) is learned robustly: a window's calls * squared residual counts at most SPREAD_CLIP times
#: the current k (a z of 2), the clipped mean scaled back by SPREAD_CLIPPED_MEAN (the mean of min(z^2, 4) for a
#: normal z) so that it still estimates k where residuals are normal; one odd minute (a burst of long answers
#: the covariate does not explain, the unflagged first minute of an incident) then moves k by a bounded step
SPREAD_CLIP = 4.0
SPREAD_CLIPPED_MEAN = 0.9205
SPREAD_PLAIN_WINDOWS = 5  # the first windows' k is their plain mean (no k yet to clip against)
_SQRT2 = math.sqrt(2.0)
_TINY = 1e-12


@dataclass(frozen=True)
class CountSettings:
    z_alert: float = 5.0  # tail probability of 5 standard deviations: about 3e-7 per window and side
    min_ratio: float = 1.5  # and the value is at least this many times the level (or 1/x of it, down)
    min_rate_increase: float = 0.01  # error rates: and at least one percentage point above the level
    warmup_windows: int = 20  # normal windows with calls learned before it may flag
    warmup_calls: int = 300  # and at least this many calls in them
    horizon: int = 240  # windows behind the level and the dispersion (then exponentially weighted)
    max_flagged_run: int = 60  # a flagged run this long is the new normal

    @property
    def tail_alert(self) -> float:
        return 0.5 * math.erfc(self.z_alert / _SQRT2)


def _upper_tail(z: float) -> float:
    return 0.5 * math.erfc(z / _SQRT2)


def _tail_z(tail: float) -> float:
    """The z whose upper tail is ``tail`` (the inverse of ``_upper_tail``), at least 0."""
    return max(float(-ndtri(max(tail, 1e-300))), 0.0)


def binomial_upper_tail(errors: float, calls: float, p: float) -> float:
    """P(X >= errors) for X ~ Binomial(calls, p), continuous in errors and calls (regularised beta)."""
    if errors <= 0:
        return 1.0
    if errors > calls:
        return 0.0
    p = min(max(p, _TINY), 1 - _TINY)
    return float(betainc(errors, calls - errors + 1.0, p))


def binomial_upper_rate(calls: float, p: float, tail: float) -> float:
    """The rate above which a window of ``calls`` is outside the band: the count x (continuous) at which
    P(X >= x) for X ~ Binomial(calls, p) falls to ``tail``, over ``calls``. Exact where the normal
    approximation is not (rare events in few calls: 2 refusals of 20 answers at a 1% rate are unusual, not
    3 standard deviations out)."""
    if calls <= 0:
        return 1.0
    lo, hi = 0.0, calls
    if binomial_upper_tail(hi, calls, p) > tail:
        return 1.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if binomial_upper_tail(mid, calls, p) > tail else (lo, mid)
    return hi / calls


class _Base:
    """What both tests share: warm-up, the previous window, flagged runs, the exponential weight."""

    def __init__(self, settings: CountSettings | None, direction: Direction) -> None:
        self.settings = settings or CountSettings()
        self.direction = direction
        self.windows = 0  # normal windows learned
        self.calls = 0.0  # calls in them
        self._history: deque[tuple[int, float, float]] = deque(maxlen=POOLED - 1)  # (ts, value, calls)
        self._flagged_run = 0

    @property
    def warming_up(self) -> bool:
        s = self.settings
        return self.windows < s.warmup_windows or self.calls < s.warmup_calls

    def _weight(self) -> float:
        return max(1.0 / self.windows, 1.0 / self.settings.horizon)

    def _recent(self, ts_ms: int) -> list[tuple[float, float]]:
        """(value, calls) of the windows just before this one (at most POOLED - 1, newest first)."""
        out: list[tuple[float, float]] = []
        newer = ts_ms
        for ts, value, calls in reversed(self._history):
            if not 0 < newer - ts <= PAIR_GAP_MS:
                break
            out.append((value, calls))
            newer = ts
        return out

    def _after(self, ts_ms: int, value: float, calls: float, flagged: bool) -> bool:
        """Remember the window; True if it is to be learned (not flagged, or the new normal)."""
        self._history.append((ts_ms, value, calls))
        if not flagged:
            self._flagged_run = 0
            return True
        self._flagged_run += 1
        if self._flagged_run >= self.settings.max_flagged_run:
            self._flagged_run = 0
            return True
        return False


PRIOR_TRIALS = 100.0  # the rate test's prior: the metric's typical rate, worth this many trials


class RateTest(_Base):
    """Events (errors, refusals, thumbs down, ...) per window against the series' own rate of them, out of
    the window's trials (calls, judged answers, thumbs given); see the module docstring. Until the series
    shows its own rate, ``typical_rate`` counts as ``PRIOR_TRIALS`` trials of history (for errors: half an
    error in 100 calls)."""

    def __init__(
        self, settings: CountSettings | None = None, direction: Direction = "up", typical_rate: float = 0.005
    ) -> None:
        super().__init__(settings, direction)
        if not 0.0 < typical_rate < 1.0:
            raise ValueError("typical_rate must be within (0, 1)")
        self.errors_sum = 0.0  # exponentially weighted events and trials of normal windows
        self.calls_sum = 0.0
        self.dispersion = 1.0  # mean squared Pearson residual of normal windows (>= 1 when used)
        self._dispersion_sq = 3.0  # mean of its square (3 for a normal residual)
        self._prior_errors = typical_rate * PRIOR_TRIALS
        self._prior_calls = PRIOR_TRIALS

    def rate(self) -> float:
        return (self.errors_sum + self._prior_errors) / (self.calls_sum + self._prior_calls)

    def overdispersion(self) -> float:
        """The over-dispersion factor, used only where the data show it: the mean squared Pearson residual
        less two of its standard errors (measured: a squared residual is very skewed when errors are rare, so
        the mean of a few dozen is often well above 1 by chance), at least 1."""
        n = min(max(self.windows - 5, 0), self.settings.horizon)
        if n < 2:
            return 1.0
        spread = max(self._dispersion_sq - self.dispersion**2, 2.0)  # variance of one squared residual
        return max(1.0, self.dispersion - 2.0 * math.sqrt(spread / n))

    def _tails(self, ts_ms: int, errors: float, calls: float) -> tuple[float, float]:
        """(tail, rate) of the most surprising of: this window, this and the previous window."""
        p0, phi = self.rate(), self.overdispersion()
        s = self.settings
        best_tail, best_rate = 1.0, errors / calls if calls else 0.0
        candidates = [(errors, calls)]
        if calls > 0 and errors / calls > p0:  # pooled only while the current window is elevated too
            for prev_errors, prev_calls in self._recent(ts_ms):
                x, n = candidates[-1]
                candidates.append((x + prev_errors, n + prev_calls))
        for x, n in candidates:
            if n <= 0:
                continue
            rate = x / n
            if rate < max(s.min_ratio * p0, p0 + s.min_rate_increase):
                continue
            tail = binomial_upper_tail(x / phi, n / phi, p0)
            if tail < best_tail:
                best_tail, best_rate = tail, rate
        return best_tail, best_rate

    def score_one(self, ts_ms: int, value: float, calls: float = 1.0) -> float:
        if self.warming_up or calls <= 0:
            return 0.0
        tail, _ = self._tails(ts_ms, round(value * calls), calls)
        return 1.0 - tail

    def learn_one(self, ts_ms: int, value: float, calls: float = 1.0) -> None:
        if calls <= 0:
            return
        errors = round(value * calls)
        self._history.append((ts_ms, errors, calls))
        self._learn(errors, calls)

    def _learn(self, errors: float, calls: float) -> None:
        p0 = self.rate()
        if self.windows >= 5:  # the first windows' rate is too rough to judge their spread by
            pearson = (errors - calls * p0) ** 2 / (calls * p0 * (1 - p0))
            w = max(1.0 / (self.windows - 4), 1.0 / self.settings.horizon)
            pearson = min(pearson, 25.0)
            self.dispersion += w * (pearson - self.dispersion)
            self._dispersion_sq += w * (pearson * pearson - self._dispersion_sq)
        self.windows += 1
        self.calls += calls
        decay = 1.0 - 1.0 / self.settings.horizon
        self.errors_sum = decay * self.errors_sum + errors
        self.calls_sum = decay * self.calls_sum + calls

    def update(self, ts_ms: int, value: float, calls: float = 1.0) -> Detection:
        p0, phi = self.rate(), self.overdispersion()
        warming = self.warming_up
        errors = round(value * calls)
        tail, _ = self._tails(ts_ms, errors, calls) if calls > 0 and not warming else (1.0, 0.0)
        flagged = not warming and tail < self.settings.tail_alert and self.direction in ("up", "both")
        band = binomial_upper_rate(max(calls, 1.0) / phi, p0, _upper_tail(Z_BAND))
        upper = max(band, self.settings.min_ratio * p0, p0 + self.settings.min_rate_increase)
        if self._after(ts_ms, errors, calls, flagged) and calls > 0:
            self._learn(errors, calls)
        return Detection(
            score=0.0 if warming else 1.0 - tail,
            anomalous=flagged,
            expected=p0,
            lower=0.0,
            upper=min(upper, 1.0),
            warming_up=warming,
            direction="up" if flagged else None,
        )


class LevelTest(_Base):
    """log(value / exposure) against the series' own level, with variance k / calls (module docstring).

    An optional covariate (for latency: the log of the window's output tokens per call) explains part of
    the level: a minute of long generations is slow for a reason. The level is then a regression on it,
    learned from normal windows (exponentially weighted means, variance and covariance; the slope kept
    within [0, 1]), and the window is judged by what the covariate does not explain.

    A percentile (``quantile`` set) of a window with fewer than ``NORMAL_TAIL_CALLS`` calls beyond it is
    judged by an exact count instead (``_count_z``): the calls at or above the window's percentile are
    Binomial(calls, share of the model's calls above that value), the share read from the level and the
    calls' spread k implies. A model with a few calls a minute is judged every minute, not only in its
    busier ones."""

    quantile: float | None = None  # class defaults: a state pickled before these existed reads them
    few_windows = 0
    few_var = 0.0
    level_spread = 0.0

    def __init__(
        self, settings: CountSettings | None = None, direction: Direction = "up", quantile: float | None = None
    ) -> None:
        super().__init__(settings, direction)
        self.quantile = quantile  # the value is this percentile of the window's calls (None: not one)
        self.level = 0.0  # mean log value of normal windows
        self.per_call_var = 0.0  # k: mean of calls * (log value - expected)^2
        self.few_windows = 0  # normal windows of a percentile of few calls (``_few``) learned
        self.few_var = 0.0  # k of those windows alone (their calls' spread shows in it, not in busy windows')
        self.level_spread = 0.0  # variance of the learned level over k: sum of weight^2 / calls of its windows
        self.covariate_mean = 0.0
        self.covariate_var = 0.0
        self.covariance = 0.0
        self._min_sd = 0.02

    def _sd(self, calls: float) -> float:
        return max(math.sqrt(self.per_call_var / max(calls, 1.0)), self._min_sd)

    def slope(self) -> float:
        if self.windows < 10 or self.covariate_var < 1e-6:
            return 0.0
        return min(max(self.covariance / self.covariate_var, 0.0), 1.0)

    def expected_log(self, covariate: float | None) -> float:
        if covariate is None:
            return self.level
        return self.level + self.slope() * (covariate - self.covariate_mean)

    def window_z(self, value: float, calls: float, covariate: float | None = None) -> float | None:
        """z of this window alone (log value against the level, sd from k and ``calls``), signed the watched
        way, before it is learned; None while warming up or for a value that is not positive. Reads only."""
        if self.warming_up or value <= 0 or calls <= 0:
            return None
        residual = math.log(value) - self.expected_log(covariate)
        return self._watched(residual) * residual / self._sd(calls)

    def _watched(self, residual: float) -> float:
        """+1 when ``residual`` points the watched way ("both": either), else -1."""
        return {"up": 1.0, "down": -1.0, "both": 1.0 if residual >= 0 else -1.0}[self.direction]

    def _z(self, ts_ms: int, residual: float, calls: float) -> float:
        """z of the most surprising of: this window, pooled with the one or two before (watched side), as
        a Student t on the windows k was learned from: a z computed with a k estimated from 20 windows is
        not as rare as the same z with a k known exactly (the first minutes after warm-up of a model whose
        k came out low by chance), and with hundreds of windows the two are the same."""
        z = self._z_normal(ts_ms, residual, calls)
        if z <= 0.0:
            return z
        df = max(self.windows - 1, 1)
        return _tail_z(float(stdtr(df, -z)))

    def _z_normal(self, ts_ms: int, residual: float, calls: float) -> float:
        """The z of ``_z`` as if k were known exactly."""
        sign = self._watched(residual)
        if sign * residual < math.log(self.settings.min_ratio):
            return 0.0
        if self._few(calls):
            return self._count_z(ts_ms, residual, calls) if sign > 0 else 0.0
        best = sign * residual / self._sd(calls)
        total, weighted = calls, residual * calls
        for prev_residual, prev_calls in self._recent(ts_ms):
            total += prev_calls
            weighted += prev_residual * prev_calls
            best = max(best, sign * (weighted / total) / self._sd(total))
        return best

    def _few(self, calls: float) -> bool:
        """A percentile of too few calls for the normal approximation (fewer than NORMAL_TAIL_CALLS beyond it)."""
        q = self.quantile
        return q is not None and calls * min(q, 1.0 - q) < NORMAL_TAIL_CALLS

    def _sigma(self) -> tuple[float, float]:
        """(z of the percentile, per-call spread of log values) for the exact count test."""
        q = self.quantile
        assert q is not None
        z_q = float(ndtri(q))
        density = math.exp(-0.5 * z_q * z_q) / math.sqrt(2.0 * math.pi)
        k = max(self.per_call_var, self.few_var)
        return z_q, max(math.sqrt(k / (q * (1.0 - q))) * density, self._min_sd)

    def _count_band(self, calls: float) -> float:
        """How far above the level a percentile of ``calls`` (few) may lie before the exact count test puts
        the window alone beyond Z_BAND standard deviations."""
        q = self.quantile
        assert q is not None
        z_q, sigma = self._sigma()
        above = calls - math.floor(q * calls + 1e-9)
        tail = _upper_tail(Z_BAND)
        lo, hi = 0.0, 1.0  # the share of calls above the value at which the count's tail is ``tail``
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if binomial_upper_tail(above, calls, mid) < tail else (lo, mid)
        return max(sigma * (-float(ndtri(hi)) - z_q), 0.0)

    def _count_z(self, ts_ms: int, residual: float, calls: float) -> float:
        """The exact test of a percentile of few calls, as a z: a window's q-percentile v of n calls has
        n - floor(q n) calls at or above it, each above v with the baseline's share s(v) (calls' log latency
        normal around the level, their spread sigma derived from k: a q-percentile of n calls has variance
        q (1 - q) sigma^2 / (n phi(z_q)^2)). The count is Binomial(n, s(v)); windows pooled with the one or
        two before count their calls above the lowest of their percentiles. The window alone counts
        ``FEW_ALONE_MARGIN`` less (a model with a burst of calls every few minutes has no minute before it)."""
        q = self.quantile
        assert q is not None
        z_q, sigma = self._sigma()
        best = 0.0
        low, above, total = residual, 0.0, 0.0
        pool = [(residual, calls), *self._recent(ts_ms)]
        for i, (value_residual, n) in enumerate(pool):
            low = min(low, value_residual)
            above += n - math.floor(q * n + 1e-9)
            total += n
            if low < math.log(self.settings.min_ratio):
                break
            share = _upper_tail(low / sigma + z_q)
            z = _tail_z(binomial_upper_tail(above, total, share))
            best = max(best, z - FEW_ALONE_MARGIN if i < FEW_POOLED - 1 else z)
        return best

    def score_one(self, ts_ms: int, value: float, calls: float = 1.0, covariate: float | None = None) -> float:
        if self.warming_up or value <= 0 or calls <= 0:
            return 0.0
        z = self._z(ts_ms, math.log(value) - self.expected_log(covariate), calls)
        return 1.0 - _upper_tail(z)

    def learn_one(self, ts_ms: int, value: float, calls: float = 1.0, covariate: float | None = None) -> None:
        if value <= 0 or calls <= 0:
            return
        logv = math.log(value)
        self._history.append((ts_ms, logv - self.expected_log(covariate), calls))
        self._learn(logv, calls, covariate)

    def _learn(self, logv: float, calls: float, covariate: float | None) -> None:
        x = 0.0 if covariate is None else covariate
        predicted = self.expected_log(covariate)
        residual = logv - predicted
        # the residual's variance is k (1 / calls + level_spread): the level is an estimate too (in the first
        # minutes a busy window's residual is mostly the level's own error, which would overstate k many times)
        inflation = 1.0 + calls * self.level_spread
        if self._few(calls) and self.windows > 1:
            self.few_windows += 1
            w_few = max(1.0 / self.few_windows, 1.0 / self.settings.horizon)
            self.few_var += w_few * (calls * residual * residual / inflation - self.few_var)
        if self.windows >= self.settings.warmup_windows:
            limit = 4.0 * self._sd(calls)
            residual = max(-limit, min(limit, residual))
        y = predicted + residual if self.windows else logv
        self.windows += 1
        self.calls += calls
        w = self._weight()
        dx, dy = x - self.covariate_mean, y - self.level
        self.covariate_mean += w * dx
        self.level += w * dy
        self.covariate_var += w * (dx * (x - self.covariate_mean) - self.covariate_var)
        self.covariance += w * (dx * (y - self.level) - self.covariance)
        self.level_spread = (1.0 - w) ** 2 * self.level_spread + w * w / calls
        if self.windows > 1:
            sample = calls * residual * residual / inflation
            if self.windows - 1 > SPREAD_PLAIN_WINDOWS and self.per_call_var > 0:
                sample = min(sample, SPREAD_CLIP * self.per_call_var) / SPREAD_CLIPPED_MEAN
            self.per_call_var += w * (sample - self.per_call_var)

    def update(self, ts_ms: int, value: float, calls: float = 1.0, covariate: float | None = None) -> Detection:
        warming = self.warming_up
        if value <= 0 or calls <= 0:
            return Detection(0.0, False, None, None, None, warming, None)
        logv = math.log(value)
        center = self.expected_log(covariate)
        z = self._z(ts_ms, logv - center, calls) if not warming else 0.0
        flagged = not warming and z >= self.settings.z_alert
        half = max(Z_BAND * self._sd(calls), math.log(self.settings.min_ratio))
        if self._few(calls):
            half = max(half, self._count_band(calls))
        known = self.windows > 0
        direction = None
        if flagged:
            direction = "up" if logv > center else "down"
        # a window beyond the band is not learned either (the unflagged first minute of an incident would
        # raise the level and k that judge the next ones)
        beyond = not warming and self._watched(logv - center) * (logv - center) > half
        if self._after(ts_ms, logv - center, calls, flagged or beyond):
            self._learn(logv, calls, covariate)
        return Detection(
            score=0.0 if warming else 1.0 - _upper_tail(z),
            anomalous=flagged,
            expected=math.exp(center) if known else None,
            lower=math.exp(center - half) if known else None,
            upper=math.exp(center + half) if known else None,
            warming_up=warming,
            direction=direction,
        )
