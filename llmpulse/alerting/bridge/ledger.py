"""The delivery ledger: what was delivered where, and which incidents are open at each destination.

A sqlite3 file (in the data dir by default) survives a bridge restart, so a re-consumed alert is not
delivered twice:

- ``deliveries``: one row per (alert_id, destination) once that destination is done with the transition
  (sent, skipped or failed for good); a re-consumed alert already there is skipped.
- ``incidents``: per (destination, dedup_key), ``open`` after a firing was sent and ``closed`` after the
  resolve. A firing for an incident already open there is not sent again (two transitions, one incident,
  one page); a resolve for an incident never opened there is not sent.

The ledger and the send are not one transaction: a crash after the destination accepted an alert and
before the ledger row is written sends it once more on replay (PagerDuty folds a repeated trigger with the
same dedup_key into the open alert).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from llmpulse.schemas.alert import AlertEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    recorded_at_ms INTEGER NOT NULL,
    PRIMARY KEY (alert_id, destination)
);
CREATE TABLE IF NOT EXISTS incidents (
    destination TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    started_at_ms INTEGER NOT NULL,
    alert_id TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (destination, dedup_key)
);
CREATE INDEX IF NOT EXISTS deliveries_recorded ON deliveries (recorded_at_ms);
"""


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # permanent failure: not retried
    SKIPPED_OPEN = "skipped_open"  # firing for an incident already open at this destination
    SKIPPED_NOT_OPEN = "skipped_not_open"  # resolve for an incident never opened at this destination
    SKIPPED_STALE = "skipped_stale"  # firing of an incident whose resolve was already handled


@dataclass(frozen=True)
class Incident:
    state: str
    started_at_ms: int
    alert_id: str


def decide(alert: AlertEvent, incident: Incident | None) -> Outcome | None:
    """What to do with ``alert`` at a destination in ``incident``'s state: None = send it."""
    if alert.status == "firing":
        if incident is None:
            return None
        if incident.state == "open":
            return Outcome.SKIPPED_OPEN
        if incident.started_at_ms == alert.started_at_ms:
            return Outcome.SKIPPED_STALE  # the resolve of this very incident came first
        return None
    if incident is not None and incident.state == "open":
        return None
    return Outcome.SKIPPED_NOT_OPEN


class Ledger:
    """Delivery ledger in one sqlite3 file (``":memory:"`` for tests). Used from one thread."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def is_done(self, alert_id: str, destination: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM deliveries WHERE alert_id = ? AND destination = ?", (alert_id, destination)
        ).fetchone()
        return row is not None

    def outcome(self, alert_id: str, destination: str) -> Outcome | None:
        row = self._db.execute(
            "SELECT outcome FROM deliveries WHERE alert_id = ? AND destination = ?", (alert_id, destination)
        ).fetchone()
        return Outcome(row[0]) if row else None

    def incident(self, destination: str, dedup_key: str) -> Incident | None:
        row = self._db.execute(
            "SELECT state, started_at_ms, alert_id FROM incidents WHERE destination = ? AND dedup_key = ?",
            (destination, dedup_key),
        ).fetchone()
        return Incident(row[0], row[1], row[2]) if row else None

    def open_incidents(self, destination: str) -> list[str]:
        rows = self._db.execute(
            "SELECT dedup_key FROM incidents WHERE destination = ? AND state = 'open' ORDER BY dedup_key",
            (destination,),
        ).fetchall()
        return [r[0] for r in rows]

    def record(self, alert: AlertEvent, destination: str, outcome: Outcome, detail: str = "") -> None:
        """Mark ``destination`` done with ``alert`` and move the incident's state, in one transaction."""
        now = int(time.time() * 1000)
        state = self._next_state(alert, outcome)
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?)",
                (alert.alert_id, destination, alert.dedup_key, alert.status, outcome.value, detail, now),
            )
            if state is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO incidents VALUES (?, ?, ?, ?, ?, ?)",
                    (destination, alert.dedup_key, state, alert.started_at_ms, alert.alert_id, now),
                )

    @staticmethod
    def _next_state(alert: AlertEvent, outcome: Outcome) -> str | None:
        if alert.status == "firing":
            return "open" if outcome is Outcome.SENT else None
        if outcome is Outcome.SKIPPED_NOT_OPEN:
            return "closed"  # remember it, so the late firing of this incident is not sent
        # A resolve sent, or refused for good: closed either way, or one bad resolve would mute the
        # dedup_key at this destination forever.
        return "closed" if outcome in (Outcome.SENT, Outcome.FAILED) else None

    def prune(self, older_than_ms: int) -> int:
        """Forget deliveries recorded before ``older_than_ms`` (open incidents are kept)."""
        with self._transaction():
            cur = self._db.execute("DELETE FROM deliveries WHERE recorded_at_ms < ?", (older_than_ms,))
            self._db.execute(
                "DELETE FROM incidents WHERE state = 'closed' AND updated_at_ms < ?", (older_than_ms,)
            )
        return cur.rowcount

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
