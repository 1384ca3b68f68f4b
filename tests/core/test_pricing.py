"""Costs: batch at the discount, cached input at its own price, unknown models unpriced."""

from __future__ import annotations

from importlib.resources import files

import pytest
from batchery.model import LlmResult, Mode, RequestKind, Usage
from batchery.pricing import CostBook, load_prices
from batchery.spi import ModelPrice, ProviderInfo, ProviderLimits

INFO = ProviderInfo(
    name="p",
    title="P",
    kinds=frozenset({RequestKind.CHAT}),
    limits=ProviderLimits(max_requests_per_batch=10, max_bytes_per_batch=1000),
    batch_discount=0.5,
    prices={"m": ModelPrice(input=2.0, output=8.0, cached_input=1.0)},
)


def test_realtime_and_batch_costs() -> None:
    book = CostBook(INFO)
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cached_tokens=200_000)

    assert book.costs("m", usage, Mode.REALTIME) == (800_000 * 2 / 1e6 + 200_000 / 1e6 + 4.0,) * 2
    cost, realtime = book.costs("m", usage, Mode.BATCH) or (0, 0)
    assert cost == pytest.approx(realtime / 2)


def test_dated_snapshots_are_priced_like_their_family_and_unknown_models_not_at_all() -> None:
    book = CostBook(INFO)

    assert book.price("m-2025-01-01") == INFO.prices["m"]
    assert book.price("other") is None
    assert book.costs("other", Usage(10, 10), Mode.BATCH) is None


def test_a_priced_result_carries_both_costs() -> None:
    result = LlmResult(
        custom_id="a", ok=True, provider="p", mode=Mode.BATCH, model="m", usage=Usage(1_000_000, 0)
    )

    priced = CostBook(INFO).priced(result)

    assert (priced.cost_usd, priced.realtime_cost_usd) == (1.0, 2.0)


def test_overrides_win_over_the_provider_table() -> None:
    book = CostBook(INFO, {"m": ModelPrice(input=10.0)})

    assert book.costs("m", Usage(1_000_000, 0), Mode.REALTIME) == (10.0, 10.0)


def test_the_openai_table_loads() -> None:
    prices = load_prices(files("batchery_openai") / "prices.toml")

    assert prices["gpt-4o-mini"].cached_input == 0.075
