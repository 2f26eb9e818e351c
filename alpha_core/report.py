"""Metrics of a run and the founding document's Performance Summary table.

All return metrics are on the daily long-short series unless prefixed (``long_``,
``short_``, ``benchmark_``). Keys without a suffix are gross (before costs); the same
metric after costs carries ``_net`` (``sharpe_net``, ``total_return_net``, ...).
Uncertainty travels with the Sharpe ratio: its 95% interval (analytic, with skew and
kurtosis: ``sharpe_ci_low/high``; stationary bootstrap: ``sharpe_boot_ci_low/high``), the
probabilistic Sharpe ratio against 0 (``psr``), the deflated Sharpe ratio given the
config's ``n_trials`` (``dsr``) and the minimum track record length in days (``min_trl``).

IC and quantile statistics always use the raw realised return (``label``, and the
forward returns ``fwd_ret_<h>`` for the IC decay), never a transformed training label.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from alpha_core import stats
from alpha_core.features import LABEL
from alpha_core.predictions import PREDICTION
from alpha_core.transforms import percentile_rank

SEED_CLAIMS = {
    "sharpe": 1.37,
    "total_return": 0.17,
    "max_drawdown": -0.1836,
    "win_rate": 0.50,
    "positions_per_day": 28,
}
"""Figures claimed by the founding document on data we do not have: shown, never targeted."""


def daily_ic(preds: pl.DataFrame) -> pl.DataFrame:
    """Per-date Pearson IC and Spearman rank IC of prediction against realised label."""
    valid = preds.filter(pl.col(LABEL).is_not_null())
    return (
        valid.group_by("date")
        .agg(
            pl.corr(PREDICTION, LABEL).alias("ic"),
            pl.corr(PREDICTION, LABEL, method="spearman").alias("rank_ic"),
            pl.len().alias("n_assets"),
        )
        .filter(pl.col("n_assets") >= 3)
        .with_columns(pl.col("ic", "rank_ic").fill_nan(None))
        .sort("date")
    )


QUANTILES = 5
IC_HORIZONS = (1, 2, 5, 10, 20)
"""Horizons (trading days) of the IC decay: rank IC of the prediction at t against the
forward return close t -> close t+h (column ``fwd_ret_<h>`` of the predictions)."""


def fwd_col(h: int) -> str:
    return f"fwd_ret_{h}"


def return_metrics(r: np.ndarray, prefix: str = "", suffix: str = "") -> dict[str, float]:
    """Sharpe, total return, volatility, drawdown and win rate of one daily series."""
    return {
        f"{prefix}sharpe{suffix}": stats.sharpe_ratio(r),
        f"{prefix}total_return{suffix}": stats.total_return(r),
        f"{prefix}annual_volatility{suffix}": stats.annual_volatility(r),
        f"{prefix}max_drawdown{suffix}": stats.max_drawdown(r),
        f"{prefix}win_rate{suffix}": stats.win_rate(r),
    }


def risk_metrics(
    r: np.ndarray, benchmark: np.ndarray, suffix: str, n_trials: int, seed: int, n_boot: int
) -> dict[str, float]:
    """Return/risk ratios and Sharpe inference of one daily series (keys end in ``suffix``)."""
    lo, hi = stats.sharpe_ci_analytic(r)
    blo, bhi = stats.sharpe_ci_bootstrap(r, n_boot=n_boot, seed=seed)
    alpha, beta = stats.alpha_beta(r, benchmark)
    return {
        f"cagr{suffix}": stats.cagr(r),
        f"annual_return{suffix}": stats.annualised_return(r),
        f"sortino{suffix}": stats.sortino_ratio(r),
        f"calmar{suffix}": stats.calmar_ratio(r),
        f"sharpe{suffix}_ci_low": lo,
        f"sharpe{suffix}_ci_high": hi,
        f"sharpe{suffix}_boot_ci_low": blo,
        f"sharpe{suffix}_boot_ci_high": bhi,
        f"psr{suffix}": stats.probabilistic_sharpe_ratio(r),
        f"dsr{suffix}": stats.deflated_sharpe_ratio(r, n_trials),
        f"min_trl{suffix}": stats.min_track_record_length(r),
        f"alpha{suffix}": alpha,
        f"beta{suffix}": beta,
    }


def quantile_returns(preds: pl.DataFrame, n: int = QUANTILES) -> pl.DataFrame:
    """Mean realised return of each prediction quantile: ``quantile, mean_return, n_days``.

    On each date the realised rows are split by the centred percentile of the prediction,
    ``q = floor((r - 0.5) / m * n) + 1`` (r the average rank among the date's m rows), the
    label is averaged within each quantile, then across dates (quantile 1 = lowest).
    """
    valid = preds.filter(pl.col(LABEL).is_not_null())
    pct = percentile_rank(pl.col(PREDICTION), ["date"])
    per_day = (
        valid.with_columns((pct * n).floor().cast(pl.Int64).clip(0, n - 1).add(1).alias("quantile"))
        .group_by("date", "quantile")
        .agg(pl.col(LABEL).mean().alias("r"))
    )
    table = (
        per_day.group_by("quantile")
        .agg(pl.col("r").mean().alias("mean_return"), pl.len().alias("n_days"))
        .sort("quantile")
    )
    full = pl.DataFrame({"quantile": list(range(1, n + 1))}, schema={"quantile": pl.Int64})
    return full.join(table, on="quantile", how="left").with_columns(
        pl.col("n_days").fill_null(0).cast(pl.Int64)
    )


def ic_decay(preds: pl.DataFrame, horizons: tuple[int, ...] = IC_HORIZONS) -> pl.DataFrame:
    """``horizon, rank_ic_mean, rank_ic_ir, n_days``: mean daily rank IC of the prediction
    against the forward h-day return; horizons whose column is absent are left out."""
    rows = []
    for h in horizons:
        col = fwd_col(h)
        if col not in preds.columns:
            continue
        daily = (
            preds.filter(pl.col(col).is_not_null())
            .group_by("date")
            .agg(pl.corr(PREDICTION, col, method="spearman").alias("ic"), pl.len().alias("n"))
            .filter(pl.col("n") >= 3)
            .with_columns(pl.col("ic").fill_nan(None))
        )
        values = daily["ic"].drop_nulls().to_numpy()
        mean = float(values.mean()) if values.size else math.nan
        std = float(values.std(ddof=1)) if values.size > 1 else math.nan
        rows.append(
            {
                "horizon": h,
                "rank_ic_mean": mean,
                "rank_ic_ir": mean / std if std and std > 0 else math.nan,
                "n_days": int(values.size),
            }
        )
    schema = {
        "horizon": pl.Int64,
        "rank_ic_mean": pl.Float64,
        "rank_ic_ir": pl.Float64,
        "n_days": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def ic_metrics(ic: pl.DataFrame) -> dict[str, float]:
    """Mean IC / rank IC and their information ratios (mean / std of the daily series)."""
    out: dict[str, float] = {}
    for col in ("ic", "rank_ic"):
        values = ic[col].drop_nulls().to_numpy()
        mean = float(values.mean()) if values.size else math.nan
        std = float(values.std(ddof=1)) if values.size > 1 else math.nan
        out[f"{col}_mean"] = mean
        out[f"{col}_ir"] = mean / std if std and std > 0 else math.nan
    return out


def rmse(preds: pl.DataFrame) -> float:
    valid = preds.filter(pl.col(LABEL).is_not_null())
    if valid.height == 0:
        return math.nan
    err = valid[PREDICTION].to_numpy() - valid[LABEL].to_numpy()
    return float(np.sqrt(np.mean(err**2)))


PredictionStats = tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]
_PRED_CACHE: dict[int, tuple[pl.DataFrame, tuple[int, tuple[str, ...]], PredictionStats]] = {}
_PRED_CACHE_SIZE = 4


def prediction_metrics(preds: pl.DataFrame) -> dict[str, Any]:
    """Flat metrics of the predictions alone (see :func:`prediction_stats`)."""
    return dict(prediction_stats(preds)[0])


def prediction_stats(preds: pl.DataFrame) -> PredictionStats:
    """``(metrics, quantile table, IC-decay table)`` of the predictions alone: IC, IC decay,
    quintile returns and test RMSE.

    They do not depend on books, sizing or costs, so repeated calls on the same frame (the
    app's rebook loop) reuse the last result; the cache holds the frame itself, so its id
    cannot be reused while cached, and a change of height or columns invalidates it.
    """
    key = id(preds)
    shape = (preds.height, tuple(preds.columns))
    hit = _PRED_CACHE.get(key)
    if hit is not None and hit[0] is preds and hit[1] == shape:
        return hit[2]
    quant = quantile_returns(preds)
    q = dict(zip(quant["quantile"].to_list(), quant["mean_return"].to_list(), strict=True))
    decay = ic_decay(preds)
    horizons = decay["horizon"].to_list()
    out: dict[str, Any] = {
        **{f"q{k}_return": v for k, v in q.items()},
        "quantile_spread": _spread(q.get(QUANTILES), q.get(1)),
        **{
            f"ic_decay_{h}": v
            for h, v in zip(horizons, decay["rank_ic_mean"].to_list(), strict=True)
        },
        **ic_metrics(daily_ic(preds)),
        "test_rmse": rmse(preds),
    }
    if len(_PRED_CACHE) >= _PRED_CACHE_SIZE:
        _PRED_CACHE.pop(next(iter(_PRED_CACHE)))
    _PRED_CACHE[key] = (preds, shape, (out, quant, decay))
    return out, quant, decay


BOOT_ELEMENTS = 2_000_000
"""Budget of resampled returns per bootstrap interval (keeps a rebook of 20 years fast)."""


def default_n_boot(n_days: int) -> int:
    """1000 resamples up to ~8 years of days, fewer beyond (never under 300)."""
    return int(min(1000, max(300, BOOT_ELEMENTS // max(n_days, 1))))


def hit_rate(books: pl.DataFrame) -> float:
    """Share of realised positions whose return has the sign of their weight."""
    if LABEL not in books.columns:
        return math.nan
    realised = books.filter(pl.col(LABEL).is_not_null())
    if realised.height == 0:
        return math.nan
    return float((realised["weight"] * realised[LABEL] > 0).mean())


def compute_metrics(
    daily: pl.DataFrame,
    preds: pl.DataFrame,
    model_meta: dict[str, Any],
    *,
    books: pl.DataFrame | None = None,
    n_trials: int = 1,
    seed: int = 0,
    n_boot: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's metrics as one flat dict with snake_case keys (the CLI's ``--json``).

    ``daily`` may carry the cost columns of :func:`alpha_core.backtest.add_costs`; without
    them the net metrics equal the gross ones. ``books`` adds the positions' hit rate.
    ``n_boot`` (stationary-bootstrap resamples of the Sharpe interval) defaults to
    :func:`default_n_boot` of the series length; ``seed`` makes the interval reproducible.
    """
    ls = daily["long_short"].to_numpy()
    n_boot = n_boot or default_n_boot(ls.size)
    net = daily["long_short_net"].to_numpy() if "long_short_net" in daily.columns else ls
    bench = daily["benchmark"].to_numpy()
    metrics: dict[str, Any] = {
        **return_metrics(ls),
        **risk_metrics(ls, bench, "", n_trials, seed, n_boot),
        **return_metrics(net, suffix="_net"),
        **risk_metrics(net, bench, "_net", n_trials, seed, n_boot),
        "n_trials": n_trials,
        "sharpe_boot_n": n_boot,
        "hit_rate": hit_rate(books) if books is not None else math.nan,
        **_cost_metrics(daily),
        **prediction_metrics(preds),
        **(extra or {}),
        "long_sharpe": stats.sharpe_ratio(daily["long"].to_numpy()),
        "short_sharpe": stats.sharpe_ratio(daily["short"].to_numpy()),
        **return_metrics(daily["benchmark"].to_numpy(), prefix="benchmark_"),
        "avg_long_positions": _mean(daily["n_long"]),
        "avg_short_positions": _mean(daily["n_short"]),
        "train_rmse": model_meta.get("train_rmse", math.nan),
        "n_train_rows": int(model_meta.get("n_train_rows", 0)),
        "n_test_days": daily.height,
        "test_start": str(daily["date"].min()) if daily.height else None,
        "test_end": str(daily["date"].max()) if daily.height else None,
    }
    return {k: _clean(v) for k, v in metrics.items()}


def _spread(top: float | None, bottom: float | None) -> float:
    return math.nan if top is None or bottom is None else top - bottom


def _cost_metrics(daily: pl.DataFrame) -> dict[str, float]:
    if "turnover" not in daily.columns or daily.height == 0:
        return {}
    return {
        "turnover_mean": _mean(daily["turnover"]),
        "turnover_annual": _mean(daily["turnover"]) * 252,
        "cost_annual": _mean(daily["cost"]) * 252,
        "trade_cost_annual": _mean(daily["trade_cost"]) * 252,
        "borrow_cost_annual": _mean(daily["borrow_cost"]) * 252,
        "gross_long_mean": _mean(daily["gross_long"]),
        "gross_short_mean": _mean(daily["gross_short"]),
        "net_exposure_mean": _mean(daily["gross_long"] - daily["gross_short"]),
    }


def _mean(series: pl.Series) -> float:
    return float(series.mean()) if series.len() else math.nan  # type: ignore[arg-type]


def _clean(value: Any) -> Any:
    """Plain JSON-friendly scalars: numpy types to Python, non-finite floats to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


FORMATS = {"pct": "{:.2%}", "pct4": "{:.4%}", "num": "{:.2f}", "num4": "{:.4f}", "int": "{:,}"}


def format_value(value: Any, kind: str) -> str:
    """One metric value as shown in the CLI and the app ("n/a" for missing / non-finite)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "int":
        value = int(value)
    return FORMATS[kind].format(value) if kind in FORMATS else str(value)


def _pct(x: float | None) -> str:
    return format_value(x, "pct")


def _num(x: float | None) -> str:
    return format_value(x, "num")


def performance_summary(metrics: dict[str, Any], data_label: str = "") -> str:
    """The founding document's Performance Summary, with our measured values beside its claims."""
    positions = None
    if metrics.get("avg_long_positions") is not None:
        positions = metrics["avg_long_positions"] + (metrics.get("avg_short_positions") or 0)
    ci = f"[{_num(metrics.get('sharpe_ci_low'))}, {_num(metrics.get('sharpe_ci_high'))}]"
    rows = [
        (
            "Sharpe Ratio (long-short)",
            _num(metrics.get("sharpe")),
            "1.37",
            _num(metrics.get("benchmark_sharpe")),
        ),
        ("  95% interval", ci, "not given", ""),
        (
            "Total Return",
            _pct(metrics.get("total_return")),
            "17.0%",
            _pct(metrics.get("benchmark_total_return")),
        ),
        (
            "Max Drawdown",
            _pct(metrics.get("max_drawdown")),
            "-18.4%",
            _pct(metrics.get("benchmark_max_drawdown")),
        ),
        (
            "Win Rate",
            _pct(metrics.get("win_rate")),
            "50.0%",
            _pct(metrics.get("benchmark_win_rate")),
        ),
        (
            "Sharpe after costs (net)",
            _num(metrics.get("sharpe_net")),
            "not given",
            "",
        ),
        (
            "  95% interval (net)",
            _interval(metrics, "sharpe_net_ci"),
            "",
            "",
        ),
        (
            "  bootstrap interval (gross / net)",
            f"{_interval(metrics, 'sharpe_boot_ci')} / {_interval(metrics, 'sharpe_net_boot_ci')}",
            "",
            "",
        ),
        (
            "PSR vs 0 (gross / net)",
            f"{_pct(metrics.get('psr'))} / {_pct(metrics.get('psr_net'))}",
            "not given",
            "",
        ),
        (
            f"DSR, {metrics.get('n_trials', 1)} trial(s) (gross / net)",
            f"{_pct(metrics.get('dsr'))} / {_pct(metrics.get('dsr_net'))}",
            "not given",
            "",
        ),
        (
            "Min track record (days, gross / net)",
            f"{_trl(metrics, '')} / {_trl(metrics, '_net')}",
            "",
            "",
        ),
        (
            "Total Return (net)",
            _pct(metrics.get("total_return_net")),
            "",
            "",
        ),
        (
            "CAGR (gross / net)",
            f"{_pct(metrics.get('cagr'))} / {_pct(metrics.get('cagr_net'))}",
            "",
            "",
        ),
        (
            "Sortino / Calmar (net)",
            f"{_num(metrics.get('sortino_net'))} / {_num(metrics.get('calmar_net'))}",
            "",
            "",
        ),
        (
            "Alpha (ann.) / beta vs benchmark",
            f"{_pct(metrics.get('alpha'))} / {_num(metrics.get('beta'))}",
            "",
            "",
        ),
        (
            "Daily turnover / annual cost",
            f"{_num(metrics.get('turnover_mean'))} / {_pct(metrics.get('cost_annual'))}",
            "",
            "",
        ),
        (
            "Top - bottom quintile (daily)",
            _pct4(metrics.get("quantile_spread")),
            "",
            "",
        ),
        ("Hit rate (positions)", _pct(metrics.get("hit_rate")), "", ""),
        ("Daily Positions", _num(positions), "~28", ""),
        ("Long-only Sharpe", _num(metrics.get("long_sharpe")), "1.40", ""),
        ("Short-only Sharpe", _num(metrics.get("short_sharpe")), "-0.27", ""),
        ("Mean rank IC", f"{metrics.get('rank_ic_mean') or 0:.4f}", "not given", ""),
        (
            "Train / test RMSE",
            f"{_num4(metrics.get('train_rmse'))} / {_num4(metrics.get('test_rmse'))}",
            "0.0375 / 0.0177",
            "",
        ),
        ("Training rows", str(metrics.get("n_train_rows")), "385,394", ""),
        ("Test days", str(metrics.get("n_test_days")), "126", ""),
    ]
    header = ("Metric", "Measured", "Seed claim", "Equal-weight benchmark")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        f"Performance Summary{f' ({data_label})' if data_label else ''}",
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    folds = metrics.get("n_folds") or 1
    lines.append(
        f"Test {metrics.get('test_start')} .. {metrics.get('test_end')}"
        f"{f' ({folds} walk-forward folds)' if folds > 1 else ''}; unlabelled return rows are "
        "gross (before costs), net rows after trading and borrow costs; "
        "seed figures are claims on other data."
    )
    if metrics.get("limit_infeasible_days"):
        lines.append(
            f"Limits could not hold the target gross on {metrics['limit_infeasible_days']} "
            "day(s): those sides are under-invested."
        )
    return "\n".join(lines)


def _trl(metrics: dict[str, Any], suffix: str) -> str:
    """Minimum track record; infinite (stored as null) when the Sharpe ratio is <= 0."""
    value = metrics.get(f"min_trl{suffix}")
    if value is None:
        sharpe = metrics.get(f"sharpe{suffix}")
        return "never (SR <= 0)" if sharpe is not None and sharpe <= 0 else "n/a"
    return f"{value:.0f}"


def _interval(metrics: dict[str, Any], key: str) -> str:
    return f"[{_num(metrics.get(key + '_low'))}, {_num(metrics.get(key + '_high'))}]"


def _pct4(x: float | None) -> str:
    return format_value(x, "pct4")


def _num4(x: float | None) -> str:
    return format_value(x, "num4")
