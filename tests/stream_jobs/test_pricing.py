"""PriceBook: exactly genai-prices' calc_price (cache-aware, dated, tiered), overrides, unknown models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from genai_prices import Usage, calc_price

from llmpulse.producers.workload import CUSTOM_MODEL, UNPRICED_MODEL, Workload
from llmpulse.stream_jobs.pricing import PriceBook, PricesFileError

EXAMPLE = Path(str(files("llmpulse.data").joinpath("prices.example.toml")))
T_2025 = int(datetime(2025, 11, 20, 15, 0, tzinfo=UTC).timestamp() * 1000)


def one(
    book: PriceBook, provider: str, model: str, inp: int, out: int, cr: int = 0, cw: int = 0, ts: int = T_2025
) -> tuple[int, bool, str]:
    cost, priced, status = book.price([provider], [model], [inp], [out], [cr], [cw], [ts])
    return int(cost[0]), bool(priced[0]), str(status[0])


def reference_pico(
    provider: str | None, model: str, inp: int, out: int, cr: int, cw: int, ts: int
) -> Decimal:
    """genai-prices' own answer, in pico-USD."""
    usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
    when = datetime.fromtimestamp(ts / 1000, tz=UTC)
    return calc_price(usage, model, provider_id=provider, genai_request_timestamp=when).total_price * 10**12


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook(EXAMPLE)


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    wl = Workload(seed=11)
    return [e for _, e in wl.events(6_000, start_ms=T_2025)]


def test_workload_sample_equals_calc_price_exactly(book: PriceBook, sample: list[dict]) -> None:
    keys = (
        "provider",
        "request_model",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "ts_ms",
    )
    cols = {k: [e[k] for e in sample] for k in keys}
    cost, priced, status = book.price(
        cols["provider"],
        cols["request_model"],
        cols["input_tokens"],
        cols["output_tokens"],
        cols["cache_read_tokens"],
        cols["cache_write_tokens"],
        cols["ts_ms"],
    )
    assert cost.dtype == np.int64 and priced.dtype == np.bool_
    checked = 0
    for i, e in enumerate(sample):
        if e["request_model"] == UNPRICED_MODEL:
            assert (status[i], priced[i], cost[i]) == ("unknown_model", False, 0)
        elif e["request_model"] == CUSTOM_MODEL:
            assert status[i] == "override" and priced[i]
        else:
            assert status[i] == "priced" and priced[i]
            ref = reference_pico(
                e["provider"],
                e["request_model"],
                e["input_tokens"],
                e["output_tokens"],
                e["cache_read_tokens"],
                e["cache_write_tokens"],
                e["ts_ms"],
            )
            assert ref == int(cost[i]), (e, ref, cost[i])
            checked += 1
    assert checked > 4_000
    assert (cost[priced] > 0).all()
    with_cache = np.array([e["cache_read_tokens"] > 0 for e in sample]) & (status == "priced")
    assert with_cache.sum() > 100  # the sample exercises cache-aware prices


@pytest.mark.parametrize(
    ("provider", "model", "inp", "out", "cr", "cw"),
    [
        ("anthropic", "claude-3-5-sonnet-20241022", 10_000, 500, 6_000, 2_000),
        ("anthropic", "claude-3-5-haiku-20241022", 4_000, 50, 0, 3_000),
        ("openai", "gpt-4o-mini", 2_048, 300, 1_920, 0),
        ("openai", "gpt-4o", 1, 1, 1, 0),
        ("openai", "gpt-4o", 0, 0, 0, 0),
        ("google", "gemini-2.0-flash", 99_999_999, 10, 50_000_000, 0),
    ],
)
def test_cache_aware_prices_equal_calc_price(
    book: PriceBook, provider: str, model: str, inp: int, out: int, cr: int, cw: int
) -> None:
    cost, priced, status = one(book, provider, model, inp, out, cr, cw)
    assert priced and status == "priced"
    assert cost == reference_pico(provider, model, inp, out, cr, cw, T_2025)


def test_input_tokens_include_cache_tokens(book: PriceBook) -> None:
    """claude-3-5-sonnet: $3 input, $0.30 cache read, $3.75 cache write, $15 output per MTok."""
    cost, _, _ = one(book, "anthropic", "claude-3-5-sonnet-20241022", 10_000, 500, cr=6_000, cw=2_000)
    uncached = 10_000 - 6_000 - 2_000
    assert cost == uncached * 3_000_000 + 6_000 * 300_000 + 2_000 * 3_750_000 + 500 * 15_000_000
    cached, _, _ = one(book, "anthropic", "claude-3-5-sonnet-20241022", 10_000, 500, cr=6_000)
    plain, _, _ = one(book, "anthropic", "claude-3-5-sonnet-20241022", 10_000, 500)
    assert cached == plain - 6_000 * (3_000_000 - 300_000)  # reading from cache is cheaper, not extra


