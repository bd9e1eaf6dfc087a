-- llmpulse schema v1, sessions: what the calls of one session add up to, and whether the user gave up.
-- Statements are separated by lines holding only ";". Names are stable: BI dashboards rely on them.

-- One row per (session_id, app, team) of the calls that carry a session id. model is the first call's.
-- Calls are ordered by (ts, event_id); calls and errors count distinct event ids (a call stored twice and
-- not yet merged away counts once). earlier_median_latency_ms is the median latency of the session's calls
-- before its last one that did not fail (errors come back fast); NULL when there are none.
-- abandoned: the last call failed (status 'error') or was slow (latency above twice earlier_median_latency_ms),
-- and no call of the session came for ABANDON_AFTER = 30 minutes since, as of the query (now()).
-- The view reads every call with a session id: filter on session_id, app or team (pushed into the scan),
-- or on the columns of llm_calls through a query of your own, for long histories.
CREATE VIEW IF NOT EXISTS llm_sessions_v AS
SELECT
    session_id,
    app,
    team,
    model,
    first_ts,
    last_ts,
    calls,
    errors,
    last_status,
    last_latency_ms,
    earlier_median_latency_ms,
    (last_status = 'error' OR ifNull(last_latency_ms > 2 * earlier_median_latency_ms, false))
        AND last_ts < now64(3) - INTERVAL 30 MINUTE AS abandoned
FROM
(
    SELECT
        session_id,
        app,
        team,
        argMin(model, (ts, event_id)) AS model,
        min(ts) AS first_ts,
        max(ts) AS last_ts,
        uniqExact(event_id) AS calls,
        uniqExactIf(event_id, status = 'error') AS errors,
        argMax(status, (ts, event_id)) AS last_status,
        argMax(latency_ms, (ts, event_id)) AS last_latency_ms,
        arrayMap(c -> c.3, arrayFilter(c -> c.4 != 'error',
            arrayPopBack(arraySort(groupUniqArray((ts, event_id, latency_ms, status)))))) AS earlier,
        if(empty(earlier), NULL, arrayReduce('quantileExactInclusive(0.5)', earlier)) AS earlier_median_latency_ms
    FROM llm_calls
    WHERE session_id != ''
    GROUP BY session_id, app, team
)
