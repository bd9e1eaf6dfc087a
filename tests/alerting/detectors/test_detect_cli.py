"""``llmpulse detect``: CSV in, scores and the live alert decisions out."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from llmpulse.alerting.detectors import DetectorConfig, make_detector
from llmpulse.cli.detect import DetectInputError, parse_timestamp, register, run_detect
from tests.alerting.detectors.series import noisy, timestamps


def _write_series(path: Path, values: list[str]) -> list[str]:
    stamps = [f"2024-05-01T{i // 60:02d}:{i % 60:02d}:00Z" for i in range(len(values))]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        writer.writerows(zip(stamps, values, strict=True))
    return stamps


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def series(tmp_path: Path) -> tuple[Path, list[float]]:
    values = noisy(600, seed=3)
    values[400] = 250.0
    path = tmp_path / "series.csv"
    _write_series(path, [repr(v) for v in values])
    return path, values


def test_scores_and_alerts_are_the_live_decisions(tmp_path: Path, series: tuple[Path, list[float]]) -> None:
    path, values = series
    out = tmp_path / "scores.csv"
    summary = run_detect(path, out)
    rows = _read(out)
    assert list(rows[0]) == ["timestamp", "anomaly_score", "alert"]
    assert len(rows) == len(values) == summary["rows"]
    assert [i for i, r in enumerate(rows) if r["alert"] == "1"] == [400]
    assert summary["alerts"] == 1 and summary["skipped"] == 0
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
    live = make_detector("spike", DetectorConfig())
    start = parse_timestamp(rows[0]["timestamp"])
    decisions = [live.update(start + 60_000 * i, v) for i, v in enumerate(values)]
    assert [r["alert"] == "1" for r in rows] == [d.anomalous for d in decisions]
    assert [float(r["anomaly_score"]) for r in rows] == pytest.approx([d.score for d in decisions], abs=1e-6)


def test_config_file_maps_to_detector_config(tmp_path: Path, series: tuple[Path, list[float]]) -> None:
    path, _ = series
    config = tmp_path / "detect.toml"
    config.write_text('[detector]\ndirection = "down"\nwarmup_points = 50\n')
    summary = run_detect(path, tmp_path / "out.csv", config)
    assert summary["alerts"] == 0
    assert summary["config"]["direction"] == "down" and summary["config"]["warmup_points"] == 50
    config.write_text("[detector]\nno_such_setting = 1\n")
    with pytest.raises(ValueError, match="no_such_setting"):
        run_detect(path, tmp_path / "out.csv", config)
    config.write_text("[detector\n")
    with pytest.raises(DetectInputError):
        run_detect(path, tmp_path / "out.csv", config)


def test_bad_values_are_kept_as_rows_but_not_scored(tmp_path: Path) -> None:
    values = [repr(v) for v in noisy(300, seed=4)]
    values[10], values[20], values[30] = "", "nan", "oops"
    path = tmp_path / "gaps.csv"
    _write_series(path, values)
    summary = run_detect(path, tmp_path / "out.csv")
    rows = _read(tmp_path / "out.csv")
    assert summary["skipped"] == 3 and len(rows) == 300
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
    assert '"alerts": 1' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["detect", "--help"])
    help_text = capsys.readouterr().out
    assert "[detector]" in help_text and "--config" in help_text and "anomaly_score" in help_text
    bad = parser.parse_args(["detect", "--input", str(tmp_path / "missing.csv"), "--output", "x.csv"])
    assert bad.func(bad) == 2
