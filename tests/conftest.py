"""Shared fixtures (tests/fixtures/: one plugin each) and the CI rule: no integration test may skip."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.clickhouse"]

_skipped_integration: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "integration" in report.keywords:
        _skipped_integration.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and _skipped_integration:
        print(f"\nCI: {len(_skipped_integration)} integration test(s) skipped, which counts as a failure:")
        for nodeid in _skipped_integration:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
