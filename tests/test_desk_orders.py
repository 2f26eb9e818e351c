"""Orders from holdings: holdings + orders = target within lot rounding, on hand-made cases."""

from __future__ import annotations

import polars as pl
import pytest

from alpha_core.desk.orders import (
    ORDER_COLUMNS,
    OrdersError,
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
    with pytest.raises(OrdersError, match="capital must be a positive number"):
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
