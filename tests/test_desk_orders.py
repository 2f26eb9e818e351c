"""Orders from holdings: holdings + orders = target within lot rounding, on hand-made cases."""

from __future__ import annotations

import math
import os
from pathlib import Path

import polars as pl
import pytest

from alpha_core.desk.orders import (
    ORDER_COLUMNS,
    OrdersError,
    check_order_settings,
    closing,
    make_orders,
    orders_csv,
    read_holdings,
)

BOOK = pl.DataFrame({"asset": ["AAA", "BBB", "CCC", "DDD"], "weight": [0.5, 0.5, -0.6, -0.4]})
PRICES = pl.DataFrame(
    {"asset": ["AAA", "BBB", "CCC", "DDD", "EEE"], "close": [10.0, 33.0, 7.0, 250.0, 20.0]}
)


def by_asset(orders: pl.DataFrame) -> dict[str, dict]:
    return {row["asset"]: row for row in orders.iter_rows(named=True)}


def test_targets_orders_close_and_flip_by_hand():
    """Capital 100,000, lots of 10: every number below is worked out by hand."""
    holdings = pl.DataFrame(
        {"asset": ["AAA", "CCC", "EEE", "BBB"], "quantity": [1000.0, 500.0, 300.0, 1515.0]}
    )
    rows = by_asset(make_orders(BOOK, holdings, PRICES, 100_000, lot_size=10))
    # AAA: 0.5 * 100000 / 10 = 5000 -> buy 4000 (add)
    assert (rows["AAA"]["target_qty"], rows["AAA"]["order_qty"]) == (5000, 4000)
    assert rows["AAA"]["side"] == "buy" and rows["AAA"]["action"] == "add"
    # BBB: 50000 / 33 = 1515.15 -> 1520 lots of 10 -> buy 5
    assert (rows["BBB"]["target_qty"], rows["BBB"]["order_qty"]) == (1520, 5)
    # CCC: long 500 -> short 0.6 * 100000 / 7 = 8571.4 -> -8570: flip, sell 9070
    assert (rows["CCC"]["target_qty"], rows["CCC"]["order_qty"]) == (-8570, -9070)
    assert rows["CCC"]["side"] == "sell" and rows["CCC"]["action"] == "flip"
    assert rows["CCC"]["notional"] == pytest.approx(9070 * 7.0)
    # DDD: -40000 / 250 = -160, opened short
    assert (rows["DDD"]["target_qty"], rows["DDD"]["action"]) == (-160, "open")
    # EEE: held, not in the book: closed out at its close
    assert (rows["EEE"]["target_qty"], rows["EEE"]["order_qty"]) == (0, -300)
    assert closing(make_orders(BOOK, holdings, PRICES, 100_000, 10)) == ["EEE"]


@pytest.mark.parametrize("lot", [1.0, 10.0, 100.0])
def test_holdings_plus_orders_equal_target_within_half_a_lot(lot):
    holdings = pl.DataFrame({"asset": ["AAA", "EEE", "CCC"], "quantity": [123.0, -40.0, 17.0]})
    orders = make_orders(BOOK, holdings, PRICES, 1_234_567, lot_size=lot)
    assert (orders["current_qty"] + orders["order_qty"] == orders["target_qty"]).all()
    ideal = orders["target_weight"] * 1_234_567 / orders["reference_price"]
    assert ((orders["target_qty"] - ideal).abs() <= lot / 2 + 1e-9).all()
    assert ((orders["target_qty"] / lot).round(9) % 1 == 0).all()


def test_min_trade_keeps_the_position_and_marks_it():
    holdings = pl.DataFrame({"asset": ["AAA", "BBB"], "quantity": [4990.0, 1000.0]})
    rows = by_asset(make_orders(BOOK, holdings, PRICES, 100_000, lot_size=1, min_trade=500))
    assert rows["AAA"]["skipped"] and rows["AAA"]["order_qty"] == 0  # 10 * 10 = 100 < 500
    assert rows["AAA"]["target_qty"] == 4990 and rows["AAA"]["action"] == "hold"
    assert not rows["BBB"]["skipped"] and rows["BBB"]["order_qty"] == 515


