"""From a book and the holdings to checked, broker-ready orders (``alpha book`` and the Desk
page alike).

:func:`prepare` forms the orders (:func:`alpha_core.desk.orders.make_orders`), runs the
pre-trade checks (:func:`alpha_core.desk.checks.run_checks`: a refusal raises before anything
is written) and turns the orders into broker tickets (:mod:`alpha_core.desk.tickets`). The
corporate actions (:mod:`alpha_core.desk.corporate`) are applied before the book is formed,
by the caller, and reported here.

Reference prices: the decision date's close; a name without a bar on that date is priced
from the holdings' ``price`` column, else from its last bar, which the ``stale_bar`` check
then refuses unless overridden.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.desk import checks, tickets
from alpha_core.desk.orders import make_orders
from alpha_core.research.config import RunConfig


@dataclass(frozen=True)
class Trade:
    """Checked orders of one book: per asset, as broker orders, and what was checked."""

    as_of: date
    orders: pl.DataFrame
    """:func:`make_orders`' frame: one row per asset (zero orders included)."""
    tickets: pl.DataFrame
    """:data:`alpha_core.desk.tickets.TICKET_COLUMNS`: one row per broker order."""
    report: checks.CheckReport
    summary: dict[str, Any]
    settings: tickets.TicketSettings
    corporate_actions: list[dict[str, Any]] = field(default_factory=list)

    def file(self, fmt: str = "generic") -> str:
        """The orders CSV in ``fmt`` (``generic`` or ``ibkr-basket``)."""
        return tickets.orders_file(self.tickets, fmt, self.settings)

    def pre_trade(self) -> dict[str, Any]:
        """What the ledger line records: checks run, overrides, corporate actions applied,
        the capital and the orders sent (``sent``: asset, signed quantity, reference price;
        the fills assumed for them read it, :mod:`alpha_core.desk.fills`)."""
        sent = self.orders.filter(pl.col("order_qty") != 0).select(
            "asset", pl.col("order_qty").alias("quantity"), "reference_price"
        )
        return {**self._checked(), "capital": self.summary.get("capital"),
                "sent": sent.to_dicts()}  # fmt: skip

    def _checked(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "corporate_actions": self.corporate_actions}

    def to_dict(self) -> dict[str, Any]:
        """The summary, checks, overrides and corporate actions (JSON-able)."""
        return {"summary": self.summary, **self._checked()}

    @property
    def overridden_text(self) -> str:
        """``overridden: check: reason; ...`` ("" when nothing was overridden)."""
        items = [f.text() for f in self.report.overridden]
        return "overridden pre-trade checks: " + "; ".join(items) if items else ""


def reference_prices(
    panel: pl.DataFrame, as_of: date, assets: list[str], priced: set[str]
) -> pl.DataFrame:
    """``asset, close``: the close on ``as_of``, else (for names the holdings do not price)
    the close of the last bar before it."""
    last = (
        panel.filter(pl.col("date") <= as_of, pl.col("asset").is_in(assets))
        .sort("asset", "date")
        .group_by("asset", maintain_order=True)
        .agg(pl.col("date").last(), pl.col("close").last())
    )
    keep = (pl.col("date") == as_of) | ~pl.col("asset").is_in(sorted(priced))
    return last.filter(keep).select("asset", "close")


def prepare(
    book_rows: pl.DataFrame,
    holdings: pl.DataFrame,
    panel: pl.DataFrame,
    as_of: date,
    config: RunConfig,
    *,
    run_id: str,
    capital: float,
    lot_size: float = 1.0,
    min_trade: float = 0.0,
    root: Path | None = None,
    overrides: Iterable[str] = (),
    check_settings: checks.CheckSettings | None = None,
    ticket_settings: tickets.TicketSettings | None = None,
    corporate_actions: list[dict[str, Any]] | None = None,
) -> Trade:
    """Orders from ``holdings`` to ``book_rows``, checked; raises
    :class:`~alpha_core.desk.checks.ChecksRefused` (an ``OrdersError``) on a failed check."""
    overrides = checks.parse_overrides(list(overrides))
    ticket_settings = ticket_settings or tickets.TicketSettings()
    assets = sorted(set(book_rows["asset"].to_list()) | set(holdings["asset"].to_list()))
    priced = set()
    if "price" in holdings.columns:
        priced = set(holdings.filter(pl.col("price").is_not_null())["asset"].to_list())
    prices = reference_prices(panel, as_of, assets, priced)
    orders = make_orders(book_rows, holdings, prices, capital, lot_size, min_trade)
    report = checks.run_checks(
        orders, panel, as_of, capital, config, root=root, overrides=overrides,
        settings=check_settings,
    )  # fmt: skip
    frame = tickets.tickets(orders.filter(pl.col("order_qty") != 0), run_id, as_of,
                            ticket_settings)  # fmt: skip
    return Trade(
        as_of=as_of,
        orders=orders,
        tickets=frame,
        report=report,
        summary=tickets.summary(orders, frame, capital),
        settings=ticket_settings,
        corporate_actions=list(corporate_actions or []),
    )
