"""Process settings: one frozen object, read from the environment (prefix ``LLMPULSE_``) with safe defaults.

Secrets (SASL password, a ClickHouse URL with credentials, webhook keys) are ``SecretStr``: they never
appear in a repr, a log line or an error message.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmpulse.schemas import topics
from llmpulse.schemas.kinds import KINDS, EventKind


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMPULSE_", frozen=True, extra="ignore")

    # Kafka. No bootstrap servers: llmpulse starts its embedded broker (``llmpulse up`` / ``demo``).
    kafka_bootstrap: str | None = Field(None, description="host:port[,host:port]; unset = embedded broker")
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = None
    kafka_partitions: int = Field(3, ge=1, description="partitions of topics llmpulse creates")
    embedded_broker_port: int = 0  # 0: a free port
    calls_topic: str = topics.CALLS
    feedback_topic: str = topics.FEEDBACK
    evaluations_topic: str = topics.EVALUATIONS
    alerts_topic: str = topics.ALERTS
    dlq_topic: str = Field(topics.DEAD_LETTERS, description="dead letters of every event kind")
    consumer_group: str = "llmpulse-stream"

    # ClickHouse. No URL: the embedded engine (chdb) in ``data_dir``, owned by one process.
    clickhouse_url: SecretStr | None = Field(None, description="http(s)://user:pass@host:8123/db")
    data_dir: Path = Path(".llmpulse/data")
    clickhouse_cluster: str | None = Field(
        None, description="cluster (remote_servers) for `llmpulse migrate`: Replicated tables ON CLUSTER behind "
        "Distributed tables; unset = single node"
    )

    # Retention in days (0 = keep forever). Unset: new tables get the built-in default (dead letters 30 days,
    # the rest kept) and an existing TTL is left alone; set: applied by every migrate (ALTER … MODIFY TTL).
    ttl_calls_days: int | None = Field(None, ge=0, description="raw calls (llm_calls); unset = keep")
    ttl_text_days: int | None = Field(None, ge=0, description="captured prompt/response text (column TTL)")
    ttl_rollups_days: int | None = Field(None, ge=0, description="llm_call_rollups_1m and llm_user_cost_1d")
    ttl_dead_letters_days: int | None = Field(None, ge=0, description="llm_dead_letters; unset = 30")
    ttl_alerts_days: int | None = Field(None, ge=0, description="llm_alerts; unset = keep")

    @field_validator("ttl_calls_days", "ttl_text_days", "ttl_rollups_days", "ttl_dead_letters_days",
                     "ttl_alerts_days", "clickhouse_cluster", mode="before")  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # compose passes `VAR: ${VAR:-}` as an empty string when .env leaves it empty
        return None if isinstance(value, str) and not value.strip() else value

    store_fault_file: Path | None = Field(None, description="outage drills: the store fails while this file exists")

    # Stream jobs.
    # 100, not 200: a worker holds about five batches' records at once (Faust's stream buffer of two batches,
    # the batch being prepared, two being written), each record up to producer_batch_events events; measured
    # on `llmpulse bench --events 400000 --windows 60` (allocator set-up of `llmpulse worker` on): worker peak
    # RSS 1,155 -> 1,020 MiB; worker CPU per event 41 -> 51 µs in that pair on a shared, loaded machine
    batch_max_records: int = Field(
        100, ge=1, description="Kafka records per stream batch (each holds up to producer_batch_events events)"
    )
    batch_within_s: float = Field(1.0, gt=0, description="longest wait to fill a stream batch")
    max_event_age_s: int = Field(30 * 86400, description="older events go to the dead-letter topic")
    max_event_future_s: int = Field(3600, description="events further ahead go to the dead-letter topic")
    max_text_chars: int = Field(32_768, description="prompt/response text is capped (and flagged) here")
    max_name_chars: int = Field(256, description="model/team/app/user names are capped (and flagged) here")
    prices_file: Path | None = Field(None, description="TOML with prices for custom models")
    capture_text: bool = Field(False, description="store prompt/response text (PII-redacted)")
    id_hash_key: SecretStr | None = Field(
        None, description="HMAC-SHA256 key: user/session/team/app ids holding PII are stored as keyed hashes"
    )
    hash_ids: bool = Field(False, description="store every user_id and session_id as a keyed hash (needs the key)")
    pii_types: str | None = Field(None, description="comma-separated PII types to redact (EMAIL,PHONE,…); unset = all")
    pii_phone_regions: str | None = Field(
        None, description="comma-separated regions whose national phone numbers are redacted; unset = US,GB,DE,FR,"
        "ES,IT,NL,IN,JP,BR,AU,CA"
    )
    # Defaults measured by ``python -m llmpulse.bench.quality_cost`` (benchmark traffic, 1,000-event chunks): the
    # rule tier costs ~25 us per judged call, the model tier ~1.2 ms more plus ~5 ms per chunk for the toxicity
    # model; 0.25 / 0.001 cost ~12 us per event in all, within the pipeline's budget.
    quality_sample_rate: float = Field(
        0.25, ge=0.0, le=1.0, description="share of calls with text the worker judges with the rule-based signals "
        "(refusal, empty answer, prompt injection); truncation is counted on every call"
    )
    quality_model_sample_rate: float = Field(
        0.001, ge=0.0, le=1.0, description="share of calls with text also judged by the models (toxicity, "
        "sentiment, relevance, repeated-prompt agreement): about 1 ms of CPU each"
    )
    feedback_lookback_days: int = Field(
        7, ge=1, description="feedback and evaluations are attributed to calls made this many days before them"
    )
    alerts_file: Path | None = Field(None, description="alert rules, budgets, routing (TOML); unset = defaults")
    alerts_enabled: bool = Field(True, description="evaluate alert rules in the stream worker (leader only)")
    alert_interval_s: float = Field(2.0, gt=0, description="how often the leader looks for closed windows")

    # Producer (Monitor) defaults.
    producer_buffer_events: int = Field(100_000, ge=1, description="events held in memory at most")
    producer_batch_events: int = Field(500, ge=1, description="events per Kafka record")
    producer_linger_ms: int = Field(50, ge=0)

    @model_validator(mode="after")
    def _hash_ids_need_a_key(self) -> Settings:
        if self.id_hash_key is not None and len(self.id_hash_key.get_secret_value()) < 16:
            raise ValueError("LLMPULSE_ID_HASH_KEY must have at least 16 characters")
        if self.hash_ids and self.id_hash_key is None:
            raise ValueError("LLMPULSE_HASH_IDS=true needs LLMPULSE_ID_HASH_KEY")
        return self

    def topic(self, kind: EventKind) -> str:
        """The topic of an event kind (its setting, or the kind's default)."""
        value = getattr(self, kind.topic_setting, None)
        return value if isinstance(value, str) and value else kind.topic

    def event_topics(self) -> dict[str, EventKind]:
        """Topic -> the event kind it carries, for every registered kind."""
        return {self.topic(kind): kind for kind in KINDS.values()}

    def all_topics(self) -> list[str]:
        """Every topic llmpulse creates and uses."""
        return [*self.event_topics(), self.alerts_topic, self.dlq_topic]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
