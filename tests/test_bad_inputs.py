"""The bad-input suite (issue 10): generated files, each through ``load_panel`` and ``alpha run``.

Every case ends one of two ways, asserted by message or by metric:

* a clear error naming the problem: from ``load_panel`` (a :class:`PanelError`, and the same
  message from ``alpha run`` with exit code 2), or, for a file that loads, from ``alpha run``
  (exit code 2, the quality report listing the finding, nothing saved);
* a run that reports exactly what it dropped or left out (bars, test bars and dates,
  features) and the calendar it annualised with.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import business_days, make_panel

from alpha_core.cli.main import main
from alpha_core.data.panel import PanelError, load_panel
from alpha_core.data.quality import check_quality

N_DAYS = 120
DATES = business_days(dt.date(2020, 1, 1), N_DAYS)
TRAIN_DAY, TEST_DAY = DATES[40], DATES[100]
SATURDAY = dt.date(2020, 5, 16)  # inside the test window (DATES[86] .. DATES[-1])
assert DATES[86] < SATURDAY < DATES[-1] and SATURDAY.weekday() == 5


def window(dates: list[dt.date]) -> list[str]:
    """Train on the first 85 dates, test from the 87th to the last."""
    return [
        *("--train-start", str(dates[0]), "--train-end", str(dates[84])),
        *("--test-start", str(dates[86]), "--test-end", str(dates[-1])),
    ]


TINY = ["--n-estimators", "5", "--num-leaves", "4", "--min-data-in-leaf", "5"]


def clean(n_assets: int = 8, dates: list[dt.date] | None = None) -> pl.DataFrame:
    """A clean random-walk panel (8 assets, 120 weekdays), optionally on other dates."""
    panel = make_panel(n_assets=n_assets, n_days=N_DAYS, seed=3)
    if dates is not None:
        mapping = dict(zip(DATES, dates, strict=True))
        panel = panel.with_columns(pl.col("date").replace_strict(mapping))
    return panel


def put(panel: pl.DataFrame, col: str, value: Any, asset: str = "A01", day=TEST_DAY):
    """``panel`` with one cell replaced (text columns stay text)."""
    hit = (pl.col("asset") == asset) & (pl.col("date") == day)
    return panel.with_columns(pl.when(hit).then(pl.lit(value)).otherwise(pl.col(col)).alias(col))


def as_text(panel: pl.DataFrame, *cols: str) -> pl.DataFrame:
    return panel.with_columns(pl.col(c).cast(pl.Utf8) for c in cols)


Writer = Callable[[Path], Path]


def csv_text(text: str) -> Writer:
    def write(folder: Path) -> Path:
        path = folder / "data.csv"
        path.write_text(text)
        return path

    return write


def frame(build: Callable[[], pl.DataFrame], ext: str = "csv") -> Writer:
    def write(folder: Path) -> Path:
        path = folder / f"data.{ext}"
        df = build()
        df.write_csv(path) if ext == "csv" else df.write_parquet(path)
        return path

    return write


@dataclass(frozen=True)
class Case:
    name: str
    write: Writer
    error: str | None = None
    """Regex of the error; None: the run must succeed and report ``expect``."""
    at: str = "run"
    """"load": load_panel raises it; "run": the file loads and ``alpha run`` refuses it."""
    finding: tuple[str, int] | None = None
    """(quality check, count) the report must list for a file that loads."""
    flags: tuple[str, ...] = ()
    expect: dict[str, Any] = field(default_factory=dict)
    dates: tuple[dt.date, ...] = tuple(DATES)


def two_rows(close: str, date: tuple[str, str] = ("2020-01-02", "2020-01-03")) -> Writer:
    return csv_text(f"date,asset,close\n{date[0]},A,{close}\n{date[1]},A,10\n")


def _typed(**cols: Any) -> Callable[[], pl.DataFrame]:
    days = [dt.date(2020, 1, 2), dt.date(2020, 1, 3)]
    return lambda: pl.DataFrame({"date": days, "asset": ["A", "A"], "close": [1.0, 2.0], **cols})


WEEKLY = [dt.date(2018, 1, 5) + dt.timedelta(weeks=k) for k in range(N_DAYS)]
EVERY_DAY = [dt.date(2020, 1, 1) + dt.timedelta(days=k) for k in range(N_DAYS)]
QUARTERLY = [dt.date(1990 + k // 4, 1 + 3 * (k % 4), 1) for k in range(N_DAYS)]


def stray_weekend() -> pl.DataFrame:
    panel = clean()
    extra = panel.filter((pl.col("asset") == "A00") & (pl.col("date") == DATES[95]))
    return pl.concat([panel, extra.with_columns(pl.lit(SATURDAY).alias("date"))])


def stray_holiday() -> pl.DataFrame:
    """On TEST_DAY only A00 trades (a market holiday with one stray bar)."""
    return clean().filter((pl.col("date") != TEST_DAY) | (pl.col("asset") == "A00"))


def many_bad_bars() -> pl.DataFrame:
    panel = as_text(clean(), "close", "volume")
    panel = put(panel, "close", "-1", "A01", TEST_DAY)
    panel = put(panel, "close", "inf", "A02", DATES[101])
    panel = put(panel, "volume", "-5", "A03", DATES[102])
    return put(panel, "open", None, "A04", DATES[103])


def adjusted_prices() -> pl.DataFrame:
    """Yahoo-style prices whose high or low is the close, with an adjusted close rounded to
    4 decimals: the adjustment factor leaves high and close ~1e-16 apart on some bars, which
    an exact OHLC check reports as out of order (see test_adjustment_rounding_...)."""
    panel = clean().with_columns(
        pl.max_horizontal("open", "close").alias("high"),
        pl.min_horizontal("open", "close").alias("low"),
    )
    return panel.with_columns((pl.col("close") * 0.6).round(4).alias("adj_close"))


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------ wrong types and numbers
    Case("bool_close", frame(_typed(close=[True, False]), "parquet"),
         r"column 'close' holds true/false values, not numbers", "load"),
    Case("bool_volume", frame(_typed(volume=[True, True]), "parquet"),
         r"column 'volume' holds true/false values", "load"),
    Case("list_close", frame(_typed(close=[[1.0], [2.0]]), "parquet"),
         r"column 'close' holds List\(Float64\) values, not numbers", "load"),
    Case("struct_high", frame(_typed(high=[{"a": 1}, {"a": 2}]), "parquet"),
         r"column 'high' holds Struct", "load"),
    Case("date_as_open", frame(_typed(open=[dt.date(2020, 1, 2)] * 2), "parquet"),
         r"column 'open' holds Date values", "load"),
    Case("thousands_close", two_rows('"1,234.50"'),
         r"column 'close' has 1 number\(s\) with thousands separators \(e.g. \['1,234.50'\]\)",
         "load"),
    Case("thousands_volume",
         frame(lambda: put(as_text(clean(), "volume"), "volume", "1,234,567"), "csv"),
         r"column 'volume' has 1 number\(s\) with thousands separators", "load"),
    Case("currency_close", two_rows("$12.50"),
         r"column 'close' has 1 value\(s\) that are not numbers \(e.g. \['\$12.50'\]\)", "load"),
    Case("word_close", two_rows("true"), r"not numbers \(e.g. \['true'\]\)", "load"),
    # ------------------------------------------------------------ dates
    Case("float_dates", frame(lambda: _typed()().with_columns(pl.lit(1.5).alias("date")),
                              "parquet"),
         r"cannot read dates of type Float64", "load"),
    Case("unparsable_date", two_rows("9", ("soon", "2020-01-03")),
         r"1 rows with missing or unparsable dates .*'soon'", "load"),
    Case("epoch_seconds", two_rows("9", ("1577923200", "1578009600")),
         r"2 rows with missing or unparsable dates", "load"),
    Case("year_1850", two_rows("9", ("1850-01-02", "2020-01-03")),
         r"1 date\(s\) in column 'date' with an implausible year \(e.g. \['1850-01-02'\]", "load"),
    Case("year_2999", two_rows("9", ("2020-01-02", "2999-01-03")),
         r"implausible year \(e.g. \['2999-01-03'\]; expected 1900 \.\. ", "load"),
    Case("ambiguous_day_month", two_rows("9", ("01/02/2020", "03/04/2020")),
         r"read both as month/day and as day/month.*YYYY-MM-DD", "load"),
    Case("intraday_datetimes",
         frame(_typed(date=[dt.datetime(2020, 1, 2, 10), dt.datetime(2020, 1, 2, 11)]),
               "parquet"),
         r"several bars with different times .*intraday data", "load"),
    Case("intraday_text", two_rows("9", ("2020-01-02 10:00", "2020-01-02 15:30")),
         r"intraday data; Alpha Lab needs one bar per asset and day", "load"),
    # ------------------------------------------------------------ structure
    Case("no_close_column", csv_text("date,asset,open\n2020-01-02,A,1\n"),
         r"no close column", "load"),
    Case("missing_asset", csv_text("date,asset,close\n2020-01-02,,1\n2020-01-03,A,2\n"),
         r"1 rows have no asset", "load"),
    Case("empty_file", csv_text(""), r"file is empty", "load"),
    # ------------------------------------------------------------ bad bars, refused by default
    Case("negative_close", frame(lambda: put(clean(), "close", -3.0)),
         rf"1 bad bar \(1 row with non-positive prices\); the first is A01 {TEST_DAY} "
         r"\(close <= 0\).*--on-bad-bars drop", finding=("non_positive_price", 1)),
    Case("zero_close", frame(lambda: put(clean(), "close", 0.0, "A05")),
         r"1 row with non-positive prices.*A05", finding=("non_positive_price", 1)),
    Case("infinite_close", frame(lambda: put(as_text(clean(), "close"), "close", "inf")),
         rf"1 row with infinite values\); the first is A01 {TEST_DAY} \(close infinite\)",
         finding=("non_finite", 1)),
    Case("minus_infinite_volume",
         frame(lambda: put(as_text(clean(), "volume"), "volume", "-inf")),
         r"1 row with infinite values.*volume infinite", finding=("non_finite", 1)),
    Case("nan_close", frame(lambda: put(as_text(clean(), "close"), "close", "NaN")),
         r"1 row with missing prices.*close missing", finding=("missing_price", 1)),
    Case("empty_close_cell", frame(lambda: put(as_text(clean(), "close"), "close", "")),
         r"1 row with missing prices", finding=("missing_price", 1)),
    Case("missing_opens",
         frame(lambda: clean().with_columns(
             pl.when(pl.col("date").is_in(DATES[50:53]) & (pl.col("asset") == "A02"))
             .then(None).otherwise(pl.col("open")).alias("open"))),
         rf"3 bad bars \(3 rows with missing prices\); the first is A02 {DATES[50]} "
         r"\(open missing\)", finding=("missing_price", 3)),
    Case("high_below_low", frame(lambda: put(clean(), "high", 1.0)),
         r"1 row with OHLC out of order", finding=("ohlc_out_of_order", 1)),
    Case("close_above_high",
         frame(lambda: put(clean(), "close", 1e6, "A03", TRAIN_DAY)),
         rf"1 row with OHLC out of order\); the first is A03 {TRAIN_DAY}",
         finding=("ohlc_out_of_order", 1)),
    Case("negative_volume", frame(lambda: put(clean(), "volume", -10.0)),
         r"1 row with negative volume\).*volume -10", finding=("negative_volume", 1)),
    Case("stray_weekend_bar", frame(stray_weekend),
         rf"1 stray bar on a date almost no other asset trades\); the first is A00 {SATURDAY} "
         r"\(1 of 8 listed assets trade on this Saturday\)", finding=("stray_bar", 1)),
    Case("stray_holiday_bar", frame(stray_holiday),
         rf"1 stray bar .*A00 {TEST_DAY} \(1 of 8 listed assets trade", finding=("stray_bar", 1)),
    Case("duplicate_bar",
         frame(lambda: pl.concat([clean(), clean().filter(pl.col("date") == TEST_DAY).head(1)])),
         rf"1 extra rows sharing an \(asset, date\), e.g. A00 {TEST_DAY}",
         finding=("duplicate", 1)),
    # ------------------------------------------------------------ calendars and settings
    Case("quarterly_dates", frame(lambda: clean(dates=QUARTERLY)),
         r"the dates are \d+ days apart \(median\): not daily, weekly or monthly bars",
         dates=tuple(QUARTERLY)),
    Case("sector_neutral_without_sector", frame(lambda: clean().drop("sector")),
         r"sector_neutral needs a 'sector' column with values", flags=("--sector-neutral",)),
    Case("group_cap_without_sector", frame(lambda: clean().drop("sector")),
         r"max_sector_weight needs a 'sector' column", flags=("--max-sector-weight", "0.5")),
    Case("universe_too_small", frame(lambda: clean(n_assets=2)),
         r"no long position on any of the \d+ test days: with at most 2 scored assets a day, "
         r"long_pct 0.2 selects none \(it needs at least 3 assets a day\)"),
    Case("one_day_test_window", frame(clean),
         r"Sharpe ratio is undefined over the 1 test day",
         flags=("--test-start", str(DATES[-2]), "--test-end", str(DATES[-1]))),
    Case("volume_always_zero",
         frame(lambda: clean().with_columns(pl.lit(0.0).alias("volume"))),
         r"no training rows in .*feature vol_z_20 \(needs volume\) is missing on every bar",
         finding=("zero_volume", 8 * N_DAYS)),
    Case("volume_gone_in_test_window",
         frame(lambda: clean().with_columns(
             pl.when(pl.col("date") >= DATES[80]).then(None).otherwise(pl.col("volume"))
             .alias("volume"))),
         r"no bars with features in the test window .*: vol_z_20 missing on every bar of it",
         finding=("missing_volume", 8 * 40)),
    # ------------------------------------------------------------ runs that report losses
    Case("negative_close_dropped", frame(lambda: put(clean(), "close", -3.0)),
         flags=("--on-bad-bars", "drop"),
         expect={"bad_bars_dropped": 1, "test_rows_lost": 1, "test_dates_lost": 0}),
    Case("stray_weekend_dropped", frame(stray_weekend), flags=("--on-bad-bars", "drop"),
         expect={"bad_bars_dropped": 1, "test_rows_lost": 1, "test_dates_lost": 1,
                 "days_without_positions": 0}),
    Case("stray_holiday_dropped", frame(stray_holiday), flags=("--on-bad-bars", "drop"),
         expect={"bad_bars_dropped": 1, "test_rows_lost": 1, "test_dates_lost": 1}),
    Case("many_bad_bars_dropped", frame(many_bad_bars), flags=("--on-bad-bars", "drop"),
         expect={"bad_bars_dropped": 4, "test_rows_lost": 4, "test_dates_lost": 0}),
    Case("bad_training_bars_dropped",
         frame(lambda: put(put(clean(), "close", -1.0, "A01", TRAIN_DAY), "high", 1.0, "A02",
                           TRAIN_DAY)),
         flags=("--on-bad-bars", "drop"),
         expect={"bad_bars_dropped": 2, "test_rows_lost": 0, "test_dates_lost": 0}),
    Case("disorder_kept", frame(lambda: put(clean(), "high", 1.0)),
         flags=("--on-bad-bars", "keep"), finding=("ohlc_out_of_order", 1),
         expect={"bad_bars_dropped": 0, "test_rows_lost": 0}),
    Case("close_only", frame(lambda: clean().select("date", "asset", "close")),
         finding=("missing_column", 4),
         expect={"features_dropped": "vol_z_20 (no volume), gap_pc (no open), "
                                     "hl_range_pc (no high)", "test_rows_lost": 0}),
    Case("ohlc_without_volume", frame(lambda: clean().drop("volume")),
         finding=("missing_column", 1),
         expect={"features_dropped": "vol_z_20 (no volume)", "bad_bars_dropped": 0}),
    Case("weekly_bars", frame(lambda: clean(dates=WEEKLY)), dates=tuple(WEEKLY),
         expect={"calendar": "weekly bars (52 a year)", "periods_per_year": 52}),
    Case("every_day_calendar", frame(lambda: clean(dates=EVERY_DAY)), dates=tuple(EVERY_DAY),
         expect={"calendar": "daily bars, every day (365 a year)", "periods_per_year": 365}),
    Case("adjusted_prices_no_false_alarm", frame(adjusted_prices), finding=("ohlc_out_of_order", 0),
         expect={"bad_bars_dropped": 0, "calendar": "daily bars, weekdays (252 a year)"}),
)  # fmt: skip


def test_the_suite_covers_at_least_40_files():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


def alpha_run(path: Path, case: Case, tmp_path: Path, capsys) -> tuple[int, str, str]:
    runs = tmp_path / "runs"
    argv = ["run", "--data", str(path), *window(list(case.dates)), *TINY, *case.flags]
    save = ["--no-save"] if case.error is None else ["--no-explain"]
    code = main([*argv, "--json", "--artifacts", str(runs), *save])
    out, err = capsys.readouterr()
    if case.error is not None:
        assert not runs.exists() or not any(runs.iterdir()), "a refused run was saved"
    return code, out, err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, capsys) -> None:
    path = case.write(tmp_path)
    if case.at == "load":
        with pytest.raises(PanelError) as info:
            load_panel(path)
        message = str(info.value)
        assert re.search(case.error, message), message
        assert path.name in message  # the file is named
        code, _, err = alpha_run(path, case, tmp_path, capsys)
        assert code == 2 and err == f"alpha: error: {message}\n"
        return
    panel = load_panel(path)
    if case.finding is not None:
        check, count = case.finding
        assert check_quality(panel).counts()[check] == count
    code, out, err = alpha_run(path, case, tmp_path, capsys)
    if case.error is not None:
        assert code == 2, out
        assert err.startswith("alpha: error: ") and err.count("\n") == 1, err
        assert re.search(case.error, err), err
        return
    assert code == 0, err
    metrics = json.loads(out)
    assert {k: metrics[k] for k in case.expect} == case.expect
    assert metrics["sharpe"] is not None


def test_cli_summary_prints_what_a_run_dropped(tmp_path: Path, capsys) -> None:
    path = frame(many_bad_bars)(tmp_path)
    argv = ["run", "--data", str(path), *window(DATES), *TINY, "--on-bad-bars", "drop"]
    assert main([*argv, "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "Calendar: daily bars, weekdays (252 a year), inferred from the data." in out
    assert "Dropped 4 bad bar(s) (on_bad_bars = drop)." in out
    assert "Test window: 4 bar(s) and 0 date(s) got no prediction" in out


def test_adjustment_rounding_is_within_the_ohlc_tolerance(tmp_path: Path) -> None:
    """The adjusted-prices case is a real trap: without the relative tolerance, bars of it
    would be reported out of order (and refused as bad bars)."""
    from alpha_core.data import quality

    panel = load_panel(frame(adjusted_prices)(tmp_path))
    prices = quality._quality_frame(panel)
    assert prices.filter(quality._ohlc_disorder(tol=0.0)).height > 5
    assert prices.filter(quality._ohlc_disorder()).height == 0


def flat_prices(until: dt.date | None = None) -> pl.DataFrame:
    """The clean panel with every price 100 (up to ``until``, else on every bar)."""
    flat = pl.lit(True) if until is None else pl.col("date") <= until
    return clean().with_columns(
        pl.when(flat).then(pl.lit(100.0)).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close")
    )


def test_constant_prices_are_refused_before_training(tmp_path: Path, capsys) -> None:
    """Every close equal: the label is 0 everywhere; one line, exit 2, no LightGBM."""
    path = tmp_path / "flat.csv"
    flat_prices().write_csv(path)
    runs = tmp_path / "runs"
    argv = ["run", "--data", str(path), *window(DATES), "--n-estimators", "20"]
    argv += ["--artifacts", str(runs)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("alpha: error: the label is constant:"), err
    assert "no asset's close price ever changes (8 asset(s), 960 bar(s); every close is 100)" in err
    assert "nothing to learn" in err and "training:" not in err  # refused before any tree
    assert not runs.exists() or not any(runs.iterdir())


def test_a_label_constant_on_the_training_rows_is_refused_by_fold(tmp_path: Path, capsys) -> None:
    """Prices that move only after the training window: the fold has nothing to learn."""
    path = tmp_path / "flat_then_moving.csv"
    flat_prices(until=DATES[86]).write_csv(path)
    code = main(["run", "--data", str(path), *window(DATES), *TINY, "--no-save"])
    err = capsys.readouterr().err.splitlines()[-1]  # after the progress line, a line of its own
    assert code == 2
    assert err.startswith("alpha: error: fold 0: the label is constant: it is 0 on every "), err
    assert f"training row in {DATES[0]} .. {DATES[84]}, so there is nothing to learn" in err
