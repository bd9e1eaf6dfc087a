"""Realistic LLM call events: a real trace's arrivals and token counts, with the rest layered on top.

The trace (Azure format, ``TIMESTAMP,ContextTokens,GeneratedTokens``; by default the shipped Azure LLM
inference trace 2023, see ``llmpulse/data/ATTRIBUTION.md``) gives each call's arrival time, prompt tokens and
completion tokens. Everything else is synthetic and reproducible under ``seed``: provider and model (a mix
of models genai-prices prices, one self-hosted model priced only by ``prices.example.toml`` and a small share
of a model with no price at all), app and its team, a Zipf-skewed user, session, environment, streaming,
latency (prefill per uncached input token + decode per output token, lognormal noise, a slow tail), time to
first token for streaming calls, prompt-cache reads/writes and a baseline of errors. With ``texts=True`` each
call also carries a short prompt and answer of its app (``workload_text``; a small baseline share of answers
are refusals) and a few calls get a thumbs up or down (``Workload.feedback``: refused answers get thumbs
down). Incidents (``LatencySpike``, ``ErrorBurst``, ``RunawaySpend``, ``RefusalSpike``) are off unless
passed in.

Use::

    wl = Workload(seed=7)                              # or Workload("my_trace.csv", seed=7)
    start = wl.start_ms_ending_now(n)                  # the last event lands at about now
    for send_at, event in wl.events(n, start_ms=start, speedup=60.0):
        ...                                            # send ``event`` (a wire dict) at ``send_at`` seconds

Event times are not compressed: ``ts_ms = start_ms + trace offset``; only sending is sped up
(``send_at = trace offset / speedup``). Asking for more events than the trace has repeats it, each repetition
shifted by the trace's span. Event ``i`` is the same whatever ``n`` is (events are drawn in fixed chunks, each
from its own seeded generator), so ``events(100)`` is a prefix of ``events(10_000)``; ``event_id`` is derived
from ``(seed, start_ms, i)``, so replaying the same arguments yields the same ids (idempotent downstream).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.resources
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from llmpulse.producers.workload_text import EXCHANGES, REFUSALS
from llmpulse.schemas.call import MAX_TOKENS, SCHEMA_VERSION

TRACE_FILE = "azure_llm_inference_trace_code_2023.csv"
TRACE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
CHUNK = 16_384  # events drawn together; part of the determinism contract (event i lives in chunk i // CHUNK)
DAY_MS = 86_400_000
SESSION_MS = 30 * 60 * 1000  # a user's calls to one app within a 30-minute bucket share a session
END_MARGIN_MS = 1_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# ----------------------------------------------------------------------------------------------- trace


@dataclass(frozen=True)
class Trace:
    """Arrivals (µs after the first one, sorted) and token counts of a trace."""

    offsets_us: IntArray
    input_tokens: IntArray
    output_tokens: IntArray

    def __len__(self) -> int:
        return len(self.offsets_us)

    @property
    def span_us(self) -> int:
        return int(self.offsets_us[-1])


def load_trace(path: Path | str | None = None) -> Trace:
    """Read an Azure-format trace CSV (default: the shipped one); rows are sorted by time (stable)."""
    if path is None:
        text = importlib.resources.files("llmpulse.data").joinpath(TRACE_FILE).read_text(encoding="utf-8")
        return _parse_trace(text.splitlines(), TRACE_FILE)
    return _parse_trace(Path(path).read_text(encoding="utf-8").splitlines(), str(path))


def _parse_trace(lines: list[str], name: str) -> Trace:
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader, [])]
    if tuple(header) != TRACE_COLUMNS:
        raise ValueError(f"{name}: header must be {','.join(TRACE_COLUMNS)}, got {','.join(header)!r}")
    stamps: list[str] = []
    tokens: list[tuple[int, int]] = []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            stamp, ctx, gen = row
            tokens.append((int(ctx), int(gen)))
        except ValueError as e:
            raise ValueError(f"{name}:{line_no}: expected TIMESTAMP,int,int, got {row!r}") from e
        stamps.append(stamp.strip())
    if not stamps:
        raise ValueError(f"{name}: no rows")
    try:
        times = np.array(stamps, dtype="datetime64[us]").astype(np.int64)
    except ValueError as e:
        raise ValueError(f"{name}: unreadable TIMESTAMP ({e})") from e
    tok = np.array(tokens, dtype=np.int64)
    if (tok < 0).any() or (tok > MAX_TOKENS).any():
        raise ValueError(f"{name}: token counts must be within 0..{MAX_TOKENS}")
    order = np.argsort(times, kind="stable")
    times = times[order]
    return Trace(offsets_us=times - times[0], input_tokens=tok[order, 0], output_tokens=tok[order, 1])


# ------------------------------------------------------------------------------------ what is layered


@dataclass(frozen=True)
class ModelSpec:
    provider: str  # OTel gen_ai.provider.name
    request_model: str
    response_model: str
    base_ms: float  # per-call overhead before the first token
    prefill_ms: float  # per uncached input token
    decode_ms: float  # per output token
    caching: str  # "none", "auto" (OpenAI/Gemini: reads only) or "explicit" (Anthropic: reads and writes)


#: the self-hosted model priced only by the override file, and the model nobody has a price for
CUSTOM_MODEL = "acme-coder-34b"
UNPRICED_MODEL = "acme-router-7b"

# fmt: off
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 250.0, 0.020, 11.0, "auto"),
    ModelSpec("openai", "gpt-4o", "gpt-4o-2024-08-06", 350.0, 0.040, 16.0, "auto"),
    ModelSpec("anthropic", "claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20241022", 500.0, 0.050, 18.0,
              "explicit"),
    ModelSpec("anthropic", "claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022", 350.0, 0.025, 14.0,
              "explicit"),
    ModelSpec("gcp.gemini", "gemini-2.0-flash", "gemini-2.0-flash-001", 250.0, 0.010, 6.5, "auto"),
    ModelSpec("gcp.gemini", "gemini-1.5-flash", "gemini-1.5-flash-002", 300.0, 0.015, 8.0, "auto"),
    ModelSpec("vllm", CUSTOM_MODEL, CUSTOM_MODEL, 80.0, 0.100, 25.0, "none"),
    ModelSpec("vllm", UNPRICED_MODEL, UNPRICED_MODEL, 60.0, 0.030, 12.0, "none"),
)
# fmt: on


@dataclass(frozen=True)
class AppSpec:
    name: str
    team: str
    weight: float  # share of all calls
    streaming_share: float
    models: dict[str, float]  # request_model -> weight


SONNET, HAIKU = "claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"
# fmt: off
APPS: tuple[AppSpec, ...] = (
    AppSpec("code-assistant", "devex", 0.35, 0.95,
            {CUSTOM_MODEL: 0.30, SONNET: 0.30, "gpt-4o": 0.20, "gpt-4o-mini": 0.15,
             "gemini-2.0-flash": 0.05}),
    AppSpec("support-bot", "customer-success", 0.20, 0.85,
            {HAIKU: 0.40, "gpt-4o-mini": 0.40, "gemini-2.0-flash": 0.20}),
    AppSpec("doc-search", "search", 0.15, 0.30,
            {"gemini-2.0-flash": 0.50, "gemini-1.5-flash": 0.20, "gpt-4o-mini": 0.30}),
    AppSpec("sql-copilot", "data", 0.12, 0.60, {"gpt-4o": 0.50, SONNET: 0.30, "gpt-4o-mini": 0.20}),
    AppSpec("email-drafter", "growth", 0.10, 0.50,
            {"gpt-4o-mini": 0.50, HAIKU: 0.30, "gemini-2.0-flash": 0.20}),
    AppSpec("triage-router", "platform", 0.08, 0.0, {UNPRICED_MODEL: 0.60, "gpt-4o-mini": 0.40}),
)
# fmt: on

TEAMS: tuple[str, ...] = tuple(dict.fromkeys(a.team for a in APPS))
ENVIRONMENTS: tuple[tuple[str, float], ...] = (("production", 0.90), ("staging", 0.08), ("development", 0.02))
#: error.type values as the Python SDKs raise them, with their share of baseline errors
ERROR_TYPES: tuple[tuple[str, float], ...] = (
    ("RateLimitError", 0.40),
    ("APITimeoutError", 0.20),
    ("InternalServerError", 0.15),
    ("APIConnectionError", 0.10),
    ("BadRequestError", 0.10),
    ("OverloadedError", 0.05),
)
ERROR_NAMES: tuple[str, ...] = tuple(name for name, _ in ERROR_TYPES)
N_USERS = 5_000
REFUSAL_RATE = 0.01  # texts: answers that are refusals in normal traffic
FEEDBACK_SHARE = 0.04  # texts: answered calls whose user gives a thumbs up or down
THUMBS_DOWN = 0.15  # ... down for an ordinary answer
THUMBS_DOWN_REFUSED = 0.9  # ... down for a refusal
FEEDBACK_DELAY_MS = (5_000, 120_000)  # ... given this long after the call's start
ZIPF_EXPONENT = 1.1
TIMEOUT_MS = 60_000.0


def _cdf(weights: npt.ArrayLike) -> FloatArray:
    c = np.cumsum(np.asarray(weights, dtype=np.float64))
    return c / c[-1]


def _pick(cdf: FloatArray, u: FloatArray) -> IntArray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1).astype(np.int64)


# ------------------------------------------------------------------------------------------- batch


@dataclass
class Batch:
    """One chunk of events as numpy columns.

    Incidents edit the *causes* (model, app, team, tokens, errors, ``latency_factor``); ``Workload.derived``
    then computes the effects (cache tokens, latency, TTFT, finish reason) from them.
    """

    index: IntArray  # global event number
    offset_us: IntArray  # event time after the first trace arrival (not compressed)
    input_tokens: IntArray
    output_tokens: IntArray
    model: IntArray  # into MODELS
    app: IntArray  # into APPS
    team: IntArray  # into TEAMS
    user: IntArray  # user number 0..N_USERS-1
    environment: IntArray  # into ENVIRONMENTS
    streaming: BoolArray
    error: IntArray  # -1: ok, else into ERROR_TYPES
    latency_factor: FloatArray
    noise: FloatArray  # (8, n) normals and uniforms reserved for the derived fields
    refused: BoolArray  # texts: the answer is a refusal
    text_noise: FloatArray  # (3, n) uniforms for the texts: which exchange, feedback given, thumbs down

    def __len__(self) -> int:
        return len(self.index)

    def uniform(self, rng: np.random.Generator) -> FloatArray:
        """Uniforms for an incident: a whole chunk's worth is drawn so that event i never depends on n."""
        return rng.random(CHUNK)[: len(self)]

    def window(self, start_s: float, end_s: float) -> BoolArray:
        return (self.offset_us >= start_s * 1e6) & (self.offset_us < end_s * 1e6)


