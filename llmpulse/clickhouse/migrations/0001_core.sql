-- llmpulse schema v1: raw calls, one-minute rollups, dead letters, sink progress.
-- Statements are separated by lines holding only ";". Names are stable: BI dashboards rely on them.
-- TTLs are not written here: they come from the retention settings (llmpulse/clickhouse/retention.py).
-- "-- shard by: EXPR" above a table is its sharding key on a cluster (llmpulse/clickhouse/cluster_ddl.py).

-- DDSketch helpers. A sketch is Map(bucket Int16 -> count UInt64); bucket k covers values in
-- (g^(k-1), g^k] with g = 1.01005025 (relative accuracy 0.5%); bucket -32768 holds zeros.
CREATE FUNCTION IF NOT EXISTS llmpulse_sketch_value AS (k) ->
    if(k = -32768, 0., 2. * pow(1.0100502512562815, k) / (1.0100502512562815 + 1.))
;
-- Nearest-rank quantile of a sketch, the rank convention of quantileExact: element floor(q*n), 0-based.
CREATE FUNCTION IF NOT EXISTS llmpulse_quantile AS (m, q) ->
    if(empty(m), NULL, llmpulse_sketch_value(mapKeys(m)[
        arrayFirstIndex(c -> c > floor(q * arraySum(mapValues(m))), arrayCumSum(mapValues(m)))]))
;
-- shard by: cityHash64(event_id)
CREATE TABLE IF NOT EXISTS llm_calls
(
    event_id           String,
    ts                 DateTime64(3, 'UTC'),
    latency_ms         Float64,
    ttft_ms            Nullable(Float64),
    provider           LowCardinality(String),
    model              LowCardinality(String),
    response_model     LowCardinality(String),
    operation          LowCardinality(String),
    streaming          Bool,
    status             LowCardinality(String),
    error_type         LowCardinality(String),
    finish_reason      LowCardinality(String),
    input_tokens       UInt32,
    output_tokens      UInt32,
    cache_read_tokens  UInt32,
    cache_write_tokens UInt32,
    reasoning_tokens   UInt32,
    cost_usd           Nullable(Decimal(18, 12)),
    price_status       LowCardinality(String),
    client_cost_usd    Nullable(Float64),
    app                LowCardinality(String),
    team               LowCardinality(String),
    user_id            String,
    session_id         String,
    environment        LowCardinality(String),
    attributes         Map(LowCardinality(String), String),
    prompt             Nullable(String) CODEC(ZSTD(3)),
    response           Nullable(String) CODEC(ZSTD(3)),
    pii_detections     UInt16,
    flags              Array(LowCardinality(String)),
    schema_version     UInt8,
    kafka_partition    UInt32,
    kafka_offset       UInt64,
    ingested_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), model, team, event_id)
SETTINGS non_replicated_deduplication_window = 10000
;
-- shard by: cityHash64(provider, model, app, team)
CREATE TABLE IF NOT EXISTS llm_call_rollups_1m
(
    window_start       DateTime('UTC'),
    provider           LowCardinality(String),
    model              LowCardinality(String),
    app                LowCardinality(String),
    team               LowCardinality(String),
    requests           SimpleAggregateFunction(sum, UInt64),
    errors             SimpleAggregateFunction(sum, UInt64),
    latency_sum_ms     SimpleAggregateFunction(sum, Float64),
    latency_sketch     SimpleAggregateFunction(sumMap, Map(Int16, UInt64)),
    ttft_count         SimpleAggregateFunction(sum, UInt64),
    ttft_sketch        SimpleAggregateFunction(sumMap, Map(Int16, UInt64)),
    input_tokens       SimpleAggregateFunction(sum, UInt64),
    output_tokens      SimpleAggregateFunction(sum, UInt64),
    cache_read_tokens  SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens   SimpleAggregateFunction(sum, UInt64),
    cost_usd           SimpleAggregateFunction(sum, Decimal(38, 12)),
    unpriced_requests  SimpleAggregateFunction(sum, UInt64),
    pii_detections     SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, provider, model, app, team)
SETTINGS non_replicated_deduplication_window = 10000
;
-- shard by: cityHash64(app, team, user_id)
CREATE TABLE IF NOT EXISTS llm_user_cost_1d
(
    day                Date,
    app                LowCardinality(String),
    team               LowCardinality(String),
    user_id            String,
    requests           SimpleAggregateFunction(sum, UInt64),
    input_tokens       SimpleAggregateFunction(sum, UInt64),
    output_tokens      SimpleAggregateFunction(sum, UInt64),
    cost_usd           SimpleAggregateFunction(sum, Decimal(38, 12))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, app, team, user_id)
SETTINGS non_replicated_deduplication_window = 10000
;
-- shard by: cityHash64(topic, kafka_partition, kafka_offset)
CREATE TABLE IF NOT EXISTS llm_dead_letters
(
    received_at        DateTime64(3, 'UTC'),
    topic              LowCardinality(String),
    kafka_partition    UInt32,
    kafka_offset       UInt64,
    item_index         Int32,
    reason             LowCardinality(String),
    detail             String,
    event_id           String,
    payload            String CODEC(ZSTD(3)),
    payload_bytes      UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, topic, kafka_partition, kafka_offset, item_index)
SETTINGS non_replicated_deduplication_window = 10000
;
-- shard by: cityHash64(topic, kafka_partition)
CREATE TABLE IF NOT EXISTS llm_sink_chunks
(
    topic              LowCardinality(String),
    kafka_partition    UInt32,
    start_offset       UInt64,
    end_offset         UInt64,
    max_event_ts       DateTime64(3, 'UTC'),
    records            UInt32,
    written_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, kafka_partition, start_offset)
;
CREATE VIEW IF NOT EXISTS llm_rollups_1m_v AS
SELECT
    window_start,
    provider,
    model,
    app,
    team,
    sum(requests) AS requests,
    sum(errors) AS errors,
    if(requests = 0, 0., errors / requests) AS error_rate,
    llmpulse_quantile(sumMap(latency_sketch), 0.5) AS latency_p50_ms,
    llmpulse_quantile(sumMap(latency_sketch), 0.95) AS latency_p95_ms,
    llmpulse_quantile(sumMap(latency_sketch), 0.99) AS latency_p99_ms,
    if(requests = 0, 0., sum(latency_sum_ms) / requests) AS latency_avg_ms,
    llmpulse_quantile(sumMap(ttft_sketch), 0.5) AS ttft_p50_ms,
    llmpulse_quantile(sumMap(ttft_sketch), 0.95) AS ttft_p95_ms,
    llmpulse_quantile(sumMap(ttft_sketch), 0.99) AS ttft_p99_ms,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    sum(unpriced_requests) AS unpriced_requests,
    sum(pii_detections) AS pii_detections
FROM llm_call_rollups_1m
GROUP BY window_start, provider, model, app, team
