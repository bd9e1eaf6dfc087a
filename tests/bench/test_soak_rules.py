"""The soak's verdict: lag that keeps growing fails it; bounded lag passes."""

from __future__ import annotations

from llmpulse.bench.report import markdown
from llmpulse.bench.soak import lag_growing


def test_growing_lag_fails_and_bounded_lag_passes() -> None:
    assert lag_growing([10, 20, 40, 80, 160, 320, 640, 1280], slack_records=400)
    assert not lag_growing([240, 200, 260, 230, 250, 240, 352, 300], slack_records=400)
    assert not lag_growing([5], slack_records=0)


def test_report_table_names_its_figures() -> None:
    table = markdown({"pipeline_eps": 61_000, "pipeline_events": 2_000_000, "pipeline_event_time_windows": 60,
                      "worker_peak_rss_mb": 1_100.0, "capture_to_pipeline_ratio": 0.2})  # fmt: skip
    assert "**61,000 events/s**" in table and ">= 50,000 (met)" in table
    assert "<= 1,024 (**missed**)" in table and ">= 0.5 (**missed**)" in table