def test_cache_tokens_beyond_input_are_invalid_usage(book: PriceBook) -> None:
    sonnet = "claude-3-5-sonnet-20241022"
    assert one(book, "anthropic", sonnet, 100, 10, cr=5_000) == (0, False, "invalid_usage")
    assert one(book, "vllm", CUSTOM_MODEL, 100, 10, cr=60, cw=60) == (0, False, "invalid_usage")


def test_tiered_prices_across_the_tier(book: PriceBook) -> None:
    for inp in (1, 127_999, 128_000, 128_001, 500_000):
        cost, priced, status = one(book, "google", "gemini-1.5-flash", inp, 1_000, cr=inp // 2)
        assert priced and status == "priced"
        assert cost == reference_pico("google", "gemini-1.5-flash", inp, 1_000, inp // 2, 0, T_2025)
    below, _, _ = one(book, "google", "gemini-1.5-flash", 128_000, 0)
    above, _, _ = one(book, "google", "gemini-1.5-flash", 128_001, 0)
    assert above > 2 * below  # the cliff: every token pays the higher tier


def test_price_changes_by_date(book: PriceBook) -> None:
    """OpenAI cut o3's price on 2025-06-10; one call a day before and one after, priced in one batch."""
    before = int(datetime(2025, 6, 9, 23, 59, 59, 999_000, tzinfo=UTC).timestamp() * 1000)
    after = int(datetime(2025, 6, 10, 0, 0, tzinfo=UTC).timestamp() * 1000)
    cost, priced, _ = book.price(
        ["openai"] * 2, ["o3"] * 2, [10_000] * 2, [1_000] * 2, [0, 0], [0, 0], [before, after]
    )
    assert priced.all()
    assert int(cost[0]) == reference_pico("openai", "o3", 10_000, 1_000, 0, 0, before)
    assert int(cost[1]) == reference_pico("openai", "o3", 10_000, 1_000, 0, 0, after)
    assert cost[0] > 3 * cost[1]


def test_price_by_time_of_day(book: PriceBook) -> None:
    """DeepSeek has off-peak prices by UTC time of day (boundaries at 00:30 and 16:30)."""
    day = datetime(2025, 11, 20, tzinfo=UTC).timestamp() * 1000
    times = [int(day + h * 3_600_000) for h in (0, 0.5, 2, 16.49, 16.5, 20, 23.99)]
    n = len(times)
    cost, priced, _ = book.price(
        ["deepseek"] * n, ["deepseek-chat"] * n, [5_000] * n, [700] * n, [1_000] * n, [0] * n, times
    )
    assert priced.all()
    for i, ts in enumerate(times):
        assert int(cost[i]) == reference_pico("deepseek", "deepseek-chat", 5_000, 700, 1_000, 0, ts)
    assert len(set(cost.tolist())) == 2


def test_unknown_models_are_unpriced(book: PriceBook) -> None:
    assert one(book, "vllm", UNPRICED_MODEL, 1_000, 100) == (0, False, "unknown_model")
    assert one(book, "openai", "claude-3-5-sonnet-20241022", 1_000, 100) == (0, False, "unknown_model")
    assert one(book, "openai", "gpt-9-imaginary", 1_000, 100) == (0, False, "unknown_model")
    assert one(book, "", "", 1_000, 100) == (0, False, "unknown_model")


def test_custom_model_is_unknown_without_the_override_file() -> None:
    assert one(PriceBook(), "vllm", CUSTOM_MODEL, 1_000, 100) == (0, False, "unknown_model")


def test_provider_aliases(book: PriceBook) -> None:
    reference = reference_pico("openai", "gpt-4o", 1_000, 100, 0, 0, T_2025)
    for provider in ("my-llm-gateway", "x_ai_typo", ""):  # unknown provider: found by model name alone
        assert one(book, provider, "gpt-4o", 1_000, 100) == (reference, True, "priced")
    assert one(book, "azure.ai.openai", "gpt-4o", 1_000, 100)[1:] == (True, "priced")
    gemini = reference_pico("google", "gemini-2.0-flash", 1_000, 100, 0, 0, T_2025)
    for provider in ("gcp.gemini", "gcp.vertex_ai", "Google"):
        assert one(book, provider, "gemini-2.0-flash", 1_000, 100) == (gemini, True, "priced")


def test_override_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[[model]]\nprovider = "OpenAI"\nname = "GPT-4o"\ninput_mtok = 1.25\noutput_mtok = 5\n'
        "cache_read_mtok = 0.125\n\n"
        '[[model]]\nprovider = "vllm"\nname = "tiny"\ninput_mtok = 0.000001\noutput_mtok = 0\n'
    )
    book = PriceBook(path)
    # wins over genai-prices, matched case-insensitively
    assert one(book, "openai", "gpt-4o", 4_000, 100, cr=1_000) == (
        3_000 * 1_250_000 + 1_000 * 125_000 + 100 * 5_000_000,
        True,
        "override",
    )
    # cache prices left out cost the input price
    assert one(book, "vllm", "tiny", 10, 10, cr=5, cw=5) == (10, True, "override")
    # other models still come from genai-prices
    assert one(book, "openai", "gpt-4o-mini", 100, 10)[2] == "priced"


def test_example_override_prices_the_custom_model(book: PriceBook) -> None:
    cost, priced, status = one(book, "vllm", CUSTOM_MODEL, 2_000, 300, cr=1_000)
    assert (priced, status) == (True, "override")
    assert cost == 1_000 * 600_000 + 1_000 * 60_000 + 300 * 900_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[model]]\nprovider = "a"\nname = "b"\ninput_mtok = -1\noutput_mtok = 1\n',
            r"#1 \(provider='a', name='b'\): input_mtok: Input should be greater than or equal to 0",
        ),
        (
            '[[model]]\nprovider = "a"\nname = "b"\ninput_mtok = 1\noutput_mtok = 1\n\n'
            '[[model]]\nprovider = "a"\nname = "c"\ninput_mtok = 1\n',
            r"#2 \(provider='a', name='c'\): output_mtok: Field required",
        ),
        (
            '[[model]]\nprovider = "a"\nname = "b"\ninput_mtok = 1\noutput_mtok = 1\ncache_mtok = 1\n',
            r"#1 .*cache_mtok: Extra inputs are not permitted",
        ),
        (
            '[[model]]\nprovider = "a"\nname = "b"\ninput_mtok = 0.0000001\noutput_mtok = 1\n',
            r"#1 .*input_mtok: .*at most 6 decimal places",
        ),
        ('[[model]]\nprovider = "a"\nname = "b"\ninput_mtok = nan\noutput_mtok = 1\n', r"#1 .*input_mtok"),
        (
            '[[model]]\nprovider = "a"\nname = "b"\ninput_mtok = 1\noutput_mtok = 1\n'
            '[[model]]\nprovider = "A"\nname = "B"\ninput_mtok = 2\noutput_mtok = 2\n',
            r"#2 .*duplicate",
        ),
        ('[[model]\nprovider = "a"\n', r"not valid TOML"),
        ('model = "gpt-4o"\n', r"array of tables"),
        ("[prices]\nx = 1\n", r"unknown top-level key"),
    ],
)
def test_bad_override_file_names_file_and_entry(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad_prices.toml"
    path.write_text(text)
    with pytest.raises(PricesFileError, match=expected) as info:
        PriceBook(path)
    assert str(path) in str(info.value)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(PricesFileError, match="cannot read"):
        PriceBook(tmp_path / "nope.toml")


def test_shapes_are_checked_and_empty_input_works(book: PriceBook) -> None:
    with pytest.raises(ValueError, match="input_tokens"):
        book.price(["openai"], ["gpt-4o"], [1, 2], [1], [0], [0], [T_2025])
    with pytest.raises(ValueError, match="model"):
        book.price(["openai"], [], [1], [1], [0], [0], [T_2025])
    cost, priced, status = book.price([], [], [], [], [], [], [])
    assert len(cost) == len(priced) == len(status) == 0


def test_50k_events_at_once_equal_pricing_in_pieces_and_calc_price() -> None:
    """One vectorised call over 50,000 events (what a stream chunk does) gives what pricing them in small pieces
    with a cold cache gives, and a sample of it equals genai-prices' own answer. Speed: ``llmpulse bench``."""
    events = [e for _, e in Workload(seed=5).events(50_000, start_ms=T_2025)]
    providers = [e["provider"] for e in events]
    models = [e["request_model"] for e in events]
    keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "ts_ms")
    ints = [np.array([e[k] for e in events], dtype=np.int64) for k in keys]
    cost, priced, status = PriceBook(EXAMPLE).price(providers, models, *ints)
    again = PriceBook(EXAMPLE).price(providers, models, *ints)  # warm cache: the same answer
    assert (again[0] == cost).all() and (again[1] == priced).all() and list(again[2]) == list(status)
    cold = PriceBook(EXAMPLE)
    parts = [cold.price(providers[i:i + 997], models[i:i + 997], *(c[i:i + 997] for c in ints))
             for i in range(0, len(events), 997)]  # fmt: skip
    assert (np.concatenate([p[0] for p in parts]) == cost).all()
    assert (np.concatenate([p[1] for p in parts]) == priced).all()
    unknown = np.array([m == UNPRICED_MODEL for m in models])
    assert unknown.any() and not priced[unknown].any() and priced[~unknown].all()
    assert set(status[np.array([m == CUSTOM_MODEL for m in models])]) == {"override"}
    checked = 0
    for i in range(0, len(events), 500):  # events spread over the run against calc_price itself
        if status[i] == "priced":
            checked += 1
            ref = reference_pico(providers[i], models[i], *(int(c[i]) for c in ints))
            assert ref == int(cost[i]), (i, models[i], ref, cost[i])
    assert checked > 50
