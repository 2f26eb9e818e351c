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

import csv
import io
import math
import os
import re
import stat
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


MAX_HOLDINGS_BYTES = 16 * 1024 * 1024
"""Largest holdings file read (a book of ten thousand names is well under 1 MB)."""
LIMITS = {"quantity": 1e12, "weight": 100.0, "price": 1e9}
"""Largest absolute value of each holdings column: beyond it a number is a typo, not a
position (1e12 units; 100 times the capital; a price of a billion)."""
MAX_CAPITAL = 1e15
MAX_LOT = 1e9
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
"""A plain decimal number: no thousands separators, no ``nan``/``inf``, no ``1_000``."""


def check_order_settings(capital: float, lot_size: float, min_trade: float) -> None:
    """Refuse a capital, lot size or minimum trade that is not a sensible finite number."""
    for label, value, low, high, zero in (
        ("capital", capital, 0.0, MAX_CAPITAL, False),
        ("lot size", lot_size, 0.0, MAX_LOT, False),
        ("minimum trade", min_trade, 0.0, MAX_CAPITAL, True),
    ):
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value >= low if zero else value > low)
            and value <= high
        )
        if not ok:
            raise OrdersError(
                f"{label} must be a {'non-negative' if zero else 'positive'} finite number "
                f"(at most {high:g}), got {value!r}"
            )


