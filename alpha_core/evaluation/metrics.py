"""The metrics of a run: what each one is (:data:`METRICS`) and how it is computed.

All return metrics are on the daily long-short series unless prefixed (``long_``,
``short_``, ``benchmark_``). Keys without a suffix are gross (before costs); the same
metric after costs carries ``_net`` (``sharpe_net``, ``total_return_net``, ...).
Uncertainty travels with the Sharpe ratio: its 95% interval (analytic, with skew and
kurtosis: ``sharpe_ci_low/high``; stationary bootstrap: ``sharpe_boot_ci_low/high``), the
probabilistic Sharpe ratio against 0 (``psr``), the deflated Sharpe ratio given the
config's ``n_trials`` (``dsr``: the runs of the run's family, same data fingerprint and
label, plus the candidates its validation window compared) and the minimum track record
length in days (``min_trl``).

Costs: ``turnover_mean`` (alias ``turnover``), ``cost_annual`` (the annual cost drag as a
return, alias ``cost_drag``), ``sharpe_net`` (alias ``net_sharpe``) and ``break_even_bps``,
the trading cost at which the net Sharpe is 0 (:func:`break_even_bps`, in closed form).

IC and quantile statistics always use the raw realised return (``label``, and the
forward returns ``fwd_ret_<h>`` for the IC decay), never a transformed training label.

A new metric is its computation in :func:`compute_metrics` plus one :class:`Metric` entry in
:data:`METRICS`; the CLI's Performance Summary and the app's tables
(:mod:`alpha_core.evaluation.report`) read the registry and show it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from alpha_core.features.library import LABEL
from alpha_core.features.transforms import percentile_rank
from alpha_core.signals.predictions import IC_HORIZONS, PREDICTION, fwd_col
from alpha_core.stats import returns as stats
from alpha_core.stats.scoring import tie_summary

QUANTILES = 5

BOOT_ELEMENTS = 2_000_000
"""Budget of resampled returns per bootstrap interval (keeps a rebook of 20 years fast)."""


# ------------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Metric:
    """How one metric is named and shown; ``key`` is its key in :func:`compute_metrics`."""

    key: str
    label: str
    """Display name; ``{other_key}`` is filled from the run's metrics (e.g. ``{n_trials}``)."""
    kind: str = "num"
    """Format of :func:`alpha_core.evaluation.report.format_value`: pct, pct4, num, num4, int or
    text."""
    group: str = "Long-short, gross"
    """Section of the Performance Summary."""
    claim: float | str | None = None
    """The founding document's figure, measured on data we do not have: shown, never targeted."""
    benchmark: str | None = None
    """Key of the same figure for the equal-weight benchmark."""
    summary: bool = False
    """Shown in the CLI's Performance Summary (every metric is shown in the app's tables)."""
    derive: Callable[[Mapping[str, Any]], Any] | None = None
    """Computed at display time from the other metrics (not saved with the run)."""
    compute: Callable[[pl.DataFrame, pl.DataFrame, pl.DataFrame | None], Any] | None = None
    """``compute(daily, predictions, books)``: a metric computed with the run and saved in
    its metrics.json (for metrics not already produced by :func:`compute_metrics`)."""
    section: str = ""
    """Where a researcher looks for it (one of :data:`SECTIONS`; see
    :func:`alpha_core.evaluation.report.metric_sections`)."""
    unit: str = ""
    """What its number is in ("bps", "days", "annualised"...); empty: from ``kind``
    (:attr:`units`)."""
    says: Callable[[Mapping[str, Any]], str | None] | None = None
    """Words shown instead of the number when the number would mislead (e.g. a negative
    break-even cost is "loses before costs"); None: the number."""

    @property
    def units(self) -> str:
        """The unit shown beside the value: ``unit``, else "%" for percentages and "count"
        for integers (text has none)."""
        return self.unit or {"pct": "%", "pct4": "%", "int": "count"}.get(self.kind, "")

    def value(self, metrics: Mapping[str, Any]) -> Any:
        """This metric's value in ``metrics`` (None when absent)."""
        return self.derive(metrics) if self.derive is not None else metrics.get(self.key)

    def title(self, metrics: Mapping[str, Any] | None = None) -> str:
        """The label with ``{key}`` placeholders filled from ``metrics`` ("n" if unknown)."""
        if "{" not in self.label:
            return self.label
        return self.label.format_map(_Filled(metrics or {}))


