"""Sizing within a side: the positive base each book row's weight is proportional to.

Each entry of :data:`SIZINGS` names one rule (the ``sizing`` setting of
:class:`alpha_core.portfolio.settings.PortfolioSettings`); the books scale the bases so each
side sums to its gross exposure.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from alpha_core.signals.predictions import PREDICTION

RANK = "rank"
"""The books' percentile-rank column (``(r - 0.5) / n``)."""


def _inverse_vol(book: pl.DataFrame) -> pl.Series:
    if "vol_20" not in book.columns:
        raise ValueError("inverse_vol sizing needs a vol_20 column in the predictions")
    return 1.0 / book["vol_20"].cast(pl.Float64)


Sizing = Callable[[pl.DataFrame], pl.Series | None]
"""``sizing(book rows) -> raw positive base per row`` (None: equal weights)."""

SIZINGS: dict[str, Sizing] = {
    "equal": lambda book: None,
    "rank": lambda book: (book[RANK] - 0.5).abs(),
    "score": lambda book: (book[PREDICTION] - book["_median_pred"]).abs(),
    "inverse_vol": _inverse_vol,
}
"""Weights within a side by name (the ``sizing`` setting). Adding an entry here adds the
option to the run config, the CLI and the Train page."""
