"""``llmpulse detect``: CSV in, the live engine's scores and alerts out."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from llmpulse.alerting.config import AlertConfig, AnomalyConfig, AnomalyRule
from llmpulse.alerting.engine import AlertEngine
from llmpulse.alerting.metrics import SeriesSpec, WindowMetrics
from llmpulse.cli.detect import DetectInputError, parse_timestamp, register, run_detect
from tests.alerting.detectors.series import noisy, timestamps

MINUTE = 60_000


def _write_series(path: Path, values: list[str], requests: list[str] | None = None) -> list[str]:
    stamps = [f"2024-05-01T{i // 60:02d}:{i % 60:02d}:00Z" for i in range(len(values))]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", *(["requests"] if requests is not None else [])])
        for i, row in enumerate(zip(stamps, values, strict=True)):
            writer.writerow([*row, *([requests[i]] if requests is not None else [])])
    return stamps


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _incidents(values: list[float]) -> list[float]:
    """A spike, a dip, a lasting shift and a burst of spikes, after warm-up."""
    out = list(values)
    out[400] = 250.0
    out[700] = 0.0
    for i in range(900, 960):
        out[i] += 60.0
    for i in range(1100, 1200, 7):
        out[i] += 90.0
    return out


@pytest.fixture
def series(tmp_path: Path) -> tuple[Path, list[float]]:
    values = _incidents(noisy(1400, seed=3))
    path = tmp_path / "series.csv"
    _write_series(path, [repr(v) for v in values])
    return path, values


def _live_alerts(values: list[float], direction: str = "both", anomaly: AnomalyConfig | None = None) -> list[int]:
    """Drive the live engine itself, window by window, with the rule ``detect`` builds; firing rows."""
    base = anomaly or AnomalyConfig()
    rule = AnomalyRule(name="live", metrics=["latency_p95_ms"], group_by=[[]], direction=direction)  # type: ignore[arg-type]
    engine = AlertEngine(AlertConfig(anomaly=base.model_copy(update={"rule": [rule]})), clock=lambda: 0)
    start = parse_timestamp("2024-05-01T00:00:00Z")
    fired = []
    for i, v in enumerate(values):
        ts = start + i * MINUTE
        metrics = WindowMetrics(
            ts, ts + MINUTE, {SeriesSpec(): {(): {"latency_p95_ms": v, "requests": float(base.min_requests)}}}
        )
        if any(e.status == "firing" for e in engine.on_window(ts, ts + MINUTE, metrics)):
            fired.append(i)
    return fired


@pytest.mark.parametrize("direction", ["both", "up", "down"])
def test_alert_column_is_what_the_live_engine_fires(
    tmp_path: Path, series: tuple[Path, list[float]], direction: str
) -> None:
    path, values = series
    out = tmp_path / "scores.csv"
    summary = run_detect(path, out, direction=direction)  # type: ignore[arg-type]
    rows = _read(out)
    assert list(rows[0]) == ["timestamp", "anomaly_score", "alert"]
    assert len(rows) == len(values) == summary["rows"]
    emitted = [i for i, r in enumerate(rows) if r["alert"] == "1"]
    assert emitted == _live_alerts(values, direction)
    assert summary["alerts"] == len(emitted)
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
    if direction == "both":
        assert 400 in emitted and any(900 <= i < 905 for i in emitted)  # the incidents are found
    if direction == "up":
        assert 700 not in emitted
    if direction == "down":
        assert 400 not in emitted


def test_config_file_applies_its_anomaly_table(tmp_path: Path, series: tuple[Path, list[float]]) -> None:
    path, values = series
    config = tmp_path / "alerts.toml"
    config.write_text("[anomaly]\nwarmup_windows = 800\n")
    summary = run_detect(path, tmp_path / "out.csv", config)
    rows = _read(tmp_path / "out.csv")
    assert summary["config"]["warmup_windows"] == 800
    emitted = [i for i, r in enumerate(rows) if r["alert"] == "1"]
    assert emitted and min(emitted) >= 800
    assert emitted == _live_alerts(values, anomaly=AnomalyConfig(warmup_windows=800))
    config.write_text("[detector]\nno_such_setting = 1\n")
    with pytest.raises(DetectInputError, match="no_such_setting"):
        run_detect(path, tmp_path / "out.csv", config)
    config.write_text("[anomaly\n")
    with pytest.raises(DetectInputError):
        run_detect(path, tmp_path / "out.csv", config)


def test_the_min_requests_gate_reads_a_requests_column(tmp_path: Path) -> None:
    values = _incidents(noisy(1400, seed=3))
    calls = ["100"] * len(values)
    for i in range(395, 405):
        calls[i] = "3"  # too few calls around the spike: the live engine does not look at those windows
    path = tmp_path / "calls.csv"
    _write_series(path, [repr(v) for v in values], calls)
    summary = run_detect(path, tmp_path / "out.csv")
    rows = _read(tmp_path / "out.csv")
    assert summary["not_fed"] == 10
    assert rows[400]["alert"] == "0" and rows[400]["anomaly_score"] == "0.000000"
    assert any(r["alert"] == "1" for r in rows[900:905])


def test_a_series_of_call_counts_is_its_own_requests(tmp_path: Path, series: tuple[Path, list[float]]) -> None:
    path, _ = series
    summary = run_detect(path, tmp_path / "out.csv", metric="requests")
    rows = _read(tmp_path / "out.csv")
    assert summary["metric"] == "requests" and summary["not_fed"] == 0
    assert rows[400]["alert"] == "1"  # the value itself is watched, not the stand-in call count


def test_bad_values_are_kept_as_rows_but_not_scored(tmp_path: Path) -> None:
    values = [repr(v) for v in noisy(300, seed=4)]
    values[10], values[20], values[30] = "", "nan", "oops"
    path = tmp_path / "gaps.csv"
    _write_series(path, values)
    summary = run_detect(path, tmp_path / "out.csv")
    rows = _read(tmp_path / "out.csv")
    assert summary["not_fed"] == 3 and len(rows) == 300
    assert rows[20] == {"timestamp": "2024-05-01T00:20:00Z", "anomaly_score": "0.000000", "alert": "0"}


def test_missing_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("time,metric\n1,2\n")
    with pytest.raises(DetectInputError, match="timestamp,value"):
        run_detect(path, tmp_path / "out.csv")


def test_timestamps() -> None:
    assert parse_timestamp("2024-05-01T00:00:00Z") == 1_714_521_600_000
    assert parse_timestamp("2024-05-01 00:00:00") == 1_714_521_600_000  # no zone: UTC
    assert parse_timestamp("2024-05-01T02:00:00+02:00") == 1_714_521_600_000
    assert parse_timestamp("1714521600") == 1_714_521_600_000  # epoch seconds
    assert parse_timestamp("1714521600000") == 1_714_521_600_000  # epoch milliseconds
    with pytest.raises(DetectInputError):
        parse_timestamp("yesterday")
    assert timestamps(2)[1] - timestamps(2)[0] == 60_000


def test_register_adds_the_subcommand(tmp_path: Path, series: tuple[Path, list[float]], capsys) -> None:
    parser = argparse.ArgumentParser(prog="llmpulse")
    register(parser.add_subparsers(dest="command"))
    path, _ = series
    args = parser.parse_args(["detect", "--input", str(path), "--output", str(tmp_path / "o.csv")])
    assert args.func(args) == 0
    assert '"alerts": ' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["detect", "--help"])
    help_text = capsys.readouterr().out
    assert "[anomaly]" in help_text and "--config" in help_text and "anomaly_score" in help_text
    bad = parser.parse_args(["detect", "--input", str(tmp_path / "missing.csv"), "--output", "x.csv"])
    assert bad.func(bad) == 2
