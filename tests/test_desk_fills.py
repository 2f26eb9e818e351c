"""Execution as it happens (issue 19): every book states its execution convention; fills
assumed at the convention's price equal the next bar's close; the live record from
positions and fills equals a hand computation; imported fills files are untrusted input."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import json
import os
from datetime import date

import polars as pl
import pytest
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
)

from alpha_core.cli.main import main
from alpha_core.desk import book as book_stage
from alpha_core.desk.execution import execution
from alpha_core.desk.fills import FILLS_FILE, FillsError, read_fills
from alpha_core.desk.service import DeskService

AS_OF = date(2025, 5, 28)
CAPITAL = "100000"  # at 1e6 the demo's participation check refuses some names


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture
def desk(tmp_path, desk_registry):
    service = fresh_copy(*desk_registry, tmp_path / "runs")
    return DeskService(service.root), desk_registry[1]


def close_of(panel: pl.DataFrame, day: date, asset: str, price: str = "close") -> float:
    return panel.filter(pl.col("date") == day, pl.col("asset") == asset)[price].item()


def test_every_book_states_its_execution_convention(tmp_path, desk, continued_panel, capsys):
    service, run_id = desk
    expected = {"label": "close_to_close", "decide": "close", "fill": "next close"}
    text = f"decided at the close of {AS_OF}; filled at the next session's close " \
           "(label close_to_close)"  # fmt: skip
    book = service.book(run_id, continued_panel, as_of=AS_OF, record=False)
    assert book.execution.price == "close" and book.summary()["execution"] == expected
    assert book.execution_text == text
    argv = ["book", "--run", run_id, "--data", CONTINUED, "--artifacts", str(service.root),
            "--as-of", str(AS_OF)]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    payload = last_json(capsys)
    assert payload["execution"] == expected and payload["execution_text"] == text
    (entry,) = service.ledger(run_id).entries  # the ledger line states it too
    assert entry["execution"] == expected
    assert main(argv) == 0
    assert f"  execution: {text}" in capsys.readouterr().out.splitlines()
    # open_to_open: filled at the next open
    config = service.run_config(run_id).replace(label="open_to_open")
    opened = book_stage.make_book(config, service.desk_models(run_id), continued_panel, AS_OF)
    assert opened.summary()["execution"]["fill"] == "next open"
    assert "filled at the next session's open (label open_to_open)" in opened.execution_text
    assert execution("open_to_open").price == "open"
    assert execution("close_to_close").price == "close"


def test_assumed_fills_are_the_next_bars_close_and_not_repeated(
    tmp_path, desk, continued_panel, capsys
):
    service, run_id = desk
    holdings = tmp_path / "flat.csv"
    holdings.write_text("asset,quantity\n")
    base = ["--run", run_id, "--artifacts", str(service.root)]
    for day in (AS_OF, date(2025, 5, 30)):  # the last book's fill bar is not in the data yet
        assert main(["book", *base, "--data", CONTINUED, "--as-of", str(day), "--holdings",
                     str(holdings), "--capital", CAPITAL, "--json"]) == 0  # fmt: skip
    capsys.readouterr()
    entries = {e["as_of"]: e for e in service.ledger(run_id).entries}
    sent = {o["asset"]: o["quantity"] for o in entries[str(AS_OF)]["pre_trade"]["sent"]}
    assert sent and all(q != 0 for q in sent.values())
    assert main(["fills", *base, "--assume", "--data", CONTINUED, "--json"]) == 0
    payload = last_json(capsys)
    assert payload["added"] == len(sent) and payload["already"] == 0
    assert {p["as_of"] for p in payload["pending"]} == {"2025-05-30"}
    stored = service.fills(run_id)
    assert not stored.skipped and len(stored.fills) == len(sent)
    next_day = date(2025, 5, 29)
    for fill in stored.fills:
        assert fill.day == next_day and fill.as_of == AS_OF and fill.source == "assumed"
        assert fill.quantity == sent[fill.asset]
        assert fill.price == close_of(continued_panel, next_day, fill.asset)
    assert main(["fills", *base, "--assume", "--data", CONTINUED, "--json"]) == 0
    again = last_json(capsys)
    assert again["added"] == 0 and again["already"] == len(sent)
    assert len(service.fills(run_id).fills) == len(sent)
    # the monitor reports the record from fills beside the paper one, and says which is which
    assert main(["monitor", *base, "--data", CONTINUED, "--json"]) == 0
    report = last_json(capsys)
    assert report["record"].startswith("paper:")
    assert report["positions"]["n_fills"] == len(sent) and report["positions"]["days"] == 2
    assert main(["monitor", *base, "--data", CONTINUED]) == 0
    out = capsys.readouterr().out
    assert "Paper record of" in out and "Live record from fills and positions: 2 days" in out


def test_pnl_from_positions_equals_a_hand_computation_over_three_days(
    tmp_path, desk, continued_panel
):
    service, run_id = desk
    cost_bps = service.run_config(run_id).cost_bps
    assert cost_bps > 0
    d1, d2, d3 = date(2025, 5, 27), date(2025, 5, 28), date(2025, 5, 29)
    a, b = "QNTX", "HRBK"
    c = {(d, x): close_of(continued_panel, d, x) for d in (d1, d2, d3) for x in (a, b)}
    off = c[(d3, a)] * 1.01  # a fill away from the close
    trades = [(d1, a, 100.0, c[(d1, a)]), (d1, b, -40.0, c[(d1, b)]),
              (d2, a, -30.0, c[(d2, a)]), (d3, b, 40.0, off)]  # fmt: skip
    csv = "date,asset,quantity,price\n" + "".join(f"{d},{x},{q},{p!r}\n" for d, x, q, p in trades)
    path = tmp_path / "fills.csv"
    path.write_text(csv)
    assert service.import_fills(run_id, read_fills(path)) == (4, 0)
    assert service.import_fills(run_id, read_fills(path)) == (0, 4)  # the same file: no-op
    record = service.live_record(run_id, continued_panel)
    # by hand: yesterday's positions x today's price change, the day's fills against the
    # day's close, minus cost_bps per unit of traded notional
    held = {a: 0.0, b: 0.0}
    prev = {}
    expected = []
    for day in (d1, d2, d3, date(2025, 5, 30)):
        close = {x: close_of(continued_panel, day, x) for x in (a, b)}
        pnl = sum(held[x] * (close[x] - prev[x]) for x in held if x in prev)
        for d, x, q, p in trades:
            if d == day:
                pnl += q * (close[x] - p) - cost_bps / 1e4 * abs(q) * p
                held[x] += q
        expected.append(pnl)
        prev = close
    daily = record.daily
    assert daily["date"].to_list() == [d1, d2, d3, date(2025, 5, 30)]
    assert daily["pnl_net"].to_list() == pytest.approx(expected, rel=1e-12, abs=1e-9)
    costs = [cost_bps / 1e4 * (100 * c[(d1, a)] + 40 * c[(d1, b)]),
             cost_bps / 1e4 * 30 * c[(d2, a)], cost_bps / 1e4 * 40 * off, 0.0]  # fmt: skip
    assert daily["costs"].to_list() == pytest.approx(costs, rel=1e-12)
    assert daily["cumulative"][-1] == pytest.approx(sum(expected), rel=1e-12)
    last = {x: close_of(continued_panel, date(2025, 5, 30), x) for x in (a, b)}
    assert daily["gross"][-1] == pytest.approx(70 * last[a])  # b is flat again
    assert daily["net"][-1] == pytest.approx(70 * last[a])
    cash = -sum(q * p for _, _, q, p in trades) - sum(costs)
    assert daily["cash"][-1] == pytest.approx(cash, rel=1e-12)
    assert dict(record.positions.select("asset", "quantity").iter_rows()) == {a: 70.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"date,asset,quantity,price\n2025-05-29,QNTX,10,nan\n",
         "row 1 (line 2), column 'price': 'nan' is not a finite number"),
        (b"date,asset,quantity,price\n2025-05-29,QNTX,10,5\n29/05/2025,QNTX,10,5\n",
         "row 2 (line 3), column 'date': '29/05/2025' is not YYYY-MM-DD"),
        (b"date,asset,side,quantity,price\n2025-05-29,QNTX,HOLD,10,5\n",
         "row 1 (line 2), column 'side': 'hold' is not one of BUY, SELL"),
        (b"date,asset,side,quantity,price\n2025-05-29,QNTX,BUY,-10,5\n",
         "row 1 (line 2), column 'quantity': '-10' must be positive"),
        (b"date,asset,quantity,price\n2025-05-29,QNTX,0,5\n",
         "row 1 (line 2), column 'quantity': a fill of zero units"),
        (b"date,asset,quantity,price\n2025-05-29,,10,5\n", "row 1 (line 2), column 'asset': blank"),
        (b"date,asset,quantity,price\n2025-05-29,QNTX,\"1,000\",5\n",
         "row 1 (line 2), column 'quantity': '1,000' is not a number"),
        (b"date,asset,quantity,price\n2025-05-29,QNTX,10,5,7\n",
         "row 1 (line 2), column 5: the row has 5 fields, the header 4"),
        (b"date,asset,quantity,price,commission\n2025-05-29,QNTX,10,5,-1\n",
         "row 1 (line 2), column 'commission': must not be negative"),
        (b"date,asset,quantity\n2025-05-29,QNTX,10\n", "(missing: price)"),
        (b"", "file is empty"),
        (b"\x00\xff" * 8, "binary content"),
    ],
)  # fmt: skip
def test_bad_fills_files_are_refused_with_one_line_and_nothing_written(
    tmp_path, desk, capsys, text, message
):
    service, run_id = desk
    path = tmp_path / "bad.csv"
    path.write_bytes(text)
    with pytest.raises(FillsError, match=None) as caught:
        read_fills(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert main(["fills", "--run", run_id, "--artifacts", str(service.root), str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("alpha: error: ") and message in err[0]
    assert not (service.ledger_path(run_id).parent / FILLS_FILE).exists()


def test_fills_that_are_not_regular_files_are_refused_unopened(tmp_path, desk, capsys):
    service, run_id = desk
    fifo = tmp_path / "fills.fifo"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        assert main(["fills", "--run", run_id, "--artifacts", str(service.root), str(path)]) == 2
        assert "not a regular file" in capsys.readouterr().err
    assert main(["fills", "--run", run_id, "--artifacts", str(service.root)]) == 2
    assert "give a fills FILE or --assume" in capsys.readouterr().err


def test_sides_give_the_sign_and_a_commission_replaces_the_model_cost(tmp_path):
    path = tmp_path / "broker.csv"
    path.write_text("Date,Asset,Side,Quantity,Price,Commission\n"
                    "2025-05-29,QNTX,SELL_SHORT,10,5,1.5\n2025-05-29,HRBK,buy,3,2,\n")  # fmt: skip
    short, bought = read_fills(path)
    assert (short.quantity, short.commission) == (-10.0, 1.5)
    assert (bought.quantity, bought.commission) == (3.0, None)
    assert short.key != bought.key and short.source == "imported:broker.csv"


def test_fills_follow_the_ledger_when_the_lineages_first_run_is_deleted(tmp_path, desk):
    import shutil

    from test_hardening import set_lineage

    from alpha_core.runs import registry

    assert registry.FILLS_FILE == FILLS_FILE
    service, first = desk
    root = service.root
    shutil.copytree(root / first, root / "child")
    set_lineage(root, "child", {"parent": first, "first": first})
    path = tmp_path / "fills.csv"
    path.write_text("date,asset,quantity,price\n2025-05-29,QNTX,10,5\n")
    assert service.import_fills("child", read_fills(path)) == (1, 0)  # stored with the first
    before = (root / first / FILLS_FILE).read_bytes()
    service.runs.delete(first)
    assert (root / "child" / FILLS_FILE).read_bytes() == before
    assert [f.asset for f in service.fills("child").fills] == ["QNTX"]
    with pytest.raises(registry.DeleteRefused, match="holds its lineage's ledger"):
        service.runs.delete("child")  # fills alone are kept like a ledger: no heir, refused
    assert (root / "child" / FILLS_FILE).read_bytes() == before
