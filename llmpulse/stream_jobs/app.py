"""The Faust app: agents and timers only wire; the work is in ``runtime``, ``sink`` and ``batch``.

Agents read whole batches (``take_events``) because Faust's per-message cost, not Kafka or ClickHouse,
is what limits throughput (DESIGN.md); each Kafka record already carries hundreds of events.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from llmpulse.kafka.config import faust_credentials
from llmpulse.settings import Settings
from llmpulse.stream_jobs.runtime import Runtime

log = logging.getLogger(__name__)


class StreamApp(faust.App):
    """Faust's App, told when a rebalance starts so the runtime can let go of held records."""

    runtime: Runtime | None = None

    def on_rebalance_start(self) -> None:
        super().on_rebalance_start()
        if self.runtime is not None:
            self.runtime.forget_all()

    async def on_stop(self) -> None:
        # Before the consumer (a child service) leaves the group: a revocation while stopping does not wait
        # for the streams (Faust closes the consumer at once), so the writes in flight are finished here.
        if self.runtime is not None:
            await self.runtime.stop_writing()
        await super().on_stop()


def create_app(settings: Settings, bootstrap: str, runtime: Runtime) -> faust.App:
    """The app for one worker process; ``runtime`` must be opened (store migrated) before it starts."""
    app = StreamApp(
        settings.consumer_group,
        broker=",".join(f"kafka://{b}" for b in bootstrap.split(",")),
        broker_credentials=faust_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_partitions=settings.kafka_partitions,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        # Measured against the embedded broker (DESIGN.md): short sessions get partitions assigned in
        # seconds; a short max_poll_interval makes the consumer lose its partitions mid-stream.
        broker_session_timeout=6.0,
        broker_heartbeat_interval=0.5,
        broker_max_poll_interval=60.0,
        broker_commit_interval=1.0,
        # one batch waits while one is handled: a record holds ~500 events (~300 KB), so twice the batch held
        # ~30 MB more, for no throughput difference beyond the noise between benchmark runs
        stream_buffer_maxsize=settings.batch_max_records,
        producer_compression_type="lz4",
    )
    app.runtime = runtime
    dead_letters = app.topic(settings.dlq_topic, value_serializer="raw", key_serializer="raw")

    async def send_dead(values: list[bytes]) -> None:
        """Dead letters reach the topic before their records are acknowledged (at-least-once)."""
        pending = [await dead_letters.send(value=value) for value in values]
        if pending:
            await asyncio.gather(*pending)

    @app.timer(settings.alert_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def evaluate_alerts() -> None:
        await runtime.run_alerts()

    def generation() -> int:
        return int(app.consumer_generation_id)

    def agent_for(topic_name: str, name: str) -> None:
        """One agent per event kind's topic; each hands its batches to the same runtime."""
        topic = app.topic(topic_name, value_serializer="raw", key_serializer="raw")

        async def process(stream: faust.StreamT) -> None:
            batches = stream.take_events(settings.batch_max_records, within=settings.batch_within_s)  # type: ignore[attr-defined]
            async for events in batches:
                await runtime.handle(topic_name, events, stream.ack, send_dead, generation)

        app.agent(topic, name=name)(process)

    for topic_name, kind in settings.event_topics().items():
        agent_for(topic_name, kind.name)

    return app
