"""Pre-trade checks, corporate actions and broker-ready orders (issue 19) through ``alpha
book``: a clean book passes; each injected problem is refused with exit code 2 and one line
naming the check, the asset and the numbers, writing nothing; an override lets it through and
is recorded in the output and the ledger."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import json
import os
import re
from datetime import date

import polars as pl
import pytest
from desk_helpers import (  # noqa: F401  (fixtures)
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
)

from alpha_core.cli.main import main
from alpha_core.desk.checks import CHECKS, KILL_ENV, CheckSettings, split_hint
from alpha_core.desk.corporate import CorporateActionsError, read_actions
from alpha_core.desk.service import DeskService
from alpha_core.desk.tickets import (
    TICKET_COLUMNS,
    TicketSettings,
    client_order_id,
    ibkr_columns,
    limit_price,
    tickets,
)

AS_OF = date(2025, 5, 29)
PRICES = ("open", "high", "low", "close")


@pytest.fixture(scope="session")
def scene(tmp_path_factory, desk_registry, continued_panel):
    """The clean book's names and the panel files with one problem each."""
    service, run_id = desk_registry
    book = DeskService(service.root).book(run_id, continued_panel, as_of=AS_OF, record=False)
    longs = book.rows.filter(pl.col("side") == "long")["asset"].to_list()
    shorts = book.rows.filter(pl.col("side") == "short")["asset"].to_list()
    panel = continued_panel.filter(pl.col("date") <= AS_OF)
    folder = tmp_path_factory.mktemp("desk_check_data")
    assets = sorted(panel["asset"].unique().to_list())
    held_long, stale = longs[0], shorts[0]
    today = pl.col("date") == AS_OF
    variants = {
        "clean": panel,
        # a bad tick: prices x10 on half the universe on the decision date
        "x10": panel.with_columns(
            pl.when(today & pl.col("asset").is_in(assets[::2])).then(pl.col(c) * 10)
            .otherwise(pl.col(c)).alias(c)
            for c in PRICES
        ),
        # an unadjusted 2:1 split of a held long on the decision date
        "split": panel.with_columns(
            *(pl.when(today & (pl.col("asset") == held_long)).then(pl.col(c) / 2)
              .otherwise(pl.col(c)).alias(c) for c in PRICES),
            pl.when(today & (pl.col("asset") == held_long)).then(pl.col("volume") * 2)
            .otherwise(pl.col("volume")).alias("volume"),
        ),
        # a held name whose last two bars are missing
        "stale": panel.filter(
            ~((pl.col("asset") == stale) & (pl.col("date") >= date(2025, 5, 28)))
        ),
    }  # fmt: skip
    files = {}
    for name, frame in variants.items():
        files[name] = folder / f"{name}.parquet"
        frame.write_parquet(files[name])
    closes = dict(panel.filter(today).select("asset", "close").iter_rows())
    return {"files": files, "long": held_long, "stale": stale, "longs": longs,
            "shorts": shorts, "closes": closes, "book": book}  # fmt: skip


