"""``alpha book`` / ``alpha retrain`` from the shell: the --json object on the last line, the
orders CSV written with --out, refusals as one line on stderr with exit code 2."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import json
import os
from datetime import date

import polars as pl
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
)

from alpha_core.cli.main import main
from alpha_core.desk.service import DeskService
from alpha_core.desk.tickets import TICKET_COLUMNS


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_book_json_orders_and_out(tmp_path, desk_registry, continued_panel, capsys):
    service, run_id = fresh_copy(*desk_registry, tmp_path / "runs"), desk_registry[1]
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("asset,quantity\nQNTX,100\nHRBK,-50\n")
    out = tmp_path / "out"
    argv = ["book", "--run", run_id, "--data", CONTINUED, "--artifacts", str(service.root),
            "--as-of", "2025-05-29", "--holdings", str(holdings), "--capital", "1000000",
            "--lot-size", "10", "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    payload = last_json(capsys)
    book = DeskService(service.root).book(
        run_id, continued_panel, as_of=date(2025, 5, 29), record=False
    )
    for key in ("n_long", "n_short", "model_sha256", "data_fingerprint", "config_hash"):
        assert payload[key] == book.summary()[key]
    assert payload["as_of"] == "2025-05-29" and payload["status"] == "appended"
    assert [r["asset"] for r in payload["book"]] == book.rows["asset"].to_list()
    orders = {o["asset"]: o for o in payload["orders"]}
    weights = dict(book.rows.select("asset", "weight").iter_rows())
    for asset, w in weights.items():
        price = continued_panel.filter(
            pl.col("date") == date(2025, 5, 29), pl.col("asset") == asset
        )
        ideal = w * 1_000_000 / price["close"].item()
        held = {"QNTX": 100, "HRBK": -50}.get(asset, 0)
        target = orders[asset]["target_qty"] if asset in orders else held
        assert abs(target - ideal) <= 5 + 1e-9
    closed = [a for a in ("QNTX", "HRBK") if a not in weights]
    assert sorted(payload["close"]) == sorted(closed)
    written = pl.read_csv(out / "orders_2025-05-29.csv")
    assert tuple(written.columns) == TICKET_COLUMNS and written.height == len(payload["tickets"])
    # one broker order per asset unless it crosses zero (then two: close, then open)
    legs = written.group_by("asset").len()
    assert sorted(legs["asset"].to_list()) == sorted(o["asset"] for o in payload["orders"])
    for row in legs.iter_rows(named=True):
        assert row["len"] == (2 if orders[row["asset"]]["action"] == "flip" else 1)
    assert set(written["side"]) <= {"BUY", "SELL", "SELL_SHORT", "BUY_TO_COVER"}
    assert payload["overrides"] == [] and "participation" in payload["checks"]
    assert (out / "orders_summary_2025-05-29.json").exists()
    assert pl.read_csv(out / "book_2025-05-29.csv")["asset"].to_list() == list(weights)
    # the same inputs again: no new ledger line
    assert main(argv) == 0 and last_json(capsys)["status"] == "unchanged"
    assert len(DeskService(service.root).ledger(run_id).entries) == 1


def test_book_refusals_exit_2_with_one_line(tmp_path, desk_registry, capsys):
    service, run_id = fresh_copy(*desk_registry, tmp_path), desk_registry[1]
    base = ["book", "--run", run_id, "--artifacts", str(service.root)]
    cases = [
        (["--data", "demo", "--as-of", "2024-09-02"], "on or before the training end"),
        (["--data", CONTINUED, "--today", "2025-06-09"], "business days before 2025-06-09"),
        (["--data", "demo:2025-13-01"], "not a demo source"),
        (["--data", CONTINUED, "--capital", "10"], "--holdings and --capital go together"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("alpha: error: ") and message in err[0]
    assert not DeskService(service.root).ledger_path(run_id).exists()


def test_retrain_cli_every_monthly(tmp_path, desk_registry, capsys):
    service, run_id = fresh_copy(*desk_registry, tmp_path), desk_registry[1]
    base = ["retrain", "--run", run_id, "--artifacts", str(service.root), "--json", "--no-explain"]
    assert main([*base, "--data", "demo", "--every", "monthly"]) == 0
    assert last_json(capsys)["run_id"] is None
    assert main([*base, "--data", CONTINUED, "--every", "monthly"]) == 0
    child = last_json(capsys)["run_id"]
    assert DeskService(service.root).lineage(run_id) == [run_id, child]
    assert main([*base, "--data", CONTINUED, "--every", "monthly"]) == 0
    assert last_json(capsys)["run_id"] is None  # the child has seen May already


def test_book_refuses_hostile_holdings_and_flags_before_writing_anything(
    tmp_path, desk_registry, capsys
):
    service, run_id = fresh_copy(*desk_registry, tmp_path / "runs"), desk_registry[1]
    fifo = tmp_path / "holdings.fifo"
    os.mkfifo(fifo)  # never written to: opening it for reading would block
    files = {
        "nan.csv": b"asset,quantity\nQNTX,100\nHRBK,nan\n",
        "blank.csv": b"asset,quantity\nQNTX,\n",
        "binary.csv": b"\x00\xff\xfe\x00" * 8,
        "thousands.csv": b'asset,quantity\nQNTX,"1,000"\n',
        "empty.csv": b"",
        "unpriced.csv": b"asset,quantity\nNOT_TRADED,10\n",  # fails after the book is made
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    good = tmp_path / "good.csv"
    good.write_text("asset,quantity\nQNTX,100\n")
    out = tmp_path / "out"
    base = ["book", "--run", run_id, "--data", CONTINUED, "--artifacts", str(service.root),
            "--out", str(out)]  # fmt: skip
    cases = [
        (["--holdings", str(fifo), "--capital", "1e6"], f"{fifo}: not a regular file"),
        (["--holdings", str(tmp_path), "--capital", "1e6"], f"{tmp_path}: not a regular file"),
        (["--holdings", str(tmp_path / "nan.csv"), "--capital", "1e6"],
         "nan.csv: row 2 (line 3), column 'quantity': 'nan' is not a finite number"),
        (["--holdings", str(tmp_path / "blank.csv"), "--capital", "1e6"],
         "blank.csv: row 1 (line 2), column 'quantity': blank"),
        (["--holdings", str(tmp_path / "binary.csv"), "--capital", "1e6"],
         "binary.csv: line 1 (the header), column 1: binary content"),
        (["--holdings", str(tmp_path / "thousands.csv"), "--capital", "1e6"],
         "column 'quantity': '1,000' has a thousands separator"),
        (["--holdings", str(tmp_path / "empty.csv"), "--capital", "1e6"],
         "empty.csv: file is empty"),
        (["--holdings", str(tmp_path / "unpriced.csv"), "--capital", "1e6"],
         "no reference price for ['NOT_TRADED']"),
        (["--holdings", str(good), "--capital", "nan"], "capital must be a positive finite number"),
        (["--holdings", str(good), "--capital", "1e308"], "capital must be a positive finite"),
        (["--holdings", str(good), "--capital", "1e6", "--lot-size", "inf"],
         "lot size must be a positive finite number"),
        (["--holdings", str(good), "--capital", "1e6", "--lot-size", "nan"], "lot size must be"),
        (["--holdings", str(good), "--capital", "1e6", "--min-trade", "-5"],
         "minimum trade must be a non-negative finite number"),
    ]  # fmt: skip
    for extra, message in cases:
        assert main([*base, *extra]) == 2, extra
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("alpha: error: "), captured.err
        assert message in err[0], (extra, err[0])
        assert "Traceback" not in captured.err + captured.out
    # nothing half-written: no ledger line, no book or orders file
    assert not DeskService(service.root).ledger_path(run_id).exists()
    assert not out.exists()
    # (1e5: at 1e6 the demo's currencies, ~$400k traded a day, fail the participation check)
    assert main([*base, "--holdings", str(good), "--capital", "1e5", "--json"]) == 0
    assert last_json(capsys)["status"] == "appended" and out.is_dir()