class _Filled(dict):
    def __init__(self, metrics: Mapping[str, Any]) -> None:
        super().__init__({k: v for k, v in metrics.items() if v is not None})

    def __missing__(self, key: str) -> str:
        return "n"


def _positions(m: Mapping[str, Any]) -> float | None:
    long, short = m.get("avg_long_positions"), m.get("avg_short_positions")
    return None if long is None else long + (short or 0)


def loses_before_costs(m: Mapping[str, Any]) -> bool:
    """The books lose before trading costs: gross Sharpe <= 0, or a break-even cost <= 0
    (a break-even cost is only meaningful for a strategy that makes money before costs)."""
    sharpe, even = m.get("sharpe"), m.get("break_even_bps")
    return (isinstance(sharpe, int | float) and sharpe <= 0) or (
        isinstance(even, int | float) and even <= 0
    )


LOSES_BEFORE_COSTS = "loses before costs"


def _break_even_words(m: Mapping[str, Any]) -> str | None:
    return LOSES_BEFORE_COSTS if loses_before_costs(m) else None


_GROSS, _NET, _BOOKS = "Long-short, gross", "Long-short, after costs", "Books and exposure"
_ATTR = "Attribution (risk model)"
NET_GROUP = _NET
"""The Performance Summary's after-costs section (shown first when a run models costs)."""
_BENCH, _PREDS, _RUN = "Equal-weight benchmark", "Predictions", "Model and data"

_S_RETURNS, _S_RISK, _S_SIGNAL = "Returns", "Risk", "Signal"
_S_COSTS, _S_SELECTION, _S_CONFIDENCE = "Costs and turnover", "Selection", "Statistical confidence"
_S_BOOKS, _S_ATTR, _S_BENCH, _S_RUN = _BOOKS, _ATTR, _BENCH, _RUN
SECTIONS = (_S_RETURNS, _S_RISK, _S_SIGNAL, _S_COSTS, _S_SELECTION, _S_CONFIDENCE, _S_BOOKS,
            _S_ATTR, _S_BENCH, _S_RUN)  # fmt: skip
"""The sections of a run's metrics, in reading order (each :class:`Metric` names one)."""

