"""The alert lifecycle: one small state machine per incident key (``dedup_key``), pure and picklable.

Each window, a key is observed as BREACH (past the firing threshold), BETWEEN (inside the hysteresis band:
no longer breaching, not yet clear) or CLEAR (normal, or no data).

    ok ──BREACH──▶ pending ──for_windows consecutive BREACH──▶ firing      (emits "firing")
    firing ──resolve_windows consecutive CLEAR──▶ recovering
    recovering ──for_windows consecutive BREACH──▶ firing                   (silent: flap suppressed)
    recovering ──flap_windows windows without a BREACH streak──▶ ok          (emits "resolved")

With ``flap_windows = 0`` an incident resolves as soon as it has been clear for ``resolve_windows``.
An incident is identified by its key and the start of its first breaching window, so the ids it yields
(``<dedup_key>:<status>:<started_at_ms>``) are the same in a replay or in a second worker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum
from typing import Literal
from urllib.parse import quote

MAX_KEY_CHARS = 200  # PagerDuty accepts 255; leave room for ":resolved:<ms>"


class Signal(Enum):
    BREACH = "breach"
    BETWEEN = "between"
    CLEAR = "clear"


@dataclass(frozen=True)
class LifecyclePolicy:
    for_windows: int = 1
    resolve_windows: int = 1
    flap_windows: int = 0


@dataclass(frozen=True)
class Transition:
    status: Literal["firing", "resolved"]
    started_at_ms: int
    flaps: int  # how many re-breaches were absorbed while the incident was open


@dataclass
class KeyState:
    phase: Literal["pending", "firing", "recovering"]
    started_at_ms: int
    breach_streak: int = 0
    clear_streak: int = 0
    recovering_for: int = 0
    flaps: int = 0


def dedup_key(kind: str, rule: str, metric: str, dims: tuple[tuple[str, str], ...]) -> str:
    """Stable, readable incident key; dimension values are percent-encoded, long keys end in a hash."""
    dim_part = ",".join(f"{quote(d, safe='')}={quote(v, safe='')}" for d, v in sorted(dims))
    key = f"{kind}:{rule}:{metric}:{dim_part}"
    if len(key) > MAX_KEY_CHARS:
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        key = f"{key[: MAX_KEY_CHARS - 25]}~{digest}"
    return key


def alert_id(key: str, status: str, started_at_ms: int) -> str:
    return f"{key}:{status}:{started_at_ms}"


class Lifecycle:
    """States of the keys that are not ``ok`` (a key absent from the map is ok)."""

    def __init__(self) -> None:
        self.states: dict[str, KeyState] = {}

    def active_keys(self) -> list[str]:
        return list(self.states)

    def is_open(self, key: str) -> bool:
        state = self.states.get(key)
        return state is not None and state.phase in ("firing", "recovering")

    def observe(
        self, key: str, window_start_ms: int, signal: Signal, policy: LifecyclePolicy
    ) -> Transition | None:
        state = self.states.get(key)
        if state is None:
            if signal is not Signal.BREACH:
                return None
            state = self.states[key] = KeyState("pending", window_start_ms)
        if state.phase == "pending":
            return self._pending(key, state, signal, policy)
        if state.phase == "firing":
            return self._firing(key, state, signal, policy)
        return self._recovering(key, state, signal, policy)

    def _pending(
        self, key: str, state: KeyState, signal: Signal, policy: LifecyclePolicy
    ) -> Transition | None:
        if signal is not Signal.BREACH:
            del self.states[key]
            return None
        state.breach_streak += 1
        if state.breach_streak < policy.for_windows:
            return None
        state.phase, state.clear_streak = "firing", 0
        return Transition("firing", state.started_at_ms, 0)

    def _firing(
        self, key: str, state: KeyState, signal: Signal, policy: LifecyclePolicy
    ) -> Transition | None:
        if signal is not Signal.CLEAR:
            state.clear_streak = 0
            return None
        state.clear_streak += 1
        if state.clear_streak < policy.resolve_windows:
            return None
        if policy.flap_windows == 0:
            del self.states[key]
            return Transition("resolved", state.started_at_ms, state.flaps)
        state.phase, state.recovering_for, state.breach_streak = "recovering", 0, 0
        return None

    def _recovering(
        self, key: str, state: KeyState, signal: Signal, policy: LifecyclePolicy
    ) -> Transition | None:
        state.recovering_for += 1
        if signal is Signal.BREACH:
            state.breach_streak += 1
            if state.breach_streak >= policy.for_windows:
                state.phase, state.clear_streak, state.flaps = "firing", 0, state.flaps + 1
            return None
        state.breach_streak = 0
        if state.recovering_for < policy.flap_windows:
            return None
        del self.states[key]
        return Transition("resolved", state.started_at_ms, state.flaps)

    def close(self, key: str) -> Transition | None:
        """Force an open incident to resolve now (its rule was removed); forget a pending one."""
        state = self.states.pop(key, None)
        if state is None or state.phase == "pending":
            return None
        return Transition("resolved", state.started_at_ms, state.flaps)
