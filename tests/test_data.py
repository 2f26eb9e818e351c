"""Panel loading and quality checks: every input built here in tmp_path, values by hand."""

from __future__ import annotations

import datetime as dt
import importlib.util
import zipfile
from pathlib import Path

import polars as pl
import pytest
from conftest import SP500, make_panel, needs_sp500

from alpha_core.data import panel as data
from alpha_core.data.panel import (
    PANEL_COLUMNS,
    READERS,
    PanelError,
    SourceTable,
    assets_by_class,
    live_assets,
    load_panel,
    panel_fingerprint,
    read_metadata,
    upload_types,
)
from alpha_core.data.quality import CHECKS, QualityReport, check_quality

D1, D2, D3 = dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)

YAHOO_AAA = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,10.0,11.0,9.0,10.0,5.0,100
2024-01-03,12.0,13.0,11.5,12.5,10.0,200
"""
YAHOO_BBB = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,20,21,19,20,20,300
2024-01-03,null,null,null,null,null,null
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def canonical_schema(df: pl.DataFrame) -> None:
    assert df.columns[:7] == list(PANEL_COLUMNS)
    assert df.schema["date"] == pl.Date and df.schema["asset"] == pl.Utf8
    for c in ("open", "high", "low", "close", "volume"):
        assert df.schema[c] == pl.Float64
    assert df.equals(df.sort("asset", "date", maintain_order=True))


# --------------------------------------------------------------------------- loaders
def test_long_csv_aliases_case_insensitive(tmp_path: Path) -> None:
    src = write(
        tmp_path / "long.csv",
        "TIMESTAMP,Symbol,OPEN,high,Low,CLOSE,Vol,Unused\n"
        "2024-01-03,BBB,1,2,0.5,1.5,10,x\n"
        "2024-01-02,BBB,1,2,0.5,1.0,,x\n"
        "2024-01-02,AAA,3,4,2,3.5,null,x\n",
    )
    df = load_panel(src)
    canonical_schema(df)
    assert df.columns == list(PANEL_COLUMNS)
    assert df.select("asset", "date").rows() == [("AAA", D1), ("BBB", D1), ("BBB", D2)]
    assert df["close"].to_list() == [3.5, 1.0, 1.5]
    assert df["volume"].to_list() == [None, None, 10.0]


def test_kaggle_name_column_and_us_dates(tmp_path: Path) -> None:
    src = write(
        tmp_path / "k.csv",
        "date,open,high,low,close,volume,Name\n01/02/2024,1,1,1,1,5,XYZ\n01/03/2024,1,1,1,2,5,XYZ\n",
    )
    df = load_panel(str(src))
    assert df["asset"].to_list() == ["XYZ", "XYZ"]
    assert df["date"].to_list() == [D1, D2]


@pytest.mark.parametrize(
    "text", ["2024-01-02", "2024/01/02", "20240102", "02.01.2024", "2024-01-02 00:00:00-05:00"]
)
def test_date_formats(tmp_path: Path, text: str) -> None:
    src = write(tmp_path / "d.csv", f"Date,Ticker,Close\n{text},A,1\n")
    assert load_panel(src)["date"].to_list() == [D1]


def test_long_adj_close_adjusts_ohlc(tmp_path: Path) -> None:
    src = write(
        tmp_path / "adj.csv",
        "date,ticker,open,high,low,close,adj_close,volume\n2024-01-02,A,8,10,6,8,4,100\n",
    )
    row = load_panel(src).row(0, named=True)
    # factor = 4 / 8 = 0.5 applied to open/high/low; close := adj close; volume unchanged
    assert (row["open"], row["high"], row["low"], row["close"], row["volume"]) == (
        4.0,
        5.0,
        3.0,
        4.0,
        100.0,
    )


def test_missing_optional_columns_created_null_and_reported(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", "Date,asset,Close\n2024-01-02,A,1\n2024-01-03,A,1.1\n")
    df = load_panel(src)
    canonical_schema(df)
    assert df.select("open", "high", "low", "volume").null_count().row(0) == (2, 2, 2, 2)
    report = check_quality(df)
    assert report.counts()["missing_column"] == 4
    assert report.counts()["missing_price"] == 0 and report.counts()["missing_volume"] == 0
    assert report.summary_lines() == [
        "4 optional columns with no values (absent from the source or all null): "
        "open, high, low, volume"
    ]


def test_parquet_long(tmp_path: Path) -> None:
    src = tmp_path / "p.parquet"
    pl.DataFrame(
        {
            "Date": [dt.datetime(2024, 1, 3), dt.datetime(2024, 1, 2)],
            "ticker": ["A", "A"],
            "Close": [2, 1],
            "Volume": [5, 6],
        }
    ).write_parquet(src)
    df = load_panel(src)
    canonical_schema(df)
    assert df["date"].to_list() == [D1, D2] and df["close"].to_list() == [1.0, 2.0]


def yahoo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "yahoo"
    folder.mkdir()
    write(folder / "AAA.csv", YAHOO_AAA)
    write(folder / "BBB.csv", YAHOO_BBB)
    write(folder / "notes.txt", "ignored")
    return folder


def test_yahoo_folder_adjustment_by_hand(tmp_path: Path) -> None:
    df = load_panel(yahoo_folder(tmp_path))
    canonical_schema(df)
    aaa = df.filter(pl.col("asset") == "AAA")
    # day 1 factor 5/10 = 0.5, day 2 factor 10/12.5 = 0.8
    assert aaa["open"].to_list() == pytest.approx([5.0, 9.6], rel=1e-12)
    assert aaa["high"].to_list() == pytest.approx([5.5, 10.4], rel=1e-12)
    assert aaa["low"].to_list() == pytest.approx([4.5, 9.2], rel=1e-12)
    assert aaa["close"].to_list() == [5.0, 10.0]
    assert aaa["volume"].to_list() == [100.0, 200.0]
    bbb = df.filter(pl.col("asset") == "BBB")
    assert bbb.row(0) == (D1, "BBB", 20.0, 21.0, 19.0, 20.0, 300.0)
    assert bbb.row(1)[2:] == (None,) * 5  # "null" row kept, reported as missing
    assert check_quality(df).counts()["missing_price"] == 1


def test_zip_of_per_ticker_csvs(tmp_path: Path) -> None:
    folder_panel = load_panel(yahoo_folder(tmp_path))
    src = tmp_path / "up.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("prices/AAA.csv", YAHOO_AAA)
        zf.writestr("prices/BBB.csv", YAHOO_BBB)
        zf.writestr("__MACOSX/prices/._AAA.csv", "junk")
    assert load_panel(src).equals(folder_panel)


def test_zip_of_one_long_csv(tmp_path: Path) -> None:
    src = tmp_path / "long.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("all.csv", "date,symbol,close\n2024-01-02,B,2\n2024-01-02,A,1\n")
    df = load_panel(src)
    assert df.select("asset", "close").rows() == [("A", 1.0), ("B", 2.0)]


def test_metadata_join(tmp_path: Path) -> None:
    meta = write(
        tmp_path / "meta.csv",
        "Symbol,GICS Sector,Type\nAAA,Tech,equity\nZZZ,Energy,equity\n",
    )
    assert read_metadata(meta).rows() == [("AAA", "Tech", "equity"), ("ZZZ", "Energy", "equity")]
    df = load_panel(yahoo_folder(tmp_path), metadata=meta)
    canonical_schema(df)
    assert df.columns[7:] == ["sector", "asset_class"]
    assert df.select("asset", "sector", "asset_class").unique().sort("asset").rows() == [
        ("AAA", "Tech", "equity"),
        ("BBB", None, None),
    ]
    assert assets_by_class(df).rows() == [("equity", 1), ("unknown", 1)]


def test_metadata_only_sector(tmp_path: Path) -> None:
    meta = write(tmp_path / "m.csv", "ticker,sector\nAAA,Tech\n")
    assert read_metadata(meta).rows() == [("AAA", "Tech", None)]


def test_long_file_keeps_its_metadata_columns(tmp_path: Path) -> None:
    src = write(tmp_path / "l.csv", "date,asset,close,sector\n2024-01-02,A,1,Tech\n")
    df = load_panel(src)
    assert df.row(0, named=True)["sector"] == "Tech" and df["asset_class"].to_list() == [None]


@pytest.mark.skipif(
    importlib.util.find_spec("alpha_core.data.demo") is None,
    reason="alpha_core.data.demo not written yet",
)
def test_demo_source() -> None:
    from alpha_core.data.demo import load_demo

    df = load_panel("demo")
    assert df.equals(load_demo().panel)
    canonical_schema(df)


# --------------------------------------------------------------------------- the readers table
def test_a_format_registered_once_is_loaded_and_offered_for_upload(tmp_path, monkeypatch) -> None:
    def tsv(path: Path) -> list[SourceTable]:
        frame = pl.read_csv(path, separator="\t", infer_schema=False)
        return [SourceTable(str(path), frame)]

    monkeypatch.setitem(READERS, ".tsv", tsv)
    src = write(tmp_path / "p.tsv", "date\tticker\tclose\n2024-01-03\tAAA\t2\n2024-01-02\tAAA\t1\n")
    df = load_panel(src)
    canonical_schema(df)
    assert df.select("date", "asset", "close").rows() == [(D1, "AAA", 1.0), (D2, "AAA", 2.0)]
    assert "tsv" in upload_types()
    assert "unsupported extension" not in str(data.read_tables(src))


def test_upload_types_are_the_file_formats_of_the_readers() -> None:
    assert upload_types() == ["csv", "txt", "parquet", "pq", "zip"]
    assert data.FOLDER in READERS  # folders are read but cannot be uploaded


def test_data_page_uploader_accepts_the_readers_formats(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path / "runs"))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    monkeypatch.setitem(READERS, ".tsv", READERS[".csv"])
    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=120)
    at.switch_page("pages/1_Data.py").run()
    at.radio(key="data_kind").set_value("Upload a file").run()
    assert not at.exception
    prices = next(u for u in at.get("file_uploader") if u.proto.id.endswith("data_upload"))
    assert [t.lstrip(".") for t in prices.proto.type] == upload_types()
    assert "tsv" in upload_types()


# --------------------------------------------------------------------------- structural errors
def test_structural_errors(tmp_path: Path) -> None:
    cases = {
        "file not found": tmp_path / "nope.csv",
        "unsupported extension '.xlsx'": write(tmp_path / "a.xlsx", "x"),
        "file is empty": write(tmp_path / "empty.csv", ""),
        "file has no rows": write(tmp_path / "header.csv", "date,asset,close\n"),
        "no date column": write(tmp_path / "nodate.csv", "asset,close\nA,1\n"),
        "no close column": write(tmp_path / "noclose.csv", "date,asset,open\n2024-01-02,A,1\n"),
        "no asset column": write(tmp_path / "noasset.csv", "date,close\n2024-01-02,1\n"),
        "unparsable dates": write(
            tmp_path / "baddate.csv", "date,asset,close\n2024-01-02,A,1\nsoon,A,2\n"
        ),
        "cannot parse Parquet": write(tmp_path / "bad.parquet", "not parquet"),
        "not a readable zip": write(tmp_path / "bad.zip", "not a zip"),
    }
    for message, path in cases.items():
        with pytest.raises(PanelError, match=message) as info:
            load_panel(path)
        assert path.name in str(info.value)


def test_folder_and_zip_without_csv(tmp_path: Path) -> None:
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(PanelError, match="folder contains no CSV files"):
        load_panel(tmp_path / "empty_dir")
    src = tmp_path / "nocsv.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(PanelError, match="nocsv.zip: zip contains no CSV files"):
        load_panel(src)


def test_error_names_the_file_inside_a_folder(tmp_path: Path) -> None:
    folder = yahoo_folder(tmp_path)
    write(folder / "CCC.csv", "Date,Close\nnot-a-date,1\n")
    with pytest.raises(PanelError, match=r"CCC\.csv: 1 rows with missing or unparsable dates"):
        load_panel(folder)


def test_metadata_errors(tmp_path: Path) -> None:
    with pytest.raises(PanelError, match="metadata has no asset column"):
        read_metadata(write(tmp_path / "m.csv", "sector,class\nTech,equity\n"))
    with pytest.raises(PanelError, match="conflicting rows"):
        read_metadata(write(tmp_path / "d.csv", "asset,sector\nA,Tech\nA,Energy\n"))


# --------------------------------------------------------------------------- quality
def hand_panel() -> pl.DataFrame:
    """Each row breaks (at most) one rule, so every check is counted exactly."""
    rows = [
        # asset A: clean, then a +50% move, then a duplicate of the last date
        (D1, "A", 10.0, 11.0, 9.0, 10.0, 100.0),
        (D2, "A", 15.0, 15.5, 14.5, 15.0, 100.0),  # extreme move +50%
        (D3, "A", 15.0, 15.5, 14.5, 15.0, 100.0),
        (D3, "A", 15.0, 15.5, 14.5, 15.0, 100.0),  # duplicate key
        # asset B: missing open, NaN low, non-positive, OHLC disorder, zero and missing volume
        (D1, "B", None, 11.0, 9.0, 10.0, 100.0),  # missing price
        (D2, "B", 10.0, 11.0, float("nan"), 10.0, 0.0),  # missing price (NaN) + zero volume
        (D3, "B", 10.0, 9.5, 9.0, 10.0, None),  # OHLC disorder + missing volume
        (dt.date(2024, 1, 5), "B", 10.0, 11.0, -1.0, 10.0, 100.0),  # non-positive low
    ]
    cols = ["date", "asset", "open", "high", "low", "close", "volume"]
    return pl.DataFrame(rows, schema=cols, orient="row").sort("asset", "date")


def test_each_check_counted_exactly() -> None:
    report = check_quality(hand_panel())
    assert report.counts() == {
        "missing_column": 0,
        "duplicate": 1,
        "missing_price": 2,
        "non_finite": 0,
        "non_positive_price": 1,
        "ohlc_out_of_order": 1,
        "negative_volume": 0,
        "zero_volume": 1,
        "missing_volume": 1,
        "extreme_move": 1,
        "stray_bar": 0,
    }
    assert list(report.counts()) == list(CHECKS)
    issues = report.issues
    assert issues.schema == pl.Schema(
        {"check": pl.Utf8, "asset": pl.Utf8, "date": pl.Date, "detail": pl.Utf8}
    )

    def where(check: str) -> list[tuple[str, dt.date]]:
        return issues.filter(pl.col("check") == check).select("asset", "date").rows()

    assert where("duplicate") == [("A", D3)]
    assert where("extreme_move") == [("A", D2)]
    assert where("missing_price") == [("B", D1), ("B", D2)]
    assert where("ohlc_out_of_order") == [("B", D3)]
    assert where("non_positive_price") == [("B", dt.date(2024, 1, 5))]
    assert issues.filter(pl.col("check") == "missing_price")["detail"].to_list() == [
        "open missing",
        "low missing",
    ]
    assert not report.is_clean()
    lines = report.summary_lines()
    assert "1 row with OHLC out of order, e.g. B 2024-01-04" in lines
    assert "2 rows with missing prices, e.g. B 2024-01-02, B 2024-01-03" in lines


def test_extreme_move_threshold_and_gap() -> None:
    panel = pl.DataFrame(
        {
            "date": [D1, D2, D3],
            "asset": ["A"] * 3,
            "close": [10.0, None, 13.5],  # compared with the last known close, 10 -> 13.5
        }
    )
    assert check_quality(panel, extreme_move=0.3).counts()["extreme_move"] == 1
    assert check_quality(panel, extreme_move=0.4).counts()["extreme_move"] == 0
    with pytest.raises(ValueError, match="extreme_move"):
        check_quality(panel, extreme_move=0)


def test_ohlc_rules() -> None:
    base = {"date": [D1], "asset": ["A"], "volume": [1.0]}

    def disorder(o: float, h: float, low: float, c: float) -> int:
        panel = pl.DataFrame({**base, "open": [o], "high": [h], "low": [low], "close": [c]})
        return check_quality(panel).counts()["ohlc_out_of_order"]

    assert disorder(10, 11, 9, 10.5) == 0
    assert disorder(10, 10, 10, 10) == 0
    assert disorder(10, 9.9, 9, 9.5) == 1  # high < open
    assert disorder(10, 11, 10.2, 10.5) == 1  # low > open
    assert disorder(10, 11, 9, 11.5) == 1  # high < close
    assert disorder(10, 11, 9.5, 9.4) == 1  # low > close


def test_clean_panel() -> None:
    report = check_quality(make_panel(n_assets=3, n_days=30))
    assert report.is_clean()
    assert set(report.counts().values()) == {0}
    assert report.summary_lines() == ["no data quality issues found"]
    assert isinstance(report, QualityReport)


# --------------------------------------------------------------------------- helpers
def test_fingerprint_stable_and_sensitive() -> None:
    panel = make_panel(n_assets=3, n_days=20)
    fp = panel_fingerprint(panel)
    assert len(fp) == 16 and fp == panel_fingerprint(panel.clone())
    assert fp == panel_fingerprint(make_panel(n_assets=3, n_days=20))
    bumped = panel.with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(pl.col("close") + 1e-9)
        .otherwise(pl.col("close"))
        .alias("close")
    )
    assert panel_fingerprint(bumped) != fp
    renamed = panel.with_columns(pl.col("asset").str.replace("A00", "A99"))
    assert panel_fingerprint(renamed) != fp
    nulled = panel.with_columns(pl.lit(None, pl.Float64).alias("volume"))
    zeroed = panel.with_columns(pl.lit(0.0).alias("volume"))
    assert panel_fingerprint(nulled) != panel_fingerprint(zeroed)


def test_live_assets_and_assets_by_class() -> None:
    panel = make_panel(n_assets=3, n_days=5, stagger=2)
    live = live_assets(panel)
    assert live.columns == ["date", "n_assets"]
    assert live["n_assets"].to_list() == [1, 1, 2, 2, 3]
    assert assets_by_class(panel).rows() == [("equity", 3)]
    assert assets_by_class(panel.drop("asset_class")).rows() == [("unknown", 3)]


# --------------------------------------------------------------------------- real data
@needs_sp500
def test_sp500_loads_with_known_quirks() -> None:
    panel = load_panel(SP500)  # its speed: bench/, not a wall-clock bound on a shared machine
    canonical_schema(panel)
    assert panel.height == 619_040 and panel["asset"].n_unique() == 505
    assert panel.select(pl.col("open", "high", "low").null_count()).row(0) == (11, 8, 8)
    report = check_quality(panel)
    counts = report.counts()
    assert counts["missing_price"] == 11
    assert counts["zero_volume"] == 4
    assert counts["ohlc_out_of_order"] == 12
    assert counts["duplicate"] == counts["missing_column"] == counts["missing_volume"] == 0
    moves = set(
        report.issues.filter(pl.col("check") == "extreme_move").select("asset", "date").rows()
    )
    for asset, day in [
        ("BAX", "2015-07-01"),
        ("EBAY", "2015-07-20"),
        ("NI", "2015-07-02"),
        ("LNT", "2016-05-19"),
        ("DISCA", "2014-08-07"),
        ("DISCK", "2014-08-07"),
    ]:
        assert (asset, dt.date.fromisoformat(day)) in moves
    assert len(panel_fingerprint(panel)) == 16
