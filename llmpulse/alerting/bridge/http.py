"""One JSON POST to a destination, classified: delivered, transient (retry later) or permanent.

- 2xx: delivered.
- 429: transient; ``Retry-After`` (seconds) is honoured: the destination is held until then and the
  spacing between its requests doubles (up to ``max_interval_s``), then relaxes again after successes.
- 5xx, timeouts, connection errors: transient.
- any other 4xx: permanent for this message.

Error messages carry the destination name, the status and a trimmed, redacted body: never the URL (a
Slack webhook URL is a secret) nor the request body (a PagerDuty event carries its routing key).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from llmpulse.alerting.bridge.exceptions import PermanentDeliveryError, TransientDeliveryError
from llmpulse.alerting.bridge.redact import trim

Sleep = Callable[[float], object]
Clock = Callable[[], float]


@dataclass
class Throttle:
    """Spacing between requests to one destination, widened after a 429."""

    min_interval_s: float = 0.0
    max_interval_s: float = 10.0
    clock: Clock = time.monotonic
    interval_s: float = field(init=False)
    blocked_until: float = field(init=False, default=0.0)
    last_request_at: float = field(init=False, default=float("-inf"))

    def __post_init__(self) -> None:
        self.interval_s = self.min_interval_s

    def blocked_for(self) -> float:
        """Seconds until the destination may be called again after a 429 (0 = not blocked)."""
        return max(0.0, self.blocked_until - self.clock())

    def spacing_wait(self) -> float:
        """Seconds to wait so that requests stay ``interval_s`` apart."""
        return max(0.0, self.last_request_at + self.interval_s - self.clock())

    def mark_request(self) -> None:
        self.last_request_at = self.clock()

    def on_success(self) -> None:
        self.interval_s = max(self.min_interval_s, self.interval_s / 2)

    def on_rate_limited(self, retry_after_s: float) -> None:
        self.blocked_until = max(self.blocked_until, self.clock() + retry_after_s)
        self.interval_s = min(self.max_interval_s, max(self.interval_s * 2, self.min_interval_s, 0.5))


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the form Slack and PagerDuty send); None if absent or not a number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class JsonPoster:
    """POSTs JSON to one destination with a shared client, a throttle and safe errors."""

    def __init__(
        self,
        name: str,
        *,
        timeout_s: float,
        throttle: Throttle | None = None,
        sleep: Sleep = time.sleep,
        client: httpx.Client | None = None,
    ) -> None:
        self.name = name
        self.throttle = throttle or Throttle()
        self._sleep = sleep
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            headers={"User-Agent": "llmpulse-bridge"},
            follow_redirects=False,
        )

    def post(self, url: str, body: dict[str, Any]) -> httpx.Response:
        """Send once. Returns the 2xx response; raises Transient/PermanentDeliveryError otherwise."""
        blocked = self.throttle.blocked_for()
        if blocked > 0:
            raise TransientDeliveryError(
                self.name, f"rate limited, holding for {blocked:.1f}s", retry_after_s=blocked
            )
        wait = self.throttle.spacing_wait()
        if wait > 0:
            self._sleep(wait)
        self.throttle.mark_request()
        try:
            response = self._client.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(self.name, f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientDeliveryError(self.name, f"network error ({type(exc).__name__})") from None
        status = response.status_code
        if 200 <= status < 300:
            self.throttle.on_success()
            return response
        text = trim(response.text)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            self.throttle.on_rate_limited(retry_after if retry_after is not None else 1.0)
            raise TransientDeliveryError(
                self.name, f"HTTP 429 rate limited: {text}", status=status, retry_after_s=retry_after
            )
        if status >= 500:
            raise TransientDeliveryError(self.name, f"HTTP {status}: {text}", status=status)
        raise PermanentDeliveryError(self.name, f"HTTP {status}: {text}", status=status)

    def close(self) -> None:
        self._client.close()