def book_argv(service, run_id, data, holdings, *extra, capital="1e6"):
    return ["book", "--run", run_id, "--data", str(data), "--artifacts", str(service.root),
            "--as-of", str(AS_OF), "--holdings", str(holdings), "--capital", capital,
            *extra]  # fmt: skip


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def refused(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("alpha: error: "), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def desk(tmp_path, desk_registry):
    service = fresh_copy(*desk_registry, tmp_path / "runs")
    return service, desk_registry[1]


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_clean_book_passes_every_check_and_the_ledger_records_them(tmp_path, desk, scene, capsys):
    service, run_id = desk
    holdings = write(tmp_path, "h.csv", f"asset,quantity\n{scene['long']},100\n")
    out = tmp_path / "out"
    argv = book_argv(service, run_id, scene["files"]["clean"], holdings, "--out", str(out),
                     "--json")  # fmt: skip
    assert main(argv) == 0
    payload = last_json(capsys)
    assert payload["checks"] == list(CHECKS) and payload["overrides"] == []
    summary = payload["summary"]
    assert summary["n_orders"] == len(payload["tickets"]) > 0
    assert summary["cash"] == pytest.approx(1e6 - summary["net"])
    assert summary["gross"] <= 2e6 * 1.05 and abs(summary["net"]) < 0.1e6
    assert summary["turnover"] == pytest.approx(summary["traded"] / 1e6)
    assert sum(s["n"] for s in summary["by_side"].values()) == summary["n_orders"]
    (entry,) = DeskService(service.root).ledger(run_id).entries
    assert entry["pre_trade"]["checks"] == list(CHECKS)
    assert entry["pre_trade"]["overrides"] == []
    facts = json.loads((out / f"orders_summary_{AS_OF}.json").read_text())
    assert facts["summary"]["n_orders"] == summary["n_orders"]


def _cases(scene, tmp_path):
    """(name, data, holdings text, extra argv, checks to override, expected message parts)."""
    long, stale, files = scene["long"], scene["stale"], scene["files"]
    held = f"asset,quantity\n{long},100\n"
    oversized = "asset,weight\n" + "".join(f"{a},0.09\n" for a in scene["longs"] + scene["shorts"])
    balanced = f"asset,weight\n{long},0.3\n" + "".join(f"{a},-0.075\n" for a in scene["shorts"][:4])
    return {
        "x10": (files["x10"], held, [], ["price_move"],
                ["price_move: ", "(ratio 10.", "1:10 reverse split or bad tick", "more"]),
        "split": (files["split"], held, [], ["price_move"],
                  [f"price_move: {long}: close", "(ratio 0.5", "suspected 2:1 split or bad tick"]),
        "stale": (files["stale"], f"asset,quantity\n{stale},-100\n", [], ["stale_bar"],
                  [f"stale_bar: {stale}: last bar 2025-05-27, before the decision date "
                   f"{AS_OF}"]),
        "gross": (files["clean"], oversized, ["--min-trade", "1e7"], ["gross", "net"],
                  ["gross: gross notional 3,060,000 is 3.06x capital 1,000,000",
                   "net: net notional"]),
        "name": (files["clean"], balanced, ["--min-trade", "1e7"], ["name"],
                 [f"name: {long}: |position| 300,000 = 0.300 of capital", "max weight 0.1"]),
        "participation": (files["clean"], held, [], ["participation"],
                          ["participation: ", "of its mean daily traded value", "(max 10%)"]),
    }  # fmt: skip


@pytest.mark.parametrize("case", ["x10", "split", "stale", "gross", "name", "participation"])
def test_each_problem_is_refused_with_exit_2_and_an_override_lets_it_through(
    case, tmp_path, desk, scene, capsys
):
    service, run_id = desk
    data, text, extra, checks, parts = _cases(scene, tmp_path)[case]
    holdings = write(tmp_path, "h.csv", text)
    out = tmp_path / "out"
    capital = "1e9" if case == "participation" else "1e6"
    argv = book_argv(service, run_id, data, holdings, *extra, "--out", str(out), "--json",
                     capital=capital)  # fmt: skip
    assert main(argv) == 2
    line = refused(capsys)
    assert "pre-trade checks refused the orders" in line
    for part in parts:
        assert part in line, (part, line)
    assert f"(to trade anyway, override: {','.join(checks)})" in line
    if case == "x10":  # the names are those multiplied by 10
        named = re.findall(r"(?:price_move: |; )([A-Z]+): close", line)
        assert named and set(named) <= set(sorted(scene["closes"])[::2])
    assert not out.exists() and not DeskService(service.root).ledger_path(run_id).exists()
    # a partial override is still refused
    if len(checks) > 1:
        assert main([*argv, "--override", checks[0]]) == 2
        assert checks[0] + ":" not in refused(capsys)
    assert main([*argv, "--override", ",".join(checks)]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out.strip().splitlines()[-1])
    assert [o["check"] for o in payload["overrides"]] == checks
    assert "overridden pre-trade checks" in captured.err
    (entry,) = DeskService(service.root).ledger(run_id).entries
    assert [o["check"] for o in entry["pre_trade"]["overrides"]] == checks
    facts = json.loads((out / f"orders_summary_{AS_OF}.json").read_text())
    assert [o["check"] for o in facts["overrides"]] == checks
    if case == "stale":  # priced from its last bar, as overridden
        (ticket,) = [t for t in payload["tickets"] if t["asset"] == scene["stale"]]
        assert ticket["side"] == "BUY_TO_COVER" and ticket["quantity"] == 100


def test_the_kill_switch_blocks_all_orders_and_cannot_be_overridden(
    tmp_path, desk, scene, capsys, monkeypatch
):
    service, run_id = desk
    holdings = write(tmp_path, "h.csv", f"asset,quantity\n{scene['long']},100\n")
    argv = book_argv(service, run_id, scene["files"]["clean"], holdings, "--json")
    kill = service.root / "KILL"
    kill.write_text("halted by risk: desk review pending\nsecond line\n")
    assert main(argv) == 2
    line = refused(capsys)
    assert f"kill_switch: {kill} exists: halted by risk: desk review pending" in line
    assert "override:" not in line
    assert main([*argv, "--override", "kill_switch"]) == 2
    assert "kill_switch cannot be overridden" in refused(capsys)
    kill.unlink()
    other = tmp_path / "elsewhere" / "STOP"
    monkeypatch.setenv(KILL_ENV, str(other))
    assert main([*argv, "--no-record"]) == 0
    capsys.readouterr()
    other.parent.mkdir()
    other.write_text("")
    assert main(argv) == 2
    assert f"kill_switch: {other} exists: (no reason given)" in refused(capsys)
    assert not DeskService(service.root).ledger_path(run_id).exists()


def test_a_split_in_the_corporate_actions_file_doubles_the_shares_and_adjusts_the_history(
    tmp_path, desk, scene, capsys
):
    service, run_id = desk
    long = scene["long"]
    holdings = write(tmp_path, "h.csv", f"asset,quantity\n{long},100\n")
    actions = write(tmp_path, "ca.csv", f"asset,date,ratio\n{long},{AS_OF},2\n")
    argv = book_argv(service, run_id, scene["files"]["split"], holdings, "--corporate-actions",
                     str(actions), "--json")  # fmt: skip
    assert main(argv) == 0
    payload = last_json(capsys)
    assert payload["overrides"] == []
    (applied,) = payload["corporate_actions"]
    assert applied["asset"] == long and applied["action"] == "split"
    assert (applied["held_before"], applied["held_after"]) == (100, 200)
    (order,) = [o for o in payload["orders"] if o["asset"] == long]
    assert order["current_qty"] == 200
    assert order["reference_price"] == pytest.approx(scene["closes"][long] / 2)
    # the adjusted history gives the clean book's names
    assert [r["asset"] for r in payload["book"]] == scene["book"].rows["asset"].to_list()
    (entry,) = DeskService(service.root).ledger(run_id).entries
    assert entry["pre_trade"]["corporate_actions"][0]["asset"] == long


def test_a_delisting_closes_the_position_without_an_order(tmp_path, desk, scene, capsys):
    service, run_id = desk
    gone = scene["shorts"][1]
    holdings = write(tmp_path, "h.csv", f"asset,quantity\n{gone},-40\n{scene['long']},10\n")
    actions = write(tmp_path, "ca.csv", f"asset,date,ratio\n{gone},{AS_OF},delisted\n")
    argv = book_argv(service, run_id, scene["files"]["clean"], holdings, "--corporate-actions",
                     str(actions), "--json", "--no-record")  # fmt: skip
    assert main(argv) == 0
    payload = last_json(capsys)
    (applied,) = payload["corporate_actions"]
    assert applied["action"] == "delisted" and applied["held_after"] == 0
    assert gone not in {o["asset"] for o in payload["orders"]}
    assert gone not in {r["asset"] for r in payload["book"]}
    assert gone in payload["dropped"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("asset,date\nX,2025-05-29\n", "needs exactly one column 'ratio'"),
        ("asset,date,ratio\nX,2025-05-29,\n", "row 1 (line 2), column 'ratio': blank"),
        ("asset,date,ratio\nX,2025-05-29,two\n", "column 'ratio': 'two' is not a number"),
        ("asset,date,ratio\nX,2025-05-29,-2\n", "'-2' is not a split ratio (positive"),
        ("asset,date,ratio\nX,2025-05-29,1\n", "'1' is not a split ratio"),
        ("asset,date,ratio\nX,2025-05-29,nan\n", "'nan' is not a number"),
        ("asset,date,ratio\nX,2025-05-29,1e9\n", "'1e9' is out of range"),
        ("asset,date,ratio\nX,29/05/2025,2\n", "row 1 (line 2), column 'date': '29/05/2025'"),
        ("asset,date,ratio\n,2025-05-29,2\n", "row 1 (line 2), column 'asset': blank"),
        ("asset,date,ratio\nX,2025-05-29,2,4\n", "row 1 (line 2), column 4: the row has 4"),
        ("asset,date,ratio\nX,2025-05-29,2\nX,2025-05-29,3\n", "a second action for 'X'"),
        ("asset,date,ratio\nX,2025-05-01,delisted\nX,2025-05-29,2\n", "after its delisting"),
        ("", "file is empty"),
    ],
)
def test_bad_corporate_action_files_are_refused_naming_file_row_and_column(tmp_path, text, message):
    path = write(tmp_path, "ca.csv", text)
    with pytest.raises(CorporateActionsError) as err:
        read_actions(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(path) in str(err.value)


def test_a_corporate_actions_file_that_is_not_regular_is_refused_unopened(
    tmp_path, desk, scene, capsys
):
    service, run_id = desk
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    holdings = write(tmp_path, "h.csv", "asset,quantity\n")
    bad = write(tmp_path, "bad.csv", "asset,date,ratio\nX,2025-05-29,0\n")
    for path, message in ((fifo, "not a regular file"), (tmp_path, "not a regular file"),
                          (bad, "row 1 (line 2), column 'ratio'")):  # fmt: skip
        argv = book_argv(service, run_id, scene["files"]["clean"], holdings,
                         "--corporate-actions", str(path))  # fmt: skip
        assert main(argv) == 2
        assert message in refused(capsys)
    assert not DeskService(service.root).ledger_path(run_id).exists()
    assert [a.ratio for a in read_actions(b"asset,date,ratio\nX,2025-05-29,0.5\n")] == [0.5]


def test_orders_crossing_zero_are_split_into_two_with_short_sale_marking():
    cases = {  # current, target -> legs
        "LONG_TO_SHORT": (100.0, -50.0, [("SELL", 100.0), ("SELL_SHORT", 50.0)]),
        "SHORT_TO_LONG": (-30.0, 20.0, [("BUY_TO_COVER", 30.0), ("BUY", 20.0)]),
        "OPEN_LONG": (0.0, 10.0, [("BUY", 10.0)]),
        "REDUCE_LONG": (10.0, 5.0, [("SELL", 5.0)]),
        "CLOSE_LONG": (10.0, 0.0, [("SELL", 10.0)]),
        "OPEN_SHORT": (0.0, -10.0, [("SELL_SHORT", 10.0)]),
        "ADD_SHORT": (-10.0, -20.0, [("SELL_SHORT", 10.0)]),
        "COVER_SOME": (-10.0, -5.0, [("BUY_TO_COVER", 5.0)]),
        "HOLD": (7.0, 7.0, []),
    }
    orders = pl.DataFrame(
        {
            "asset": list(cases),
            "current_qty": [c[0] for c in cases.values()],
            "target_qty": [c[1] for c in cases.values()],
            "reference_price": [10.0] * len(cases),
            "target_weight": [0.0] * len(cases),
            "action": ["x"] * len(cases),
        }
    )
    frame = tickets(orders, "RUN", AS_OF, TicketSettings(account="U1"))
    assert tuple(frame.columns) == TICKET_COLUMNS
    for asset, (_cur, _tgt, legs) in cases.items():
        rows = frame.filter(pl.col("asset") == asset).sort("leg")
        assert list(zip(rows["side"], rows["quantity"], strict=True)) == legs, asset
        assert rows["leg"].to_list() == list(range(1, len(legs) + 1))
    assert frame["client_order_id"].n_unique() == frame.height
    assert set(frame["order_type"]) == {"MOC"} and set(frame["time_in_force"]) == {"DAY"}
    assert frame["limit_price"].null_count() == frame.height
    ids = frame.filter(pl.col("asset") == "LONG_TO_SHORT")["client_order_id"].to_list()
    assert ids == [client_order_id("RUN", AS_OF, "U1", "LONG_TO_SHORT", s)
                   for s in ("SELL", "SELL_SHORT")]  # fmt: skip


def test_limit_on_close_prices_sit_the_offset_through_the_close():
    assert limit_price(100.0, "BUY", 50) == 100.5
    assert limit_price(100.0, "SELL_SHORT", 50) == 99.5
    assert limit_price(24.18355, "BUY_TO_COVER", 50) == 24.31  # up to the cent to buy
    assert limit_price(13.604614, "SELL", 50) == 13.53  # down to the cent to sell
    assert limit_price(0.9034, "SELL", 50) == 0.8988  # a hundredth of a cent below 1


def test_client_order_ids_are_unique_and_stable_across_re_runs(tmp_path, desk, scene, capsys):
    service, run_id = desk
    text = f"asset,quantity\n{scene['long']},100\n{scene['longs'][1]},-20\n"
    holdings = write(tmp_path, "h.csv", text)
    files = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        argv = book_argv(service, run_id, scene["files"]["clean"], holdings, "--out", str(out),
                         "--account", "U1234567", "--json")  # fmt: skip
        assert main(argv) == 0
        capsys.readouterr()
        files.append((out / f"orders_{AS_OF}.csv").read_bytes())
    assert files[0] == files[1]
    ids = pl.read_csv(files[0])["client_order_id"]
    assert ids.n_unique() == ids.len() > 0
    assert all(i.startswith("AL-20250529-") for i in ids)
    flipped = pl.read_csv(files[0]).filter(pl.col("asset") == scene["longs"][1])
    assert flipped["side"].to_list() == ["BUY_TO_COVER", "BUY"]


def test_the_ibkr_basket_has_the_documented_columns(tmp_path, desk, scene, capsys):
    service, run_id = desk
    holdings = write(tmp_path, "h.csv", f"asset,quantity\n{scene['long']},-100\n")
    out = tmp_path / "out"
    base = book_argv(service, run_id, scene["files"]["clean"], holdings, "--out", str(out),
                     "--no-record", "--json")  # fmt: skip
    assert main([*base, "--format", "ibkr-basket", "--order-type", "loc", "--account", "U77"]) == 0
    payload = last_json(capsys)
    basket = pl.read_csv(out / f"orders_{AS_OF}.csv", infer_schema=False)
    assert tuple(basket.columns) == (
        "Action", "Quantity", "Symbol", "SecType", "Exchange", "Currency", "TimeInForce",
        "OrderType", "LmtPrice", "Account", "OrderRef",
    )  # fmt: skip
    assert basket.columns == list(ibkr_columns(TicketSettings(order_type="loc", account="U7")))
    tickets_ = pl.DataFrame(payload["tickets"])
    assert basket["OrderRef"].to_list() == tickets_["client_order_id"].to_list()
    assert set(basket["Action"]) <= {"BUY", "SELL"}
    assert set(basket["SecType"]) == {"STK"} and set(basket["OrderType"]) == {"LOC"}
    assert set(basket["TimeInForce"]) == {"DAY"} and set(basket["Account"]) == {"U77"}
    assert all(q.isdigit() for q in basket["Quantity"])
    for row, t in zip(basket.iter_rows(named=True), payload["tickets"], strict=True):
        assert float(row["LmtPrice"]) == pytest.approx(t["limit_price"])
        assert row["Action"] == ("BUY" if t["side"] in ("BUY", "BUY_TO_COVER") else "SELL")
        buy = t["side"] in ("BUY", "BUY_TO_COVER")
        assert (t["limit_price"] > t["reference_price"]) == buy
    # market on close without an account: no limit price, no account column
    assert main([*base, "--format", "ibkr-basket"]) == 0
    capsys.readouterr()
    plain_basket = pl.read_csv(out / f"orders_{AS_OF}.csv", infer_schema=False)
    assert plain_basket.columns == ["Action", "Quantity", "Symbol", "SecType", "Exchange",
                                    "Currency", "TimeInForce", "OrderType", "OrderRef"]  # fmt: skip
    assert set(plain_basket["OrderType"]) == {"MOC"}


def test_a_recorded_book_traded_with_an_override_is_appended_as_overridden(
    tmp_path, desk, scene, capsys
):
    service, run_id = desk
    holdings = write(tmp_path, "h.csv", f"asset,quantity\n{scene['long']},100\n")
    data = scene["files"]["clean"]
    plain_book = ["book", "--run", run_id, "--data", str(data), "--artifacts",
                  str(service.root), "--as-of", str(AS_OF), "--json"]  # fmt: skip
    assert main(plain_book) == 0 and last_json(capsys)["status"] == "appended"
    argv = book_argv(service, run_id, data, holdings, "--json", capital="1e9")
    assert main(argv) == 2
    assert "participation:" in refused(capsys)
    assert main([*argv, "--override", "participation"]) == 0
    assert last_json(capsys)["status"] == "overridden"
    assert main([*argv, "--override", "participation"]) == 0
    assert last_json(capsys)["status"] == "unchanged"
    entries = DeskService(service.root).ledger(run_id).entries
    assert [e["status"] for e in entries] == ["appended", "overridden"]
    assert entries[1]["pre_trade"]["overrides"][0]["check"] == "participation"


def test_check_thresholds_are_declared_settings_and_unknown_overrides_are_refused(
    tmp_path, desk, scene, capsys
):
    assert CheckSettings().max_move == 0.25 and CheckSettings().max_participation == 0.10
    with pytest.raises(ValueError, match="max_move"):
        CheckSettings(max_move=-1.0)
    assert split_hint(0.5, 0.05) == "suspected 2:1 split or bad tick"
    assert split_hint(1 / 3, 0.05) == "suspected 3:1 split or bad tick"
    assert split_hint(2.02, 0.05) == "suspected 1:2 reverse split or bad tick"
    assert split_hint(0.101, 0.05) == "suspected 10:1 split or bad tick"
    assert split_hint(1.6, 0.05) == "bad tick or a missed corporate action?"
    service, run_id = desk
    holdings = write(tmp_path, "h.csv", f"asset,quantity\n{scene['long']},100\n")
    base = book_argv(service, run_id, scene["files"]["clean"], holdings)
    assert main([*base, "--override", "gross,typo"]) == 2
    assert "unknown pre-trade checks to override: ['typo']" in refused(capsys)
    assert main([*base, "--check", "max_participation=0.00001"]) == 2
    assert "participation:" in refused(capsys)
    assert main([*base, "--check", "nope=1"]) == 2
    assert "--check 'nope=1'" in refused(capsys)
    assert not DeskService(service.root).ledger_path(run_id).exists()


def test_participation_needs_volume_and_a_name_without_traded_value_is_refused():
    from alpha_core.desk.checks import check_participation, market_facts

    days = [date(2025, 1, d) for d in (2, 3, 6)]
    panel = pl.DataFrame(
        {
            "date": days * 2,
            "asset": ["A"] * 3 + ["B"] * 3,
            "close": [10.0, 10.0, 10.0, 5.0, 5.0, 5.0],
            "volume": [100.0, 100.0, 100.0, 0.0, 0.0, 0.0],
        }
    )
    orders = pl.DataFrame({"asset": ["A", "B"], "order_qty": [20.0, 1.0], "notional": [200.0, 5.0]})
    settings = CheckSettings(adv_days=2)
    (failure,) = check_participation(orders, market_facts(panel, days[-1], ["A", "B"], 2),
                                     settings)  # fmt: skip
    assert failure.check == "participation" and failure.assets == ("A", "B")
    assert "A: order 200 is 20.0% of its mean daily traded value 1,000 (2 bars)" in failure.reason
    assert "B: order 5 with no traded value in its last 2 bars" in failure.reason
    no_volume = panel.drop("volume")
    assert check_participation(orders, market_facts(no_volume, days[-1], ["A", "B"], 2),
                               settings) == []  # fmt: skip


def test_no_orders_give_an_empty_broker_file_and_a_flat_summary():
    from alpha_core.desk.tickets import ibkr_basket, orders_file, summary

    orders = pl.DataFrame(
        {"asset": ["A"], "current_qty": [5.0], "target_qty": [5.0], "reference_price": [2.0],
         "target_weight": [0.1], "action": ["hold"]}
    )  # fmt: skip
    frame = tickets(orders, "RUN", AS_OF)
    assert frame.height == 0 and tuple(frame.columns) == TICKET_COLUMNS
    assert orders_file(frame, "generic").strip() == ",".join(TICKET_COLUMNS)
    assert ibkr_basket(frame).height == 0
    s = summary(orders, frame, 100.0)
    assert (s["n_orders"], s["traded"], s["gross"], s["cash"]) == (0, 0.0, 10.0, 90.0)
