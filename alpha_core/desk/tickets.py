"""Broker-ready orders: sides with short-sale marking, order type, ids, and two file formats.

:func:`tickets` turns :func:`alpha_core.desk.orders.make_orders`' per-asset frame into the
orders a broker takes: one row per order, its side derived from the current and target
positions (``BUY`` and ``SELL`` between zero and a long, ``SELL_SHORT`` and ``BUY_TO_COVER``
between zero and a short); an order that crosses zero is split into two (close the position,
then open the other side: ``SELL`` + ``SELL_SHORT``, or ``BUY_TO_COVER`` + ``BUY``).

Each order gets an order type (:data:`ORDER_TYPES`: market-on-close by default, market, or
limit-on-close with a limit ``limit_offset_bps`` through the decision date's close: above it
to buy, below it to sell), time in force ``DAY``, the account, and a client order id that is
unique within a book and the same on every re-run: ``AL-<yyyymmdd>-<hash>``, the hash (16 hex
digits of sha256) of the run id, the decision date, the account, the asset and the side.

Formats (:data:`FORMATS`): ``generic`` (:data:`TICKET_COLUMNS`) and ``ibkr-basket``
(Interactive Brokers' BasketTrader CSV import: :func:`ibkr_basket`). Both are documented in
``docs/desk.md``; :func:`summary` gives the gross, net, cash, turnover and counts by side.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from alpha_core.base.csvsafe import csv_text
from alpha_core.base.settings import setting, validate_fields
from alpha_core.desk.orders import OrdersError

SIDES = ("BUY", "SELL", "SELL_SHORT", "BUY_TO_COVER")
ORDER_TYPES = {
    "moc": ("MOC", "market on close (the next session's closing auction)"),
    "market": ("MKT", "market order"),
    "loc": ("LOC", "limit on close: limit = close x (1 +/- limit_offset_bps / 10,000)"),
}
"""``--order-type`` name -> (broker code, meaning)."""
FORMATS = ("generic", "ibkr-basket")
TICKET_COLUMNS = (
    "client_order_id", "account", "asset", "side", "quantity", "order_type", "limit_price",
    "time_in_force", "reference_price", "notional", "current_qty", "target_qty",
    "target_weight", "action", "leg",
)  # fmt: skip
"""Columns of the generic orders CSV (``docs/desk.md``)."""
IBKR_ACTIONS = {"BUY": "BUY", "BUY_TO_COVER": "BUY", "SELL": "SELL", "SELL_SHORT": "SELL"}
"""BasketTrader takes BUY or SELL (SSHORT only for clear-away orders): the short-sale leg is
a SELL of its own row, its OrderRef (the client order id) names it."""
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


@dataclass(frozen=True)
class TicketSettings:
    """How orders are sent: type, limit offset, time in force and the ibkr contract fields."""

    order_type: str = setting("moc", label="Order type", choices=tuple(ORDER_TYPES),
                              help="moc, market or loc (limit on close)")  # fmt: skip
    limit_offset_bps: float = setting(
        50.0, label="Limit offset (bps)", lo=0, hi=5000,
        help="loc orders: limit = close x (1 + offset) to buy, x (1 - offset) to sell",
    )  # fmt: skip
    time_in_force: str = setting("DAY", label="Time in force", choices=("DAY",))
    account: str = setting("", label="Account", help="broker account (blank: none)")
    sec_type: str = setting("STK", label="Security type (ibkr)")
    exchange: str = setting("SMART", label="Exchange (ibkr)")
    currency: str = setting("USD", label="Currency (ibkr)")

    def __post_init__(self) -> None:
        validate_fields(self, "orders.")
        if self.account and not _ACCOUNT.fullmatch(self.account):
            raise OrdersError(
                f"account {self.account[:40]!r}: letters, digits, '_', '.', '-' only (at "
                "most 32 characters)"
            )


def client_order_id(run_id: str, as_of: date, account: str, asset: str, side: str) -> str:
    """``AL-<yyyymmdd>-<16 hex>``: the same on every re-run, unique per asset and side."""
    blob = "\x1f".join((run_id, as_of.isoformat(), account, asset, side))
    return f"AL-{as_of:%Y%m%d}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _legs(current: float, target: float) -> list[tuple[str, float]]:
    """``(side, quantity)`` of the orders taking ``current`` to ``target``."""
    if target == current:
        return []
    if current > 0 > target:
        return [("SELL", current), ("SELL_SHORT", -target)]
    if current < 0 < target:
        return [("BUY_TO_COVER", -current), ("BUY", target)]
    if target > current:
        return [("BUY" if current >= 0 else "BUY_TO_COVER", target - current)]
    return [("SELL" if target >= 0 else "SELL_SHORT", current - target)]


def limit_price(close: float, side: str, offset_bps: float) -> float:
    """The loc limit: ``offset_bps`` above the close to buy, below it to sell, on a cent
    (a hundredth of a cent below 1)."""
    sign = 1.0 if side in ("BUY", "BUY_TO_COVER") else -1.0
    raw = close * (1 + sign * offset_bps / 10_000)
    digits = 2 if raw >= 1 else 4
    step = 10.0**-digits  # to a tick on the side of filling: a buy limit up, a sell down
    ticks = math.ceil(raw / step - 1e-9) if sign > 0 else math.floor(raw / step + 1e-9)
    value = ticks * step
    return round(max(value, step), digits)


def tickets(
    orders: pl.DataFrame, run_id: str, as_of: date, settings: TicketSettings | None = None
) -> pl.DataFrame:
    """One row per broker order (:data:`TICKET_COLUMNS`), by asset, closing leg first."""
    s = settings or TicketSettings()
    code = ORDER_TYPES[s.order_type][0]
    rows: list[dict[str, Any]] = []
    for r in orders.sort("asset").iter_rows(named=True):
        legs = _legs(r["current_qty"], r["target_qty"])
        for leg, (side, qty) in enumerate(legs, 1):
            price = r["reference_price"]
            rows.append({
                "client_order_id": client_order_id(run_id, as_of, s.account, r["asset"], side),
                "account": s.account, "asset": r["asset"], "side": side, "quantity": qty,
                "order_type": code,
                "limit_price": limit_price(price, side, s.limit_offset_bps)
                if s.order_type == "loc" else None,
                "time_in_force": s.time_in_force, "reference_price": price,
                "notional": qty * price, "current_qty": r["current_qty"],
                "target_qty": r["target_qty"], "target_weight": r["target_weight"],
                "action": r["action"], "leg": leg,
            })  # fmt: skip
    schema = {c: pl.Utf8 for c in TICKET_COLUMNS} | {
        c: pl.Float64
        for c in ("quantity", "limit_price", "reference_price", "notional", "current_qty",
                  "target_qty", "target_weight")
    } | {"leg": pl.Int64}  # fmt: skip
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    ids = frame["client_order_id"]
    if ids.n_unique() != ids.len():  # cannot happen: asset and side are in the hash
        raise OrdersError("client order ids collide")
    return frame.select(TICKET_COLUMNS)


def _quantity_text(q: float) -> str:
    return str(int(q)) if float(q).is_integer() else repr(float(q))


def ibkr_basket(frame: pl.DataFrame, settings: TicketSettings | None = None) -> pl.DataFrame:
    """The orders as BasketTrader's CSV: ``Action, Quantity, Symbol, SecType, Exchange,
    Currency, TimeInForce, OrderType`` (+ ``LmtPrice`` for loc) (+ ``Account`` when one is
    given) + ``OrderRef`` (the client order id). One header row serves the file: every
    order of a book has the same type."""
    s = settings or TicketSettings()
    columns: dict[str, Any] = {
        "Action": [IBKR_ACTIONS[x] for x in frame["side"].to_list()],
        "Quantity": [_quantity_text(q) for q in frame["quantity"].to_list()],
        "Symbol": frame["asset"].to_list(),
        "SecType": [s.sec_type] * frame.height,
        "Exchange": [s.exchange] * frame.height,
        "Currency": [s.currency] * frame.height,
        "TimeInForce": [s.time_in_force] * frame.height,
        "OrderType": frame["order_type"].to_list(),
    }
    if s.order_type == "loc":
        columns["LmtPrice"] = [f"{p:g}" for p in frame["limit_price"].to_list()]
    if s.account:
        columns["Account"] = [s.account] * frame.height
    columns["OrderRef"] = frame["client_order_id"].to_list()
    return pl.DataFrame(columns, schema={k: pl.Utf8 for k in columns})


def ibkr_columns(settings: TicketSettings | None = None) -> tuple[str, ...]:
    """The BasketTrader columns :func:`ibkr_basket` writes for these settings."""
    return tuple(ibkr_basket(pl.DataFrame(schema={c: pl.Utf8 for c in ("side", "asset",
                 "order_type", "client_order_id")} | {"quantity": pl.Float64,
                 "limit_price": pl.Float64}), settings).columns)  # fmt: skip


def orders_file(frame: pl.DataFrame, fmt: str, settings: TicketSettings | None = None) -> str:
    """The orders CSV text in ``fmt`` (:data:`FORMATS`), its text cells neutralised."""
    if fmt == "generic":
        return csv_text(frame.select(TICKET_COLUMNS))
    if fmt == "ibkr-basket":
        return csv_text(ibkr_basket(frame, settings))
    raise OrdersError(f"unknown orders format {fmt!r} (formats: {', '.join(FORMATS)})")


def summary(orders: pl.DataFrame, frame: pl.DataFrame, capital: float) -> dict[str, Any]:
    """Gross, net and cash after the orders, turnover and the orders by side."""
    value = orders["target_qty"] * orders["reference_price"]
    before = orders["current_qty"] * orders["reference_price"]
    traded = float(frame["notional"].sum()) if frame.height else 0.0
    gross, net = float(value.abs().sum()), float(value.sum())
    return {
        "capital": capital,
        "gross": gross,
        "net": net,
        "long": float(value.clip(lower_bound=0).sum()),
        "short": float(-value.clip(upper_bound=0).sum()),
        "cash": capital - net,
        "gross_before": float(before.abs().sum()),
        "net_before": float(before.sum()),
        "traded": traded,
        "turnover": traded / capital,
        "n_orders": frame.height,
        "by_side": {
            side: {
                "n": int((frame["side"] == side).sum()),
                "quantity": float(frame.filter(pl.col("side") == side)["quantity"].sum()),
                "notional": float(frame.filter(pl.col("side") == side)["notional"].sum()),
            }
            for side in SIDES
        },
    }


def summary_text(s: dict[str, Any]) -> str:
    """One line of the summary for the terminal and the page."""
    sides = ", ".join(f"{k} {v['n']} ({v['notional']:,.0f})" for k, v in s["by_side"].items()
                      if v["n"])  # fmt: skip
    return (
        f"Orders: {s['n_orders']} ({sides or 'none'}); after them gross {s['gross']:,.0f}, "
        f"net {s['net']:,.0f}, cash {s['cash']:,.0f}; traded {s['traded']:,.0f} (turnover "
        f"{s['turnover']:.1%} of capital {s['capital']:,.0f})"
    )
