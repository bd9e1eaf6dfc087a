"""The console destination: one readable line per alert, for the embedded mode."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from llmpulse.alerting.bridge import formatting
from llmpulse.alerting.routing_config import CONSOLE
from llmpulse.schemas.alert import AlertEvent


class ConsoleDestination:
    """Writes one line per alert to a stream (stdout by default) or, if given, to a logger."""

    def __init__(self, stream: TextIO | None = None, logger: logging.Logger | None = None) -> None:
        self.name = CONSOLE
        self._stream = stream
        self._logger = logger

    def send(self, alert: AlertEvent) -> None:
        line = formatting.console_line(alert)
        if self._logger is not None:
            level = logging.WARNING if alert.status == "firing" else logging.INFO
            self._logger.log(level, "%s", line)
            return
        print(line, file=self._stream or sys.stdout, flush=True)

    def close(self) -> None:
        return None
