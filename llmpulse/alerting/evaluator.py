"""The alert evaluator: runs the engine over closed rollup windows in ClickHouse, exactly once per window.

``tick(watermark_ms)`` evaluates, in order, every window that closed (``window_end <= watermark``) since the
last evaluated one. For each window it (1) computes the alerts, (2) writes them to ``llm_alerts`` with an
insert deduplication token derived from the window, (3) hands them to ``emit`` (the stream worker's Kafka
producer callback), and (4) saves the engine state and the window in ``llm_alert_state``. A crash or an
``emit`` failure between (2) and (4) makes the next tick (or a new evaluator) redo that window: the rows
are not written twice, and ``emit`` sees the same ``alert_id`` again (Kafka delivery is at-least-once;
consumers deduplicate on ``alert_id``). A window without alerts writes and emits nothing, so its state is
kept in memory and saved just before the next window that alerts writes anything, or after the last window
a tick (or a read of ``read_windows_at_once`` windows) evaluates: a crash before that redoes only quiet
windows, and a failed window still leaves the progress at the window before it. Each save is an insert (a
part for ClickHouse to merge), which an evaluator catching up on a backlog would otherwise pay per window.

Warm start: an evaluator without saved state, or one whose configuration gained an anomaly rule, first
lets those rules' detectors learn the rollups already stored (``[anomaly] history_days`` before the first
window it evaluates), without alerting. A new worker, a new evaluator or a new rule is then ready to alert
at once, instead of after hours of warm-up. A new evaluator alerts on windows of the last ``lookback_ms``
(a day by default: a worker catching up on a backlog still alerts on it); older windows are history.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa

from llmpulse.alerting.config import AlertConfig
from llmpulse.alerting.engine import AlertEngine, Clock, history_needs, needs
from llmpulse.alerting.exceptions import EvaluatorError, StateFormatError
from llmpulse.alerting.metrics import WINDOW_MS, WindowMetrics
from llmpulse.alerting.series import earliest_window_ms, read_series, read_windows
from llmpulse.clickhouse.store import Store
from llmpulse.schemas.alert import AlertEvent

log = logging.getLogger(__name__)

Emit = Callable[[list[AlertEvent]], None]
DEFAULT_LOOKBACK_MS = 24 * 3_600_000  # a new evaluator alerts on the last day; it learns what is older
DAY_MS = 86_400_000
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

_TS = pa.timestamp("ms", tz="UTC")
ALERT_SCHEMA = pa.schema(
    [
        ("alert_id", pa.string()),
        ("dedup_key", pa.string()),
        ("kind", pa.string()),
        ("severity", pa.string()),
        ("status", pa.string()),
        ("rule", pa.string()),
        ("metric", pa.string()),
        ("dimensions", pa.map_(pa.string(), pa.string())),
        ("observed", pa.float64()),
        ("expected", pa.float64()),
        ("lower", pa.float64()),
        ("upper", pa.float64()),
        ("threshold", pa.float64()),
        ("window_start", _TS),
        ("window_end", _TS),
        ("started_at", _TS),
        ("emitted_at", _TS),
        ("summary", pa.string()),
        ("query", pa.string()),
        ("team", pa.string()),
        ("schema_version", pa.uint8()),
        ("evaluator", pa.string()),
    ]
)
_TIME_FIELDS = {
    "window_start": "window_start_ms",
    "window_end": "window_end_ms",
    "started_at": "started_at_ms",
    "emitted_at": "emitted_at_ms",
}


def alerts_table(alerts: list[AlertEvent], evaluator: str) -> pa.Table:
    """AlertEvents as an Arrow table with the columns of ``llm_alerts``."""
    rows = [a.model_dump() for a in alerts]
    columns: dict[str, list[object]] = {}
    for name in ALERT_SCHEMA.names:
        if name == "evaluator":
            columns[name] = [evaluator] * len(rows)
        elif name == "dimensions":
            columns[name] = [list(r["dimensions"].items()) for r in rows]
        else:
            columns[name] = [r[_TIME_FIELDS.get(name, name)] for r in rows]
    return pa.table(columns, schema=ALERT_SCHEMA)


def _ms(value: object) -> int:
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp() * 1000)
    return int(value)  # type: ignore[call-overload]


def read_alerts(store: Store, since_ms: int = 0) -> list[AlertEvent]:
    """Alert transitions in ``llm_alerts`` (one per alert_id) whose window starts at or after ``since_ms``."""
    result = store.query(
        "SELECT * EXCEPT (evaluator, inserted_at) FROM llm_alerts FINAL "
        "WHERE window_start >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') "
        "ORDER BY window_start, alert_id",
        {"since": since_ms},
    )
    alerts = []
    for row in result.dicts():
        for column, field in _TIME_FIELDS.items():
            row[field] = _ms(row.pop(column))
        dims = row["dimensions"]
        row["dimensions"] = dict(dims.items() if isinstance(dims, dict) else dims)
        alerts.append(AlertEvent.model_validate(row))
    return alerts


class AlertEvaluator:
    """Evaluates closed windows from ClickHouse and persists its progress there (see the module doc)."""

    def __init__(
        self,
        store: Store,
        config: AlertConfig,
        emit: Emit | None = None,
        *,
        name: str = "default",
        lookback_ms: int | None = DEFAULT_LOOKBACK_MS,
        seed: int = 0,
        clock: Clock | None = None,
        read_windows_at_once: int = 60,
    ) -> None:
        if not _NAME_RE.match(name):
            raise EvaluatorError(f"evaluator name {name!r}: use 1-64 letters, digits, '_', '.', '-'")
        self.store, self.config, self.emit, self.name = store, config, emit, name
        self.lookback_ms = lookback_ms
        self.read_windows_at_once = max(1, read_windows_at_once)
        self._needs = needs(config)
        self._stale = False
        self._unsaved: tuple[int, bytes] | None = None  # the newest window since the last save, and its state
        self.engine = self._load(seed, clock)

    @property
    def last_window_start_ms(self) -> int | None:
        return self.engine.last_window_start_ms

    def _load(self, seed: int, clock: Clock | None) -> AlertEngine:
        rows = self.store.query(
            "SELECT base64Encode(state) AS state FROM llm_alert_state WHERE evaluator = {name:String} "
            "ORDER BY last_window_start DESC, saved_at DESC LIMIT 1",
            {"name": self.name},
        ).rows
        if not rows:
            return AlertEngine(self.config, seed=seed, clock=clock)
        try:
            blob = base64.b64decode(rows[0][0])
            return AlertEngine.from_state(blob, self.config, clock=clock)
        except StateFormatError as exc:  # an upgrade: learn the detectors anew from the stored history
            log.warning("alert evaluator %r: %s; starting afresh (warm start from the stored rollups)", self.name, exc)
            return AlertEngine(self.config, seed=seed, clock=clock)
        except Exception as exc:
            raise EvaluatorError(
                f"alert evaluator {self.name!r}: cannot restore its saved state: {exc}"
            ) from exc

    def _first_window(self, watermark_ms: int) -> int | None:
        last = self.engine.last_window_start_ms
        if last is not None:
            return last + WINDOW_MS
        earliest = earliest_window_ms(self.store)
        if earliest is None:
            return None
        if self.lookback_ms is not None:
            earliest = max(earliest, watermark_ms - self.lookback_ms)
        return earliest - earliest % WINDOW_MS

    def tick(self, watermark_ms: int) -> list[AlertEvent]:
        """Evaluate every window closed by ``watermark_ms`` and not evaluated yet; returns their alerts."""
        if self._stale:
            self._reload()
        start = self._first_window(watermark_ms)
        end = watermark_ms - watermark_ms % WINDOW_MS  # windows starting before this are closed
        if start is None or start >= end:
            return []
        self.warm_start(start)
        fired: list[AlertEvent] = []
        chunk = self.read_windows_at_once * WINDOW_MS
        for chunk_start in range(start, end, chunk):
            for window in read_windows(self.store, self._needs, chunk_start, min(chunk_start + chunk, end)):
                fired += self._evaluate(window)
            self._save_unsaved()
        return fired

    def warm_start(self, before_ms: int) -> int:
        """Rules that have not learned the stored history learn ``history_days`` of it before ``before_ms``
        (no alerts); returns the points learned. The state is saved with the next evaluated window."""
        rules = self.engine.unwarmed_rules()
        if not rules:
            return 0
        since = before_ms - int(self.config.anomaly.history_days * DAY_MS)
        since -= since % WINDOW_MS
        windows: dict[int, WindowMetrics] = {}
        for spec, metrics in history_needs(self.config, rules).series.items():
            for ws, groups in read_series(self.store, spec, metrics, since, before_ms).items():
                windows.setdefault(ws, WindowMetrics(ws, ws + WINDOW_MS)).series[spec] = groups
        learned = self.engine.learn_history([windows[ws] for ws in sorted(windows)], rules)
        log.info(
            "alert evaluator %s: %d rule(s) learned %d point(s) from %d stored window(s)",
            self.name, len(rules), learned, len(windows),
        )  # fmt: skip
        return learned

    def _evaluate(self, window: WindowMetrics) -> list[AlertEvent]:
        window_start_ms = window.window_start_ms
        try:
            alerts = self.engine.on_window(window_start_ms, window.window_end_ms, window)
            if alerts:
                if self._unsaved is not None:  # the quiet windows before: a failure below comes back here
                    self._insert_state(*self._unsaved)
                token = f"llm_alerts:{self.name}:{window_start_ms}"
                self.store.insert("llm_alerts", alerts_table(alerts, self.name), dedup_token=token)
                if self.emit is not None:
                    self.emit(alerts)
                log.info(
                    "alert evaluator %s: %d alert(s) in window %d", self.name, len(alerts), window_start_ms
                )
                self._save(window_start_ms)
            else:  # nothing written or emitted: saved later (see the module doc)
                self._unsaved = window_start_ms, self.engine.state_bytes()
        except BaseException:
            self._back_to_saved()
            raise
        return alerts

    def _save_unsaved(self) -> None:
        if self._unsaved is None:
            return
        try:
            self._insert_state(*self._unsaved)
        except BaseException:
            self._back_to_saved()
            raise

    def _back_to_saved(self) -> None:
        """Back to the last saved state, so a retry redoes the windows after it (rows are not written twice)."""
        self._stale = True
        with contextlib.suppress(Exception):  # the store may be down: then the next tick reloads
            self._reload()

    def _reload(self) -> None:
        self.engine = self._load(self.engine.state.seed, self.engine.clock)
        self._stale = False
        self._unsaved = None

    def _save(self, window_start_ms: int) -> None:
        """Save the engine state after ``window_start_ms`` (the newest window it has evaluated)."""
        self._insert_state(window_start_ms, self.engine.state_bytes())

    def _insert_state(self, window_start_ms: int, blob: bytes) -> None:
        table = pa.table(
            {
                "evaluator": [self.name],
                "last_window_start": pa.array([window_start_ms], _TS),
                "state": pa.array([blob], pa.binary()),
                "state_bytes": pa.array([len(blob)], pa.uint64()),
            }
        )
        self.store.insert("llm_alert_state", table)
        self._unsaved = None
