"""Alert evaluation inside the stream worker: the leader evaluates closed windows and emits alerts.

The evaluator (``llmpulse.alerting.evaluator``) keeps its state in ClickHouse, so any worker can take
over as leader. Alerts go to ClickHouse first, then to the alerts topic, one record per alert keyed by
its incident (``dedup_key``) so an incident's firing and resolve stay in order on one partition.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Producer

from llmpulse.alerting.config import load_alert_config
from llmpulse.alerting.evaluator import AlertEvaluator
from llmpulse.clickhouse.store import Store
from llmpulse.kafka.config import producer_config
from llmpulse.schemas.alert import AlertEvent
from llmpulse.settings import Settings
from llmpulse.stream_jobs.watermark import read_watermark
from llmpulse.stream_jobs.windows import WINDOW_MS

log = logging.getLogger(__name__)


class AlertEmitter:
    """Synchronous delivery to the alerts topic: the evaluator saves its progress only after this returns."""

    def __init__(self, bootstrap: str, settings: Settings) -> None:
        self.topic = settings.alerts_topic
        self._producer = Producer(producer_config(bootstrap, settings, linger_ms=0))

    def __call__(self, alerts: list[AlertEvent]) -> None:
        errors: list[str] = []

        def delivered(err: object, msg: object) -> None:
            if err is not None:
                errors.append(str(err))

        for alert in alerts:
            self._producer.produce(self.topic, key=alert.dedup_key.encode(), value=alert.model_dump_json().encode(),
                                   on_delivery=delivered)  # fmt: skip
        left = self._producer.flush(30.0)
        if left or errors:
            raise RuntimeError(f"could not deliver {left or len(errors)} alert(s) to {self.topic}: {errors[:1]}")


class LeaderAlerts:
    """What the leader's timer calls. Reloads the evaluator's state when it (re)gains leadership."""

    def __init__(self, store: Store, settings: Settings, bootstrap: str) -> None:
        self.store = store
        self.settings = settings
        self.config = load_alert_config(settings.alerts_file)
        self.emit = AlertEmitter(bootstrap, settings)
        self.evaluator: AlertEvaluator | None = None
        self._last_tick = 0.0

    def tick(self) -> int:
        now = time.monotonic()
        if self.evaluator is None or now - self._last_tick > 5 * self.settings.alert_interval_s:
            # first tick, or leadership came back: another worker may have moved the state on
            self.evaluator = AlertEvaluator(self.store, self.config, self.emit)
        self._last_tick = now
        watermark = read_watermark(self.store, self.settings.calls_topic, WINDOW_MS)
        if watermark is None:
            return 0
        alerts = self.evaluator.tick(watermark)
        for alert in alerts:
            log.info("alert %s: %s", alert.status, alert.summary)
        return len(alerts)
