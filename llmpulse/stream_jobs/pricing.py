"""The cost of LLM calls, vectorised: genai-prices' prices (offline, bundled snapshot) plus an override file.

``PriceBook.price(...)`` takes columns (one entry per event) and returns integer costs in **pico-USD**
(1e-12 USD), exact: the result equals ``genai_prices.calc_price(...).total_price * 10**12`` for every event.

Token semantics (OTel ``gen_ai.usage.input_tokens`` and genai-prices' ``Usage`` agree): ``input_tokens`` is
the **total** prompt size and *includes* ``cache_read_tokens`` and ``cache_write_tokens``; those two are
parts of the total, billed at their own rates, and the rest (``input - cache_read - cache_write``) at the
input rate.
An event whose cache tokens exceed its input tokens cannot be priced under that rule (it most likely followed
Anthropic's raw API, where ``input_tokens`` excludes the cache); it gets status ``"invalid_usage"``, unpriced.
``output_tokens`` includes reasoning tokens and is billed at the output rate.

How it stays fast: a model is looked up once per (provider, model) and its price resolved once per period in
which it is constant (once; or per UTC day when it has start dates; or per segment of the day for off-peak
prices). A flat price becomes integer pico-USD per token, found by asking genai-prices for the price of one
token of each kind, so the per-event cost is integer numpy arithmetic. A tiered price ("cliff" tiers by total
input tokens) becomes one flat price per band of input sizes. Only a price that is not a whole number of
pico-USD per token is computed per event with genai-prices (rounded half-even to a whole pico-USD; none of the
bundled mainstream models needs it).

Statuses: ``"priced"`` (genai-prices), ``"override"`` (the override file), ``"unknown_model"`` (no price
anywhere: cost 0, ``priced`` False; the caller stores NULL, never a guess) and ``"invalid_usage"`` (above).

Provider names: a provider genai-prices knows (its ids, and its own aliases such as ``gcp.vertex_ai`` →
google, ``aws.bedrock`` → aws, ``azure.ai.openai`` → openai) is used as given; a model that provider does not
sell is ``"unknown_model"``. An unknown provider name (``x_ai``, a gateway, a typo) falls back to looking the
model up by name alone, as ``calc_price`` does without ``provider_id`` (genai-prices picks the provider whose
model pattern matches); if that fails too, the call is ``"unknown_model"``.

Override file (TOML; entries win over genai-prices; ``provider`` and ``name`` match case-insensitively)::

    [[model]]
    provider = "vllm"
    name = "acme-coder-34b"
    input_mtok = 0.60        # USD per million tokens, at most 6 decimals (whole pico-USD per token)
    output_mtok = 0.90
    cache_read_mtok = 0.06   # optional; missing: cache reads cost the input price
    cache_write_mtok = 0.75  # optional; missing: cache writes cost the input price
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import (
    ModelInfo,
    ModelPrice,
    Provider,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmpulse.tomlfile import TomlFileError, read_toml

PRICED = "priced"
OVERRIDE = "override"
UNKNOWN_MODEL = "unknown_model"
INVALID_USAGE = "invalid_usage"

#: status codes: unpriced ones first, so ``code >= _STATUS_CODE[PRICED]`` means priced
_STATUSES = np.array([UNKNOWN_MODEL, INVALID_USAGE, PRICED, OVERRIDE], dtype=object)
_STATUS_CODE = {name: i for i, name in enumerate(_STATUSES.tolist())}

PICO_PER_USD = 10**12
PICO_PER_MTOK_USD = 10**6  # 1 USD per million tokens = 1e6 pico-USD per token
DAY_MS = 86_400_000
MAX_CACHED_MODELS = 10_000  # model names are user input: bound the lookup cache
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Int64Array = npt.NDArray[np.int64]


class PricesFileError(ValueError):
    """The override prices file cannot be read or is invalid; the message names the file and the entry."""


# --------------------------------------------------------------------------------------------- rates


@dataclass(frozen=True)
class LinearRate:
    """A flat price in whole pico-USD: per call, per uncached input token, cache read/write, output token."""

    per_call: int
    input: int
    cache_read: int
    cache_write: int
    output: int

    def cost(self, inp: Int64Array, out: Int64Array, cr: Int64Array, cw: Int64Array) -> Int64Array:
        uncached = inp - cr - cw
        return (
            self.per_call
            + uncached * self.input
            + cr * self.cache_read
            + cw * self.cache_write
            + out * self.output
        )


@dataclass(frozen=True)
class TieredRate:
    """Cliff tiers: band ``b`` holds events with ``starts[b-1] < input_tokens <= starts[b]``."""

    starts: Int64Array
    bands: tuple[LinearRate, ...]

    def band_of(self, inp: Int64Array) -> Int64Array:
        return np.searchsorted(self.starts, inp, side="left").astype(np.int64)


Rate = LinearRate | TieredRate | None  # None: compute each event with genai-prices


def _to_pico(usd: Decimal) -> int:
    return int((usd * PICO_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def _exact_pico(usd: Decimal) -> int | None:
    pico = usd * PICO_PER_USD
    return int(pico) if pico == pico.to_integral_value() else None


def linear_rate(model_price: ModelPrice) -> LinearRate | None:
    """The flat price as whole pico-USD per token, by asking genai-prices for one token of each kind.

    Exact because a price without tiers is linear in the token counts. None if a rate is not a whole
    number of pico-USD (the caller then prices each event with genai-prices).
    """

    def usd(**tokens: int) -> Decimal:
        return model_price.calc_price(Usage(**tokens))["total_price"]

    base = usd()
    probes = (
        base,
        usd(input_tokens=1) - base,
        usd(input_tokens=1, cache_read_tokens=1) - base,
        usd(input_tokens=1, cache_write_tokens=1) - base,
        usd(output_tokens=1) - base,
    )
    picos = [_exact_pico(p) for p in probes]
    if any(p is None for p in picos):
        return None
    per_call, inp, cr, cw, out = (int(p) for p in picos if p is not None)
    return LinearRate(per_call=per_call, input=inp, cache_read=cr, cache_write=cw, output=out)


def _tier_price(price: TieredPrices, total_input: int) -> Decimal:
    """The price for every token of a call with ``total_input`` input tokens (genai-prices' cliff rule)."""
    for tier in reversed(price.tiers):
        if total_input > tier.start:
            return tier.price
    return price.base


def model_rate(model_price: ModelPrice) -> Rate:
    """A flat or banded integer rate for one resolved ``ModelPrice``; None: price each event exactly."""
    tiered = {k: v for k, v in model_price.__dict__.items() if isinstance(v, TieredPrices)}
    if not tiered:
        return linear_rate(model_price)
    starts = sorted({tier.start for price in tiered.values() for tier in price.tiers})
    bands: list[LinearRate] = []
    for b in range(len(starts) + 1):
        representative = 0 if b == 0 else starts[b - 1] + 1
        flat = ModelPrice(
            **{
                k: (_tier_price(v, representative) if isinstance(v, TieredPrices) else v)
                for k, v in model_price.__dict__.items()
            }
        )
        rate = linear_rate(flat)
        if rate is None:
            return None
        bands.append(rate)
    return TieredRate(starts=np.asarray(starts, dtype=np.int64), bands=tuple(bands))


# ------------------------------------------------------------------------------------------ override


PriceMtok = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class OverridePrice(BaseModel):
    """One ``[[model]]`` entry of the override file (USD per million tokens)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    input_mtok: PriceMtok
    output_mtok: PriceMtok
    cache_read_mtok: PriceMtok | None = None
    cache_write_mtok: PriceMtok | None = None

    @field_validator("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
    @classmethod
    def _whole_pico(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and (value * PICO_PER_MTOK_USD) % 1 != 0:
            raise ValueError("at most 6 decimal places (a whole pico-USD per token)")
        return value

    def rate(self) -> LinearRate:
        def pico(mtok: Decimal) -> int:
            return int(mtok * PICO_PER_MTOK_USD)

        inp = pico(self.input_mtok)
        return LinearRate(
            per_call=0,
            input=inp,
            cache_read=inp if self.cache_read_mtok is None else pico(self.cache_read_mtok),
            cache_write=inp if self.cache_write_mtok is None else pico(self.cache_write_mtok),
            output=pico(self.output_mtok),
        )


def load_overrides(path: Path) -> dict[tuple[str, str], LinearRate]:
    """Read and validate an override file; raises ``PricesFileError`` naming the file and the bad entry."""
    try:
        doc = read_toml(path, parse_float=Decimal)
    except TomlFileError as e:
        raise PricesFileError(f"prices file {e}") from None
    unknown = sorted(set(doc) - {"model"})
    if unknown:
        raise PricesFileError(
            f"prices file {path}: unknown top-level key(s) {unknown}; expected [[model]] tables"
        )
    entries = doc.get("model", [])
    if not isinstance(entries, list):
        raise PricesFileError(f"prices file {path}: 'model' must be an array of tables ([[model]])")
    rates: dict[tuple[str, str], LinearRate] = {}
    for i, raw in enumerate(entries, start=1):
        label = _entry_label(i, raw)
        try:
            entry = OverridePrice.model_validate(raw)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}" for err in e.errors()
            )
            raise PricesFileError(f"prices file {path}: {label}: {problems}") from e
        key = (entry.provider.strip().lower(), entry.name.strip().lower())
        if key in rates:
            raise PricesFileError(f"prices file {path}: {label}: duplicate of an earlier entry")
        rates[key] = entry.rate()
    return rates


def _entry_label(i: int, raw: Any) -> str:
    if isinstance(raw, dict):
        return f"[[model]] #{i} (provider={raw.get('provider')!r}, name={raw.get('name')!r})"
    return f"[[model]] #{i}"


# ------------------------------------------------------------------------------------------ lookups


@dataclass
class KnownModel:
    """A model genai-prices prices, with integer rates cached per period in which its price is constant.

    Prices with start dates are constant within a UTC day; prices by time of day (DeepSeek's off-peak hours)
    are constant between the constraints' start/end times. So a period is (UTC day, segment of the day).
    """

    provider: Provider
    model: ModelInfo
    by_day: bool  # the price has start dates
    bounds_us: Int64Array  # sorted times of day (µs, UTC) where a time-of-day price starts or ends
    rates: dict[tuple[int, int], Rate] = field(default_factory=dict)

    def periods(self, ts_ms: Int64Array) -> Int64Array:
        """One integer per event naming its period: ``day * (len(bounds_us) + 1) + segment``."""
        day = ts_ms // DAY_MS if self.by_day else np.zeros_like(ts_ms)
        if len(self.bounds_us) == 0:
            return day
        seg = np.searchsorted(self.bounds_us, (ts_ms % DAY_MS) * 1000, side="right")
        return day * (len(self.bounds_us) + 1) + seg

    def rate(self, period: int) -> Rate:
        day, seg = divmod(period, len(self.bounds_us) + 1)
        if (day, seg) not in self.rates:
            start_us = day * DAY_MS * 1000 + (int(self.bounds_us[seg - 1]) if seg else 0)
            when = EPOCH + timedelta(microseconds=start_us)
            self.rates[(day, seg)] = model_rate(self.model.get_prices(when))
        return self.rates[(day, seg)]

    def exact_cost(self, inp: int, out: int, cr: int, cw: int, ts_ms: int) -> int:
        usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
        when = EPOCH + timedelta(milliseconds=ts_ms)
        return _to_pico(self.model.calc_price(usage, self.provider, genai_request_timestamp=when).total_price)


def _time_us(t: time) -> int:
    if t.tzinfo is not None:
        t = datetime.combine(date(1970, 1, 1), t).astimezone(UTC).time()
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def known_model(provider: Provider, model: ModelInfo) -> KnownModel:
    by_day = False
    bounds: set[int] = set()
    if not isinstance(model.prices, ModelPrice):
        for conditional in model.prices:
            c = conditional.constraint
            if isinstance(c, StartDateConstraint):
                by_day = True
            elif isinstance(c, TimeOfDateConstraint):
                bounds.update((_time_us(c.start_time), _time_us(c.end_time)))
    return KnownModel(
        provider=provider, model=model, by_day=by_day, bounds_us=np.asarray(sorted(bounds), dtype=np.int64)
    )


def find_model(provider: str, model: str) -> KnownModel | None:
    """genai-prices' model for (provider, model), with the unknown-provider fallback described above."""
    provider_id: str | None = provider.strip() or None
    if provider_id is not None:
        try:
            get_snapshot().find_provider(None, provider_id, None)
        except LookupError:
            provider_id = None  # unknown provider name: look the model up by name alone
    try:
        found = calc_price(Usage(), model, provider_id=provider_id)
    except LookupError:
        return None
    return known_model(found.provider, found.model)


# ---------------------------------------------------------------------------------------- price book

Entry = LinearRate | KnownModel | None  # LinearRate: from the override file


class PriceBook:
    """Prices LLM calls with genai-prices' bundled snapshot (never updated over the network) and overrides."""

    def __init__(self, override_file: Path | None = None) -> None:
        self.override_file = override_file
        self._overrides = load_overrides(override_file) if override_file is not None else {}
        self._entries: dict[tuple[str, str], Entry] = {}

    def _entry(self, key: tuple[str, str]) -> Entry:
        if key in self._entries:
            return self._entries[key]
        if len(self._entries) >= MAX_CACHED_MODELS:
            self._entries.clear()
        provider, model = key
        entry: Entry = self._overrides.get((provider.strip().lower(), model.strip().lower()))
        if entry is None:
            entry = find_model(provider, model)
        self._entries[key] = entry
        return entry

    def price(
        self,
        provider: Sequence[str],
        model: Sequence[str],
        input_tokens: npt.ArrayLike,
        output_tokens: npt.ArrayLike,
        cache_read_tokens: npt.ArrayLike,
        cache_write_tokens: npt.ArrayLike,
        ts_ms: npt.ArrayLike,
    ) -> tuple[Int64Array, npt.NDArray[np.bool_], npt.NDArray[np.object_]]:
        """Cost of each call in pico-USD, whether it is priced, and its price status (see the module doc).

        ``model`` is what was billed: the response model if the call reported one, else the request model.
        Token columns are non-negative integers (``input_tokens`` includes the cache tokens); ``ts_ms`` is the
        call's start in epoch milliseconds (prices can change by date).
        """
        n = len(provider)
        if len(model) != n:
            raise ValueError(f"provider has {n} entries, model {len(model)}")
        inp, out, cr, cw, ts = (
            np.asarray(a, dtype=np.int64)
            for a in (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, ts_ms)
        )
        for name, a in (
            ("input_tokens", inp),
            ("output_tokens", out),
            ("cache_read_tokens", cr),
            ("cache_write_tokens", cw),
            ("ts_ms", ts),
        ):
            if a.shape != (n,):
                raise ValueError(f"{name} has shape {a.shape}, expected ({n},)")
        cost = np.zeros(n, dtype=np.int64)
        code = np.zeros(n, dtype=np.int8)  # index into _STATUSES
        if n == 0:
            return cost, code.astype(np.bool_), _STATUSES[code]
        consistent = cr + cw <= inp
        code[~consistent] = _STATUS_CODE[INVALID_USAGE]
        cols = (inp, out, cr, cw, ts)
        for key, idx in _groups(provider, model):
            entry = self._entry(key)
            if entry is None:
                continue
            idx = idx[consistent[idx]]
            if isinstance(entry, LinearRate):
                cost[idx] = entry.cost(inp[idx], out[idx], cr[idx], cw[idx])
                code[idx] = _STATUS_CODE[OVERRIDE]
            else:
                _price_known(entry, idx, cols, cost)
                code[idx] = _STATUS_CODE[PRICED]
        return cost, code >= _STATUS_CODE[PRICED], _STATUSES[code]


def _factorize(values: Sequence[str]) -> tuple[Int64Array, list[str]]:
    code_of = {v: i for i, v in enumerate(dict.fromkeys(values))}
    codes = np.fromiter(map(code_of.__getitem__, values), dtype=np.int64, count=len(values))
    return codes, list(code_of)


def _groups(provider: Sequence[str], model: Sequence[str]) -> list[tuple[tuple[str, str], Int64Array]]:
    """Event indices per distinct (provider, model): by model first (cheap), split by provider if mixed."""
    codes, models = _factorize(model)
    providers = np.asarray(provider, dtype=object)
    out: list[tuple[tuple[str, str], Int64Array]] = []
    for code, name in enumerate(models):
        idx = np.arange(len(codes), dtype=np.int64) if len(models) == 1 else np.flatnonzero(codes == code)
        group = providers[idx]
        if (group == group[0]).all():
            out.append(((str(group[0]), name), idx))
            continue
        sub_codes, sub_providers = _factorize(group.tolist())
        out.extend(((p, name), idx[sub_codes == k]) for k, p in enumerate(sub_providers))
    return out


def _price_known(entry: KnownModel, idx: Int64Array, cols: tuple[Int64Array, ...], cost: Int64Array) -> None:
    inp, out, cr, cw, ts = cols
    periods = entry.periods(ts[idx])
    distinct = np.unique(periods).tolist()
    for period in distinct:
        sub = idx if len(distinct) == 1 else idx[periods == period]
        rate = entry.rate(period)
        if isinstance(rate, LinearRate):
            cost[sub] = rate.cost(inp[sub], out[sub], cr[sub], cw[sub])
        elif isinstance(rate, TieredRate):
            bands = rate.band_of(inp[sub])
            for b in np.unique(bands).tolist():
                part = sub[bands == b]
                cost[part] = rate.bands[b].cost(inp[part], out[part], cr[part], cw[part])
        else:
            for i in sub.tolist():
                cost[i] = entry.exact_cost(int(inp[i]), int(out[i]), int(cr[i]), int(cw[i]), int(ts[i]))
