-- llmpulse schema v1, quality: the quality, UX and safety signals of each call; feedback and evaluations
-- attributed to their calls; per-minute quality and evaluation rollups.
-- Statements are separated by lines holding only ";". Names are stable: BI dashboards rely on them.

-- Token counts estimated from the text (the provider reported none).
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS tokens_estimated Bool DEFAULT false AFTER reasoning_tokens
;
-- The signals of a call (llmpulse.quality). truncated is judged on every call (finish reason).
-- quality_sampled: the rule-based signals (refusal, empty_answer, prompt_injection) were judged on this call (a
-- share of the calls with text, LLMPULSE_QUALITY_SAMPLE_RATE); quality_models_sampled: the model-based ones
-- too (toxicity, sentiment, relevance, answer agreement; a smaller share, LLMPULSE_QUALITY_MODEL_SAMPLE_RATE,
-- always among the former). Elsewhere the flags are false and the scores null. A rate is
-- countIf(flag) / countIf(quality_sampled) for a rule signal, / countIf(quality_models_sampled) for a model one.
ALTER TABLE llm_calls
    ADD COLUMN IF NOT EXISTS quality_sampled Bool DEFAULT false AFTER flags,
    ADD COLUMN IF NOT EXISTS quality_models_sampled Bool DEFAULT false AFTER quality_sampled,
    ADD COLUMN IF NOT EXISTS truncated Bool DEFAULT false AFTER quality_models_sampled,
    ADD COLUMN IF NOT EXISTS refusal Bool DEFAULT false AFTER truncated,
    ADD COLUMN IF NOT EXISTS empty_answer Bool DEFAULT false AFTER refusal,
    ADD COLUMN IF NOT EXISTS prompt_injection Bool DEFAULT false AFTER empty_answer,
    ADD COLUMN IF NOT EXISTS toxicity_prompt Nullable(Float32) AFTER prompt_injection,
    ADD COLUMN IF NOT EXISTS toxicity_response Nullable(Float32) AFTER toxicity_prompt,
    ADD COLUMN IF NOT EXISTS toxic Bool DEFAULT false AFTER toxicity_response,
    ADD COLUMN IF NOT EXISTS sentiment Nullable(Float32) AFTER toxic,
    ADD COLUMN IF NOT EXISTS negative_sentiment Bool DEFAULT false AFTER sentiment,
    ADD COLUMN IF NOT EXISTS relevance Nullable(Float32) AFTER negative_sentiment,
    ADD COLUMN IF NOT EXISTS irrelevant Bool DEFAULT false AFTER relevance,
    ADD COLUMN IF NOT EXISTS answer_agreement Nullable(Float32) AFTER irrelevant,
    ADD COLUMN IF NOT EXISTS inconsistent Bool DEFAULT false AFTER answer_agreement
;
-- Feedback and evaluations find their call by event_id.
ALTER TABLE llm_calls ADD INDEX IF NOT EXISTS idx_event_id event_id TYPE bloom_filter(0.001) GRANULARITY 1
;
-- One row per feedback event. provider/model/app/team/prompt_version are the judged call's (attributed =
-- true) or, when the call was not found within LLMPULSE_FEEDBACK_LOOKBACK_DAYS, app and team as sent on the
-- feedback and empty provider, model and prompt version (attributed = false).
-- shard by: cityHash64(event_id)
CREATE TABLE IF NOT EXISTS llm_feedback
(
    event_id           String,
    call_id            String,
    ts                 DateTime64(3, 'UTC'),
    thumbs             LowCardinality(String),
    rating             Nullable(UInt8),
    comment            Nullable(String) CODEC(ZSTD(3)),
    user_id            String,
    attributed         Bool,
    call_ts            Nullable(DateTime64(3, 'UTC')),
    provider           LowCardinality(String),
    model              LowCardinality(String),
    app                LowCardinality(String),
    team               LowCardinality(String),
    prompt_version     LowCardinality(String),
    pii_detections     UInt16,
    flags              Array(LowCardinality(String)),
    schema_version     UInt8,
    kafka_partition    UInt32,
    kafka_offset       UInt64,
    ingested_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), model, app, event_id)
