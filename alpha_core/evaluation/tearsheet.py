"""The factor tear sheet of a run: its predictions judged as a factor, as alphalens does.

Every function takes the run's predictions (``date, asset, prediction`` and forward returns
``fwd_ret_<h>``; see :mod:`alpha_core.signals.predictions`) and returns a chart- or table-ready
frame.
The definitions follow alphalens(-reloaded), so the numbers can be checked against it
(``tests/test_tearsheet.py``):

- quantiles: per date, the engine's centred-percentile rule of
  :func:`alpha_core.evaluation.metrics.quantile_returns` (1 = lowest prediction; equal to alphalens'
  ``qcut`` when a date's assets split evenly and nothing ties);
- demeaned returns: the forward return minus that date's mean over the scored assets;
- quantile means: the mean of the daily quantile means, with the standard error of that
  mean (std of the daily means, ddof 1, over sqrt(days));
- the spread: the raw top-minus-bottom difference of the quantiles' daily means (what the
  run's ``quantile_spread`` metric reports; alphalens-reloaded 0.5 halves it, to a
  100%-gross book);
- IC: the daily Spearman correlation of prediction and forward return; its t-statistic and
  p-value are scipy's one-sample t-test against 0, skew and (excess) kurtosis scipy's
  biased estimators;
- rank autocorrelation: the Pearson correlation, across assets, of each date's prediction
  rank with the previous date's; turnover of a quantile: the share of its assets that were
  not in it on the previous date.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from alpha_core.features.transforms import percentile_rank
from alpha_core.signals.predictions import IC_HORIZONS, PREDICTION, fwd_col

QUANTILES = 5
GROUPS = ("sector", "asset_class")
"""Metadata columns the views are broken down by, when the predictions carry them."""


def factor_data(
    preds: pl.DataFrame, horizon: int = 1, n: int = QUANTILES, min_assets: int = 3
) -> pl.DataFrame:
    """``date, asset, factor, ret, demeaned, quantile`` (+ groups) of the scored rows whose
    ``horizon``-day forward return is known, on dates with at least ``min_assets`` of them."""
    col = fwd_col(horizon)
    groups = [g for g in GROUPS if g in preds.columns]
    valid = (
        preds.filter(pl.col(col).is_not_null() & pl.col(PREDICTION).is_not_null())
        .select(
            "date", "asset", pl.col(PREDICTION).alias("factor"), pl.col(col).alias("ret"), *groups
        )  # fmt: skip
        .filter(pl.len().over("date") >= min_assets)
        .sort("date", "asset")
    )
    pct = percentile_rank(pl.col("factor"), ["date"])
    return valid.with_columns(
        (pl.col("ret") - pl.col("ret").mean().over("date")).alias("demeaned"),
        (pct * n).floor().cast(pl.Int64).clip(0, n - 1).add(1).alias("quantile"),
    )


# ------------------------------------------------------------------------------ returns
def quantile_daily(data: pl.DataFrame, column: str = "demeaned") -> pl.DataFrame:
    """``date, quantile, mean``: each date's mean return per quantile."""
    return (
        data.group_by("date", "quantile")
        .agg(pl.col(column).mean().alias("mean"))
        .sort("quantile", "date")
    )


def quantile_returns(data: pl.DataFrame, column: str = "demeaned") -> pl.DataFrame:
    """``quantile, mean, std_error, n_days``: the mean daily return of each quantile and the
    standard error of that mean (alphalens' ``mean_return_by_quantile``)."""
    return (
        quantile_daily(data, column)
        .group_by("quantile", maintain_order=True)
        .agg(
            pl.col("mean").mean().alias("mean"),
            (pl.col("mean").std(ddof=1) / pl.len().sqrt()).alias("std_error"),
            pl.len().alias("n_days"),
        )
        .sort("quantile")
    )