class Incident(Protocol):
    """Something that goes wrong from ``start_s`` to ``end_s`` seconds of event time after the first event."""

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...

    def apply(self, batch: Batch, rng: np.random.Generator) -> None:
        """Edit the causes of the events in the window, in place; draw randomness with ``batch.uniform``."""

    def describe(self) -> dict[str, Any]:
        """What it is, for reports: ``kind``, the ``dimension`` and ``value`` it hits, ``start_s``, ``end_s``,
        and its strength."""


def _model_index(name: str) -> int:
    for i, m in enumerate(MODELS):
        if name in (m.request_model, m.response_model):
            return i
    raise ValueError(f"unknown workload model {name!r}; known: {[m.request_model for m in MODELS]}")


@dataclass(frozen=True)
class LatencySpike:
    """Calls to ``model`` take ``factor`` times longer (time to first token included)."""

    model: str
    start_s: float
    end_s: float
    factor: float = 6.0

    def apply(self, batch: Batch, rng: np.random.Generator) -> None:
        hit = batch.window(self.start_s, self.end_s) & (batch.model == _model_index(self.model))
        batch.latency_factor[hit] *= self.factor

    def describe(self) -> dict[str, Any]:
        return {"kind": "latency_spike", "dimension": "model", "value": self.model, "start_s": self.start_s,
                "end_s": self.end_s, "strength": {"factor": self.factor}}  # fmt: skip