_REGISTRY: tuple[Metric, ...] = (
    Metric("sharpe", "Sharpe ratio (long-short, annualised)", claim=1.37,
           benchmark="benchmark_sharpe", summary=True, unit="annualised", section=_S_RETURNS),
    Metric("sharpe_ci_low", "Sharpe 95% interval: low", summary=True, unit="annualised",
           section=_S_CONFIDENCE),
    Metric("sharpe_ci_high", "Sharpe 95% interval: high", summary=True, unit="annualised",
           section=_S_CONFIDENCE),
    Metric("sharpe_boot_ci_low", "Sharpe 95% bootstrap interval: low", summary=True,
           unit="annualised", section=_S_CONFIDENCE),
    Metric("sharpe_boot_ci_high", "Sharpe 95% bootstrap interval: high", summary=True,
           unit="annualised", section=_S_CONFIDENCE),
    Metric("sharpe_boot_n", "Bootstrap resamples", "int", unit="resamples", section=_S_CONFIDENCE),
    Metric("psr", "PSR vs 0 (probabilistic Sharpe ratio)", "pct", summary=True,
           section=_S_CONFIDENCE),
    Metric("dsr", "DSR, {n_trials} trial(s) (deflated Sharpe ratio)", "pct", summary=True,
           section=_S_CONFIDENCE),
    Metric("n_trials", "Trials counted by the DSR", "int", unit="runs", section=_S_CONFIDENCE),
    Metric("min_trl", "Minimum track record length (days)", summary=True, unit="days",
           section=_S_CONFIDENCE),
    Metric("total_return", "Total return", "pct", claim=0.17,
           benchmark="benchmark_total_return", summary=True, section=_S_RETURNS),
    Metric("cagr", "CAGR", "pct", summary=True, unit="% a year", section=_S_RETURNS),
    Metric("annual_return", "Annualised mean return", "pct", unit="% a year", section=_S_RETURNS),
    Metric("annual_volatility", "Annual volatility", "pct",
           benchmark="benchmark_annual_volatility", unit="% a year", section=_S_RISK),
    Metric("max_drawdown", "Max drawdown", "pct", claim=-0.1836,
           benchmark="benchmark_max_drawdown", summary=True, section=_S_RISK),
    Metric("win_rate", "Win rate (days up)", "pct", claim=0.50,
           benchmark="benchmark_win_rate", summary=True, section=_S_RETURNS),
    Metric("sortino", "Sortino ratio", unit="ratio", section=_S_RISK),
    Metric("calmar", "Calmar ratio", unit="ratio", section=_S_RISK),
    Metric("alpha", "Alpha vs benchmark (annual)", "pct", summary=True, unit="% a year",
           section=_S_RETURNS),
    Metric("beta", "Beta vs benchmark", summary=True, unit="x benchmark", section=_S_RISK),
    Metric("sharpe_net", "Sharpe after costs (net)", group=_NET, summary=True, unit="annualised",
           section=_S_RETURNS),
    Metric("sharpe_net_ci_low", "Sharpe after costs 95% interval: low", group=_NET,
           summary=True, unit="annualised", section=_S_CONFIDENCE),
    Metric("sharpe_net_ci_high", "Sharpe after costs 95% interval: high", group=_NET,
           summary=True, unit="annualised", section=_S_CONFIDENCE),
    Metric("sharpe_net_boot_ci_low", "Sharpe after costs 95% bootstrap interval: low",
           group=_NET, summary=True, unit="annualised", section=_S_CONFIDENCE),
    Metric("sharpe_net_boot_ci_high", "Sharpe after costs 95% bootstrap interval: high",
           group=_NET, summary=True, unit="annualised", section=_S_CONFIDENCE),
    Metric("psr_net", "PSR vs 0 (net)", "pct", group=_NET, summary=True, section=_S_CONFIDENCE),
    Metric("dsr_net", "DSR, {n_trials} trial(s) (net)", "pct", group=_NET, summary=True,
           section=_S_CONFIDENCE),
    Metric("min_trl_net", "Minimum track record length (days, net)", group=_NET, summary=True,
           unit="days", section=_S_CONFIDENCE),
    Metric("total_return_net", "Total return net of costs", "pct", group=_NET, summary=True,
           section=_S_RETURNS),
    Metric("cagr_net", "CAGR net of costs", "pct", group=_NET, summary=True, unit="% a year",
           section=_S_RETURNS),
    Metric("annual_return_net", "Annualised mean return net of costs", "pct", group=_NET,
           unit="% a year", section=_S_RETURNS),
    Metric("annual_volatility_net", "Annual volatility net of costs", "pct", group=_NET,
           unit="% a year", section=_S_RISK),
    Metric("max_drawdown_net", "Max drawdown net of costs", "pct", group=_NET, section=_S_RISK),
    Metric("win_rate_net", "Win rate net of costs", "pct", group=_NET, section=_S_RETURNS),
    Metric("sortino_net", "Sortino ratio net of costs", group=_NET, summary=True, unit="ratio",
           section=_S_RISK),
    Metric("calmar_net", "Calmar ratio net of costs", group=_NET, summary=True, unit="ratio",
           section=_S_RISK),
    Metric("alpha_net", "Alpha vs benchmark net of costs (annual)", "pct", group=_NET,
           unit="% a year", section=_S_RETURNS),
    Metric("beta_net", "Beta vs benchmark net of costs", group=_NET, unit="x benchmark",
           section=_S_RISK),
    *(Metric(f"{key}{sfx}", f"{label}{' net of costs' if sfx else ''}", kind,
             group=_NET if sfx else _GROSS,
             compute=lambda d, _p, _b, fn=fn, col=col: _tail(d, col, fn),
             unit="ratio" if kind == "num" else "% a day", section=_S_RISK)
      for sfx, col in (("", "long_short"), ("_net", "long_short_net"))
      for key, label, kind, fn in (
          ("var_95", "Daily VaR 95% (historical)", "pct", stats.value_at_risk),
          ("cvar_95", "Daily CVaR 95% (expected shortfall)", "pct",
           stats.conditional_value_at_risk),
          ("tail_ratio", "Tail ratio (95th / 5th percentile)", "num", stats.tail_ratio))),
    Metric("turnover_mean", "Mean daily turnover", group=_NET, summary=True,
           unit="x capital a day", section=_S_COSTS),
    Metric("turnover_annual", "Annual turnover", group=_NET, unit="x capital a year",
           section=_S_COSTS),
    Metric("cost_annual", "Annual cost drag", "pct", group=_NET, summary=True, unit="% a year",
           section=_S_COSTS),
    Metric("break_even_bps", "Break-even cost (bps: net Sharpe 0)", group=_NET, summary=True,
           unit="bps per unit turnover", says=_break_even_words, section=_S_COSTS),
    Metric("net_sharpe", "Net Sharpe (= Sharpe after costs)", group=_NET, unit="annualised",
           section=_S_RETURNS),
    Metric("turnover", "Turnover (= mean daily turnover)", group=_NET, unit="x capital a day",
           section=_S_COSTS),
    Metric("cost_drag", "Cost drag (= annual cost drag)", "pct", group=_NET, section=_S_COSTS),
    Metric("trade_cost_annual", "Annual trading cost", "pct", group=_NET, unit="% a year",
           section=_S_COSTS),
    Metric("borrow_cost_annual", "Annual borrow cost", "pct", group=_NET, unit="% a year",
           section=_S_COSTS),
    Metric("hit_rate", "Hit rate (positions right)", "pct", group=_BOOKS, summary=True,
           section=_S_SIGNAL),
    Metric("positions_per_day", "Daily positions (long + short)", group=_BOOKS, claim="~28",
           summary=True, derive=_positions, unit="names", section=_S_BOOKS),
    Metric("avg_long_positions", "Average long positions", group=_BOOKS, unit="names",
           section=_S_BOOKS),
    Metric("avg_short_positions", "Average short positions", group=_BOOKS, unit="names",
           section=_S_BOOKS),
    Metric("long_sharpe", "Long-only Sharpe", group=_BOOKS, claim=1.40, summary=True,
           unit="annualised", section=_S_RETURNS),
    Metric("short_sharpe", "Short-only Sharpe", group=_BOOKS, claim=-0.27, summary=True,
           unit="annualised", section=_S_RETURNS),
    Metric("gross_long_mean", "Mean gross long", group=_BOOKS, unit="x capital", section=_S_BOOKS),
    Metric("gross_short_mean", "Mean gross short", group=_BOOKS, unit="x capital",
           section=_S_BOOKS),
    Metric("net_exposure_mean", "Mean net exposure", group=_BOOKS, unit="x capital",
           section=_S_BOOKS),
    Metric("capped_days", "Days with a weight at a limit", "int", group=_BOOKS, unit="days",
           section=_S_BOOKS),
    Metric("capped_days_share", "Share of days with a weight at a limit", "pct", group=_BOOKS,
           section=_S_BOOKS),
    Metric("capped_positions_mean", "Positions at a limit per day", group=_BOOKS, unit="names",
           section=_S_BOOKS),
    Metric("limit_infeasible_days", "Days the limits could not hold the gross", "int",
           group=_BOOKS, unit="days", section=_S_BOOKS),
    Metric("optimizer_days", "Days the optimiser solved", "int", group=_BOOKS, unit="days",
           section=_S_BOOKS),
    Metric("optimizer_fallback_days", "Days the optimiser fell back to the book held", "int",
           group=_BOOKS, unit="days", section=_S_BOOKS),
    Metric("optimizer_no_risk_days", "Days without a risk model (no book)", "int",
           group=_BOOKS, unit="days", section=_S_BOOKS),
    Metric("attr_market_annual", "P&L from the market (annual)", "pct", group=_ATTR,
           unit="% a year", section=_S_ATTR),
    Metric("attr_sector_annual", "P&L from sectors (annual)", "pct", group=_ATTR, unit="% a year",
           section=_S_ATTR),
    Metric("attr_style_annual", "P&L from styles (annual)", "pct", group=_ATTR, unit="% a year",
           section=_S_ATTR),
    Metric("attr_specific_annual", "P&L specific to the names (annual)", "pct", group=_ATTR,
           unit="% a year", section=_S_ATTR),
    Metric("attr_cost_annual", "P&L lost to costs (annual)", "pct", group=_ATTR, unit="% a year",
           section=_S_ATTR),
    Metric("predicted_vol_annual", "Predicted volatility (risk model)", "pct", group=_ATTR,
           unit="% a year", section=_S_ATTR),
    Metric("realised_vol_annual", "Realised volatility, net", "pct", group=_ATTR, unit="% a year",
           section=_S_ATTR),
    Metric("days_without_long", "Days with no long position", "int", group=_BOOKS,
           unit="days", section=_S_BOOKS),
    Metric("days_without_short", "Days with no short position", "int", group=_BOOKS,
           unit="days", section=_S_BOOKS),
    Metric("days_without_positions", "Days with no position (left out of the statistics)",
           "int", group=_BOOKS, unit="days", section=_S_BOOKS),
    Metric("benchmark_sharpe", "Benchmark Sharpe", group=_BENCH, unit="annualised",
           section=_S_BENCH),
    Metric("benchmark_total_return", "Benchmark total return", "pct", group=_BENCH,
           section=_S_BENCH),
    Metric("benchmark_annual_volatility", "Benchmark annual volatility", "pct", group=_BENCH,
           unit="% a year", section=_S_BENCH),
    Metric("benchmark_max_drawdown", "Benchmark max drawdown", "pct", group=_BENCH,
           section=_S_BENCH),
    Metric("benchmark_win_rate", "Benchmark win rate (days up)", "pct", group=_BENCH,
           section=_S_BENCH),
    Metric("quantile_spread", "Top - bottom quintile daily return", "pct4", group=_PREDS,
           summary=True, unit="% a day", section=_S_SIGNAL),
    *(Metric(f"q{q}_return", f"Quintile {q} mean daily return", "pct4", group=_PREDS,
             unit="% a day", section=_S_SIGNAL)
      for q in range(1, QUANTILES + 1)),
    Metric("ic_mean", "Mean IC (Pearson)", "num4", group=_PREDS, unit="correlation",
           section=_S_SIGNAL),
    Metric("ic_ir", "IC information ratio", group=_PREDS, unit="ratio", section=_S_SIGNAL),
    Metric("rank_ic_mean", "Mean rank IC (Spearman)", "num4", group=_PREDS, summary=True,
           unit="correlation", section=_S_SIGNAL),
    Metric("rank_ic_ir", "Rank IC information ratio", group=_PREDS, unit="ratio",
           section=_S_SIGNAL),
    *(Metric(f"ic_decay_{h}", f"Mean rank IC vs {h}-day forward return", "num4", group=_PREDS,
             unit="correlation", section=_S_SIGNAL)
      for h in IC_HORIZONS),
    Metric("valid_rank_ic", "Validation mean rank IC (chosen model)", "num4", group=_PREDS,
           summary=True, unit="correlation", section=_S_SELECTION),
    Metric("valid_net_sharpe", "Validation net Sharpe (chosen turnover settings)",
           group=_PREDS, summary=True, unit="annualised", section=_S_SELECTION),
    Metric("pred_tie_share", "Mean share of a day's predictions tied", "pct", group=_PREDS,
           section=_S_SIGNAL),
    Metric("tied_days", "Days with over half the predictions tied", "int", group=_PREDS,
           summary=True, unit="days", section=_S_SIGNAL),
    Metric("feature_set", "Feature set", "text", group=_RUN, summary=True, section=_S_SELECTION),
    Metric("n_candidates", "Candidates compared on the validation window", "int", group=_RUN,
           unit="candidates", section=_S_SELECTION),
    Metric("chosen_candidate", "Candidate chosen on the validation window", "text",
           group=_RUN, section=_S_SELECTION),
    Metric("chosen_books", "Turnover settings chosen on the validation window", "text",
           group=_RUN, section=_S_SELECTION),
    Metric("train_rmse", "Train RMSE", "num4", group=_RUN, claim=0.0375, summary=True,
           unit="daily return", section=_S_SIGNAL),
    Metric("test_rmse", "Test RMSE", "num4", group=_RUN, claim=0.0177, summary=True,
           unit="daily return", section=_S_SIGNAL),
    Metric("n_train_rows", "Training rows", "int", group=_RUN, claim=385_394, summary=True,
           unit="rows", section=_S_RUN),
    Metric("n_folds", "Walk-forward folds", "int", group=_RUN, unit="folds", section=_S_RUN),
    Metric("n_test_days", "Test days", "int", group=_RUN, claim=126, summary=True, unit="days",
           section=_S_RUN),
    Metric("test_start", "Test start", "text", group=_RUN, section=_S_RUN),
    Metric("test_end", "Test end", "text", group=_RUN, section=_S_RUN),
    Metric("calendar", "Calendar (inferred from the data)", "text", group=_RUN, section=_S_RUN),
    Metric("periods_per_year", "Bars a year (annualisation)", "int", group=_RUN, unit="bars",
           section=_S_RUN),
    Metric("bad_bars_dropped", "Bad bars dropped (on_bad_bars = drop)", "int", group=_RUN,
           unit="bars", section=_S_RUN),
    Metric("test_rows_lost", "Test-window bars without a prediction", "int", group=_RUN,
           unit="bars", section=_S_RUN),
    Metric("test_dates_lost", "Test-window dates without a prediction", "int", group=_RUN,
           unit="dates", section=_S_RUN),
    Metric("data_fingerprint", "Data fingerprint (the run family's data)", "text", group=_RUN,
           section=_S_RUN),
    Metric("features_dropped", "Features left out (column missing)", "text", group=_RUN,
           section=_S_RUN),
)  # fmt: skip

