"""Chart- and table-ready frames of a run, computed from its tables: pure polars/numpy.

Every chart and table the app draws is one function here (or, for metrics, in
:mod:`alpha_core.evaluation.report`), so the numbers on screen can be tested against the engine
without a
browser. Series names match ``backtest.DAILY_COLUMNS``: ``long`` (the long book), ``short``
(the P&L of the short book), ``long_short`` (their sum) and ``benchmark`` (equal-weight mean
label of every scored asset).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import polars as pl

from alpha_core.evaluation.metrics import daily_ic
from alpha_core.portfolio.books import SIDES, side_book
from alpha_core.stats import returns as stats

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


def yearly_returns(daily: pl.DataFrame, column: str = "long_short") -> pl.DataFrame:
    """``year, return``: compounded return of ``column`` per calendar year."""
    return (
        daily.group_by(pl.col("date").dt.year().alias("year"))
        .agg(((1 + pl.col(column)).product() - 1).alias("return"))
        .sort("year")
    )


def worst_drawdowns(daily: pl.DataFrame, column: str = "long_short", n: int = 5) -> pl.DataFrame:
    """``depth, start, trough, recovery, length``: the ``n`` deepest drawdowns of ``column``.

    ``start`` is the last day at the peak (the first day when the peak is the starting
    equity), ``recovery`` the first day back at the peak (null: not recovered), ``length``
    trading days from start to recovery (to the last day when not recovered).
    """
    dates = daily["date"].to_list()
    rows = []
    for peak, trough, recovery, depth in stats.drawdown_periods(daily[column].to_numpy())[:n]:
        start = max(peak, 0)
        end = recovery if recovery is not None else len(dates) - 1
        rows.append(
            (depth, dates[start], dates[trough], dates[recovery] if recovery is not None else None,
             end - peak)
        )  # fmt: skip
    schema = {"depth": pl.Float64, "start": pl.Date, "trough": pl.Date, "recovery": pl.Date,
              "length": pl.Int64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def rolling_sharpe(
    daily: pl.DataFrame, window: int = 63, column: str = "long_short", periods: int = 252
) -> pl.DataFrame:
    """``date, rolling_sharpe``: annualised mean / std (ddof 1) over the last ``window`` bars.

    ``periods``: bars a year, the run's ``periods_per_year`` metric (252 for daily bars).
    Null until ``window`` days are available (and where the window has no spread).
    """
    r = daily[column].to_numpy().astype(float)
    out = np.full(r.size, np.nan)
    for i in range(window - 1, r.size):
        out[i] = stats.sharpe_ratio(r[i - window + 1 : i + 1], periods)
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
    Rows are in :func:`alpha_core.portfolio.books.side_book` order (strongest name first).
    """
    cols = ["asset", "sector", "prediction", "rank", "weight"]
    tables = {}
    that_day = books.filter(pl.col("date") == day)
    for side in SIDES:
        rows = side_book(that_day, day, side)
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


# ------------------------------------------------------------------------ costs and exposure
def folds_table(folds: pl.DataFrame | None, models: list[Any]) -> pl.DataFrame | None:
    """The walk-forward folds with the trees each fold's model kept (``trees``, from the
    model's ``describe()``; null for a model type that does not report it)."""
    if folds is None:
        return None
    trees = [m.describe().get("n_trees") for m in models]
    if len(trees) != folds.height:
        return folds
    return folds.with_columns(pl.Series("trees", trees, dtype=pl.Int64))


def turnover_frame(daily: pl.DataFrame) -> pl.DataFrame:
    """``date, turnover, cost``: one-way turnover (sum of |weight change| over both books,
    as a fraction of capital a day) and the cost charged for it (a return, same unit)."""
    if "turnover" not in daily.columns:
        return pl.DataFrame(schema={"date": pl.Date, "turnover": pl.Float64, "cost": pl.Float64})
    cost = pl.col("cost") if "cost" in daily.columns else pl.lit(0.0)
    return daily.select("date", "turnover", cost.alias("cost"))


def exposure_by_group(books: pl.DataFrame, column: str = "sector") -> pl.DataFrame:
    """``date, group, long, short, net``: book weight per sector (or ``asset_class``) a day.

    Short weights count negative; assets without a value are the group ``(none)``. Empty
    when the books carry no ``column`` (no metadata).
    """
    schema = {"date": pl.Date, "group": pl.Utf8, "long": pl.Float64, "short": pl.Float64,
              "net": pl.Float64}  # fmt: skip
    if (
        books.is_empty()
        or column not in books.columns
        or books[column].null_count() == books.height
    ):
        return pl.DataFrame(schema=schema)
    magnitude = pl.col("weight").abs()
    signed = pl.when(pl.col("side") == "short").then(-magnitude).otherwise(magnitude)
    return (
        books.with_columns(
            pl.col(column).cast(pl.Utf8).fill_null("(none)").alias("group"), signed.alias("w")
        )
        .group_by("date", "group")
        .agg(
            pl.col("w").filter(pl.col("side") == "long").sum().alias("long"),
            pl.col("w").filter(pl.col("side") == "short").sum().alias("short"),
            pl.col("w").sum().alias("net"),
        )
        .sort("date", "group")
        .cast(schema)
    )


