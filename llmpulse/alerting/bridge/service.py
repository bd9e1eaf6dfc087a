"""The bridge's consumer loop: ``llm.alerts`` → dispatcher → commit.

Guarantees:
- An offset is committed only once every routed destination has taken the alert or refused it for good.
- While a destination is down, the alert's partition is paused and the alert retried with backoff (the
  consumer keeps polling, so it stays in its group); other partitions go on. Nothing is committed past it.
- A restart re-reads uncommitted alerts; the ledger keeps them from being delivered twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import ValidationError

from llmpulse.alerting.bridge.dispatch import Dispatcher, DispatchStats, RetryPolicy
from llmpulse.kafka.config import consumer_config
from llmpulse.schemas import topics
from llmpulse.schemas.alert import AlertEvent
from llmpulse.settings import Settings

log = logging.getLogger("llmpulse.alerting.bridge")

GROUP = "llmpulse-bridge"
TP = tuple[str, int]


#: What the bridge's consumer changes in llmpulse's consumer defaults (``llmpulse.kafka.config``): offsets are
#: stored by hand once an alert is delivered, and partition-EOF events tell ``run(once=True)`` it is drained.
CONSUMER_OPTIONS: dict[str, str | bool] = {
    "client.id": "llmpulse-bridge",
    "enable.auto.offset.store": False,
    "enable.partition.eof": True,
}


@dataclass
class _Pending:
    message: Message
    alert: AlertEvent
    attempt: int
    due: float


@dataclass
class BridgeStats:
    consumed: int = 0
    committed: int = 0
    invalid: int = 0
    retries: int = 0
    delivery: DispatchStats = field(default_factory=DispatchStats)


class Bridge:
    """Consumes alerts and delivers them. ``run`` blocks until ``stop()``, ``max_seconds`` or ``once``."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        bootstrap: str,
        topic: str = topics.ALERTS,
        group: str = GROUP,
        settings: Settings | None = None,
        retry: RetryPolicy | None = None,
        stop_event: threading.Event | None = None,
        poll_timeout_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.topic = topic
        self.group = group
        self.retry = retry or RetryPolicy()
        self.stop_event = stop_event or threading.Event()
        self._config = consumer_config(bootstrap, group, settings, extra=CONSUMER_OPTIONS)
        self._poll_timeout_s = poll_timeout_s
        self._clock = clock
        self._rng = rng or random.Random()
        self._pending: dict[TP, _Pending] = {}
        self._assigned: set[TP] = set()
        self._at_eof: set[TP] = set()
        self._consumer: Consumer | None = None
        self.stats = BridgeStats(delivery=dispatcher.stats)

    def stop(self) -> None:
        """Ask ``run`` to return (thread- and signal-safe)."""
        self.stop_event.set()

    def sleep(self, seconds: float) -> None:
        """A wait that ends early when the bridge is stopped (give it to destinations)."""
        self.stop_event.wait(seconds)

    def run(self, *, once: bool = False, max_seconds: float | None = None) -> BridgeStats:
        """Consume until stopped; ``once``: until every assigned partition is drained and delivered."""
        consumer = Consumer(self._config)
        self._consumer = consumer
        deadline = None if max_seconds is None else self._clock() + max_seconds
        consumer.subscribe(
            [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        log.info("bridge consuming %s as group %s", self.topic, self.group)
        try:
            while not self.stop_event.is_set():
                now = self._clock()
                if deadline is not None and now >= deadline:
                    break
                self._retry_due(consumer, now)
                if once and self._caught_up():
                    break
                msg = consumer.poll(self._next_timeout(now, deadline))
                if msg is None:
                    continue
                self._on_message(consumer, msg)
        finally:
            self._consumer = None
            if self._pending:
                log.warning("bridge stopping with %d undelivered alert(s), not committed", len(self._pending))
            self._pending.clear()
            consumer.close()
            log.info(
                "bridge stopped: %d consumed, %d sent, %d skipped, %d failed",
                self.stats.consumed,
                self.stats.delivery.sent,
                self.stats.delivery.skipped,
                self.stats.delivery.failed,
            )
        return self.stats

    # -- messages -----------------------------------------------------------------------------------

    def _on_message(self, consumer: Consumer, msg: Message) -> None:
        err = msg.error()
        tp: TP = (msg.topic() or self.topic, msg.partition() or 0)
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                self._at_eof.add(tp)
                return
            if err.fatal():
                raise KafkaException(err)
            log.warning("kafka: %s", err.str())
            return
        self._at_eof.discard(tp)
        self.stats.consumed += 1
        raw = msg.value()
        if raw is None:
            self._commit(consumer, msg)
            return
        try:
            alert = AlertEvent.model_validate_json(raw)
        except ValidationError as exc:
            self.stats.invalid += 1
            log.warning(
                "skipping invalid alert at %s[%d]@%d: %s",
                tp[0],
                tp[1],
                msg.offset(),
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]),
            )
            self._commit(consumer, msg)
            return
        result = self.dispatcher.dispatch(alert)
        if result.done:
            self._commit(consumer, msg)
            return
        delay = self.retry.delay(1, result.retry_after_s, self._rng)
        self._pending[tp] = _Pending(msg, alert, 1, self._clock() + delay)
        consumer.pause([TopicPartition(tp[0], tp[1])])
        log.warning(
            "%s: holding partition %d, retry in %.1fs (%s)", tp[0], tp[1], delay, ", ".join(result.pending)
        )

    def _retry_due(self, consumer: Consumer, now: float) -> None:
        for tp, pending in list(self._pending.items()):
            if pending.due > now or self.stop_event.is_set():
                continue
            self.stats.retries += 1
            result = self.dispatcher.dispatch(pending.alert)
            if tp not in self._pending:  # revoked meanwhile
                continue
            if result.done:
                del self._pending[tp]
                self._commit(consumer, pending.message)
                consumer.resume([TopicPartition(tp[0], tp[1])])
                continue
            pending.attempt += 1
            delay = self.retry.delay(pending.attempt, result.retry_after_s, self._rng)
            pending.due = self._clock() + delay
            log.warning(
                "%s: attempt %d for %s failed, retry in %.1fs (%s)",
                tp[0],
                pending.attempt,
                pending.alert.alert_id,
                delay,
                ", ".join(result.pending),
            )

    def _commit(self, consumer: Consumer, msg: Message) -> None:
        tp = TopicPartition(msg.topic() or self.topic, msg.partition() or 0, (msg.offset() or 0) + 1)
        try:
            consumer.commit(offsets=[tp], asynchronous=False)
        except KafkaException as exc:  # e.g. a rebalance: the alert is re-read, the ledger skips it
            log.warning("commit of %s[%d]@%d failed: %s", tp.topic, tp.partition, msg.offset(), exc)
            return
        self.stats.committed += 1

    # -- bookkeeping --------------------------------------------------------------------------------

    def _next_timeout(self, now: float, deadline: float | None) -> float:
        timeout = self._poll_timeout_s
        if self._pending:
            timeout = min(timeout, max(0.0, min(p.due for p in self._pending.values()) - now))
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - now))
        return max(timeout, 0.01)

    def _caught_up(self) -> bool:
        return bool(self._assigned) and not self._pending and self._assigned <= self._at_eof

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        tps = {(p.topic, p.partition) for p in partitions}
        self._assigned |= tps
        self._at_eof -= tps
        log.info("bridge assigned %s", sorted(tps))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        tps = {(p.topic, p.partition) for p in partitions}
        for tp in tps & set(self._pending):
            log.warning("%s[%d] revoked with an undelivered alert; it will be re-read", tp[0], tp[1])
            del self._pending[tp]
        self._assigned -= tps
        self._at_eof -= tps
