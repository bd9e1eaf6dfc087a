-- llmpulse schema v1, alerting: alert transitions and the evaluator's saved state.
-- Statements are separated by lines holding only ";". Names are stable: BI dashboards rely on them.

-- One row per alert transition (an incident fires once and resolves once). alert_id is
-- '<dedup_key>:<status>:<incident start ms>', so a transition written twice (a replay, a restarted
-- evaluator, two workers) collapses to one row: the evaluator inserts each window's alerts with an
-- insert_deduplication_token, and ReplacingMergeTree(alert_id) removes what still gets through.
-- The partition key (incident start) is part of alert_id, so copies of a transition share a partition.
-- shard by: cityHash64(alert_id)
CREATE TABLE IF NOT EXISTS llm_alerts
(
    alert_id           String,
    dedup_key          String,
    kind               LowCardinality(String),
    severity           LowCardinality(String),
    status             LowCardinality(String),
    rule               LowCardinality(String),
    metric             LowCardinality(String),
    dimensions         Map(LowCardinality(String), String),
    observed           Nullable(Float64),
    expected           Nullable(Float64),
    lower              Nullable(Float64),
    upper              Nullable(Float64),
    threshold          Nullable(Float64),
    window_start       DateTime64(3, 'UTC'),
    window_end         DateTime64(3, 'UTC'),
    started_at         DateTime64(3, 'UTC'),
    emitted_at         DateTime64(3, 'UTC'),
    summary            String,
    query              String CODEC(ZSTD(3)),
    team               LowCardinality(String),
    schema_version     UInt8,
    evaluator          LowCardinality(String),
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_dedup_key dedup_key TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_window_start window_start TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY alert_id
SETTINGS non_replicated_deduplication_window = 10000
;
-- The alert evaluator's state: a blob (the pickled engine: lifecycle, detectors, budgets) per evaluator
-- and the last window it evaluated. A new row per evaluated window; the newest one counts.
-- shard by: cityHash64(evaluator)
CREATE TABLE IF NOT EXISTS llm_alert_state
(
    evaluator          LowCardinality(String),
    last_window_start  DateTime64(3, 'UTC'),
    state              String,
    state_bytes        UInt64,
    saved_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(last_window_start)
ORDER BY evaluator