def cumulative_by_quantile(data: pl.DataFrame, column: str = "demeaned") -> pl.DataFrame:
    """``date, quantile, growth``: the growth of 1 invested each day in a quantile's mean."""
    return (
        quantile_daily(data, column)
        .with_columns(((1 + pl.col("mean")).cum_prod().over("quantile")).alias("growth"))
        .select("date", "quantile", "growth")
        .sort("date", "quantile")
    )


def spread(data: pl.DataFrame, window: int = 21) -> pl.DataFrame:
    """``date, spread, std_error, rolling``: top minus bottom quantile's mean return a day,
    its standard error (the two quantiles' within-day errors combined) and a rolling mean."""
    top, bottom = data["quantile"].max(), data["quantile"].min()
    per_day = (
        data.filter(pl.col("quantile").is_in([top, bottom]))
        .group_by("date", "quantile")
        .agg(
            pl.col("ret").mean().alias("mean"),
            (pl.col("ret").std(ddof=1) / pl.len().sqrt()).alias("se"),
        )
    )
    hi = per_day.filter(pl.col("quantile") == top).select("date", "mean", "se")
    lo = per_day.filter(pl.col("quantile") == bottom).select("date", "mean", "se")
    both = hi.join(lo, on="date", suffix="_low").sort("date")
    return both.select(
        "date",
        (pl.col("mean") - pl.col("mean_low")).alias("spread"),
        (pl.col("se").pow(2) + pl.col("se_low").pow(2)).sqrt().alias("std_error"),
    ).with_columns(pl.col("spread").rolling_mean(window, min_samples=1).alias("rolling"))