def _source_bytes(source: str | Path, name: str) -> bytes:
    """The bytes of a regular file; anything else (folder, pipe, device) is refused from
    its ``stat``, before it is opened, so a named pipe never blocks."""
    try:
        info = os.stat(source)
    except OSError as exc:
        raise OrdersError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise OrdersError(f"{name}: not a regular file (folders, pipes and devices are not read)")
    if info.st_size > MAX_HOLDINGS_BYTES:
        raise OrdersError(f"{name}: {info.st_size:,} bytes, more than a holdings file holds")
    try:  # O_NONBLOCK: should the path have become a pipe since the stat, do not wait on it
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise OrdersError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OrdersError(f"{name}: not a regular file (it changed since it was checked)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_HOLDINGS_BYTES + 1)
    except OSError as exc:
        raise OrdersError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _text(data: bytes, name: str) -> str:
    """UTF-8 text of a holdings file (a byte-order mark is dropped)."""
    if len(data) > MAX_HOLDINGS_BYTES:
        raise OrdersError(f"{name}: more than {MAX_HOLDINGS_BYTES:,} bytes")
    if not data.strip():
        raise OrdersError(f"{name}: file is empty")
    if b"\0" in data:
        at = data.index(b"\0")
        place = _byte_place(data, at, name)
        raise OrdersError(f"{place}: binary content (a NUL byte), not CSV text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OrdersError(
            f"{_byte_place(data, exc.start, name)}: not UTF-8 text (byte "
            f"0x{data[exc.start]:02x}); save the file as UTF-8 CSV"
        ) from None


def _byte_place(data: bytes, at: int, name: str) -> str:
    """``file: line L, column C`` of the byte at offset ``at`` (columns by the commas before
    it on its line, named from the header where it can be read)."""
    line = data[:at].count(b"\n") + 1
    start = data.rfind(b"\n", 0, at) + 1
    k = data[start:at].count(b",")
    header = data.split(b"\n", 1)[0].decode("utf-8", "replace").split(",")
    column = repr(header[k].strip().lower()) if line > 1 and k < len(header) else str(k + 1)
    return f"{name}: line {line}{' (the header)' if line == 1 else ''}, column {column}"


def _number(text: str, column: str, where: str) -> float | None:
    """A holdings number, or None for a blank optional price; OrdersError naming ``where``."""
    value = text.strip()
    if not value:
        if column == "price":
            return None
        raise OrdersError(f"{where}, column '{column}': blank (a position of zero is written 0)")
    if not _NUMBER.fullmatch(value):
        if re.fullmatch(r"[+-]?\d{1,3}(?:[,'\s]\d{3})+(?:\.\d*)?", value):
            why = "has a thousands separator (write 1000, not 1,000)"
        elif value.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            why = "is not a finite number"
        else:
            why = "is not a number"
        raise OrdersError(f"{where}, column '{column}': {value[:40]!r} {why}")
    number = float(value)
    limit = LIMITS[column]
    if not math.isfinite(number) or abs(number) > limit:
        raise OrdersError(
            f"{where}, column '{column}': {value[:40]!r} is out of range (at most {limit:g} "
            "in absolute value)"
        )
    if column == "price" and number <= 0:
        raise OrdersError(f"{where}, column '{column}': {value[:40]!r} is not a positive price")
    return number


def source_text(
    source: str | Path | bytes, name: str | None, default: str
) -> tuple[str, bytes, str]:
    """``(name, bytes, text)`` of a user's CSV given as a path (a regular file only) or as
    bytes: ``name`` defaults to the path, or to ``default`` for bytes. An unreadable,
    empty, binary or non-UTF-8 source is one :class:`OrdersError` line naming it."""
    if isinstance(source, bytes):
        name, data = name or default, source
    else:
        name = name or str(source)
        data = _source_bytes(source, name)
    return name, data, _text(data, name)


def read_holdings(source: str | Path | bytes, name: str | None = None) -> pl.DataFrame:
    """``asset, quantity | weight [, price]`` from a CSV path or CSV bytes.

    Only a regular file is read (a folder, pipe or device is refused from its ``stat``,
    unopened). Every value is read as text and checked here: a file that is empty, binary
    or not UTF-8, a row with too many or too few fields, a blank asset or quantity (blank is
    not zero), text, a thousands separator, NaN, infinity or an absurd size in a number
    column, and an asset listed twice are each refused with one :class:`OrdersError` line
    naming the file (``name``; default the path, or "holdings" for bytes), the data row
    (1-based, with its line in the file) and the column. A header alone is no positions.
    """
    name, _, text = source_text(source, name, "holdings")
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(rows, None)
        if header is None:
            raise OrdersError(f"{name}: file is empty")
        header_line = rows.line_num
        names = [h.strip().lower() for h in header]
        where = f"{name}: line {header_line} (the header)"
        for column in ("asset", "quantity", "weight", "price"):
            if names.count(column) > 1:
                raise OrdersError(f"{where}: column '{column}' appears more than once")
        if "asset" not in names:
            raise OrdersError(f"{where}: holdings need an 'asset' column")
        kinds = [k for k in ("quantity", "weight") if k in names]
        if len(kinds) != 1:
            raise OrdersError(
                f"{where}: holdings need exactly one of the columns 'quantity' or 'weight'"
            )
        keep = ["asset", kinds[0], *(["price"] if "price" in names else [])]
        index = {k: names.index(k) for k in keep}
        out: dict[str, list] = {k: [] for k in keep}
        first_row: dict[str, int] = {}
        row_no, line = 0, rows.line_num
        for fields in rows:
            start, line = line + 1, rows.line_num
            if not any(f.strip() for f in fields):
                continue  # a blank line (or a row of empty cells): nothing held
            row_no += 1
            where = f"{name}: row {row_no} (line {start})"
            if len(fields) > len(names):
                raise OrdersError(
                    f"{where}, column {len(names) + 1}: a field beyond the header's "
                    f"{len(names)} columns (an unquoted thousands separator such as 1,000?)"
                )
            if len(fields) < len(names):
                raise OrdersError(
                    f"{where}, column '{names[len(fields)]}': missing (the row has "
                    f"{len(fields)} fields, the header {len(names)})"
                )
            asset = fields[index["asset"]].strip()
            if not asset:
                raise OrdersError(f"{where}, column 'asset': blank")
            if asset in first_row:
                raise OrdersError(
                    f"{name}: holdings list an asset more than once: [{asset!r}] (rows "
                    f"{first_row[asset]} and {row_no}, column 'asset')"
                )
            first_row[asset] = row_no
            out["asset"].append(asset)
            for column in keep[1:]:
                out[column].append(_number(fields[index[column]], column, where))
    except csv.Error as exc:
        raise OrdersError(f"{name}: line {rows.line_num}: not valid CSV ({exc})") from None
    return pl.DataFrame(out, schema={k: pl.Utf8 if k == "asset" else pl.Float64 for k in keep})


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
    check_order_settings(capital, lot_size, min_trade)
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
    absurd = frame.filter(
        ~(pl.col("current_qty").is_finite() & pl.col("ideal_qty").is_finite())
        | (pl.col("current_qty").abs() > LIMITS["quantity"])
        | (pl.col("ideal_qty").abs() > LIMITS["quantity"])
    )["asset"]
    if absurd.len():
        raise OrdersError(
            f"quantities out of range for {sorted(absurd.to_list())[:10]} (check the "
            "holdings, prices and capital)"
        )
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
