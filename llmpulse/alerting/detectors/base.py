"""The detector contract: what a detector returns, the protocol it follows, its settings, and the factory.

A detector watches one univariate series (one metric of one model/team/app), one value per window.
It follows river's contract: ``score_one`` reads the state without changing it, ``learn_one`` changes it,
and ``update`` is what the live system calls for each window: score, decide, then learn unless the point
was flagged. Every detector pickles (it lives in a Faust table) and is deterministic under its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

Direction = Literal["up", "down", "both"]
DetectorKind = Literal["spike", "drift"]


@dataclass(frozen=True)
class Detection:
    score: float  # anomaly score in [0, 1]
    anomalous: bool  # the alert decision of the live system for this point
    expected: float | None  # the baseline the detector expected
    lower: float | None  # normal band, if the detector has one
    upper: float | None
    warming_up: bool
    direction: str | None  # "up", "down" or None


@runtime_checkable
class SeriesDetector(Protocol):
    def score_one(self, ts_ms: int, value: float) -> float: ...

    def learn_one(self, ts_ms: int, value: float) -> None: ...

    def update(self, ts_ms: int, value: float) -> Detection: ...


class DetectorConfig(BaseModel):
    """Settings of a detector. Counts are in points (one point = one window of the series).

    The defaults are the configuration leave-one-category-out cross-validation on NAB chose
    (``python -m benchmarks.nab --cv``); they suit one-minute windows too. In the alert configuration file
    these are the keys of the ``[anomaly.detector]`` table (the live engine sets ``warmup_points`` and
    ``direction`` from the rule, and ``cooldown_points`` to 0 unless given: its lifecycle owns incidents).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Shared by every detector.
    warmup_points: int = Field(120, ge=0, description="points learned before any alert may fire")
    direction: Direction = Field("both", description="alert on rises ('up'), falls ('down') or both")
    alert_threshold: float = Field(
        0.6,
        gt=0.0,
        le=1.0,
        description="flag when the score reaches this (spike: 0.6 = a 1e-6 tail; chosen by cross-validation "
        "on NAB, see benchmarks/nab/README.md)",
    )
    cooldown_points: int = Field(
        60,
        ge=0,
        description="one alert per incident: no new alert until this many points pass without a flagged "
        "one (0: every flagged point alerts, for callers that run their own alert lifecycle)",
    )

    # Spike detector: baselines.
    window_points: int = Field(
        60, ge=5, description="recent points behind the rolling median (drift: the recent level, re-learning)"
    )
    scale_points: int = Field(
        480, ge=10, description="recent residuals behind the scale (rolling MAD, EW mean absolute residual)"
    )
    seasonality: bool = Field(True, description="also learn a time-of-day profile and use it when it fits")
    season_period_minutes: int = Field(1440, ge=2, description="length of the season (1440 = a day)")
    season_bucket_minutes: int = Field(15, ge=1, description="the season is learned per bucket of this")
    season_memory: int = Field(7, ge=1, description="past seasons (days) remembered per bucket")
    min_relative_scale: float = Field(
        0.001, ge=0.0, description="the residual scale is at least this fraction of the level"
    )
    # Spike detector: scoring (Numenta-style anomaly likelihood over raw surprise scores).
    average_points: int = Field(10, ge=1, description="recent raw scores averaged before the tail test")
    history_points: int = Field(
        3000, ge=10, description="memory of the long-run raw-score distribution and of the largest deviation"
    )
    max_flagged_run: int = Field(
        60, ge=1, description="after this many flagged points in a row the new level is accepted as normal"
    )

    # Spike detector: context novelty (after NAB's contextOSE) and the rest period.
    novelty_levels: int = Field(
        8, ge=0, description="coarse levels of the range seen so far for context novelty (0: no novelty)"
    )
    novelty_order: int = Field(3, ge=1, description="contexts: the current level with up to this many before it")
    rest_points: int = Field(
        120,
        ge=0,
        description="after a watched flagged point, the score is capped below the threshold until this many "
        "points pass without one: one peak of the score per episode, as NAB's contextOSE and KNN-CAD rest "
        "(the alert decision is not held back: cooldown_points and the engine's lifecycle own that)",
    )

    # Drift detector.
    adwin_delta: float = Field(0.002, gt=0.0, lt=1.0, description="ADWIN confidence (smaller = fewer alarms)")
    ph_threshold: float = Field(
        25.0, gt=0.0, description="Page-Hinkley alarm level, in reference standard deviations"
    )
    ph_delta: float = Field(0.5, ge=0.0, description="Page-Hinkley tolerated shift, in reference deviations")

    @model_validator(mode="after")
    def _check_season(self) -> DetectorConfig:
        if self.seasonality and self.season_period_minutes % self.season_bucket_minutes:
            raise ValueError("season_period_minutes must be a multiple of season_bucket_minutes")
        return self


def make_detector(kind: DetectorKind, config: DetectorConfig | None = None, seed: int = 0) -> SeriesDetector:
    """A fresh detector of ``kind`` ("spike": spikes and dips; "drift": slow level shifts)."""
    from llmpulse.alerting.detectors.drift import DriftDetector
    from llmpulse.alerting.detectors.spike import SpikeDetector

    cfg = config if config is not None else DetectorConfig()
    if kind == "spike":
        return SpikeDetector(cfg, seed=seed)
    if kind == "drift":
        return DriftDetector(cfg, seed=seed)
    raise ValueError(f"unknown detector kind {kind!r}; expected 'spike' or 'drift'")
