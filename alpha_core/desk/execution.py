"""When the desk's orders are traded: the run's execution convention.

A book is decided at the close of its decision date ``t``; its orders fill on the asset's
next bar, at the price the run's ``label`` setting trades at
(:data:`alpha_core.features.labels.LABELS`): ``close_to_close`` at the next close (a
market-on-close order in the next session's closing auction), ``open_to_open`` at the next
open. Every book states it (:attr:`alpha_core.desk.book.Book.execution`), and fills assumed
for recorded orders (:mod:`alpha_core.desk.fills`) are priced by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from alpha_core.features.labels import LABELS


@dataclass(frozen=True)
class Execution:
    """Decide at the close of the decision date; fill at the next bar's ``price``."""

    label: str
    price: str
    """``open`` or ``close``: the price of the next bar the orders fill at."""

    def text(self, as_of: date | None = None) -> str:
        """``decided at the close of 2025-05-29; filled at the next session's close
        (label close_to_close)``."""
        when = f"the close of {as_of}" if as_of is not None else "the close"
        return f"decided at {when}; filled at the next session's {self.price} (label {self.label})"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "decide": "close", "fill": f"next {self.price}"}


def execution(label: str) -> Execution:
    """The execution convention of a run's ``label`` setting."""
    if label not in LABELS:
        raise ValueError(f"label convention must be one of {tuple(LABELS)}, got {label!r}")
    return Execution(label, LABELS[label].price)


def next_bars(panel: pl.DataFrame, after: date, price: str) -> pl.DataFrame:
    """``asset, date, price``: each asset's first bar after ``after`` and its ``price`` (the
    bar an order decided at the close of ``after`` fills on); assets without one are absent."""
    return (
        panel.filter(pl.col("date") > after, pl.col(price).is_not_null())
        .sort("asset", "date")
        .group_by("asset", maintain_order=True)
        .agg(pl.col("date").first(), pl.col(price).first().alias("price"))
    )
