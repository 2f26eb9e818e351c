"""Chart- and table-ready frames of a run, computed from its tables: pure polars/numpy.

Every chart and table the app draws is one function here (or, for metrics, in
:mod:`alpha_core.report`), so the numbers on screen can be tested against the engine without a
browser. Series names match ``backtest.DAILY_COLUMNS``: ``long`` (the long book), ``short``
(the P&L of the short book), ``long_short`` (their sum) and ``benchmark`` (equal-weight mean
label of every scored asset).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import polars as pl

from alpha_core import stats
from alpha_core.books import SIDES, side_book
from alpha_core.metrics import daily_ic

SERIES = ("long", "short", "long_short", "benchmark")
SERIES_LABELS = {
    "long": "Long",
    "short": "Short",
    "long_short": "Long-short",
    "long_short_net": "Long-short, net of costs",
    "benchmark": "Equal-weight universe",
}


def series_for(daily: pl.DataFrame) -> tuple[str, ...]:
    """The series to draw: the four gross ones, plus net long-short when costs change it."""
    if "long_short_net" in daily.columns and not np.allclose(
        daily["long_short_net"].to_numpy(), daily["long_short"].to_numpy()
    ):
        return (*SERIES[:3], "long_short_net", SERIES[3])
    return SERIES


# ------------------------------------------------------------------ equity, drawdown, returns
def _per_series(daily: pl.DataFrame, series: tuple[str, ...], name: str, fn) -> pl.DataFrame:
    """Long format ``date, series, <name>`` with ``fn`` applied to each return series."""
    frames = [
        pl.DataFrame(
            {
                "date": daily["date"],
                "series": [SERIES_LABELS.get(s, s)] * daily.height,
                name: fn(daily[s].to_numpy()),
            }
        )
        for s in series
    ]
    return pl.concat(frames) if frames else pl.DataFrame()


def equity_frame(daily: pl.DataFrame, series: tuple[str, ...] = SERIES) -> pl.DataFrame:
    """Long format ``date, series, equity`` with ``equity = cumprod(1 + r)`` per series."""
    return _per_series(daily, series, "equity", stats.equity_curve)


def drawdown_frame(daily: pl.DataFrame, series: tuple[str, ...] = SERIES) -> pl.DataFrame:
    """Long format ``date, series, drawdown`` (equity / running peak - 1, peak starts at 1)."""
    return _per_series(daily, series, "drawdown", stats.drawdown_series)


def monthly_returns(daily: pl.DataFrame, column: str = "long_short") -> pl.DataFrame:
    """``year, month, return``: compounded return of ``column`` per calendar month."""
    return (
        daily.group_by(
            pl.col("date").dt.year().alias("year"), pl.col("date").dt.month().alias("month")
        )
        .agg(((1 + pl.col(column)).product() - 1).alias("return"))
        .sort("year", "month")
    )


def rolling_sharpe(
    daily: pl.DataFrame, window: int = 63, column: str = "long_short"
) -> pl.DataFrame:
    """``date, rolling_sharpe``: annualised mean / std (ddof 1) over the last ``window`` days.

    Null until ``window`` days are available (and where the window has no spread).
    """
    r = daily[column].to_numpy().astype(float)
    out = np.full(r.size, np.nan)
    for i in range(window - 1, r.size):
        out[i] = stats.sharpe_ratio(r[i - window + 1 : i + 1])
    return pl.DataFrame({"date": daily["date"], "rolling_sharpe": out}).with_columns(
        pl.col("rolling_sharpe").fill_nan(None)
    )


def ic_frame(preds: pl.DataFrame) -> pl.DataFrame:
    """``date, rank_ic, running_mean``: daily Spearman rank IC and its expanding mean."""
    ic = daily_ic(preds).select("date", "rank_ic")
    return ic.with_columns(
        (pl.col("rank_ic").cum_sum() / pl.col("rank_ic").is_not_null().cum_sum()).alias(
            "running_mean"
        )
    )


# ------------------------------------------------------------------------------------- books
def book_dates(books: pl.DataFrame) -> list[date]:
    return books.get_column("date").unique().sort().to_list()


def book_for_date(
    books: pl.DataFrame, day: date, sectors: pl.DataFrame | None = None
) -> dict[str, pl.DataFrame]:
    """``{"long": ..., "short": ...}`` for one date: asset, sector, prediction, rank, weight.

    ``sectors`` maps ``asset -> sector`` (see :func:`asset_sectors`); without it sector is null.
    Rows are in :func:`alpha_core.books.side_book` order (strongest name first).
    """
    cols = ["asset", "sector", "prediction", "rank", "weight"]
    tables = {}
    for side in SIDES:
        rows = side_book(books, day, side)
        if sectors is not None and sectors.height:
            rows = rows.join(sectors, on="asset", how="left", maintain_order="left")
        else:
            rows = rows.with_columns(pl.lit(None, pl.Utf8).alias("sector"))
        tables[side] = rows.select(cols)
    return tables


def asset_sectors(panel: pl.DataFrame) -> pl.DataFrame:
    """``asset, sector``, one row per asset (the last non-null sector seen; null if none)."""
    if "sector" not in panel.columns:
        return pl.DataFrame(schema={"asset": pl.Utf8, "sector": pl.Utf8})
    return panel.group_by("asset").agg(pl.col("sector").drop_nulls().last()).sort("asset")


# ------------------------------------------------------------------------------------ configs
def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config dict as ``{"model.num_leaves": 50, ...}`` (lists shown as text)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, prefix=f"{name}."))
        elif isinstance(value, list | tuple):
            out[name] = ", ".join(map(str, value)) if value else "(default)"
        else:
            out[name] = value
    return out


def config_diff(configs: dict[str, dict[str, Any]], only_different: bool = True) -> pl.DataFrame:
    """``field`` plus one text column per run: the flattened configs, side by side.

    With ``only_different`` only fields whose values are not all equal are kept.
    """
    flat = {name: flatten(cfg) for name, cfg in configs.items()}
    keys: list[str] = []
    for f in flat.values():
        keys += [k for k in f if k not in keys]
    data: dict[str, list[str]] = {"field": []}
    for name in flat:
        data[name] = []
    for key in keys:
        values = [flat[name].get(key, "(absent)") for name in flat]
        if only_different and len({repr(v) for v in values}) <= 1:
            continue
        data["field"].append(key)
        for name, v in zip(flat, values, strict=True):
            data[name].append(str(v))
    return pl.DataFrame(data, schema={k: pl.Utf8 for k in data})