@dataclass(frozen=True)
class ErrorBurst:
    """A share ``rate`` of the calls to ``provider`` fail with ``error_type``."""

    provider: str
    start_s: float
    end_s: float
    rate: float = 0.5
    error_type: str = "InternalServerError"

    def __post_init__(self) -> None:
        if self.error_type not in ERROR_NAMES:
            raise ValueError(f"error_type must be one of {ERROR_NAMES}")

    def apply(self, batch: Batch, rng: np.random.Generator) -> None:
        providers = np.array([m.provider == self.provider for m in MODELS])
        hit = batch.window(self.start_s, self.end_s) & providers[batch.model]
        hit &= batch.uniform(rng) < self.rate
        batch.error[hit] = ERROR_NAMES.index(self.error_type)

    def describe(self) -> dict[str, Any]:
        return {"kind": "error_burst", "dimension": "provider", "value": self.provider, "start_s": self.start_s,
                "end_s": self.end_s, "strength": {"rate": self.rate, "error_type": self.error_type}}  # fmt: skip


@dataclass(frozen=True)
class RefusalSpike:
    """A share ``share`` of ``app``'s answers become refusals (a prompt or guardrail change gone wrong); the
    users who give feedback on them give thumbs down. Seen only in calls that carry text."""

    app: str
    start_s: float
    end_s: float
    share: float = 0.5

    def __post_init__(self) -> None:
        if self.app not in [a.name for a in APPS]:
            raise ValueError(f"app must be one of {[a.name for a in APPS]}")
        if not 0.0 < self.share <= 1.0:
            raise ValueError("share must be within (0, 1]")

    def apply(self, batch: Batch, rng: np.random.Generator) -> None:
        app = next(i for i, a in enumerate(APPS) if a.name == self.app)
        hit = batch.window(self.start_s, self.end_s) & (batch.app == app)
        hit &= batch.uniform(rng) < self.share
        batch.refused[hit] = True

    def describe(self) -> dict[str, Any]:
        return {"kind": "refusal_spike", "dimension": "app", "value": self.app, "start_s": self.start_s,
                "end_s": self.end_s, "strength": {"share": self.share}}  # fmt: skip