SETTINGS non_replicated_deduplication_window = 10000
;
-- One row per evaluation result (OpenTelemetry gen_ai.evaluation.result), attributed like feedback.
-- shard by: cityHash64(event_id)
CREATE TABLE IF NOT EXISTS llm_evaluations
(
    event_id           String,
    call_id            String,
    ts                 DateTime64(3, 'UTC'),
    name               LowCardinality(String),
    score              Nullable(Float64),
    label              LowCardinality(String),
    explanation        Nullable(String) CODEC(ZSTD(3)),
    evaluator          LowCardinality(String),
    attributed         Bool,
    call_ts            Nullable(DateTime64(3, 'UTC')),
    provider           LowCardinality(String),
    model              LowCardinality(String),
    app                LowCardinality(String),
    team               LowCardinality(String),
    prompt_version     LowCardinality(String),
    pii_detections     UInt16,
    flags              Array(LowCardinality(String)),
    schema_version     UInt8,
    kafka_partition    UInt32,
    kafka_offset       UInt64,
    ingested_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), name, model, app, event_id)
SETTINGS non_replicated_deduplication_window = 10000
;
-- Per minute and call dimension (prompt_version is the call's 'prompt_version' attribute): counts of the
-- calls' signals (in the minute of the call) and of feedback (in the minute it was given).
-- shard by: cityHash64(provider, model, app, team)
CREATE TABLE IF NOT EXISTS llm_quality_rollups_1m
(
    window_start         DateTime('UTC'),
    provider             LowCardinality(String),
    model                LowCardinality(String),
    app                  LowCardinality(String),
    team                 LowCardinality(String),
    prompt_version       LowCardinality(String),
    calls                SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    quality_sampled      SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    models_sampled       SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    truncated            SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    refusals             SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    empty_answers        SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    prompt_injections    SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    toxic                SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    negative_sentiment   SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    irrelevant           SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    repeated_prompts     SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    inconsistent_answers SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    response_pii         SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    feedback             SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    thumbs_up            SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    thumbs_down          SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    ratings              SimpleAggregateFunction(sum, UInt64) DEFAULT 0,
    rating_sum           SimpleAggregateFunction(sum, Float64) DEFAULT 0
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, provider, model, app, team, prompt_version)
SETTINGS non_replicated_deduplication_window = 10000
;
-- Per minute, call dimension and evaluation name (in the minute the result was given).
-- shard by: cityHash64(provider, model, app, team)
CREATE TABLE IF NOT EXISTS llm_evaluation_rollups_1m
(
    window_start       DateTime('UTC'),
    provider           LowCardinality(String),
    model              LowCardinality(String),
    app                LowCardinality(String),
    team               LowCardinality(String),
    prompt_version     LowCardinality(String),
    name               LowCardinality(String),
    evaluations        SimpleAggregateFunction(sum, UInt64),
    scored             SimpleAggregateFunction(sum, UInt64),
    score_sum          SimpleAggregateFunction(sum, Float64),
    labels             SimpleAggregateFunction(sumMap, Map(String, UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, provider, model, app, team, prompt_version, name)
SETTINGS non_replicated_deduplication_window = 10000
;
-- Rates per minute and call dimension, for dashboards and SQL.
CREATE VIEW IF NOT EXISTS llm_quality_1m_v AS
SELECT
    window_start, provider, model, app, team, prompt_version,
    sum(calls) AS call_count,
    sum(quality_sampled) AS sampled,
    sum(models_sampled) AS models_sampled_count,
    if(call_count = 0, NULL, sum(truncated) / call_count) AS truncation_rate,
    if(sampled = 0, NULL, sum(refusals) / sampled) AS refusal_rate,
    if(sampled = 0, NULL, sum(empty_answers) / sampled) AS empty_answer_rate,
    if(sampled = 0, NULL, sum(prompt_injections) / sampled) AS prompt_injection_rate,
    if(models_sampled_count = 0, NULL, sum(toxic) / models_sampled_count) AS toxic_rate,
    if(models_sampled_count = 0, NULL, sum(negative_sentiment) / models_sampled_count) AS negative_sentiment_rate,
    if(models_sampled_count = 0, NULL, sum(irrelevant) / models_sampled_count) AS irrelevant_rate,
    if(sum(repeated_prompts) = 0, NULL, sum(inconsistent_answers) / sum(repeated_prompts)) AS inconsistency_rate,
    sum(response_pii) AS responses_with_pii,
    sum(feedback) AS feedback_count,
    sum(thumbs_up) AS thumbs_up_count,
    sum(thumbs_down) AS thumbs_down_count,
    if(thumbs_up_count + thumbs_down_count = 0, NULL, thumbs_up_count / (thumbs_up_count + thumbs_down_count))
        AS satisfaction,
    if(sum(ratings) = 0, NULL, sum(rating_sum) / sum(ratings)) AS mean_rating
FROM llm_quality_rollups_1m
GROUP BY window_start, provider, model, app, team, prompt_version
