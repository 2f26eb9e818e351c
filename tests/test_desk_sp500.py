"""The desk on real data (slow): a run on the S&P 500 file trained through 2017-06-30, then
``alpha book`` day by day from 2017-07-03 to 2018-02-07: every book equals the run's own
book for that date, and the live track record from the ledger equals the run's own P&L."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import SP500, needs_sp500
from polars.testing import assert_frame_equal

from alpha_core.cli.main import main
from alpha_core.config import MODEL_PRESETS, RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.desk.service import DeskService
from alpha_core.portfolio.books import BOOK_COLUMNS
from alpha_core.runs.service import RunService

pytestmark = [pytest.mark.slow, needs_sp500]


def test_sp500_parity_ledger_and_monitor(tmp_path, capsys):
    service = RunService(tmp_path)
    panel = load_panel(str(SP500))
    config = RunConfig(
        data=str(SP500),
        train_start=date(2013, 2, 8),
        train_end=date(2017, 6, 30),
        test_start=date(2017, 7, 3),
        test_end=date(2018, 2, 7),
        model=MODEL_PRESETS["fast"].params,
        cost_bps=5.0,
        name="sp500 desk",
        on_bad_bars="drop",  # the file has 23 bad bars (alpha_core/research/contract.py)
    )
    result = service.train_and_save(config, panel, explain=False)
    days = result.books["date"].unique().sort().to_list()
    assert (days[0], days[-1], len(days)) == (date(2017, 7, 3), date(2018, 2, 7), 152)
    for day in days:
        book = DeskService(service.root).book(result.run_id, panel.filter(pl.col("date") <= day))
        mine = book.rows.select(BOOK_COLUMNS).sort("asset")
        theirs = result.books.filter(pl.col("date") == day).select(BOOK_COLUMNS).sort("asset")
        assert_frame_equal(mine.drop("weight"), theirs.drop("weight"), check_exact=True)
        np.testing.assert_allclose(mine["weight"], theirs["weight"], rtol=0, atol=1e-12)
    assert len(DeskService(service.root).ledger(result.run_id).entries) == 152

    capsys.readouterr()
    argv = ["monitor", "--run", result.run_id, "--data", str(SP500), "--artifacts",
            str(tmp_path), "--json"]  # fmt: skip
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["live_days"] == 151  # the last book has no realised return yet
    report = DeskService(service.root).monitor(result.run_id, panel)
    own = result.daily.filter(pl.col("date").is_in(report.daily["date"].implode()))
    for column in ("long_short", "long_short_net", "turnover"):
        np.testing.assert_allclose(report.daily[column], own[column], rtol=0, atol=1e-12)
    ic = {r["metric"]: r for r in payload["decay"]}["rank_ic"]
    assert ic["live"] == pytest.approx(result.metrics["rank_ic_mean"], abs=1e-12)
    assert {r["feature"] for r in payload["drift"]} >= {"vol_20", "vol_z_20"}

    # the same track record, drift and ledger on the Desk page
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path))
        mp.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
        at = AppTest.from_file(str(root / "app.py"), default_timeout=300)
        at.switch_page("pages/7_Desk.py")
        at.session_state["run_id"] = result.run_id
        at.session_state["source"] = {"data": str(SP500), "metadata": None, "label": "S&P 500"}
        at.run()
    assert not at.exception, [e.value for e in at.exception]

    def table(column: str):  # display tables carry no key in AppTest: find them by column
        (found,) = [d.value for d in at.dataframe if column in d.value.columns]
        return found

    assert len(table("config_hash")) == 152  # the ledger
    shown_ic = table("metric").set_index("metric").loc["rank_ic", "live"]
    assert shown_ic == pytest.approx(ic["live"], abs=1e-12)
    assert {"vol_20", "vol_z_20"} <= set(table("psi")["feature"])