@dataclass(frozen=True)
class RunawaySpend:
    """An agent loop gone wrong: a share ``share`` of all calls become ``team``'s (its first app), on an
    expensive ``model``, with ``token_factor`` times the input and output tokens."""

    team: str
    start_s: float
    end_s: float
    share: float = 0.3
    token_factor: float = 10.0
    model: str = SONNET

    def __post_init__(self) -> None:
        if self.team not in TEAMS:
            raise ValueError(f"team must be one of {TEAMS}")
        _model_index(self.model)

    def apply(self, batch: Batch, rng: np.random.Generator) -> None:
        team = TEAMS.index(self.team)
        app = next(i for i, a in enumerate(APPS) if a.team == self.team)
        hit = batch.window(self.start_s, self.end_s) & (batch.uniform(rng) < self.share)
        batch.team[hit] = team
        batch.app[hit] = app
        batch.model[hit] = _model_index(self.model)
        for col in (batch.input_tokens, batch.output_tokens):
            col[hit] = np.minimum(np.rint(col[hit] * self.token_factor), MAX_TOKENS).astype(np.int64)

    def describe(self) -> dict[str, Any]:
        return {"kind": "runaway_spend", "dimension": "team", "value": self.team, "start_s": self.start_s,
                "end_s": self.end_s,
                "strength": {"share": self.share, "token_factor": self.token_factor, "model": self.model}}  # fmt: skip


# ---------------------------------------------------------------------------------------- workload