METRICS: dict[str, Metric] = {m.key: m for m in _REGISTRY}
"""Every metric by key, in display order: the one registry the CLI and the app read.

A new metric is one entry in ``_REGISTRY`` (or ``METRICS[key] = Metric(...)`` at run time).
"""


# ------------------------------------------------------------------------------- computation
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


def ic_summary(daily: pl.Series) -> tuple[float, float, int]:
    """``(mean, information ratio, days)`` of a daily IC series (IR = mean / std, ddof 1)."""
    values = daily.drop_nulls().to_numpy()
    mean = float(values.mean()) if values.size else math.nan
    std = float(values.std(ddof=1)) if values.size > 1 else math.nan
    return mean, mean / std if std and std > 0 else math.nan, int(values.size)


def ic_metrics(ic: pl.DataFrame) -> dict[str, float]:
    """Mean IC / rank IC and their information ratios (mean / std of the daily series)."""
    out: dict[str, float] = {}
    for col in ("ic", "rank_ic"):
        out[f"{col}_mean"], out[f"{col}_ir"], _ = ic_summary(ic[col])
    return out


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
            .sort("date", "asset")
            .group_by("date")
            .agg(pl.corr(PREDICTION, col, method="spearman").alias("ic"), pl.len().alias("n"))
            .filter(pl.col("n") >= 3)
            .with_columns(pl.col("ic").fill_nan(None))
            .sort("date")  # a fixed order of summation: the same bits on every call
        )
        mean, ir, n_days = ic_summary(daily["ic"])
        rows.append({"horizon": h, "rank_ic_mean": mean, "rank_ic_ir": ir, "n_days": n_days})
    schema = {
        "horizon": pl.Int64,
        "rank_ic_mean": pl.Float64,
        "rank_ic_ir": pl.Float64,
        "n_days": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def quantile_returns(preds: pl.DataFrame, n: int = QUANTILES) -> pl.DataFrame:
    """Mean realised return of each prediction quantile: ``quantile, mean_return, n_days``.

    On each date the realised rows are split by the centred percentile of the prediction,
    ``q = floor((r - 0.5) / m * n) + 1`` (r the average rank among the date's m rows), the
    label is averaged within each quantile, then across dates (quantile 1 = lowest).
    """
    valid = preds.filter(pl.col(LABEL).is_not_null()).sort("date", "asset")
    pct = percentile_rank(pl.col(PREDICTION), ["date"])
    per_day = (
        valid.with_columns((pct * n).floor().cast(pl.Int64).clip(0, n - 1).add(1).alias("quantile"))
        .group_by("date", "quantile")
        .agg(pl.col(LABEL).mean().alias("r"))
    )
    table = (
        per_day.sort("quantile", "date")  # a fixed order of summation: the same bits every call
        .group_by("quantile", maintain_order=True)
        .agg(pl.col("r").mean().alias("mean_return"), pl.len().alias("n_days"))
        .sort("quantile")
    )
    full = pl.DataFrame({"quantile": list(range(1, n + 1))}, schema={"quantile": pl.Int64})
    return full.join(table, on="quantile", how="left").with_columns(
        pl.col("n_days").fill_null(0).cast(pl.Int64)
    )


def rmse(preds: pl.DataFrame) -> float:
    valid = preds.filter(pl.col(LABEL).is_not_null())
    if valid.height == 0:
        return math.nan
    err = valid[PREDICTION].to_numpy() - valid[LABEL].to_numpy()
    return float(np.sqrt(np.mean(err**2)))


@dataclass(frozen=True)
class PredictionStats:
    """What the predictions alone say (no books, sizing or costs): compute once per run."""

    metrics: dict[str, Any]
    """Flat metrics: quintile returns and spread, IC decay, IC / rank IC and IR, test RMSE,
    tied predictions."""
    quantiles: pl.DataFrame
    """:func:`quantile_returns` of the predictions."""
    ic_decay: pl.DataFrame
    """:func:`ic_decay` of the predictions."""


def prediction_stats(preds: pl.DataFrame) -> PredictionStats:
    """IC, IC decay, quintile returns and test RMSE of the predictions (a pure function).

    They do not depend on books, sizing or costs: a caller that rebooks the same
    predictions many times computes them once and passes them to :func:`compute_metrics`.
    """
    quant = quantile_returns(preds)
    q = dict(zip(quant["quantile"].to_list(), quant["mean_return"].to_list(), strict=True))
    decay = ic_decay(preds)
    horizons = decay["horizon"].to_list()
    metrics: dict[str, Any] = {
        **{f"q{k}_return": v for k, v in q.items()},
        "quantile_spread": _spread(q.get(QUANTILES), q.get(1)),
        **{
            f"ic_decay_{h}": v
            for h, v in zip(horizons, decay["rank_ic_mean"].to_list(), strict=True)
        },
        **ic_metrics(daily_ic(preds)),
        "test_rmse": rmse(preds),
    }
    ties = tie_summary(preds["date"], preds[PREDICTION])
    metrics.update(pred_tie_share=ties["tie_share_mean"], tied_days=ties["tied_days"])
    return PredictionStats(metrics=metrics, quantiles=quant, ic_decay=decay)


def return_metrics(
    r: np.ndarray, prefix: str = "", suffix: str = "", periods: int = 252
) -> dict[str, float]:
    """Sharpe, total return, volatility, drawdown and win rate of one daily series
    (``periods`` bars a year)."""
    return {
        f"{prefix}sharpe{suffix}": stats.sharpe_ratio(r, periods),
        f"{prefix}total_return{suffix}": stats.total_return(r),
        f"{prefix}annual_volatility{suffix}": stats.annual_volatility(r, periods),
        f"{prefix}max_drawdown{suffix}": stats.max_drawdown(r),
        f"{prefix}win_rate{suffix}": stats.win_rate(r),
    }


def risk_metrics(
    r: np.ndarray,
    benchmark: np.ndarray,
    suffix: str,
    n_trials: int,
    seed: int,
    n_boot: int,
    periods: int = 252,
) -> dict[str, float]:
    """Return/risk ratios and Sharpe inference of one daily series (keys end in ``suffix``)."""
    lo, hi = stats.sharpe_ci_analytic(r, periods=periods)
    blo, bhi = stats.sharpe_ci_bootstrap(r, n_boot=n_boot, seed=seed, periods=periods)
    alpha, beta = stats.alpha_beta(r, benchmark, periods)
    return {
        f"cagr{suffix}": stats.cagr(r, periods),
        f"annual_return{suffix}": stats.annualised_return(r, periods),
        f"sortino{suffix}": stats.sortino_ratio(r, periods),
        f"calmar{suffix}": stats.calmar_ratio(r, periods),
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
    pred_stats: PredictionStats | None = None,
    periods: int = 252,
) -> dict[str, Any]:
    """The run's metrics as one flat dict with snake_case keys (the CLI's ``--json``).

    ``daily`` may carry the cost columns of :func:`alpha_core.portfolio.backtest.add_costs`; without
    them the net metrics equal the gross ones. ``books`` adds the positions' hit rate.
    ``n_boot`` (stationary-bootstrap resamples of the Sharpe interval) defaults to
    :func:`default_n_boot` of the series length; ``seed`` makes the interval reproducible.
    ``pred_stats`` are :func:`prediction_stats` of ``preds`` when already computed.
    ``periods`` is the number of bars a year of the run's calendar (every annualised figure).

    Days on which the books hold no position at all are left out of the return statistics,
    and a side's own figures (``long_sharpe``, ``short_sharpe``) use only the days that side
    holds a position: an empty book is not a zero-return day. They are counted instead
    (``days_without_positions``, ``days_without_long``, ``days_without_short``).
    """
    held = _held(daily)
    kept = daily.filter(held["any"]) if not held["any"].all() else daily
    ls = kept["long_short"].to_numpy()
    n_boot = n_boot or default_n_boot(ls.size)
    net = kept["long_short_net"].to_numpy() if "long_short_net" in kept.columns else ls
    bench = kept["benchmark"].to_numpy()
    pred_stats = pred_stats if pred_stats is not None else prediction_stats(preds)
    metrics: dict[str, Any] = {
        **return_metrics(ls, periods=periods),
        **risk_metrics(ls, bench, "", n_trials, seed, n_boot, periods),
        **return_metrics(net, suffix="_net", periods=periods),
        **risk_metrics(net, bench, "_net", n_trials, seed, n_boot, periods),
        "n_trials": n_trials,
        "sharpe_boot_n": n_boot,
        "hit_rate": hit_rate(books) if books is not None else math.nan,
        **_cost_metrics(daily, periods),
        **_break_even(kept),
        **pred_stats.metrics,
        **(extra or {}),
        "long_sharpe": stats.sharpe_ratio(daily["long"].filter(held["long"]).to_numpy(), periods),
        "short_sharpe": stats.sharpe_ratio(
            daily["short"].filter(held["short"]).to_numpy(), periods
        ),
        "days_without_long": int((~held["long"]).sum()),
        "days_without_short": int((~held["short"]).sum()),
        "days_without_positions": int((~held["any"]).sum()),
        **return_metrics(bench, prefix="benchmark_", periods=periods),
        "avg_long_positions": _mean(daily["n_long"]),
        "avg_short_positions": _mean(daily["n_short"]),
        "train_rmse": model_meta.get("train_rmse", math.nan),
        "n_train_rows": int(model_meta.get("n_train_rows", 0)),
        "n_test_days": daily.height,
        "test_start": str(daily["date"].min()) if daily.height else None,
        "test_end": str(daily["date"].max()) if daily.height else None,
    }
    metrics.update({alias: metrics.get(key) for alias, key in ALIASES.items()})
    for m in METRICS.values():
        if m.compute is not None:
            metrics[m.key] = m.compute(daily, preds, books)
    return {k: _clean(v) for k, v in metrics.items()}


ALIASES = {"net_sharpe": "sharpe_net", "turnover": "turnover_mean", "cost_drag": "cost_annual"}
"""The issue's names for existing metrics (``alias: key``), saved and shown under both."""


def break_even_bps(gross: np.ndarray, turnover: np.ndarray, other_cost: np.ndarray) -> float:
    """The trading cost in bps per unit of turnover at which the net Sharpe is 0.

    The net return ``gross_t - c * turnover_t - other_t`` is linear in the cost rate c, and
    a Sharpe ratio is 0 exactly when the mean is, so
    ``c* = mean(gross - other) / mean(turnover)`` (in bps: times 1e4). Negative when the
    books lose before trading costs; NaN without turnover.
    """
    if gross.size == 0:
        return math.nan
    traded = float(np.mean(turnover))
    if not traded > 0:
        return math.nan
    return float(np.mean(gross - other_cost)) / traded * 1e4


def _break_even(kept: pl.DataFrame) -> dict[str, float]:
    """:func:`break_even_bps` over the days the statistics use (borrow fees stay charged)."""
    if "turnover" not in kept.columns:
        return {}
    return {
        "break_even_bps": break_even_bps(
            kept["long_short"].to_numpy(),
            kept["turnover"].to_numpy(),
            kept["borrow_cost"].to_numpy(),
        )
    }


def _tail(daily: pl.DataFrame, column: str, fn: Callable[[np.ndarray], float]) -> float:
    """A tail statistic of ``column`` (net falls back to gross) on the days with positions."""
    column = column if column in daily.columns else "long_short"
    if daily.is_empty():
        return math.nan
    return fn(daily.filter(_held(daily)["any"])[column].to_numpy())


def _spread(top: float | None, bottom: float | None) -> float:
    return math.nan if top is None or bottom is None else top - bottom


def _held(daily: pl.DataFrame) -> dict[str, pl.Series]:
    """Masks of the days the long side, the short side and either side hold a position."""
    long, short = daily["n_long"] > 0, daily["n_short"] > 0
    return {"long": long, "short": short, "any": long | short}


def _cost_metrics(daily: pl.DataFrame, periods: int = 252) -> dict[str, float]:
    if "turnover" not in daily.columns or daily.height == 0:
        return {}
    return {
        "turnover_mean": _mean(daily["turnover"]),
        "turnover_annual": _mean(daily["turnover"]) * periods,
        "cost_annual": _mean(daily["cost"]) * periods,
        "trade_cost_annual": _mean(daily["trade_cost"]) * periods,
        "borrow_cost_annual": _mean(daily["borrow_cost"]) * periods,
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