def test_holdings_as_weights_and_price_column(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("Asset,Weight,Price\nAAA,0.25,\nZZZ,-0.1,50\n")
    holdings = read_holdings(path)
    rows = by_asset(make_orders(BOOK, holdings, PRICES, 100_000))
    assert rows["AAA"]["current_qty"] == pytest.approx(2500)  # 0.25 * 100000 / 10
    assert rows["ZZZ"]["current_qty"] == pytest.approx(-200)  # priced by the holdings file
    assert rows["ZZZ"]["target_qty"] == 0 and rows["ZZZ"]["action"] == "close"


def test_bad_inputs_are_refused(tmp_path):
    no_price = pl.DataFrame({"asset": ["QQQ"], "quantity": [5.0]})
    with pytest.raises(OrdersError, match=r"no reference price for \['QQQ'\]"):
        make_orders(BOOK, no_price, PRICES, 100_000)
    with pytest.raises(OrdersError, match="capital must be a positive finite number"):
        make_orders(BOOK, no_price, PRICES, 0)
    both = tmp_path / "both.csv"
    both.write_text("asset,quantity,weight\nAAA,1,0.1\n")
    with pytest.raises(OrdersError, match="exactly one of the columns"):
        read_holdings(both)
    dup = tmp_path / "dup.csv"
    dup.write_text("asset,quantity\nAAA,1\nAAA,2\n")
    with pytest.raises(OrdersError, match=r"more than once: \['AAA'\]"):
        read_holdings(dup)


def test_orders_csv_lists_only_orders_with_the_documented_columns():
    holdings = pl.DataFrame({"asset": ["AAA"], "quantity": [5000.0]})
    orders = make_orders(BOOK, holdings, PRICES, 100_000, lot_size=10)
    text = orders_csv(orders)
    header, *lines = text.strip().splitlines()
    assert header.split(",") == list(ORDER_COLUMNS)
    assert sorted(line.split(",")[0] for line in lines) == ["BBB", "CCC", "DDD"]  # AAA: no trade


# ----------------------------------------------------------------------------- hostile holdings
BAD_HOLDINGS = {
    "empty": (b"", "empty.csv: file is empty"),
    "blank lines only": (b"\n \n", "blank.csv: file is empty"),
    "binary": (b"asset,quantity\nAAA,1\n\x00\x01\x02,3\n", "line 3, column 'asset': binary"),
    "latin-1": ("asset,quantity\nCAFÉ,1\n".encode("latin-1"), "line 2, column 'asset': not UTF-8"),
    "text": (
        b"asset,quantity\nAAA,1\nBBB,ten\n",
        "row 2 (line 3), column 'quantity': 'ten' is not a number",
    ),
    "thousands quoted": (
        b'asset,quantity\nAAA,"1,000"\n',
        "row 1 (line 2), column 'quantity': '1,000' has a thousands separator",
    ),
    "thousands unquoted": (
        b"asset,quantity\nAAA,1,000\n",
        "row 1 (line 2), column 3: a field beyond",
    ),
    "nan": (
        b"asset,quantity\nAAA,NaN\n",
        "row 1 (line 2), column 'quantity': 'NaN' is not a finite number",
    ),
    "inf": (b"asset,quantity\nAAA,inf\n", "column 'quantity': 'inf' is not a finite number"),
    "-inf": (b"asset,weight\nAAA,-inf\n", "column 'weight': '-inf' is not a finite number"),
    "1e308": (b"asset,quantity\nAAA,1e308\n", "column 'quantity': '1e308' is out of range"),
    "1e400": (b"asset,quantity\nAAA,1e400\n", "column 'quantity': '1e400' is out of range"),
    "blank quantity": (
        b"asset,quantity\nAAA,5\n\nBBB,\n",
        "row 2 (line 4), column 'quantity': blank",
    ),
    "blank asset": (b"asset,quantity\n,5\n", "row 1 (line 2), column 'asset': blank"),
    "nan price": (
        b"asset,quantity,price\nAAA,5,nan\n",
        "column 'price': 'nan' is not a finite number",
    ),
    "short row": (b"asset,quantity,price\nAAA,5\n", "row 1 (line 2), column 'price': missing"),
    "duplicate": (
        b"asset,quantity\nAAA,1\nBBB,2\nAAA,3\n",
        "more than once: ['AAA'] (rows 1 and 3",
    ),
    "no asset": (
        b"ticker,quantity\nAAA,1\n",
        "line 1 (the header): holdings need an 'asset' column",
    ),
}


@pytest.mark.parametrize("case", list(BAD_HOLDINGS))
def test_hostile_holdings_are_refused_naming_file_row_and_column(tmp_path, case):
    data, message = BAD_HOLDINGS[case]
    name = {"empty": "empty.csv", "blank lines only": "blank.csv"}.get(case, "h.csv")
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(OrdersError) as info:
        read_holdings(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text
    with pytest.raises(OrdersError) as pasted:  # the Desk page's paste box: the same check
        read_holdings(data, "pasted holdings")
    assert str(pasted.value) == text.replace(str(path), "pasted holdings", 1)


def test_holdings_that_are_not_regular_files_are_refused_unopened(tmp_path):
    fifo = tmp_path / "holdings.fifo"
    os.mkfifo(fifo)  # nobody writes: opening it for reading would block forever
    (tmp_path / "folder.csv").mkdir()
    for path in (fifo, tmp_path / "folder.csv", Path("/dev/zero")):
        with pytest.raises(OrdersError, match=r"not a regular file \(folders, pipes"):
            read_holdings(path)
    with pytest.raises(OrdersError, match="missing.csv: cannot be read"):
        read_holdings(tmp_path / "missing.csv")


def test_a_clean_holdings_file_with_bom_blank_lines_and_blank_prices(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(b"\xef\xbb\xbf Asset , Quantity ,Price\r\nAAA,1e3,\r\n\r\nZZZ,-2.5,3\r\n")
    assert read_holdings(path).to_dicts() == [
        {"asset": "AAA", "quantity": 1000.0, "price": None},
        {"asset": "ZZZ", "quantity": -2.5, "price": 3.0},
    ]
    assert read_holdings(b"asset,weight\n").height == 0  # a header alone: nothing held


@pytest.mark.parametrize(
    ("capital", "lot", "min_trade", "message"),
    [
        (math.nan, 1.0, 0.0, "capital must be a positive finite number"),
        (1e308, 1.0, 0.0, "capital must be a positive finite number"),
        (1e6, math.nan, 0.0, "lot size must be a positive finite number"),
        (1e6, math.inf, 0.0, "lot size must be a positive finite number"),
        (1e6, 0.0, 0.0, "lot size must be a positive finite number"),
        (1e6, 1.0, -1.0, "minimum trade must be a non-negative finite number"),
    ],
)
def test_order_settings_must_be_finite_and_sensible(capital, lot, min_trade, message):
    holdings = pl.DataFrame({"asset": ["AAA"], "quantity": [5.0]})
    with pytest.raises(OrdersError, match=message):
        check_order_settings(capital, lot, min_trade)
    with pytest.raises(OrdersError, match=message):
        make_orders(BOOK, holdings, PRICES, capital, lot, min_trade)
