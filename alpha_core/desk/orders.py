"""Orders: from current holdings to a book's target quantities.

Holdings (:func:`read_holdings`) are a CSV with an ``asset`` column and either ``quantity``
(units held, negative for a short) or ``weight`` (share of ``capital``, negative for a
short); an optional ``price`` column overrides the reference price of that asset.

:func:`make_orders`: each book name's target quantity is ``weight * capital / price``
rounded to the nearest multiple of ``lot_size`` (half away from zero); a held name absent
from the book has target 0 (closed out). The order is ``target - current``; an order whose
notional is below ``min_trade`` is not sent and that name's target becomes its current
quantity (marked ``skipped``), so for every row ``current + order = target`` and the target
differs from the ideal ``weight * capital / price`` by at most half a lot (or by a skipped
trade). Reference prices are the close of the decision date, else the holdings' ``price``.

The orders CSV (:data:`ORDER_COLUMNS`, documented in ``docs/desk.md``) is broker-neutral:
one row per asset with a non-zero order, signed and unsigned quantities and the side.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from alpha_core.base.csvsafe import csv_text

ORDER_COLUMNS = (
    "asset", "side", "current_qty", "target_qty", "order_qty", "quantity",
    "reference_price", "notional", "target_weight", "action",
)  # fmt: skip
"""Columns of the orders CSV: ``order_qty`` is signed (buy > 0), ``quantity`` = |order_qty|,
``notional`` = quantity * reference_price, ``action`` one of open, add, reduce, close, flip."""


class OrdersError(ValueError):
    """Holdings or prices that cannot be turned into orders."""


def read_holdings(source: str | Path | bytes) -> pl.DataFrame:
    """``asset, quantity | weight [, price]`` from a CSV path or CSV bytes."""
    raw = pl.read_csv(source if isinstance(source, bytes) else Path(source))
    cols = {c.strip().lower(): c for c in raw.columns}
    if "asset" not in cols:
        raise OrdersError("holdings need an 'asset' column")
    kinds = [k for k in ("quantity", "weight") if k in cols]
    if len(kinds) != 1:
        raise OrdersError("holdings need exactly one of the columns 'quantity' or 'weight'")
    keep = ["asset", kinds[0], *(["price"] if "price" in cols else [])]
    out = raw.select(
        pl.col(cols[k]).cast(pl.Utf8 if k == "asset" else pl.Float64).alias(k) for k in keep
    )
    dup = out.filter(pl.col("asset").is_duplicated())["asset"].unique().to_list()
    if dup:
        raise OrdersError(f"holdings list an asset more than once: {sorted(dup)}")
    return out


def _round_lots(value: pl.Expr, lot: float) -> pl.Expr:
    """Nearest multiple of ``lot``, halves away from zero."""
    return (value.abs() / lot + 0.5).floor() * lot * value.sign()


def make_orders(
    book: pl.DataFrame,
    holdings: pl.DataFrame,
    prices: pl.DataFrame,
    capital: float,
    lot_size: float = 1.0,
    min_trade: float = 0.0,
) -> pl.DataFrame:
    """Target quantities and orders for every name in the book or the holdings.

    ``book``: ``asset, weight``; ``holdings``: :func:`read_holdings`; ``prices``: ``asset,
    close`` at the decision date. Returns one row per asset (:data:`ORDER_COLUMNS` plus
    ``ideal_qty`` and ``skipped``), orders with zero quantity included.
    """
    if not (capital > 0 and math.isfinite(capital)):
        raise OrdersError(f"capital must be a positive number, got {capital}")
    if lot_size <= 0 or min_trade < 0:
        raise OrdersError("lot size must be positive and the minimum trade non-negative")
    held = holdings if "price" in holdings.columns else holdings.with_columns(price=None)
    frame = (
        book.select("asset", pl.col("weight").alias("target_weight"))
        .join(held.cast({"price": pl.Float64}), on="asset", how="full", coalesce=True)
        .join(prices.select("asset", pl.col("close").alias("_close")), on="asset", how="left")
        .with_columns(
            pl.col("target_weight").fill_null(0.0),
            pl.coalesce("_close", "price").alias("reference_price"),
        )
    )
    bad = frame.filter(~(pl.col("reference_price") > 0).fill_null(False))["asset"].to_list()
    if bad:
        raise OrdersError(f"no reference price for {sorted(bad)}: add a 'price' column")
    current = (
        pl.col("quantity").fill_null(0.0)
        if "quantity" in holdings.columns
        else pl.col("weight").fill_null(0.0) * capital / pl.col("reference_price")
    )
    ideal = pl.col("target_weight") * capital / pl.col("reference_price")
    frame = frame.with_columns(current.alias("current_qty"), ideal.alias("ideal_qty"))
    rounded = _round_lots(pl.col("ideal_qty"), lot_size)
    small = ((rounded - pl.col("current_qty")).abs() * pl.col("reference_price")) < min_trade
    skipped = small & (rounded != pl.col("current_qty"))
    frame = frame.with_columns(
        pl.when(skipped).then(pl.col("current_qty")).otherwise(rounded).alias("target_qty"),
        skipped.alias("skipped"),
    ).with_columns((pl.col("target_qty") - pl.col("current_qty")).alias("order_qty"))
    cur, tgt = pl.col("current_qty"), pl.col("target_qty")
    action = (
        pl.when(pl.col("order_qty") == 0)
        .then(pl.lit("hold"))
        .when(tgt == 0)
        .then(pl.lit("close"))
        .when(cur == 0)
        .then(pl.lit("open"))
        .when(cur.sign() != tgt.sign())
        .then(pl.lit("flip"))
        .when(tgt.abs() > cur.abs())
        .then(pl.lit("add"))
        .otherwise(pl.lit("reduce"))
    )
    return (
        frame.with_columns(
            pl.when(pl.col("order_qty") > 0).then(pl.lit("buy")).otherwise(pl.lit("sell"))
            .alias("side"),
            pl.col("order_qty").abs().alias("quantity"),
            (pl.col("order_qty").abs() * pl.col("reference_price")).alias("notional"),
            action.alias("action"),
        )
        .select(*ORDER_COLUMNS, "ideal_qty", "skipped")
        .sort("asset")
    )  # fmt: skip


def sent_orders(orders: pl.DataFrame) -> pl.DataFrame:
    """The rows with an order to send (non-zero order quantity)."""
    return orders.filter(pl.col("order_qty") != 0)


def orders_csv(orders: pl.DataFrame) -> str:
    """The broker-neutral orders CSV: :data:`ORDER_COLUMNS` of the rows with an order (text
    cells neutralised for spreadsheets, :mod:`alpha_core.base.csvsafe`)."""
    return csv_text(sent_orders(orders).select(ORDER_COLUMNS))


def closing(orders: pl.DataFrame) -> list[str]:
    """Names the orders close out (held now, target zero)."""
    return orders.filter(pl.col("action") == "close")["asset"].to_list()
