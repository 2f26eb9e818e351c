"""Every CSV the project writes is safe to open in a spreadsheet (OWASP's CSV injection advice).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'`` (``alpha_core.base.csvsafe``); numbers stay numbers. Checked on each writer:
the books export, the orders CSV, the desk's book CSV, ``predictions.csv``, ``alpha book
--out`` and the Desk page's downloads; and a lint that no other code calls ``write_csv``.
"""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import ast
import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.delta_generator import DeltaGenerator  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from alpha_core.base.csvsafe import (  # noqa: E402
    csv_text,
    neutralise_cell,
    neutralise_csv,
    write_csv_safe,
)
from alpha_core.base.storage import write_atomic  # noqa: E402
from alpha_core.cli.main import main  # noqa: E402
from alpha_core.desk.book import BOOK_ROW_COLUMNS, Book  # noqa: E402
from alpha_core.desk.orders import ORDER_COLUMNS, make_orders, orders_csv  # noqa: E402
from alpha_core.desk.service import DeskService  # noqa: E402
from alpha_core.portfolio.books import EXPORT_COLUMNS, books_csv  # noqa: E402
from alpha_core.runs.service import ON_REQUEST  # noqa: E402

HOSTILE = {
    '=HYPERLINK("http://x","y")': '\'=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(A1)": "'@SUM(A1)",
    "\tx": "'\tx",
    "\ry": "'\ry",
}
"""Ticker -> the cell text a spreadsheet must receive."""
FROM_HOLDINGS = sorted(v if k == k.strip() else k.strip() for k, v in HOSTILE.items())
"""The same, for names read from a holdings file: its reader trims the whitespace around a
name (a tab or carriage return before ``x`` is gone, and ``x`` needs no prefix)."""
NORMAL = "AAPL"
DAY = date(2025, 5, 29)


def read_back(source: str | Path) -> pl.DataFrame:
    """A written CSV read back as text cells (so nothing is parsed into a number)."""
    data = source.encode() if isinstance(source, str) else Path(source).read_bytes()
    return pl.read_csv(data, infer_schema=False)


def assert_assets_neutralised(frame: pl.DataFrame, names: list[str]) -> None:
    cells = frame["asset"].to_list()
    assert sorted(cells) == sorted(HOSTILE.get(n, n) for n in names)


def hostile_book() -> pl.DataFrame:
    """A book of one day: every hostile ticker, short (negative weights), and one normal."""
    names = [*HOSTILE, NORMAL]
    n = len(names)
    return pl.DataFrame(
        {
            "date": [DAY] * n,
            "asset": names,
            "side": ["short"] * (n - 1) + ["long"],
            "weight": [-1.0 / (n - 1)] * (n - 1) + [1.0],
            "prediction": [-0.01 * (i + 1) for i in range(n - 1)] + [0.02],
            "rank": [0.05 * (i + 1) for i in range(n - 1)] + [0.95],
            "sector": ["-Tech"] * (n - 1) + ["Tech"],
        }
    )


# ----------------------------------------------------------------------------- the helper
def test_neutralise_prefixes_formula_cells_and_leaves_numbers_and_plain_text():
    frame = pl.DataFrame(
        {
            "name": [*HOSTILE, NORMAL, None, "a=b", "'=already"],
            "weight": [-0.5, -2.0, 3.0, 0.0, -1e-9, 1.5, None, 2.0, 1.0, -7.0],
            "n": [-1, 2, -3, 4, 5, 6, 7, 8, 9, -10],
        }
    )
    out = neutralise_csv(frame)
    assert out["name"].to_list() == [*HOSTILE.values(), NORMAL, None, "a=b", "'=already"]
    assert out["weight"].equals(frame["weight"]) and out["n"].equals(frame["n"])
    assert out.schema == frame.schema
    # categorical text columns are text too; a formula-like header is neutralised as well
    cat = pl.DataFrame({"-x": ["@a", "b"]}, schema={"-x": pl.Categorical})
    assert neutralise_csv(cat).to_dict(as_series=False) == {"'-x": ["'@a", "b"]}
    assert neutralise_cell("=1") == "'=1" and neutralise_cell("1=") == "1="