# ------------------------------------------------------------------------------- comparing
def data_source(config: dict[str, Any]) -> str:
    """What a run was trained on, for keeping runs on different data apart."""
    meta = config.get("metadata")
    return f"{config.get('data')}" + (f" + {meta}" if meta else "")


def common_days(dailies: dict[str, pl.DataFrame]) -> list[date]:
    """The trading days every run has (sorted)."""
    sets = [set(d["date"].to_list()) for d in dailies.values()]
    return sorted(set.intersection(*sets)) if sets else []


def aligned_equity(dailies: dict[str, pl.DataFrame], only_common: bool = True) -> pl.DataFrame:
    """``date, run, kind, equity``: gross and net long-short growth of 1 per run.

    ``only_common``: on the trading days every run has, compounded from 1 on the first of
    them (so the curves are comparable day for day); otherwise each run on all its days.
    """
    days = set(common_days(dailies)) if only_common else None
    frames = []
    for name, daily in dailies.items():
        kept = daily.filter(pl.col("date").is_in(list(days))) if days is not None else daily
        kept = kept.sort("date")
        net = kept["long_short_net"] if "long_short_net" in kept.columns else kept["long_short"]
        for kind, r in (("gross", kept["long_short"]), ("net", net)):
            frames.append(
                pl.DataFrame(
                    {
                        "date": kept["date"],
                        "run": [name] * kept.height,
                        "kind": [kind] * kept.height,
                        "equity": stats.equity_curve(r.to_numpy()),
                    }
                )  # fmt: skip
            )
    schema = {"date": pl.Date, "run": pl.Utf8, "kind": pl.Utf8, "equity": pl.Float64}
    return pl.concat(frames).cast(schema) if frames else pl.DataFrame(schema=schema)


def sharpe_difference(
    a: pl.DataFrame, b: pl.DataFrame, column: str = "long_short", periods: int = 252
) -> dict[str, float]:
    """:func:`alpha_core.stats.returns.sharpe_difference_test` of two runs on their common days,
    with the Sharpe ratios also annualised (``*_annual``)."""
    both = a.select("date", pl.col(column).alias("a")).join(
        b.select("date", pl.col(column).alias("b")), on="date"
    )
    out = stats.sharpe_difference_test(both["a"].to_numpy(), both["b"].to_numpy())
    scale = float(np.sqrt(periods))
    for key in ("sharpe_a", "sharpe_b", "difference"):
        out[f"{key}_annual"] = out[key] * scale
    return out


def metrics_by_run(named: dict[str, dict[str, Any]], keys: list[str]) -> pl.DataFrame:
    """``run`` plus one numeric column per metric key: one row per run (sortable)."""
    rows = {"run": list(named)}
    for key in keys:
        values = [m.get(key) for m in named.values()]
        rows[key] = [float(v) if isinstance(v, int | float) else None for v in values]
    return pl.DataFrame(rows, schema={"run": pl.Utf8, **{k: pl.Float64 for k in keys}})


ATTRIBUTION_LABELS = {
    "market": "Market",
    "sector": "Sectors",
    "style": "Styles",
    "specific": "Specific",
    "cost": "Costs",
    "net": "Net P&L",
}
"""Names of the parts of the P&L (``alpha_core.evaluation.attribution``) on charts."""


def attribution_frame(table: pl.DataFrame) -> pl.DataFrame:
    """``date, part, cumulative``: each part of the P&L summed from the first day (the parts
    add up to the net line every day)."""
    parts = [p for p in ATTRIBUTION_LABELS if p in table.columns]
    return (
        table.select("date", *[pl.col(p).fill_null(0.0).cum_sum() for p in parts])
        .unpivot(index="date", on=parts, variable_name="part", value_name="cumulative")
        .with_columns(pl.col("part").replace_strict(ATTRIBUTION_LABELS))
    )


def exposure_frame(table: pl.DataFrame, top: int = 8) -> pl.DataFrame:
    """``date, factor, exposure``: the book's exposure to the ``top`` factors it leaned on
    most (mean absolute exposure), one row per day and factor."""
    columns = [c for c in table.columns if c.startswith("x_")]
    if not columns:
        return pl.DataFrame(schema={"date": pl.Date, "factor": pl.Utf8, "exposure": pl.Float64})
    size = table.select(pl.col(c).abs().mean() for c in columns).row(0)
    keep = [c for _, c in sorted(zip(size, columns, strict=True), reverse=True)[:top]]
    return (
        table.select("date", *keep)
        .unpivot(index="date", on=keep, variable_name="factor", value_name="exposure")
        .with_columns(pl.col("factor").str.strip_prefix("x_"))
    )