class Workload:
    """Replays a trace as LLM call events (see the module docstring)."""

    def __init__(
        self,
        trace_path: Path | str | None = None,
        seed: int = 0,
        *,
        incidents: Sequence[Incident] = (),
        error_rate: float = 0.015,
        texts: bool = False,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        self.trace = load_trace(trace_path)
        self.seed = seed
        self.incidents = tuple(incidents)
        self.error_rate = error_rate
        self.texts = texts
        self._exchanges = [EXCHANGES[a.name] for a in APPS]
        self._app_cdf = _cdf([a.weight for a in APPS])
        self._model_cdfs = np.stack(
            [_cdf([a.models.get(m.request_model, 0.0) for m in MODELS]) for a in APPS]
        )
        self._app_team = np.array([TEAMS.index(a.team) for a in APPS], dtype=np.int64)
        self._app_streaming = np.array([a.streaming_share for a in APPS])
        self._user_cdf = _cdf(1.0 / np.arange(1, N_USERS + 1) ** ZIPF_EXPONENT)
        # the most active user is not user 0: a fixed, seeded permutation of ranks to ids
        self._user_of_rank = np.random.default_rng([seed, 2**32 - 1]).permutation(N_USERS)
        self._env_cdf = _cdf([w for _, w in ENVIRONMENTS])
        self._error_cdf = _cdf([w for _, w in ERROR_TYPES])
        self._providers = np.array([m.provider for m in MODELS], dtype=object)
        self._requested = np.array([m.request_model for m in MODELS], dtype=object)
        self._responded = np.array([m.response_model for m in MODELS], dtype=object)
        self._app_names = np.array([a.name for a in APPS], dtype=object)
        self._team_names = np.array(TEAMS, dtype=object)
        self._env_names = np.array([e for e, _ in ENVIRONMENTS], dtype=object)
        self._user_names = np.array([f"user-{u:05d}" for u in range(N_USERS)], dtype=object)
        self._model_params = np.array([(m.base_ms, m.prefill_ms, m.decode_ms) for m in MODELS]).T
        self._caching = np.array([m.caching for m in MODELS])

    # -- time

    def span_ms(self, n: int | None = None) -> int:
        """Event time from the first to the last of the first ``n`` events (``None``: the whole trace)."""
        count = len(self.trace) if n is None else n
        if count <= 0:
            return 0
        return int(self._offsets_us(np.array([count - 1]))[0] // 1000)

    def start_ms_ending_now(
        self, n: int | None = None, *, now_ms: int | None = None, max_age_ms: int = 30 * DAY_MS
    ) -> int:
        """A ``start_ms`` for which the last of ``n`` events starts about a second before now.

        Raises ``ValueError`` if the events span more than ``max_age_ms`` (older events are dead letters).
        """
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        span = self.span_ms(n)
        if span + END_MARGIN_MS > max_age_ms:
            raise ValueError(
                f"{n} events span {span / DAY_MS:.1f} days of event time, more than the"
                f" {max_age_ms / DAY_MS:.1f} days the pipeline accepts; generate fewer events"
            )
        return now - END_MARGIN_MS - span

    def _offsets_us(self, index: IntArray) -> IntArray:
        rows = len(self.trace)
        return self.trace.offsets_us[index % rows] + (index // rows) * self.trace.span_us

    # -- events

    def events(
        self, n: int | None = None, *, start_ms: int, speedup: float = 1.0
    ) -> Iterator[tuple[float, dict[str, Any]]]:
        """``(send_at, event)`` pairs in arrival order: ``send_at`` is seconds after the replay starts
        (trace offset / ``speedup``), ``event`` the wire dict (what ``LLMCallEvent.to_wire()`` returns)."""
        if speedup <= 0:
            raise ValueError("speedup must be > 0")
        for batch in self.batches(n, start_ms=start_ms):
            send_at = (batch.offset_us / (1e6 * speedup)).tolist()
            yield from zip(send_at, self.to_wire(batch, start_ms=start_ms), strict=True)

    def batches(self, n: int | None = None, *, start_ms: int) -> Iterator[Batch]:
        """The same events as numpy columns, one ``Batch`` per chunk (for benchmarks and bulk use)."""
        total = len(self.trace) if n is None else n
        if total < 0:
            raise ValueError("n must be >= 0")
        if start_ms < 0:
            raise ValueError("start_ms must be >= 0")
        for first in range(0, total, CHUNK):
            yield self._batch(first // CHUNK, min(CHUNK, total - first))

    def _batch(self, chunk: int, size: int) -> Batch:
        """The first ``size`` events of chunk ``chunk``; draws a whole chunk so event i never depends on n."""
        rng = np.random.default_rng([self.seed, chunk])
        index = chunk * CHUNK + np.arange(CHUNK, dtype=np.int64)
        rows = index % len(self.trace)
        app = _pick(self._app_cdf, rng.random(CHUNK))
        u_model = rng.random(CHUNK)
        model = (u_model[:, None] > self._model_cdfs[app]).sum(axis=1).astype(np.int64)
        user = self._user_of_rank[_pick(self._user_cdf, rng.random(CHUNK))]
        environment = _pick(self._env_cdf, rng.random(CHUNK))
        streaming = rng.random(CHUNK) < self._app_streaming[app]
        failed = rng.random(CHUNK) < self.error_rate
        error = np.where(failed, _pick(self._error_cdf, rng.random(CHUNK)), -1)
        noise = np.vstack([rng.standard_normal((3, CHUNK)), rng.random((5, CHUNK))])
        text_noise = rng.random((4, CHUNK))  # drawn after everything else: the other columns never change
        batch = Batch(
            index=index[:size],
            offset_us=self._offsets_us(index[:size]),
            input_tokens=self.trace.input_tokens[rows[:size]].copy(),
            output_tokens=self.trace.output_tokens[rows[:size]].copy(),
            model=model[:size],
            app=app[:size],
            team=self._app_team[app[:size]],
            user=user[:size],
            environment=environment[:size],
            streaming=streaming[:size],
            error=error[:size],
            latency_factor=np.ones(size),
            noise=noise[:, :size],
            refused=text_noise[0, :size] < REFUSAL_RATE,
            text_noise=text_noise[1:, :size],
        )
        incident_rng = np.random.default_rng([self.seed, chunk, 1])
        for incident in self.incidents:
            incident.apply(batch, incident_rng)
        return batch

    def derived(self, batch: Batch) -> dict[str, Any]:
        """Columns derived from a batch's causes: tokens as reported, cache tokens, latency, TTFT, finish."""
        z_ttft, z_decode, z_err, u_tail, u_cache, u_frac, u_finish, u_tailx = batch.noise
        base, prefill, decode = self._model_params[:, batch.model]
        caching = self._caching[batch.model]
        ok = batch.error < 0
        inp = batch.input_tokens
        # prompt caching: only prompts of >= 1024 tokens, read in 128-token blocks
        eligible = ok & (inp >= 1024) & (caching != "none")
        frac = 0.5 + 0.45 * u_frac
        reads = eligible & (u_cache < 0.35)
        writes = eligible & (caching == "explicit") & (u_cache >= 0.35) & (u_cache < 0.45)
        cache_read = np.where(reads, (inp * frac).astype(np.int64) // 128 * 128, 0)
        cache_write = np.where(writes, (inp * frac).astype(np.int64), 0)
        output = np.where(ok, batch.output_tokens, 0)
        uncached = inp - cache_read
        tail = np.where(u_tail < 0.01, 2.0 + 4.0 * u_tailx, 1.0)  # queueing: 1% of calls wait 2-6x
        ttft = (base + prefill * uncached + 0.1 * prefill * cache_read) * np.exp(0.30 * z_ttft) * tail
        ttft *= batch.latency_factor
        gen = decode * output * np.exp(0.20 * z_decode) * batch.latency_factor
        latency = ttft + gen
        # errors: rate limits answer fast, timeouts hit the client timeout, others fail part-way
        rate_limited = batch.error == ERROR_NAMES.index("RateLimitError")
        timed_out = batch.error == ERROR_NAMES.index("APITimeoutError")
        err_latency = np.select(
            [rate_limited, timed_out],
            [120.0 * np.exp(0.5 * z_err), TIMEOUT_MS * (1.0 + 0.002 * np.abs(z_err))],
            default=latency * (0.2 + 0.8 * u_tailx),
        )
        latency = np.where(ok, latency, err_latency)
        finish = np.where(u_finish < 0.02, "length", "stop")
        return {
            "output_tokens": output,
            "cache_read_tokens": cache_read,
            "cache_write_tokens": cache_write,
            "latency_ms": np.round(latency, 3),
            "ttft_ms": np.where(ok & batch.streaming, np.round(ttft, 3), np.nan),
            "finish_reason": np.where(ok, finish, ""),
        }

    def to_wire(self, batch: Batch, *, start_ms: int) -> list[dict[str, Any]]:
        """The batch as wire dicts, exactly the fields ``LLMCallEvent(**d).to_wire()`` gives back."""
        d = self.derived(batch)
        ts = start_ms + batch.offset_us // 1000
        prefix = hashlib.blake2b(f"{self.seed}:{start_ms}".encode(), digest_size=8).hexdigest()
        columns = zip(
            [f"{prefix}{i:016x}" for i in batch.index.tolist()],
            ts.tolist(),
            d["latency_ms"].tolist(),
            self._providers[batch.model].tolist(),
            self._requested[batch.model].tolist(),
            self._responded[batch.model].tolist(),
            batch.streaming.tolist(),
            d["finish_reason"].tolist(),
            batch.input_tokens.tolist(),
            d["output_tokens"].tolist(),
            d["cache_read_tokens"].tolist(),
            d["cache_write_tokens"].tolist(),
            self._app_names[batch.app].tolist(),
            self._team_names[batch.team].tolist(),
            self._user_names[batch.user].tolist(),
            _session_ids(batch, ts),
            self._env_names[batch.environment].tolist(),
            strict=True,
        )
        # fmt: off
        out = [
            {"schema_version": SCHEMA_VERSION, "event_id": eid, "ts_ms": t, "latency_ms": lat,
             "provider": prov, "request_model": req, "response_model": resp, "operation": "chat",
             "streaming": stream, "status": "ok", "finish_reason": fin, "input_tokens": inp,
             "output_tokens": outp, "cache_read_tokens": cr, "cache_write_tokens": cw, "reasoning_tokens": 0,
             "app": app, "team": team, "user_id": user, "session_id": sess, "environment": env,
             "attributes": {}, "tokens_estimated": False}
            for eid, t, lat, prov, req, resp, stream, fin, inp, outp, cr, cw, app, team, user, sess, env
            in columns
        ]
        # fmt: on
        ok = batch.error < 0
        first_token = ok & batch.streaming
        for i, tt in zip(
            np.flatnonzero(first_token).tolist(), d["ttft_ms"][first_token].tolist(), strict=True
        ):
            out[i]["ttft_ms"] = tt
        for i, err in zip(np.flatnonzero(~ok).tolist(), batch.error[~ok].tolist(), strict=True):
            event = out[i]
            del event["response_model"], event["finish_reason"]
            event["status"] = "error"
            event["error_type"] = ERROR_NAMES[err]
        if self.texts:
            self._add_texts(batch, out)
        return out

    def _exchange(self, batch: Batch) -> IntArray:
        """Which of its app's exchanges each call is."""
        sizes = np.array([len(e) for e in self._exchanges])[batch.app]
        return np.minimum((batch.text_noise[0] * sizes).astype(np.int64), sizes - 1)

    def _add_texts(self, batch: Batch, out: list[dict[str, Any]]) -> None:
        """The prompt of every call and the answer of every answered one (a refusal if ``refused``)."""
        pick = self._exchange(batch)
        refusal = (batch.index % len(REFUSALS)).tolist()
        for i, (app, k, refused, failed) in enumerate(
            zip(batch.app.tolist(), pick.tolist(), batch.refused.tolist(), (batch.error >= 0).tolist(), strict=True)
        ):
            prompt, answer = self._exchanges[app][k]
            out[i]["prompt"] = prompt
            if not failed:
                out[i]["response"] = REFUSALS[refusal[i]] if refused else answer

    def feedback(self, batch: Batch, *, start_ms: int) -> list[dict[str, Any]]:
        """Feedback events (``FeedbackEvent`` wire dicts) of the batch's calls: with ``texts``, a share
        ``FEEDBACK_SHARE`` of the answered calls get a thumbs, down with ``THUMBS_DOWN`` (a refusal:
        ``THUMBS_DOWN_REFUSED``), given ``FEEDBACK_DELAY_MS`` after the call starts; ordered by time given."""
        if not self.texts:
            return []
        _, u_given, u_down = batch.text_noise
        given = (batch.error < 0) & (u_given < FEEDBACK_SHARE)
        down = u_down < np.where(batch.refused, THUMBS_DOWN_REFUSED, THUMBS_DOWN)
        lo, hi = FEEDBACK_DELAY_MS
        # the delay reuses u_given's spread below FEEDBACK_SHARE (uniform there), so no draw is added
        ts = start_ms + batch.offset_us // 1000 + (lo + (hi - lo) * u_given / FEEDBACK_SHARE).astype(np.int64)
        prefix = hashlib.blake2b(f"{self.seed}:{start_ms}".encode(), digest_size=8).hexdigest()
        out = [
            {"schema_version": SCHEMA_VERSION, "event_id": f"{prefix}f{i:015x}", "call_id": f"{prefix}{i:016x}",
             "ts_ms": t, "thumbs": "down" if d else "up", "user_id": user, "app": app, "team": team}
            for i, t, d, user, app, team in zip(
                batch.index[given].tolist(), ts[given].tolist(), down[given].tolist(),
                self._user_names[batch.user[given]].tolist(), self._app_names[batch.app[given]].tolist(),
                self._team_names[batch.team[given]].tolist(), strict=True)
        ]  # fmt: skip
        return sorted(out, key=lambda e: int(e["ts_ms"]))


def _session_ids(batch: Batch, ts_ms: IntArray) -> list[str]:
    """A session is one user in one app within a 30-minute bucket; each distinct one is formatted once."""
    key = (batch.user * len(APPS) + batch.app) * (1 << 32) + ts_ms // SESSION_MS
    distinct, where = np.unique(key, return_inverse=True)
    names = np.array([f"s{k >> 32:06x}-{k & 0xFFFFFFFF:x}" for k in distinct.tolist()], dtype=object)
    return list(names[where].tolist())