def test_csv_text_and_file_read_back_exactly(tmp_path):
    frame = pl.DataFrame({"asset": [*HOSTILE, NORMAL], "weight": [-0.25] * 7})
    back = read_back(csv_text(frame))
    assert back["asset"].to_list() == [*HOSTILE.values(), NORMAL]
    assert back["weight"].to_list() == ["-0.25"] * 7  # a number, written as such
    path = write_csv_safe(frame, tmp_path / "sub" / "x.csv")
    assert read_back(path).equals(back)
    assert [p.name for p in path.parent.iterdir()] == ["x.csv"]  # atomic: no leftovers


# ----------------------------------------------------------------------------- the writers
def test_books_export_neutralises_tickers_and_keeps_negative_weights():
    books = hostile_book()
    for text in (books_csv(books), books_csv(books, DAY)):
        back = read_back(text)
        assert tuple(back.columns) == EXPORT_COLUMNS
        assert_assets_neutralised(back, books["asset"].to_list())
        typed = pl.read_csv(text.encode())
        assert typed["weight"].dtype == pl.Float64
        assert typed["weight"].to_list() == pytest.approx(books["weight"].to_list())
        assert (typed["weight"] < 0).sum() == len(HOSTILE)
    assert read_back(books_csv(books))["asset"].to_list()[-1] == NORMAL


def test_desk_book_csv_neutralises_tickers_and_sectors():
    rows = hostile_book()
    book = Book(DAY, "run", "model.txt", "0" * 64, "fp", "cfg", rows, rows.select("asset"))
    back = read_back(book.csv())
    assert tuple(back.columns) == BOOK_ROW_COLUMNS
    assert back["asset"].to_list() == [*HOSTILE.values(), NORMAL]
    assert set(back["sector"].to_list()) == {"'-Tech", "Tech"}
    assert pl.read_csv(book.csv().encode())["weight"].to_list() == pytest.approx(
        rows["weight"].to_list()
    )


def test_orders_csv_neutralises_tickers_and_keeps_signed_quantities():
    names = [*HOSTILE, NORMAL]
    book = pl.DataFrame({"asset": names, "weight": [-0.1] * len(HOSTILE) + [0.6]})
    prices = pl.DataFrame({"asset": names, "close": [10.0] * len(names)})
    holdings = pl.DataFrame({"asset": [NORMAL], "quantity": [0.0]})
    orders = make_orders(book, holdings, prices, 100_000.0)
    text = orders_csv(orders)
    back = read_back(text)
    assert tuple(back.columns) == ORDER_COLUMNS
    assert_assets_neutralised(back, names)
    typed = pl.read_csv(text.encode())
    assert typed["order_qty"].dtype == pl.Float64
    assert sorted(typed["order_qty"].to_list()) == [-1000.0] * len(HOSTILE) + [6000.0]


def test_predictions_csv_export_is_neutralised(tmp_path):
    predictions = pl.DataFrame(
        {"date": [DAY] * 7, "asset": [*HOSTILE, NORMAL], "prediction": [-0.5] * 7}
    )
    writer = ON_REQUEST["predictions.csv"](SimpleNamespace(predictions=predictions))
    path = write_atomic(tmp_path / "predictions.csv", writer)
    back = read_back(path)
    assert back["asset"].to_list() == [*HOSTILE.values(), NORMAL]
    assert pl.read_csv(path)["prediction"].to_list() == [-0.5] * 7


def hostile_holdings(path: Path) -> Path:
    """Holdings of the hostile names (with a price: they are not in the data), all closed."""
    rows = pl.DataFrame(
        {"asset": list(HOSTILE), "quantity": [100.0] * len(HOSTILE), "price": [10.0] * 6}
    )
    rows.write_csv(path)  # the holdings file as a user would hand it in (not an export)
    return path