# ------------------------------------------------------------------------------ IC
def daily_ic(data: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """``date, [by,] ic``: the Spearman correlation of factor and forward return a day."""
    keys = ["date", by] if by else ["date"]
    return (
        data.group_by(keys)
        .agg(pl.corr("factor", "ret", method="spearman").alias("ic"), pl.len().alias("n"))
        .filter(pl.col("n") >= 3)
        .with_columns(pl.col("ic").fill_nan(None))
        .drop_nulls("ic")
        .drop("n")
        .sort(keys)
    )


def ic_summary(ic: pl.Series | np.ndarray) -> dict[str, float]:
    """IC mean, std (ddof 1), IR (mean / std), t-stat and p-value against 0, skew, kurtosis."""
    x = np.asarray(ic, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        nan = math.nan
        return dict(mean=nan, std=nan, ir=nan, t_stat=nan, p_value=nan, skew=nan, kurtosis=nan)
    from scipy import stats as sps  # here: scipy.stats costs 0.4 s to import (the CLI)

    std = float(x.std(ddof=1))
    t_stat, p_value = sps.ttest_1samp(x, 0.0)
    return {
        "mean": float(x.mean()),
        "std": std,
        "ir": float(x.mean() / std) if std > 0 else math.nan,
        "t_stat": float(t_stat),
        "p_value": float(p_value),
        "skew": float(sps.skew(x)),
        "kurtosis": float(sps.kurtosis(x)),
    }


def ic_qq(ic: pl.Series) -> pl.DataFrame:
    """``theoretical, observed``: the sorted IC against normal quantiles (a Q-Q plot),
    at scipy's ``probplot`` plotting positions."""
    from scipy import stats as sps

    (theoretical, observed), _ = sps.probplot(ic.drop_nulls().to_numpy(), dist="norm")
    return pl.DataFrame({"theoretical": theoretical, "observed": observed})


def monthly_ic(ic: pl.DataFrame) -> pl.DataFrame:
    """``year, month, ic``: the mean daily IC of each calendar month."""
    return (
        ic.group_by(
            pl.col("date").dt.year().alias("year"), pl.col("date").dt.month().alias("month")
        )
        .agg(pl.col("ic").mean())
        .sort("year", "month")
    )


def ic_decay(preds: pl.DataFrame, horizons: tuple[int, ...] = IC_HORIZONS) -> pl.DataFrame:
    """``horizon, ic_mean, ic_std_error``: mean daily IC against each forward horizon."""
    rows = []
    for h in horizons:
        if fwd_col(h) not in preds.columns:
            continue
        x = daily_ic(factor_data(preds, h))["ic"].to_numpy()
        se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
        rows.append((h, float(x.mean()) if x.size else math.nan, se))
    return pl.DataFrame(rows, schema=["horizon", "ic_mean", "ic_std_error"], orient="row")


# ------------------------------------------------------------------------------ turnover
def rank_autocorrelation(data: pl.DataFrame, lag: int = 1) -> pl.DataFrame:
    """``date, autocorrelation``: Pearson correlation across assets of each date's factor
    rank with the rank ``lag`` dates before (assets present on both dates)."""
    ranks = data.select("date", "asset", pl.col("factor").rank("average").over("date").alias("r"))
    wide = ranks.pivot(on="asset", index="date", values="r").sort("date")
    values = wide.drop("date").to_numpy().astype(float)
    out = np.full(values.shape[0], np.nan)
    for t in range(lag, values.shape[0]):
        a, b = values[t], values[t - lag]
        both = np.isfinite(a) & np.isfinite(b)
        if both.sum() >= 3 and a[both].std() > 0 and b[both].std() > 0:
            out[t] = np.corrcoef(a[both], b[both])[0, 1]
    return pl.DataFrame({"date": wide["date"], "autocorrelation": out}).slice(lag)


def quantile_turnover(data: pl.DataFrame, lag: int = 1) -> pl.DataFrame:
    """``date, quantile, turnover``: share of a quantile's assets on a date that were not in
    that quantile ``lag`` dates before (the first ``lag`` dates have none)."""
    dates = data["date"].unique().sort()
    previous = pl.DataFrame({"date": dates.slice(lag), "prev": dates.slice(0, dates.len() - lag)})
    members = data.select("date", "asset", "quantile")
    before = members.rename({"date": "prev", "quantile": "q_prev"})
    joined = (
        members.join(previous, on="date")
        .join(before, on=["prev", "asset"], how="left")
        .with_columns((pl.col("q_prev") != pl.col("quantile")).fill_null(True).alias("new"))
    )
    return (
        joined.group_by("date", "quantile")
        .agg(pl.col("new").mean().alias("turnover"))
        .sort("date", "quantile")
    )


def mean_turnover(turnover: pl.DataFrame) -> pl.DataFrame:
    """``quantile, turnover``: the mean of :func:`quantile_turnover` per quantile."""
    return turnover.group_by("quantile").agg(pl.col("turnover").mean()).sort("quantile")


# ------------------------------------------------------------------------------ by group
def group_columns(preds: pl.DataFrame) -> list[str]:
    """The metadata columns with at least two values (sector, asset class)."""
    return [g for g in GROUPS if g in preds.columns and preds[g].drop_nulls().n_unique() > 1]


def ic_by_group(data: pl.DataFrame, by: str) -> pl.DataFrame:
    """``group, ic_mean, ic_std_error, n_days``: the mean daily IC within each group."""
    return (
        daily_ic(data.drop_nulls(by), by)
        .group_by(by)
        .agg(
            pl.col("ic").mean().alias("ic_mean"),
            (pl.col("ic").std(ddof=1) / pl.len().sqrt()).alias("ic_std_error"),
            pl.len().alias("n_days"),
        )
        .rename({by: "group"})
        .sort("group")
    )


def quantile_returns_by_group(data: pl.DataFrame, by: str) -> pl.DataFrame:
    """``group, quantile, mean, std_error``: demeaned quantile returns within each group."""
    frames = [
        quantile_returns(data.filter(pl.col(by) == g)).with_columns(pl.lit(g).alias("group"))
        for g in data[by].drop_nulls().unique().sort()
    ]
    cols = ["group", "quantile", "mean", "std_error"]
    return pl.concat(frames).select(cols) if frames else pl.DataFrame()
