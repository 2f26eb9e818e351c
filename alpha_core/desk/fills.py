"""Fills and positions: the live record as it happened, from the trades actually made.

A lineage's fills are kept in ``fills.jsonl`` beside its ledger (the folder of its first
run; :data:`FILLS_FILE`), one JSON object per fill, appended, never rewritten, under the
ledger's lock (:func:`append_fills`), and read back as untrusted input
(:func:`read_store`: a line that is not a complete fill is skipped and reported by line).

Fills come from two places:

* imported (:func:`read_fills`): a broker's CSV ``date, asset, [side,] quantity, price
  [, commission]`` read like the holdings (a regular file only, every value checked, one
  :class:`FillsError` line naming the file, the row and the column); each fill's key is the
  file's sha256 and the row, so importing the same file twice adds nothing;
* assumed (:func:`assumed_fills`): every order a ledger line recorded (its ``pre_trade``
  ``sent``) filled on the asset's next bar at the run's execution price
  (:mod:`alpha_core.desk.execution`: the next close for ``close_to_close``, the next open for
  ``open_to_open``); one fill per decision date and asset, so assuming twice adds nothing.
  An order whose fill bar is not in the data yet stays pending.

The record (:func:`positions_record`): positions (units) are the running sum of the fills
from flat; cash starts at 0 and pays for every fill and its cost; each asset is marked at its
close (the last one known, else its last fill price). Each day's P&L net of costs is the
change of cash plus the positions' value::

    pnl_t = sum_i q_i,t-1 (close_i,t - close_i,t-1)      positions x price change
          + sum_fills_t q (close_i,t - price)            fills against the day's close
          - costs_t

and the cost of a fill is its ``commission`` when the broker's file gives one, else the run's
cost model: ``cost_bps / 1e4 * |quantity| * price`` (:mod:`alpha_core.portfolio.costs`; no
borrow fee is charged here).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from alpha_core.base.storage import full_disk_as
from alpha_core.desk.execution import Execution, next_bars
from alpha_core.desk.ledger import SkippedLine, _append, _locked, current_books, skipped_dict
from alpha_core.desk.orders import _NUMBER, LIMITS, OrdersError, source_text

FILLS_FILE = "fills.jsonl"
FILL_VERSION = 1
SIDES = {"buy": 1, "buy_to_cover": 1, "sell": -1, "sell_short": -1}
"""Sides of an imported fill (case-insensitive) and the sign they give its quantity."""
MAX_COMMISSION = 1e12


class FillsError(OrdersError):
    """A fills file or fill that cannot be used (one line: file, row, column)."""


@dataclass(frozen=True)
class Fill:
    """One trade made: ``quantity`` units (negative: sold) of ``asset`` at ``price``."""

    day: date
    asset: str
    quantity: float
    price: float
    commission: float | None
    source: str
    """``imported:<file name>`` or ``assumed``."""
    key: str
    """What makes a fill the same fill (imported: file sha256 and row; assumed: decision
    date and asset)."""
    as_of: date | None = None
    """The decision date of the order it fills (assumed fills)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FILL_VERSION,
            "key": self.key,
            "date": self.day.isoformat(),
            "asset": self.asset,
            "quantity": self.quantity,
            "price": self.price,
            "commission": self.commission,
            "source": self.source,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }


# ----------------------------------------------------------------------------- import
def _value(text: str, column: str, where: str, *, positive: bool, limit: float) -> float:
    value = text.strip()
    if not value:
        raise FillsError(f"{where}, column '{column}': blank")
    if not _NUMBER.fullmatch(value):
        special = value.lower().lstrip("+-") in ("nan", "inf", "infinity")
        why = "is not a finite number" if special else "is not a number (no thousands separators)"
        raise FillsError(f"{where}, column '{column}': {value[:40]!r} {why}")
    number = float(value)
    if not math.isfinite(number) or abs(number) > limit:
        raise FillsError(
            f"{where}, column '{column}': {value[:40]!r} is out of range (at most {limit:g})"
        )
    if positive and number <= 0:
        raise FillsError(f"{where}, column '{column}': {value[:40]!r} must be positive")
    return number