def test_cli_book_out_writes_neutralised_orders_and_the_books_csv(
    tmp_path, desk_registry, continued_panel, capsys
):
    service, run_id = fresh_copy(*desk_registry, tmp_path / "runs"), desk_registry[1]
    out = tmp_path / "out"
    argv = ["book", "--run", run_id, "--data", CONTINUED, "--artifacts", str(service.root),
            "--as-of", str(DAY), "--holdings", str(hostile_holdings(tmp_path / "h.csv")),
            "--capital", "1000000", "--out", str(out), "--no-record"]  # fmt: skip
    assert main(argv) == 0
    orders = read_back(out / f"orders_{DAY}.csv")
    closed = orders.filter(pl.col("side") == "SELL")  # the broker file: held longs sold
    assert sorted(closed["asset"].to_list()) == FROM_HOLDINGS
    assert set(closed["quantity"].to_list()) == {"100.0"}  # numbers are not prefixed
    book = DeskService(service.root).book(run_id, continued_panel, as_of=DAY, record=False)
    assert (out / f"book_{DAY}.csv").read_text() == book.csv()


def test_desk_page_downloads_are_neutralised(tmp_path, desk_registry, monkeypatch):
    """The Desk page serves ``Book.csv()`` and ``orders_csv``: hostile held names come out
    prefixed (the download buttons' data is captured as the page passes it)."""
    service, run_id = fresh_copy(*desk_registry, tmp_path / "runs"), desk_registry[1]
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(service.root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    served: dict[str, object] = {}
    original = DeltaGenerator.download_button

    def capture(self, label, data, *args, **kwargs):
        served[kwargs.get("key")] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", capture)
    import streamlit as st

    monkeypatch.setattr(st, "download_button", lambda *a, **k: capture(st._main, *a, **k))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/7_Desk.py")
    at.session_state["run_id"] = run_id
    at.run()
    at.text_input(key=f"desk_data_{run_id}").set_value(CONTINUED)
    at.date_input(key=f"desk_as_of_{run_id}").set_value(DAY)
    at.run()
    (uploader,) = [u for u in at.get("file_uploader") if "holdings" in u.proto.label]
    # an upload keeps the bytes ("\r" included)
    holdings = hostile_holdings(tmp_path / "h.csv").read_bytes()
    uploader.set_value(("holdings.csv", holdings, "text/csv"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    orders = read_back(served["desk_dl_orders"])
    closed = orders.filter(pl.col("side") == "SELL")["asset"].to_list()
    assert sorted(closed) == FROM_HOLDINGS
    book_csv = read_back(served["desk_dl_book"])
    assert tuple(book_csv.columns) == BOOK_ROW_COLUMNS
    assert (pl.read_csv(served["desk_dl_book"].encode())["weight"] < 0).any()


# ----------------------------------------------------------------------------- the lint
SAMPLE_WRITERS = {
    "alpha_core/base/csvsafe.py",  # the one writer
    "alpha_core/data/readers/long_csv.py",  # readers' round-trip samples: input files for
    "alpha_core/data/readers/yahoo.py",  # the conformance suite, read back by the engine
}


def test_no_csv_is_written_outside_the_safe_helper():
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "alpha_ui").glob("*.py")]
    files += (ROOT / "alpha_core").rglob("*.py")
    offenders = []
    for file in files:
        rel = file.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(file.read_text())):
            csv_call = isinstance(node, ast.Attribute) and node.attr in ("write_csv", "to_csv")
            if csv_call and rel not in SAMPLE_WRITERS:
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


DOWNLOAD_SOURCES = {"books_csv", "all_books_csv", "csv", "orders_csv", "csv_text", "file"}
# ``file``: Trade.file, the broker orders file (desk.tickets.orders_file -> csv_text)
"""Calls that give neutralised CSV text (``book.csv()``, ``cache.all_books_csv(...)`` ...)."""


def test_every_csv_download_on_the_pages_comes_from_a_neutralising_call():
    found = 0
    for file in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(file.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "download_button":
                continue
            mime = next((k.value for k in node.keywords if k.arg == "mime"), None)
            if not (isinstance(mime, ast.Constant) and mime.value == "text/csv"):
                continue
            data = node.args[1] if len(node.args) > 1 else None
            data = data or next(k.value for k in node.keywords if k.arg == "data")
            assert isinstance(data, ast.Call), f"{file.name}:{node.lineno}"
            func = data.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name in DOWNLOAD_SOURCES, f"{file.name}:{node.lineno}: {ast.unparse(data)}"
            found += 1
    assert found >= 4  # Books: the day's and every day's book; Desk: the book and the orders
