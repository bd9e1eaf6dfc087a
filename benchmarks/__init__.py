"""Benchmarks: each prints a JSON report."""
