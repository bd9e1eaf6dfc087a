"""Rate-limited logging for librdkafka and for the producer's own warnings.

With the broker down, librdkafka logs a connection failure every few tens of milliseconds; an app's
log must not fill up with that. ``RateLimitedLog`` lets one line per key through per interval and
reports how many were held back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any


class RateLimitedLog:
    """Passes at most one line per (level, key) per ``interval_s`` to ``logger``; counts the rest.

    It has the ``log(level, msg, *args)`` method confluent-kafka calls for its ``logger`` option, so
    it can be handed to a client directly (the key is then librdkafka's facility, e.g. ``FAIL``).
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[tuple[int, str], float] = {}
        self._held: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    def log(self, level: int, msg: str, *args: Any) -> None:
        if not self.logger.isEnabledFor(level):
            return
        key = (level, str(args[0]) if args else msg)
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval_s:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            msg = f"{msg} ({held} similar lines held back in the last {self.interval_s:g}s)"
        self.logger.log(level, msg, *args)

    def warning(self, key: str, msg: str, *args: Any) -> None:
        """A warning of the caller's own, limited per ``key``."""
        self.log(logging.WARNING, "%s: " + msg, key, *args)
