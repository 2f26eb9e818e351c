"""The portfolio stage: predictions -> books, by the run's construction (one entry point).

The backtest (:func:`alpha_core.research.pipeline.rebook`), the selection and the desk all
form books here. ``rank`` books are the daily top/bottom percentile books of
:func:`alpha_core.portfolio.books.build_books`; ``optimizer`` books come from
:func:`alpha_core.portfolio.construction.optimizer_books`, which needs the run's market
data (risk model, traded values, IC) and the book held before the first date.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from alpha_core.base.settings import ConfigError
from alpha_core.portfolio.books import build_books
from alpha_core.portfolio.construction import OPTIMIZER_COUNTS, Market, optimizer_books
from alpha_core.portfolio.settings import PortfolioSettings


def form_books(
    preds: pl.DataFrame,
    settings: PortfolioSettings,
    market: Market | None = None,
    held: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Books of every date of ``preds`` and a summary of the limits that bound them."""
    if settings.construction == "rank":
        books, summary = build_books(preds, settings)
        return books, {**summary, **dict.fromkeys(OPTIMIZER_COUNTS, 0)}
    if market is None:
        raise ConfigError(
            "optimised books need the run's market data (risk model, traded values): "
            "train the run again, or rebook it with its panel",
            field="construction",
        )
    return optimizer_books(preds, settings, market, held)
