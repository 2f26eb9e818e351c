"""Metrics of a run and the founding document's Performance Summary table.

All return metrics are on the daily long-short series unless prefixed (``long_``,
``short_``, ``benchmark_``). Uncertainty travels with the Sharpe ratio: its 95% interval
(analytic, with skew and kurtosis) is part of every report.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from alpha_core import stats
from alpha_core.features import LABEL
from alpha_core.predictions import PREDICTION

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


def return_metrics(r: np.ndarray, prefix: str = "") -> dict[str, float]:
    """Sharpe, total return, volatility, drawdown and win rate of one daily series."""
    return {
        f"{prefix}sharpe": stats.sharpe_ratio(r),
        f"{prefix}total_return": stats.total_return(r),
        f"{prefix}annual_volatility": stats.annual_volatility(r),
        f"{prefix}max_drawdown": stats.max_drawdown(r),
        f"{prefix}win_rate": stats.win_rate(r),
    }


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


def compute_metrics(
    daily: pl.DataFrame, preds: pl.DataFrame, model_meta: dict[str, Any]
) -> dict[str, Any]:
    """The run's metrics as one flat dict with snake_case keys (the CLI's ``--json``)."""
    ls = daily["long_short"].to_numpy()
    lo, hi = stats.sharpe_ci_analytic(ls)
    metrics: dict[str, Any] = {
        **return_metrics(ls),
        "sharpe_ci_low": lo,
        "sharpe_ci_high": hi,
        "long_sharpe": stats.sharpe_ratio(daily["long"].to_numpy()),
        "short_sharpe": stats.sharpe_ratio(daily["short"].to_numpy()),
        **return_metrics(daily["benchmark"].to_numpy(), prefix="benchmark_"),
        "avg_long_positions": _mean(daily["n_long"]),
        "avg_short_positions": _mean(daily["n_short"]),
        **ic_metrics(daily_ic(preds)),
        "train_rmse": model_meta.get("train_rmse", math.nan),
        "test_rmse": rmse(preds),
        "n_train_rows": int(model_meta.get("n_train_rows", 0)),
        "n_test_days": daily.height,
        "test_start": str(daily["date"].min()) if daily.height else None,
        "test_end": str(daily["date"].max()) if daily.height else None,
    }
    return {k: _clean(v) for k, v in metrics.items()}


def _mean(series: pl.Series) -> float:
    return float(series.mean()) if series.len() else math.nan  # type: ignore[arg-type]


def _clean(value: Any) -> Any:
    """Plain JSON-friendly scalars: numpy types to Python, non-finite floats to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2%}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


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
    lines.append(
        f"Test {metrics.get('test_start')} .. {metrics.get('test_end')}; returns before costs; "
        "seed figures are claims on other data."
    )
    return "\n".join(lines)


def _num4(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
