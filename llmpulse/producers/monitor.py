"""The in-app emitter: ``Monitor.record(event)`` costs a deque append; a daemon thread does the rest.

Caller's thread: ``record()`` appends to a bounded deque and returns (no serialisation, no locks, no
network, no per-call wake-up). When the deque is full the event is dropped and counted.

Sender thread: every ``linger_ms`` (or as soon as a full batch is waiting) it takes up to
``batch_events`` events, turns models into wire dicts (``to_wire()``), packs them into NDJSON
record values under the broker's size limit (``llmpulse.kafka.records.pack``) and produces them with
an idempotent confluent-kafka producer (null key: records spread over partitions). Delivery reports
count delivered/failed events. While the broker is down, librdkafka's queue (bounded) and then the
deque (bounded) fill up; what does not fit is dropped, counted and reported in a rate-limited warning
(counts only, never payloads); the rest goes out when the broker is back. The thread catches and
counts everything: it never dies.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import BaseModel

from llmpulse.kafka.config import (
    DEFAULT_MESSAGE_TIMEOUT_MS,
    DEFAULT_QUEUE_MAX_KBYTES,
    MAX_RECORD_BYTES,
    producer_config,
    resolve_bootstrap,
)
from llmpulse.kafka.logs import RateLimitedLog
from llmpulse.kafka.records import pack
from llmpulse.producers.exceptions import MonitorConfigError
from llmpulse.schemas.evaluation import EvaluationEvent
from llmpulse.schemas.feedback import FeedbackEvent
from llmpulse.schemas.kinds import EVALUATION, FEEDBACK, EventKind
from llmpulse.settings import Settings, get_settings

if TYPE_CHECKING:
    from llmpulse.producers.track import CallTracker

log = logging.getLogger("llmpulse.producers.monitor")

_LIVE: weakref.WeakSet[Monitor] = weakref.WeakSet()
_ABANDONED: list[Producer] = []  # a forked child's copies of its parent's producers, never destroyed

_PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)
_IN_FLIGHT_POLL_S = 0.005  # how often delivery reports are served while records are in flight
_WARN_EVERY_S = 10.0


class Monitor:
    """Sends LLM call events to Kafka without slowing the caller down.

    ``bootstrap_servers`` defaults to ``settings.kafka_bootstrap`` (or the fixed embedded broker
    port); ``topic`` (of the calls) to ``settings.calls_topic``; feedback and evaluations go to their kinds'
    topics; the sizes to the ``producer_*`` settings. ``client_config`` adds or overrides librdkafka options
    (the security ones come from the settings). Call ``close()`` (or use ``with``) to flush; at interpreter
    exit it flushes for up to ``exit_timeout_s``.
    """

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        topic: str | None = None,
        *,
        buffer_events: int | None = None,
        batch_events: int | None = None,
        linger_ms: int | None = None,
        client_config: dict[str, Any] | None = None,
        settings: Settings | None = None,
        message_timeout_ms: int = DEFAULT_MESSAGE_TIMEOUT_MS,
        max_record_bytes: int = MAX_RECORD_BYTES,
        exit_timeout_s: float = 5.0,
        stall_timeout_s: float = 60.0,
    ) -> None:
        settings = settings or get_settings()
        bootstrap = resolve_bootstrap(bootstrap_servers, settings)
        if not bootstrap:
            raise MonitorConfigError(
                "no Kafka bootstrap servers: pass bootstrap_servers or set LLMPULSE_KAFKA_BOOTSTRAP"
            )
        self.bootstrap_servers = bootstrap
        self.topic = topic or settings.calls_topic
        self._settings = settings
        self.buffer_events = _positive("buffer_events", buffer_events, settings.producer_buffer_events)
        self.batch_events = _positive("batch_events", batch_events, settings.producer_batch_events)
        self.linger_ms = linger_ms if linger_ms is not None else settings.producer_linger_ms
        if self.linger_ms < 0 or max_record_bytes < 1_000:
            raise MonitorConfigError("linger_ms must be >= 0 and max_record_bytes >= 1000")
        self.max_record_bytes = max_record_bytes
        self.exit_timeout_s = exit_timeout_s
        self.stall_timeout_s = stall_timeout_s
        # librdkafka's queue holds records of up to batch_events events: bound it to about as many
        # events as the deque, so that memory stays bounded at about 2 x buffer_events events.
        queue_records = max(4, -(-self.buffer_events // self.batch_events))
        extra: dict[str, Any] = {"error_cb": self._on_error}
        extra.update(client_config or {})
        self._config = producer_config(
            bootstrap,
            settings,
            message_timeout_ms=message_timeout_ms,
            queue_max_kbytes=DEFAULT_QUEUE_MAX_KBYTES,
            queue_max_messages=queue_records,
            extra=extra,
        )
        self._producer = Producer(self._config)
        self._init_state()
        self._start_sender()
        atexit.register(self._at_exit)
        _LIVE.add(self)

    def _init_state(self) -> None:
        # Caller side: the only state record() touches.
        self._buf: deque[Any] = deque()
        self._append = self._buf.append
        self._idle = False  # the sender is sleeping: wake it when a full batch is waiting
        self._wake = threading.Event()
        self._closed = False
        self._drop_lock = threading.Lock()
        self._dropped_full = 0
        self._dropped_closed = 0

        # Sender side: written by the sender thread only.
        self._taken = 0
        self._in_hand = 0
        self._pending: deque[tuple[str, bytes, int]] = deque()  # produce() said BufferError: retry these
        self._pending_events = 0
        self._in_flight = 0
        self._delivered = 0
        self._failed = 0
        self._failure_reasons: dict[str, int] = {}
        self._serialization_errors = 0
        self._too_large = 0
        self._internal_errors = 0
        self._producer_restarts = 0
        self._fatal: str | None = None
        self._last_progress = time.monotonic()
        self._retired: list[Producer] = []  # replaced producers whose purged records still report
        self._last_drain = time.monotonic()
        self._flush_requests = 0
        self._stopping = False
        self._stop_deadline = 0.0
        self._warn = RateLimitedLog(log, _WARN_EVERY_S)
        self._reported_drops = 0
        self._last_drop_warning = 0.0
        self._lost_at_close = 0
        self._undelivered_at_close = 0

    def _start_sender(self) -> None:
        self._thread = threading.Thread(target=self._run, name="llmpulse-monitor", daemon=True)
        self._thread.start()

    def _after_fork_in_child(self) -> None:
        """A forked child (gunicorn/uwsgi workers) has no sender thread and must not touch the
        parent's librdkafka instance: start afresh. Events the parent had buffered stay the parent's."""
        if self._closed:
            return
        # destroying them here would wait for librdkafka threads that do not exist in the child
        _ABANDONED.extend([self._producer, *self._retired])
        self._producer = Producer(self._config)
        self._init_state()
        self._start_sender()

    # -- caller's thread ---------------------------------------------------------------------

    def record(self, event: BaseModel | dict[str, Any] | _Routed) -> bool:
        """Queue one event (an ``LLMCallEvent``, another pydantic event, or a wire dict).

        Returns False if it had to be dropped (buffer full, or the monitor is closed)."""
        buf = self._buf
        if len(buf) >= self.buffer_events or self._closed:
            self._drop()
            return False
        self._append(event)
        if self._idle and len(buf) >= self.batch_events:
            self._idle = False
            self._wake.set()
        return True

    def _drop(self) -> None:
        with self._drop_lock:
            if self._closed:
                self._dropped_closed += 1
            else:
                self._dropped_full += 1

    def track(
        self,
        provider: str,
        model: str,
        *,
        app: str = "",
        team: str = "",
        user_id: str = "",
        **fields: Any,
    ) -> CallTracker:
        """``with monitor.track(provider=..., model=...) as call:`` measures one LLM call."""
        from llmpulse.producers.track import CallTracker

        return CallTracker(self.record, provider, model, app=app, team=team, user_id=user_id, fields=fields)

    def feedback(self, call_id: str, *, thumbs: Literal["up", "down"] | None = None, rating: int | None = None,
                 comment: str | None = None, user_id: str = "", **fields: Any) -> bool:  # fmt: skip
        """Queue a user's judgement of the call whose event id is ``call_id`` (``call.event_id`` of a tracked
        call): thumbs "up"/"down" and/or a 1-5 rating, an optional comment. It may come hours later, from
        another process: the worker attributes it to the call's model, app, team and prompt version.
        Raises ``ValueError`` for an invalid judgement; False if it had to be dropped (like ``record``)."""
        event = FeedbackEvent(call_id=call_id, thumbs=thumbs, rating=rating, comment=comment, user_id=user_id,
                              **fields)  # fmt: skip
        return self._route(FEEDBACK, event)

    def evaluation(self, call_id: str, name: str, *, score: float | None = None, label: str | None = None,
                   explanation: str | None = None, evaluator: str = "", **fields: Any) -> bool:  # fmt: skip
        """Queue an evaluation result of a call, with OpenTelemetry's ``gen_ai.evaluation.result`` fields:
        ``name`` (e.g. "relevance"), a ``score`` and/or a ``label``, an ``explanation``, and who judged
        (``evaluator``, e.g. "llm-judge:gpt-4o-mini"). Raises ``ValueError`` if invalid; False if dropped."""
        event = EvaluationEvent(call_id=call_id, name=name, score=score, label=label, explanation=explanation,
                                evaluator=evaluator, **fields)  # fmt: skip
        return self._route(EVALUATION, event)

    def _route(self, kind: EventKind, event: BaseModel) -> bool:
        return self.record(_Routed(self._settings.topic(kind), event.model_dump(exclude_none=True)))

    @property
    def room(self) -> int:
        """How many more events ``record()`` accepts right now (a receiver can say "retry later" instead)."""
        return max(self.buffer_events - len(self._buf), 0)

    @property
    def buffered(self) -> int:
        """Events accepted but not yet delivered or failed (deque, sender, librdkafka)."""
        return len(self._buf) + self._in_hand + self._pending_events + self._in_flight

    def stats(self) -> dict[str, Any]:
        """Counters; when idle, recorded == delivered + failed_delivery + every dropped_* +
        serialization_errors + buffered."""
        buffered = self.buffered
        return {
            "recorded": self._taken + len(self._buf) + self._dropped_full + self._dropped_closed,
            "delivered": self._delivered,
            "dropped_buffer_full": self._dropped_full,
            "dropped_too_large": self._too_large,
            "dropped_closed": self._dropped_closed + self._lost_at_close,
            "failed_delivery": self._failed,
            "failure_reasons": dict(self._failure_reasons),
            "serialization_errors": self._serialization_errors,
            "buffered": buffered,
            "in_flight": self._in_flight,
            "internal_errors": self._internal_errors,
            "producer_restarts": self._producer_restarts,
        }

    def flush(self, timeout_s: float = 10.0) -> int:
        """Send everything recorded so far; return the number of events still undelivered."""
        deadline = time.monotonic() + timeout_s
        with self._drop_lock:
            self._flush_requests += 1
        try:
            self._wake.set()
            while self.buffered and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(left, 0.002))
        finally:
            with self._drop_lock:
                self._flush_requests -= 1
        return self.buffered

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush for up to ``timeout_s``, stop the sender; return the events left undelivered."""
        if not self._closed:
            self._closed = True
            self._stop_deadline = time.monotonic() + timeout_s
            self._stopping = True
            self._wake.set()
            self._thread.join(timeout_s + 1.0)
            atexit.unregister(self._at_exit)
        return self._undelivered_at_close

    def _at_exit(self) -> None:
        self.close(self.exit_timeout_s)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Monitor({self.bootstrap_servers!r}, topic={self.topic!r}, buffered={self.buffered})"

    # -- sender thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                if self._step():
                    break
            except Exception as exc:  # never let the sender die
                self._internal_errors += 1
                self._warn.warning("sender", "internal error %s (counted, continuing)", type(exc).__name__)
                time.sleep(0.05)
        try:
            self._shutdown()
        except Exception as exc:
            self._internal_errors += 1
            log.warning("llmpulse monitor shutdown error %s", type(exc).__name__)

    def _step(self) -> bool:
        """One round of the sender loop; True when the monitor is stopping and done (or out of time)."""
        self._producer.poll(0)
        if self._retired:
            self._poll_retired()
        if self._fatal:
            self._restart_producer(f"fatal error {self._fatal}")
        elif self._in_flight and time.monotonic() - self._last_progress > self.stall_timeout_s:
            self._restart_producer(f"no delivery progress for {self.stall_timeout_s:g}s")
        self._report_drops()
        if self._pending and not self._send_pending():
            return self._stopping and time.monotonic() >= self._stop_deadline
        n = len(self._buf)
        now = time.monotonic()
        hurry = self._stopping or self._flush_requests > 0
        if n >= self.batch_events or (n and (hurry or now - self._last_drain >= self.linger_ms / 1000)):
            self._drain(min(n, self.batch_events))
            if len(self._buf) < self.batch_events:
                self._last_drain = now
            return False
        if self._stopping and (not n or time.monotonic() >= self._stop_deadline):
            return True
        self._sleep(now)
        return False

    def _sleep(self, now: float) -> None:
        if self._in_flight or self._pending:
            timeout = _IN_FLIGHT_POLL_S
        else:
            timeout = max(self.linger_ms / 1000 - (now - self._last_drain), 0.001)
        self._idle = True
        if len(self._buf) < self.batch_events:  # re-check: a record() may have missed _idle
            self._wake.wait(timeout)
        self._idle = False
        self._wake.clear()

    def _drain(self, n: int) -> None:
        self._in_hand = n
        popleft = self._buf.popleft
        taken = [popleft() for _ in range(n)]
        self._taken += n
        wires: list[dict[str, Any]] = []
        by_topic: dict[str, list[dict[str, Any]]] = {}  # judgements (feedback, evaluations) go to their own topics
        for event in taken:
            if type(event) is dict:
                wires.append(event)
                continue
            if type(event) is _Routed:
                by_topic.setdefault(event.topic, []).append(event.wire)
                continue
            try:
                if hasattr(event, "to_wire"):
                    wire = event.to_wire()
                elif hasattr(event, "model_dump"):  # another pydantic event (e.g. FeedbackEvent)
                    wire = event.model_dump(exclude_none=True)
                else:
                    wire = None
            except Exception:
                wire = None
            if isinstance(wire, dict):
                wires.append(wire)
            else:
                self._serialization_errors += 1
        packed = pack(wires, self.max_record_bytes)
        self._serialization_errors += packed.unserializable
        self._too_large += packed.too_large
        for value, count in packed.records:
            self._pending.append((self.topic, value, count))
            self._pending_events += count
        for topic, routed in by_topic.items():
            packed = pack(routed, self.max_record_bytes)
            self._serialization_errors += packed.unserializable
            self._too_large += packed.too_large
            for value, count in packed.records:
                self._pending.append((topic, value, count))
                self._pending_events += count
        self._in_hand = 0
        self._send_pending()

    def _send_pending(self) -> bool:
        """Produce queued record values in order; False if librdkafka's queue is full."""
        while self._pending:
            topic, value, count = self._pending[0]
            try:
                self._producer.produce(topic, value, on_delivery=partial(self._on_delivery, count))
            except BufferError:
                self._producer.poll(_IN_FLIGHT_POLL_S)
                return False
            except KafkaException as exc:
                self._count_failure(_error_name(exc), count)
            else:
                if not self._in_flight:
                    self._last_progress = time.monotonic()
                self._in_flight += count
            self._pending.popleft()
            self._pending_events -= count
        return True

    def _on_delivery(self, count: int, err: KafkaError | None, msg: Message) -> None:
        self._in_flight -= count
        self._last_progress = time.monotonic()
        if err is None:
            self._delivered += count
        elif err.code() in _PURGED and not self._stopping:
            value = msg.value()
            if isinstance(value, bytes):  # back in line for the next producer
                self._pending.append((msg.topic() or self.topic, value, count))
                self._pending_events += count
            else:
                self._count_failure(err.name(), count)
        else:
            self._count_failure(err.name(), count)

    def _count_failure(self, reason: str, count: int) -> None:
        self._failed += count
        self._failure_reasons[reason] = self._failure_reasons.get(reason, 0) + count
        self._warn.warning("delivery", "%d events failed delivery to %s: %s", count, self.topic, reason)

    def _on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback (served by poll() on the sender thread)."""
        if err.fatal():
            self._fatal = err.name()
        self._warn.warning(
            "kafka", "Kafka client error at %s: %s %s", self.bootstrap_servers, err.name(), err.str()
        )

    def _restart_producer(self, reason: str) -> None:
        """Replace the producer; what it still held is sent again by the new one.

        A fatal error makes a producer unusable. A stall happens when the broker lost the idempotent
        producer's state (the embedded broker restarted: memory storage): librdkafka then bumps the
        epoch forever and never delivers again. Re-sent records may duplicate events that did arrive;
        events carry an event_id and the writes downstream are idempotent.
        """
        old, self._fatal = self._producer, None
        log.warning("llmpulse monitor: new Kafka producer (%s)", reason)
        old.purge(in_queue=True, in_flight=True, blocking=True)
        old.flush(1.0)  # serves the purged records' delivery reports: they go back to _pending
        if len(old):
            self._retired.append(old)  # polled until its last report is in
        self._producer = Producer(self._config)
        self._producer_restarts += 1
        self._last_progress = time.monotonic()

    def _poll_retired(self) -> None:
        for old in list(self._retired):
            old.poll(0)
            if not len(old):
                self._retired.remove(old)

    def _report_drops(self, force: bool = False) -> None:
        """At most one warning per 10 s, with totals (counts only, never payloads)."""
        dropped = self._dropped_full + self._too_large + self._serialization_errors
        now = time.monotonic()
        if dropped > self._reported_drops and (force or now - self._last_drop_warning >= _WARN_EVERY_S):
            log.warning(
                "llmpulse monitor: %d events dropped so far (buffer full: %d, too large: %d, "
                "not serializable: %d)",
                dropped,
                self._dropped_full,
                self._too_large,
                self._serialization_errors,
            )
            self._reported_drops = dropped
            self._last_drop_warning = now

    def _shutdown(self) -> None:
        """Last flush, then account for whatever could not be sent in time (nothing stays uncounted)."""
        left = max(self._stop_deadline - time.monotonic(), 0.0)
        self._producer.flush(left)
        self._undelivered_at_close = self.buffered
        if self._in_flight:
            # The broker is unreachable: give up on what librdkafka holds (reported as failed).
            for producer in (self._producer, *self._retired):
                producer.purge(in_queue=True, in_flight=True, blocking=False)
                producer.flush(1.0)
        lost = self._pending_events
        self._pending.clear()
        self._pending_events = 0
        while self._buf:
            self._buf.popleft()
            self._taken += 1
            lost += 1
        self._lost_at_close += lost
        self._report_drops(force=True)
        if self._undelivered_at_close:
            log.warning(
                "llmpulse monitor closed with %d events undelivered (%d failed, %d never sent)",
                self._undelivered_at_close,
                self._undelivered_at_close - lost,
                lost,
            )


@dataclass(frozen=True, slots=True)
class _Routed:
    """An event for another topic than the calls' (feedback, evaluations), as its wire dict."""

    topic: str
    wire: dict[str, Any]


def _positive(name: str, value: int | None, default: int) -> int:
    result = default if value is None else value
    if result < 1:
        raise MonitorConfigError(f"{name} must be >= 1, got {result}")
    return result


def _error_name(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else None
    return err.name() if isinstance(err, KafkaError) else type(exc).__name__


def _restart_after_fork() -> None:
    for monitor in list(_LIVE):
        try:
            monitor._after_fork_in_child()
        except Exception as exc:  # a child must start even if its monitor cannot
            log.warning("llmpulse monitor could not restart after fork: %s", type(exc).__name__)


os.register_at_fork(after_in_child=_restart_after_fork)
