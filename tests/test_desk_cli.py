"""``alpha book`` / ``alpha retrain`` from the shell: the --json object on the last line, the
orders CSV written with --out, refusals as one line on stderr with exit code 2."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import json
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
from alpha_core.desk.orders import ORDER_COLUMNS
from alpha_core.desk.service import DeskService


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
    assert tuple(written.columns) == ORDER_COLUMNS and written.height == len(payload["orders"])
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