def read_fills(source: str | Path | bytes, name: str | None = None) -> list[Fill]:
    """The fills of a CSV path or CSV bytes: ``date`` (YYYY-MM-DD), ``asset``, ``quantity``
    (signed: bought > 0; or, with a ``side`` column of BUY, SELL, SELL_SHORT or
    BUY_TO_COVER, positive), ``price`` (positive) and optionally ``commission`` (a
    non-negative amount; blank: the run's cost model). Other columns are ignored.

    Only a regular file is read; each problem is one :class:`FillsError` line naming the
    file, the data row (with its line) and the column. A header alone is no fills.
    """
    try:
        name, data, text = source_text(source, name, "fills")
    except OrdersError as exc:
        raise FillsError(str(exc)) from None
    digest = hashlib.sha256(data).hexdigest()[:16]
    label = Path(name).name
    rows = csv.reader(io.StringIO(text, newline=""))
    out: list[Fill] = []
    try:
        header = next(rows, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(rows, None)
        if header is None:
            raise FillsError(f"{name}: file is empty")
        names = [h.strip().lower() for h in header]
        where = f"{name}: line {rows.line_num} (the header)"
        for column in ("date", "asset", "side", "quantity", "price", "commission"):
            if names.count(column) > 1:
                raise FillsError(f"{where}: column '{column}' appears more than once")
        missing = [c for c in ("date", "asset", "quantity", "price") if c not in names]
        if missing:
            raise FillsError(
                f"{where}: fills need the columns date, asset, quantity and price "
                f"(missing: {', '.join(missing)})"
            )
        index = {c: names.index(c) for c in ("date", "asset", "side", "quantity", "price",
                                             "commission") if c in names}  # fmt: skip
        row_no, line = 0, rows.line_num
        for fields in rows:
            start, line = line + 1, rows.line_num
            if not any(f.strip() for f in fields):
                continue
            row_no += 1
            where = f"{name}: row {row_no} (line {start})"
            if len(fields) != len(names):
                raise FillsError(
                    f"{where}, column {min(len(fields), len(names)) + 1}: the row has "
                    f"{len(fields)} fields, the header {len(names)}"
                )
            out.append(_row(fields, index, where, f"{digest}:{row_no}", label))
    except csv.Error as exc:
        raise FillsError(f"{name}: line {rows.line_num}: not valid CSV ({exc})") from None
    return out


def _row(fields: list[str], index: dict[str, int], where: str, key: str, label: str) -> Fill:
    raw_day = fields[index["date"]].strip()
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise FillsError(f"{where}, column 'date': {raw_day[:40]!r} is not YYYY-MM-DD") from None
    asset = fields[index["asset"]].strip()
    if not asset:
        raise FillsError(f"{where}, column 'asset': blank")
    sign = 1.0
    if "side" in index:
        side = fields[index["side"]].strip().lower()
        if side not in SIDES:
            raise FillsError(
                f"{where}, column 'side': {side[:40]!r} is not one of BUY, SELL, SELL_SHORT, "
                "BUY_TO_COVER"
            )
        sign = float(SIDES[side])
    quantity = _value(fields[index["quantity"]], "quantity", where, positive="side" in index,
                      limit=LIMITS["quantity"])  # fmt: skip
    if quantity == 0:
        raise FillsError(f"{where}, column 'quantity': a fill of zero units")
    price = _value(fields[index["price"]], "price", where, positive=True, limit=LIMITS["price"])
    commission = None
    if "commission" in index and fields[index["commission"]].strip():
        commission = _value(fields[index["commission"]], "commission", where, positive=False,
                            limit=MAX_COMMISSION)  # fmt: skip
        if commission < 0:
            raise FillsError(f"{where}, column 'commission': must not be negative")
    return Fill(day, asset, sign * quantity, price, commission, f"imported:{label}", key)


# ----------------------------------------------------------------------------- assumed
def sent_orders(entry: dict[str, Any]) -> list[tuple[str, float]] | None:
    """``(asset, signed quantity)`` of the orders a ledger line recorded, None when it holds
    none or they are malformed (the ledger is untrusted input)."""
    pre = entry.get("pre_trade")
    sent = pre.get("sent") if isinstance(pre, dict) else None
    if not isinstance(sent, list):
        return None
    out = []
    for order in sent:
        if not isinstance(order, dict) or not isinstance(order.get("asset"), str):
            return None
        q = order.get("quantity")
        ok = isinstance(q, int | float) and not isinstance(q, bool) and math.isfinite(q)
        if not ok or abs(q) > LIMITS["quantity"]:
            return None
        if q != 0:
            out.append((order["asset"], float(q)))
    return out


@dataclass(frozen=True)
class Assumed:
    """Fills assumed for the ledger's orders, and what could not be filled yet."""

    fills: list[Fill]
    pending: list[dict[str, Any]]
    """``as_of, asset, quantity`` of orders whose fill bar is not in the data yet."""
    without_orders: list[str]
    """Decision dates of books recorded without orders (or with malformed ones)."""


def assumed_fills(
    entries: list[dict[str, Any]], panel: pl.DataFrame, execution: Execution
) -> Assumed:
    """Every order of the ledger's current books filled at the execution convention's price
    on the asset's next bar after its decision date (:func:`next_bars`)."""
    fills, pending, without = [], [], []
    for as_of, entry in current_books(entries).items():
        orders = sent_orders(entry)
        if orders is None:
            without.append(as_of.isoformat())
            continue
        bars = next_bars(panel.filter(pl.col("asset").is_in([a for a, _ in orders])), as_of,
                         execution.price)  # fmt: skip
        at = {a: (d, p) for a, d, p in bars.iter_rows()}
        for asset, quantity in orders:
            if asset not in at:
                pending.append({"as_of": as_of.isoformat(), "asset": asset, "quantity": quantity})
                continue
            day, price = at[asset]
            fills.append(Fill(day, asset, quantity, float(price), None, "assumed",
                              f"assumed:{as_of}:{asset}", as_of))  # fmt: skip
    return Assumed(fills, pending, without)


# ----------------------------------------------------------------------------- the store
def fill_problem(entry: Any) -> str | None:
    """Why a parsed line of ``fills.jsonl`` is not a fill, or None."""
    if not isinstance(entry, dict):
        return "not a JSON object"
    if not isinstance(entry.get("key"), str) or not isinstance(entry.get("asset"), str):
        return "no key or asset"
    try:
        date.fromisoformat(entry.get("date"))
    except (TypeError, ValueError):
        return "no date in YYYY-MM-DD"
    for k, positive in (("quantity", False), ("price", True)):
        v = entry.get(k)
        if not (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)):
            return f"{k} is not a finite number"
        if positive and v <= 0:
            return f"{k} is not positive"
    c = entry.get("commission")
    if c is not None and not (isinstance(c, int | float) and not isinstance(c, bool)
                              and math.isfinite(c) and c >= 0):  # fmt: skip
        return "commission is not a non-negative number"
    return None


