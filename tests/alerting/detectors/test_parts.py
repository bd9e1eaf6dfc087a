"""The building blocks: time-of-day profile, anomaly likelihood, residual scale."""

from __future__ import annotations

import math
import pickle

from llmpulse.alerting.detectors.baseline import MAD_TO_STD, ResidualScale, RollingLevel
from llmpulse.alerting.detectors.likelihood import AnomalyLikelihood, tail_to_score
from llmpulse.alerting.detectors.seasonal import SeasonalProfile

HOUR = 3_600_000
DAY = 24 * HOUR


def test_profile_is_the_median_of_past_days_per_bucket() -> None:
    profile = SeasonalProfile(period_ms=DAY, bucket_ms=HOUR, memory=3)
    assert profile.expected(5 * HOUR) is None
    for day, value in enumerate([10.0, 12.0, 500.0, 11.0]):  # one odd day
        profile.learn_one(day * DAY + 5 * HOUR, value)
        profile.learn_one(day * DAY + 5 * HOUR + 30 * 60_000, value + 2.0)  # same bucket: its mean
    assert profile.expected(4 * DAY + 5 * HOUR + 10 * 60_000) == 13.0  # median of 13, 501, 12 (last 3)
    assert profile.expected(4 * DAY + 6 * HOUR) is None  # a bucket never seen
    # Today's own values are not used for today.
    profile.learn_one(4 * DAY + 7 * HOUR, 99.0)
    assert profile.expected(4 * DAY + 7 * HOUR + 60_000) is None
    assert profile.expected(5 * DAY + 7 * HOUR) == 99.0


def test_tail_to_score_scale() -> None:
    assert abs(tail_to_score(1e-5) - 0.5) < 1e-6
    assert tail_to_score(1e-12) > 0.99
    assert tail_to_score(0.0) == 1.0
    assert tail_to_score(1.0) == 0.0
    assert tail_to_score(1e-3) < tail_to_score(1e-4)


def test_likelihood_flags_a_rise_of_the_average_not_a_usual_blip() -> None:
    lik = AnomalyLikelihood(history_points=1000, average_points=10)
    for i in range(500):
        lik.observe(0.1 + 0.05 * math.sin(i))
        lik.learn()
    assert lik.score(0.12) < 0.1
    assert lik.score(0.6) < 0.5  # one high raw score is diluted by the average
    for _ in range(9):
        lik.observe(0.6)
    assert lik.score(0.6) > 0.9  # ten in a row are not
    before = lik.score(0.6)
    lik.learn(clip_z=4.0)
    assert lik.score(0.6) > 0.5 and lik.score(0.6) <= before


def test_scale_is_robust_yet_remembers_spikes() -> None:
    scale = ResidualScale(window=100, min_relative=0.001)
    for i in range(100):
        scale.learn_one(1.0 if i % 2 else -1.0)
    assert math.isclose(scale.get(50.0), MAD_TO_STD * 1.0)
    flat = ResidualScale(window=100, min_relative=0.001)
    for i in range(100):
        flat.learn_one(0.0 if i % 10 else 20.0)  # flat with a spike every 10 points
    assert flat.get(50.0) > 1.0  # the mean absolute residual keeps it above the zero median
    assert ResidualScale(window=10, min_relative=0.001).get(50.0) == 0.05  # floor before any data


def test_scale_of_a_young_mostly_flat_series_is_the_mean_so_far() -> None:
    # an error rate: mostly 0, an error now and then; its first residual is 0
    scale = ResidualScale(window=480, min_relative=0.001)
    residuals = [0.0, 0.0, 0.03, 0.0, 0.0, 0.05, 0.0, 0.0, 0.0, 0.02]
    for r in residuals:
        scale.learn_one(r)
    assert math.isclose(scale.get(0.0), sum(residuals) / len(residuals))  # not ~0 until hundreds of points


def test_scale_reads_a_state_pickled_with_an_exponential_mean() -> None:
    from river import stats

    old = ResidualScale(window=100, min_relative=0.001)
    mean = stats.EWMean(fading_factor=0.1)
    for r in (2.0, 4.0):
        mean.update(r)
        old._median_abs.update(r)
        old._count += 1
    del old.__dict__["_fading"]
    old.__dict__["_mean_abs"] = mean  # how states saved before the plain-float mean look
    restored = pickle.loads(pickle.dumps(old))
    assert math.isclose(restored.get(0.0), max(MAD_TO_STD * 3.0, mean.get()))
    restored.learn_one(3.0)
    assert restored.count == 3


def test_rolling_level_is_a_median() -> None:
    level = RollingLevel(window=5)
    assert level.get() is None
    for v in [1.0, 2.0, 100.0, 3.0, 4.0]:
        level.learn_one(v)
    assert level.get() == 3.0
