"""The per-incident state machine: fire once after for_windows, hysteresis, flap suppression, stable ids."""

from __future__ import annotations

import pickle

from llmpulse.alerting.lifecycle import (
    MAX_KEY_CHARS,
    Lifecycle,
    LifecyclePolicy,
    Signal,
    Transition,
    alert_id,
    dedup_key,
)

B, M, C = Signal.BREACH, Signal.BETWEEN, Signal.CLEAR
W = 60_000


def run(
    signals: list[Signal], policy: LifecyclePolicy, lc: Lifecycle | None = None
) -> list[tuple[int, Transition]]:
    """(window index, transition) for each transition."""
    lc = lc or Lifecycle()
    out = []
    for i, signal in enumerate(signals):
        t = lc.observe("k", i * W, signal, policy)
        if t is not None:
            out.append((i, t))
    return out


def test_fires_once_after_for_windows_consecutive_breaches() -> None:
    policy = LifecyclePolicy(for_windows=3, resolve_windows=2, flap_windows=0)
    # two breaches then a clear: not yet an incident; then 5 breaches: fires at the third, once
    got = run([B, B, C, B, B, B, B, B], policy)
    assert got == [(5, Transition("firing", 3 * W, 0))]


def test_resolves_after_resolve_windows_and_between_holds_it_open() -> None:
    policy = LifecyclePolicy(for_windows=1, resolve_windows=2, flap_windows=0)
    # BETWEEN (inside the hysteresis band) does not count as normal
    got = run([B, M, M, C, M, C, C, C], policy)
    assert got == [(0, Transition("firing", 0, 0)), (6, Transition("resolved", 0, 0))]


def test_flapping_incident_stays_open_and_resolves_once() -> None:
    policy = LifecyclePolicy(for_windows=2, resolve_windows=2, flap_windows=4)
    signals = [B, B, C, C, B, B, C, C, C, B, C, C, C, C]
    #          0  1  2  3  4  5  6  7  8  9  10 11 12 13
    # fires at 1; clear 2,3 -> recovering; re-breach 4,5 (for_windows) -> kept open (flap 1);
    # clear 6,7 -> recovering; 8 clear, 9 lone breach (not a re-fire), 10, 11 clear: 4 windows -> resolved
    got = run(signals, policy)
    assert got == [(1, Transition("firing", 0, 0)), (11, Transition("resolved", 0, 1))]


def test_without_flap_suppression_the_same_pattern_pages_twice() -> None:
    policy = LifecyclePolicy(for_windows=2, resolve_windows=2, flap_windows=0)
    got = run([B, B, C, C, B, B, C, C], policy)
    assert [t.status for _, t in got] == ["firing", "resolved", "firing", "resolved"]
    assert got[2][1].started_at_ms == 4 * W  # a new incident, a new id


def test_state_pickles_mid_incident() -> None:
    policy = LifecyclePolicy(for_windows=2, resolve_windows=2, flap_windows=1)
    lc = Lifecycle()
    run([B, B, C], policy, lc)
    copy = pickle.loads(pickle.dumps(lc))
    for i, s in enumerate([C, C], start=3):
        assert lc.observe("k", i * W, s, policy) == copy.observe("k", i * W, s, policy)
    assert not lc.states and not copy.states


def test_keys_and_ids_are_deterministic_and_bounded() -> None:
    dims = (("team", "a,b=c:d"), ("model", "gpt-4o"))
    key = dedup_key("threshold", "p95", "latency_p95_ms", dims)
    assert key == dedup_key("threshold", "p95", "latency_p95_ms", tuple(reversed(dims)))
    assert key == "threshold:p95:latency_p95_ms:model=gpt-4o,team=a%2Cb%3Dc%3Ad"
    assert alert_id(key, "firing", 123) == key + ":firing:123"
    long = dedup_key("anomaly", "r", "m", (("team", "x" * 500),))
    assert len(long) == MAX_KEY_CHARS
    assert long != dedup_key("anomaly", "r", "m", (("team", "x" * 499 + "y"),))


def test_close_resolves_an_open_incident_and_forgets_a_pending_one() -> None:
    policy = LifecyclePolicy(for_windows=2)
    lc = Lifecycle()
    lc.observe("open", 0, B, LifecyclePolicy(for_windows=1))
    lc.observe("pending", 0, B, policy)
    assert lc.close("open") == Transition("resolved", 0, 0)
    assert lc.close("pending") is None
    assert lc.active_keys() == []