@dataclass(frozen=True)
class Stored:
    """The fills of ``fills.jsonl`` in file order, and the lines skipped."""

    fills: list[Fill]
    skipped: tuple[SkippedLine, ...] = ()


def read_store(path: Path) -> Stored:
    """Every fill of a lineage's ``fills.jsonl``; other lines are skipped by line number. A
    path that is not a regular file is refused (:class:`FillsError`), never opened."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Stored([])
    if not stat.S_ISREG(info.st_mode):
        raise FillsError(f"{path}: not a regular file (fills are never read from a pipe)")
    fills, skipped = [], []
    lines = Path(path).read_bytes().split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except RecursionError:
            skipped.append(SkippedLine(number, "nested too deeply"))
            continue
        except ValueError:
            torn = number == len(lines)
            skipped.append(SkippedLine(number, "torn" if torn else "not valid JSON"))
            continue
        problem = fill_problem(entry)
        if problem is not None:
            skipped.append(SkippedLine(number, problem))
            continue
        as_of = entry.get("as_of")
        fills.append(Fill(
            date.fromisoformat(entry["date"]), entry["asset"], float(entry["quantity"]),
            float(entry["price"]), entry.get("commission"), str(entry.get("source", "")),
            entry["key"], date.fromisoformat(as_of) if isinstance(as_of, str) else None,
        ))  # fmt: skip
    return Stored(fills, tuple(skipped))


def append_fills(ledger_path: Path, path: Path, fills: list[Fill]) -> tuple[int, int]:
    """Append the fills whose key is not stored yet, in one write, under the ledger's lock
    (:func:`alpha_core.desk.ledger.record` takes the same; the registry too, to move both
    files when the lineage's first run is deleted). Returns ``(added, already stored)``."""
    with _locked(ledger_path):
        known = {f.key for f in read_store(path).fills}
        new, seen = [], set()
        for fill in fills:
            if fill.key not in known and fill.key not in seen:
                new.append(fill)
                seen.add(fill.key)
        if new:
            data = b"".join(json.dumps(f.to_dict(), sort_keys=True).encode() + b"\n" for f in new)
            with full_disk_as(path):
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _append(fd, path, data)
            finally:
                os.close(fd)
    return len(new), len(fills) - len(new)


# ----------------------------------------------------------------------------- the record
DAILY_COLUMNS = ("date", "pnl_gross", "costs", "pnl_net", "cumulative", "traded", "gross",
                 "net", "cash", "n_positions")  # fmt: skip


@dataclass(frozen=True)
class Record:
    """The live record from fills: one row a day (:data:`DAILY_COLUMNS`), the positions
    after the last day, and the fills it counts."""

    daily: pl.DataFrame
    positions: pl.DataFrame
    """``asset, quantity, price, value`` after the last day (non-zero positions)."""
    fills: pl.DataFrame
    skipped: tuple[SkippedLine, ...] = ()
    """Lines of ``fills.jsonl`` that were not fills (torn, bad JSON, wrong shape)."""

    def to_dict(self) -> dict[str, Any]:
        last = self.daily.row(-1, named=True) if self.daily.height else {}
        return {
            "basis": "positions and fills: marked to market at each close, net of the "
            "costs of the fills made",
            "days": self.daily.height,
            "n_fills": self.fills.height,
            "pnl_net": float(self.daily["pnl_net"].sum()) if self.daily.height else 0.0,
            "costs": float(self.daily["costs"].sum()) if self.daily.height else 0.0,
            "gross": last.get("gross", 0.0),
            "net": last.get("net", 0.0),
            "cash": last.get("cash", 0.0),
            "daily": [
                {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}
                for row in self.daily.iter_rows(named=True)
            ],
            "positions": self.positions.to_dicts(),
            "skipped_fills_lines": skipped_dict(self.skipped),
        }


def fills_frame(fills: list[Fill], cost_bps: float) -> pl.DataFrame:
    """``date, asset, quantity, price, cost`` (cost: the commission, else the model's)."""
    rows = [
        {"date": f.day, "asset": f.asset, "quantity": f.quantity, "price": f.price,
         "cost": f.commission if f.commission is not None
         else cost_bps / 1e4 * abs(f.quantity) * f.price}
        for f in fills
    ]  # fmt: skip
    schema = {"date": pl.Date, "asset": pl.Utf8, "quantity": pl.Float64, "price": pl.Float64,
              "cost": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema).sort("date", "asset", maintain_order=True)


def positions_record(fills: list[Fill], panel: pl.DataFrame, cost_bps: float) -> Record | None:
    """The daily record of ``fills`` marked on ``panel``'s closes (None without fills)."""
    if not fills:
        return None
    frame = fills_frame(fills, cost_bps)
    first = frame["date"].min()
    assets = sorted(set(frame["asset"].to_list()))
    dates = sorted(
        set(panel.filter(pl.col("date") >= first)["date"].unique().to_list())
        | set(frame["date"].to_list())
    )
    grid = pl.DataFrame({"date": dates}).join(pl.DataFrame({"asset": assets}), how="cross")
    closes = panel.filter(pl.col("asset").is_in(assets)).select("date", "asset", "close")
    last_close = (
        panel.filter(pl.col("asset").is_in(assets), pl.col("date") < first)
        .sort("date")
        .group_by("asset")
        .agg(pl.col("close").last().alias("_prior"))
    )
    day = frame.group_by("date", "asset").agg(
        pl.col("quantity").sum().alias("bought"),
        (pl.col("quantity") * pl.col("price")).sum().alias("paid"),
        (pl.col("quantity").abs() * pl.col("price")).sum().alias("traded"),
        pl.col("cost").sum(),
        pl.col("price").last().alias("fill_price"),
    )
    marks = (
        grid.join(closes, on=["date", "asset"], how="left")
        .join(day, on=["date", "asset"], how="left")
        .join(last_close, on="asset", how="left")
        .sort("asset", "date")
        .with_columns(pl.col("bought", "paid", "traded", "cost").fill_null(0.0))
        .with_columns(
            pl.coalesce(
                pl.col("close").forward_fill().over("asset"),
                pl.col("fill_price").forward_fill().over("asset"),
                "_prior",
            ).alias("mark"),
            pl.col("bought").cum_sum().over("asset").alias("position"),
        )
        .with_columns((pl.col("position") * pl.col("mark")).fill_null(0.0).alias("value"))
    )
    daily = (
        marks.group_by("date")
        .agg(
            pl.col("paid").sum(),
            pl.col("traded").sum(),
            pl.col("cost").sum().alias("costs"),
            pl.col("value").abs().sum().alias("gross"),
            pl.col("value").sum().alias("net"),
            (pl.col("position") != 0).sum().alias("n_positions"),
        )
        .sort("date")
    )
    cash = np.cumsum(-daily["paid"].to_numpy() - daily["costs"].to_numpy())
    equity = cash + daily["net"].to_numpy()
    pnl = np.diff(equity, prepend=0.0)
    daily = daily.with_columns(
        pl.Series("cash", cash),
        pl.Series("pnl_net", pnl),
        pl.Series("cumulative", equity),
    ).with_columns((pl.col("pnl_net") + pl.col("costs")).alias("pnl_gross"))
    last = marks.filter(pl.col("date") == dates[-1], pl.col("position") != 0)
    positions = last.select("asset", pl.col("position").alias("quantity"),
                            pl.col("mark").alias("price"), "value")  # fmt: skip
    return Record(daily.select(DAILY_COLUMNS), positions, frame)
