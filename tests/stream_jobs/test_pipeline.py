"""The pipeline end to end: Monitor -> real Kafka-protocol broker -> Faust worker -> real ClickHouse engine."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from llmpulse.producers.malformed import malformed_records
from llmpulse.stack import Stack
from tests.guarantees.checks import QUANTILE_TOLERANCE, replays_in_logs
from tests.stream_jobs.pipeline_helpers import (
    private_settings,
    send_events,
    send_raw,
    start_stack,
    wait_stored,
    wait_until,
    workload_events,
)

pytestmark = pytest.mark.integration


def stored(stack: Stack) -> int:
    with stack.reader() as store:
        return int(store.query("SELECT count() FROM llm_calls").scalar())


def test_every_valid_event_stored_once_bad_ones_dead_lettered(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = private_settings(kafka_bootstrap, tmp_path)
    events = workload_events(6000)
    bad = malformed_records(seed=3, n=12)
    with start_stack(settings, tmp_path) as stack:
        send_events(settings, events[:3000])
        send_raw(settings, [raw for _, raw in bad])
        send_events(settings, events[3000:])
        stack.wait_caught_up(timeout_s=180)
        wait_stored(stack, len(events))
        store = stack.reader()
        stored = store.query("SELECT count(), uniqExact(event_id) FROM llm_calls").rows[0]
        stored_ids = {r[0] for r in store.query("SELECT event_id FROM llm_calls").rows}
        sent_ids = {e["event_id"] for e in events}
        assert sent_ids <= stored_ids
        good_in_bad = len(stored_ids - sent_ids)  # the valid elements of the mixed malformed arrays
        assert stored[0] == stored[1] == len(events) + good_in_bad
        reasons = dict(store.query("SELECT reason, count() FROM llm_dead_letters GROUP BY reason").rows)
        expected: dict[str, int] = {}
        for reason, _ in bad:
            expected[reason] = expected.get(reason, 0) + 1
        assert reasons == expected
        assert store.query("SELECT countIf(detail = '') FROM llm_dead_letters").scalar() == 0

        # a rollup for every (model, team) seen, and sums that equal the raw rows exactly
        seen = set(store.query("SELECT DISTINCT model, team FROM llm_calls").rows)
        rolled = set(store.query("SELECT DISTINCT model, team FROM llm_rollups_1m_v").rows)
        assert seen == rolled
        raw = store.query("SELECT count(), countIf(status = 'error'), sum(input_tokens), sum(output_tokens), "
                          "sum(cost_usd) FROM llm_calls").rows[0]  # fmt: skip
        rolled_sums = store.query("SELECT sum(requests), sum(errors), sum(input_tokens), sum(output_tokens), "
                                  "sum(cost_usd) FROM llm_rollups_1m_v").rows[0]  # fmt: skip
        assert [str(x) for x in raw] == [str(x) for x in rolled_sums]  # exact: Decimal sums, integer counts
        assert Decimal(str(raw[4])) > 0

        # rollup p50/p95/p99 per (window, model) within the promised 0.5% of the exact ones over the raw rows
        rows = store.query("""
            SELECT r.window_start, r.model, r.p95, e.p95, r.p50, e.p50, r.p99, e.p99 FROM
              (SELECT window_start, model, llmpulse_quantile(sumMap(latency_sketch), 0.95) AS p95,
                      llmpulse_quantile(sumMap(latency_sketch), 0.5) AS p50,
                      llmpulse_quantile(sumMap(latency_sketch), 0.99) AS p99
               FROM llm_call_rollups_1m GROUP BY window_start, model) AS r
            JOIN
              (SELECT toStartOfMinute(ts) AS window_start, model, quantileExact(0.95)(latency_ms) AS p95,
                      quantileExact(0.5)(latency_ms) AS p50, quantileExact(0.99)(latency_ms) AS p99
               FROM llm_calls GROUP BY window_start, model) AS e
            USING (window_start, model)""").rows
        assert len(rows) >= 10
        for row in rows:
            for approx, exact in ((row[2], row[3]), (row[4], row[5]), (row[6], row[7])):
                assert abs(approx - exact) <= QUANTILE_TOLERANCE * exact, row


def test_worker_killed_mid_stream_loses_nothing_counts_nothing_twice(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = private_settings(kafka_bootstrap, tmp_path, batch_max_records=20)
    events = workload_events(60_000, seed=7)
    with start_stack(settings, tmp_path) as stack:
        send_events(settings, events)
        for _ in range(2):
            target = stored(stack) + 5000
            wait_until(lambda t=target: stored(stack) >= t, "the worker to make progress", timeout_s=180)
            stack.stop_worker(stack.workers[0], kill=True)
            stack.start_worker()
            stack.wait_worker_ready()
        stack.wait_caught_up(timeout_s=300)
        wait_stored(stack, len(events))
        replayed, deduplicated = replays_in_logs(tmp_path / "logs")
        assert replayed >= 1 and deduplicated >= 1, f"{replayed} chunks replayed, {deduplicated} deduplicated"
        store = stack.reader()
        count, unique = store.query("SELECT count(), uniqExact(event_id) FROM llm_calls").rows[0]
        assert count == unique == len(events)
        raw = store.query("SELECT count(), sum(input_tokens), sum(output_tokens), sum(cost_usd) FROM llm_calls").rows[0]
        rolled = store.query("SELECT sum(requests), sum(input_tokens), sum(output_tokens), sum(cost_usd) "
                             "FROM llm_call_rollups_1m").rows[0]  # fmt: skip
        assert [str(x) for x in raw] == [str(x) for x in rolled]
        per_window = store.query("""
            SELECT count() FROM
              (SELECT window_start, model, team, sum(requests) AS n FROM llm_call_rollups_1m
               GROUP BY window_start, model, team) AS r
            FULL OUTER JOIN
              (SELECT toStartOfMinute(ts) AS window_start, model, team, count() AS n FROM llm_calls
               GROUP BY window_start, model, team) AS e
            USING (window_start, model, team) WHERE r.n != e.n""").scalar()
        assert per_window == 0
