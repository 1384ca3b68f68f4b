"""What each result cost, and what it would have cost as a realtime call.

Prices come from each provider's own price table (`ProviderInfo.prices`, shipped as a data
file in its package), overridden per model by the `prices` settings. A model without a known
price is not guessed at: its cost stays unknown and is reported as such.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib.resources.abc import Traversable

import msgspec

from batchery.model import LlmResult, Mode, Usage
from batchery.spi import ModelPrice, ProviderInfo

__all__ = ["CostBook", "load_prices"]

_MILLION = 1_000_000


def load_prices(source: Traversable) -> dict[str, ModelPrice]:
    """Read a provider's `prices.toml`: one `[models."name"]` table per model."""
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    try:
        return msgspec.convert(data.get("models", {}), dict[str, ModelPrice])
    except msgspec.ValidationError as exc:
        raise ValueError(f"{source}: {exc}") from None


class CostBook:
    """Prices results for one provider, batch prices from its discount unless stated."""

    def __init__(
        self, info: ProviderInfo, overrides: Mapping[str, ModelPrice] | None = None
    ) -> None:
        self._discount = info.batch_discount
        self._prices = {**info.prices, **(overrides or {})}

    def price(self, model: str | None) -> ModelPrice | None:
        if model is None:
            return None
        if model in self._prices:
            return self._prices[model]
        # Dated snapshots ("gpt-4o-mini-2024-07-18") are priced like their family.
        family = max(
            (name for name in self._prices if model.startswith(name + "-")), key=len, default=None
        )
        return self._prices[family] if family is not None else None

    def costs(self, model: str | None, usage: Usage, mode: Mode) -> tuple[float, float] | None:
        """(cost in `mode`, cost had it run realtime), in USD; None when the price is unknown."""
        price = self.price(model)
        if price is None:
            return None
        realtime = self._cost(price, usage, batch=False)
        return (self._cost(price, usage, batch=True) if mode is Mode.BATCH else realtime, realtime)

    def priced(self, result: LlmResult) -> LlmResult:
        costs = self.costs(result.model, result.usage, result.mode)
        if costs is None:
            return result
        cost, realtime = costs
        return msgspec.structs.replace(
            result, cost_usd=round(cost, 10), realtime_cost_usd=round(realtime, 10)
        )

    def estimate(
        self, model: str | None, input_tokens: int, output_tokens: int, mode: Mode
    ) -> float | None:
        costs = self.costs(model, Usage(input_tokens, output_tokens), mode)
        return None if costs is None else costs[0]

    def _cost(self, price: ModelPrice, usage: Usage, *, batch: bool) -> float:
        keep = 1.0 - self._discount if batch else 1.0
        cached = min(usage.cached_tokens, usage.input_tokens)
        input_rate = (
            price.batch_input if batch and price.batch_input is not None else (price.input * keep)
        )
        output_rate = (
            price.batch_output
            if batch and price.batch_output is not None
            else (price.output * keep)
        )
        cached_rate = price.cached_input * keep if price.cached_input is not None else input_rate
        return (
            (usage.input_tokens - cached) * input_rate
            + cached * cached_rate
            + usage.output_tokens * output_rate
        ) / _MILLION
