"""AppTest of the Desk page: the book shown is the engine's, pasted holdings give the
engine's orders, the record button appends to the ledger, the monitor panels render."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
)

from alpha_ui.text import plain

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from alpha_core.desk.orders import make_orders, read_holdings  # noqa: E402
from alpha_core.desk.service import DeskService  # noqa: E402

PAGE = "pages/7_Desk.py"


@pytest.fixture
def desk_app(tmp_path, desk_registry, monkeypatch):
    service, run_id = fresh_copy(*desk_registry, tmp_path), desk_registry[1]
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(service.root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(PAGE)
    at.session_state["run_id"] = run_id
    return at, service, run_id


def frames(at: AppTest, column: str) -> list:
    """The shown tables having ``column`` (display tables carry no key in AppTest)."""
    return [d.value for d in at.dataframe if column in d.value.columns]


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_desk_page_book_orders_ledger(desk_app, continued_panel):
    at, service, run_id = desk_app
    at.run()
    no_errors(at)
    at.text_input(key=f"desk_data_{run_id}").set_value(CONTINUED)
    at.date_input(key=f"desk_as_of_{run_id}").set_value(date(2025, 5, 30))
    at.run()
    no_errors(at)
    book = DeskService(service.root).book(run_id, continued_panel, record=False)
    shown_long = frames(at, "rank")[0]
    expected = book.rows.filter(pl.col("side") == "long")
    assert shown_long["asset"].tolist() == expected["asset"].to_list()
    assert shown_long["weight"].tolist() == pytest.approx(expected["weight"].to_list())
    execution = f"Execution: {plain(book.execution_text)}."  # the convention is stated
    assert any(execution == c.value for c in at.caption)

    holdings = "asset,quantity\nQNTX,100\nHRBK,-50\n"
    at.text_area(key="desk_holdings").set_value(holdings)
    at.run()  # at 1e6 the demo's currencies (~$400k traded a day) fail the participation check
    assert any(plain("participation: AUDX") in e.value and "NZDX" in e.value for e in at.error)
    assert not frames(at, "target_qty")
    at.number_input(key="desk_capital").set_value(100_000.0)
    at.run()
    no_errors(at)
    orders = make_orders(
        book.rows,
        read_holdings(holdings.encode()),
        DeskService.prices(continued_panel, book.as_of),
        100_000.0,
    )  # fmt: skip
    sent = orders.filter(pl.col("order_qty") != 0)
    shown = frames(at, "target_qty")[0]
    assert shown["asset"].tolist() == sent["asset"].to_list()
    assert shown["target_qty"].tolist() == sent["target_qty"].to_list()
    tickets = frames(at, "client_order_id")[0]
    assert set(tickets["side"]) <= {"BUY", "SELL", "SELL_SHORT", "BUY_TO_COVER"}
    assert any(plain("Orders: ") in c.value and "turnover" in c.value for c in at.caption)

    assert frames(at, "as_of")[0].empty
    at.button(key="desk_record").click().run()
    no_errors(at)
    done = f"Ledger: appended ({plain('2025-05-30')})"  # user-facing values are escaped
    assert any(done in s.value for s in at.success)
    entries = DeskService(service.root).ledger(run_id).entries
    assert [e["as_of"] for e in entries] == ["2025-05-30"]
    assert entries[0]["pre_trade"]["overrides"] == []
    assert frames(at, "as_of")[0]["as_of"].tolist() == ["2025-05-30"]
    assert not frames(at, "psi")[0].empty


def test_desk_page_refusal_is_shown(desk_app):
    at, _service, run_id = desk_app
    at.run()
    at.date_input(key=f"desk_as_of_{run_id}").set_value(date(2024, 9, 2))
    at.run()
    assert not at.exception
    assert any("on or before the training end" in e.value for e in at.error)


def test_desk_page_refuses_hostile_pasted_holdings_in_one_line(desk_app):
    at, service, run_id = desk_app
    at.run()
    for pasted, message in (
        ("asset,quantity\nQNTX,\n", "pasted holdings: row 1 (line 2), column 'quantity': blank"),
        ("asset,quantity\nQNTX,nan\n", "column 'quantity': 'nan' is not a finite number"),
        ('asset,quantity\nQNTX,"1,000"\n', "'1,000' has a thousands separator"),
    ):
        at.text_area(key="desk_holdings").set_value(pasted)
        at.run()
        assert not at.exception
        assert any(plain(message) in e.value for e in at.error), [e.value for e in at.error]
        assert not frames(at, "target_qty")
    assert not DeskService(service.root).ledger_path(run_id).exists()


def test_desk_page_pre_trade_refusal_override_and_kill_switch(desk_app):
    at, service, run_id = desk_app
    at.run()
    at.text_input(key=f"desk_data_{run_id}").set_value(CONTINUED)
    at.date_input(key=f"desk_as_of_{run_id}").set_value(date(2025, 5, 30))
    at.run()
    at.text_area(key="desk_holdings").set_value("asset,quantity\nQNTX,100\n")
    at.run()
    assert any(plain("participation: ") in e.value for e in at.error)
    at.button(key="desk_record").click().run()  # refused orders: nothing recorded
    assert any("Nothing recorded" in e.value for e in at.error)
    assert not DeskService(service.root).ledger_path(run_id).exists()
    at.multiselect(key="desk_overrides").set_value(["participation"])
    at.run()
    no_errors(at)
    overridden = plain("overridden pre-trade checks: participation")
    assert any(overridden in w.value for w in at.warning)
    at.button(key="desk_record").click().run()
    no_errors(at)
    (entry,) = DeskService(service.root).ledger(run_id).entries
    assert entry["pre_trade"]["overrides"][0]["check"] == "participation"
    (service.root / "KILL").write_text("desk halted")
    at.run()
    assert any(plain("kill_switch: ") in e.value and "desk halted" in e.value for e in at.error)
    assert not frames(at, "target_qty")
