"""Watching a lineage in production: its live track record, decay, drift and coverage.

Live track record (:func:`live_daily`): the ledger's current books earn their realised
returns under the run's own label convention (close t -> t+1 by default), gross and net of
the run's costs, through the backtest's own functions
(:func:`alpha_core.portfolio.backtest.daily_returns`
and :func:`~alpha_core.portfolio.backtest.add_costs`: the first live book is bought from cash); the
live rank IC is the per-date Spearman correlation of every scored asset's prediction with its
realised label (:func:`alpha_core.evaluation.metrics.daily_ic`).

The reference is the lineage's **research backtest**: the test window of its first run (its
daily net returns and rank IC), the same whatever retrainings followed, so a verdict changes
when the live track does, never because a model was retrained (a retrained child's test
window is a day or two of dates whose labels are not known yet: nothing to compare with).

Decay (:func:`decay_table`): each live figure over its ``n`` realised days is set against the
backtest's distribution for a track of the same length, under an i.i.d. approximation of the
backtest's daily series (mean ``m``, standard deviation ``sd``): cumulative net return
``n m +- z sd sqrt(n)`` (the sum of ``n`` backtest days); mean rank IC
``m_ic +- z * sd_ic / sqrt(n)``; annualised Sharpe of the net return
``SR +- z * sqrt(252 * (1 + SR_d^2 / 2) / n)`` (Lo 2002, ``SR_d`` daily); hit rate (share of
days with a positive net return) ``p +- z * sqrt(p (1 - p) / n)``. With ``z = decay_z``
(1.645 by default) the band runs from the 5th to the 95th percentile; a figure below its
band after at least ``min_live_days`` days is an alert: the model has decayed.

Drift (:func:`input_drift`, :func:`alpha_core.stats.drift.day_drift`): the decision date's
cross-section of every numeric model input (after the run's feature transform; calendar
fields and categorical codes excluded) against the days of the training window of the
research model (the reference run's newest model, kept across retrainings), with thresholds
calibrated on those days' own day-to-day variation (:mod:`alpha_core.stats.drift`); and the
predictions of the research backtest against the ledger's recent scores. Coverage: the share
of the latest book's assets with a bar that were scored; missing and stale assets of the
run's universe.

A retrain is recommended, with its reasons, on decay, on a feature or prediction drift
alert, or when coverage falls below ``min_coverage``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from alpha_core.desk.book import SavedModel, run_universe
from alpha_core.desk.ledger import (
    SkippedLine,
    current_books,
    ledger_books,
    ledger_scores,
    skipped_dict,
    skipped_text,
)
from alpha_core.evaluation.metrics import daily_ic
from alpha_core.features.library import LABEL, build_features
from alpha_core.features.transforms import keeps_raw, transform_features
from alpha_core.portfolio.backtest import add_costs, daily_returns
from alpha_core.research.config import RunConfig
from alpha_core.signals.predictions import PREDICTION
from alpha_core.stats import drift as drift_stage
from alpha_core.stats import returns as stats

PERIODS = 252


@dataclass(frozen=True)
class MonitorSettings:
    """Thresholds of decay and coverage; drift thresholds in :attr:`drift`."""

    decay_z: float = 1.645
    min_live_days: int = 10
    min_coverage: float = 0.9
    drift: drift_stage.DriftSettings = field(default_factory=drift_stage.DriftSettings)


# ----------------------------------------------------------------------------- live record
def realised_labels(panel: pl.DataFrame, config: RunConfig, start: date) -> pl.DataFrame:
    """``date, asset, label`` from ``start`` on, under the run's label convention."""
    recent = panel.filter(pl.col("date") >= start)
    feats = build_features(recent, label=config.label, features=("hl_range_pc",))
    return feats.select("date", "asset", LABEL)


def live_daily(
    entries: list[dict[str, Any]], panel: pl.DataFrame, config: RunConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(daily, ic)``: the ledger books' daily P&L (backtest columns) and daily rank IC."""
    books = ledger_books(entries)
    if books.height == 0:
        return pl.DataFrame(), pl.DataFrame()
    scores = ledger_scores(entries)
    labels = realised_labels(panel, config, scores["date"].min())
    preds = scores.join(labels, on=["date", "asset"], how="left")
    daily = daily_returns(books, preds)
    daily = add_costs(daily, books, preds["date"], config.cost_bps, config.borrow_bps)
    return daily, daily_ic(preds)


def _band(centre: float, half: float) -> tuple[float, float]:
    return centre - half, centre + half


def decay_table(
    live: pl.DataFrame,
    live_ic: pl.DataFrame,
    backtest: pl.DataFrame,
    backtest_ic: pl.DataFrame,
    settings: MonitorSettings,
) -> pl.DataFrame:
    """``metric, live, backtest, lower, upper, n_days, status`` (see module doc): the
    cumulative net return, mean rank IC, Sharpe ratio and hit rate; ``backtest`` is the
    figure expected over ``n_days`` (the centre of the band)."""
    z = settings.decay_z
    bt = backtest["long_short_net"].drop_nulls().to_numpy()
    bt_ic = backtest_ic["rank_ic"].drop_nulls().to_numpy()
    net = live["long_short_net"].drop_nulls().to_numpy() if live.height else np.array([])
    ic = live_ic["rank_ic"].drop_nulls().to_numpy() if live_ic.height else np.array([])
    rows = []

    def add(metric: str, value: float, centre: float, half: float, n: int) -> None:
        lo, hi = _band(centre, half) if n else (math.nan, math.nan)
        decayed = n >= settings.min_live_days and value < lo
        state = "alert" if decayed else ("ok" if n >= settings.min_live_days else "too short")
        rows.append(dict(metric=metric, live=value, backtest=centre, lower=lo, upper=hi,
                         n_days=n, status=state))  # fmt: skip

    m, sd = _mean_sd(bt)
    n = net.size
    add("cumulative_return", float(net.sum()) if n else math.nan, n * m, z * sd * math.sqrt(n), n)
    m_ic, sd_ic = _mean_sd(bt_ic)
    add("rank_ic", _mean(ic), m_ic, z * sd_ic / math.sqrt(max(ic.size, 1)), ic.size)
    sr_d = m / sd if sd > 0 else math.nan
    half = z * math.sqrt(PERIODS * (1 + sr_d**2 / 2) / max(net.size, 1))
    live_sr = stats.sharpe_ratio(net, PERIODS) if net.size >= 2 else math.nan
    add("sharpe", live_sr, sr_d * math.sqrt(PERIODS), half, net.size)
    p = float(np.mean(bt > 0)) if bt.size else math.nan
    hit = float(np.mean(net > 0)) if net.size else math.nan
    add("hit_rate", hit, p, z * math.sqrt(p * (1 - p) / max(net.size, 1)), net.size)
    return pl.DataFrame(rows)


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def _mean_sd(x: np.ndarray) -> tuple[float, float]:
    return _mean(x), float(x.std(ddof=1)) if x.size > 1 else math.nan


def reference_stats(
    run_id: str, backtest: pl.DataFrame, backtest_ic: pl.DataFrame
) -> dict[str, Any]:
    """What the live track is judged against: the research backtest's daily figures."""
    net = backtest["long_short_net"].drop_nulls().to_numpy() if backtest.height else np.array([])
    ic = backtest_ic["rank_ic"].drop_nulls().to_numpy() if backtest_ic.height else np.array([])
    m, sd = _mean_sd(net)
    m_ic, sd_ic = _mean_sd(ic)
    dates = backtest["date"] if backtest.height else pl.Series([], dtype=pl.Date)
    return {
        "run_id": run_id,
        "start": str(dates.min()) if dates.len() else None,
        "end": str(dates.max()) if dates.len() else None,
        "n_days": int(net.size),
        "mean_net": m,
        "sd_net": sd,
        "hit_rate": float(np.mean(net > 0)) if net.size else math.nan,
        "mean_rank_ic": m_ic,
        "sd_rank_ic": sd_ic,
    }


def track_band(live: pl.DataFrame, backtest: pl.DataFrame, z: float) -> pl.DataFrame:
    """``date, live, expected, lower, upper``: the live cumulative net return day by day
    against the backtest's ``k * mean +- z * sd * sqrt(k)`` after ``k`` days (the chart)."""
    if live.height == 0:
        return pl.DataFrame()
    m, sd = _mean_sd(backtest["long_short_net"].drop_nulls().to_numpy())
    k = np.arange(1, live.height + 1)
    return pl.DataFrame(
        {
            "date": live["date"],
            "live": np.cumsum(live["long_short_net"].fill_null(0.0).to_numpy()),
            "expected": k * m,
            "lower": k * m - z * sd * np.sqrt(k),
            "upper": k * m + z * sd * np.sqrt(k),
        }
    )


# ----------------------------------------------------------------------------- drift
def drift_features(names: tuple[str, ...]) -> list[str]:
    """Model inputs whose distribution is watched (calendar fields and codes excluded)."""
    return [n for n in names if not keeps_raw(n)]


def model_inputs(
    panel: pl.DataFrame, config: RunConfig, model: SavedModel
) -> tuple[pl.DataFrame, list[str]]:
    """The model's inputs on every bar of ``panel`` (after the run's feature transform) and
    the columns whose distribution is watched (:func:`drift_features`)."""
    names = model.model.features
    feats = build_features(panel, label=config.label, features=names)
    feats = transform_features(feats, names, config.feature_transform)
    return feats, drift_features(names)


def training_days(feats: pl.DataFrame, model: SavedModel) -> pl.DataFrame:
    """The rows of ``feats`` in the model's training window (the drift's reference)."""
    train_start = date.fromisoformat(str(model.model.meta["train_start"]))
    return feats.filter(pl.col("date").is_between(train_start, model.train_end))


def input_drift(
    panel: pl.DataFrame, config: RunConfig, model: SavedModel, settings: MonitorSettings
) -> tuple[pl.DataFrame, date]:
    """Drift of the model's inputs on the panel's last date against the days of the
    model's training window (:func:`alpha_core.stats.drift.day_drift`): ``(table, date)``."""
    feats, columns = model_inputs(panel, config, model)
    day = feats["date"].max()
    today = feats.filter(pl.col("date") == day)
    table = drift_stage.day_drift(training_days(feats, model), today, columns, settings.drift)
    return table, day


def prediction_drift(
    backtest_preds: pl.DataFrame, scores: pl.DataFrame, settings: MonitorSettings
) -> dict[str, Any]:
    """The research backtest's predictions against the ledger's last ``recent_days`` books,
    each demeaned per date (:func:`_demeaned`); judged from ``min_live_days`` books on."""
    dates = scores["date"].unique().sort() if scores.height else pl.Series([], dtype=pl.Date)
    recent = scores.filter(pl.col("date").is_in(dates.tail(settings.drift.recent_days).implode()))
    ref = _demeaned(backtest_preds)
    cur = _demeaned(recent)
    value = drift_stage.psi(ref, cur, settings.drift.bins)
    ks, p = drift_stage.ks_test(ref, cur)
    edges = drift_stage.psi_edges(ref, settings.drift.bins)
    enough = min(dates.len(), settings.drift.recent_days) >= settings.min_live_days
    return {
        "psi": value,
        "ks": ks,
        "p_value": p,
        "n_reference": int(ref.size),
        "n_recent": int(cur.size),
        "n_days": min(dates.len(), settings.drift.recent_days),
        "status": drift_stage.status(value, p, settings.drift) if enough else "too short",
        "edges": edges.tolist(),
        "reference_shares": drift_stage.bin_shares(ref, edges).tolist(),
        "recent_shares": drift_stage.bin_shares(cur, edges).tolist() if cur.size else [],
    }


def prediction_shares(drift: dict[str, Any]) -> pl.DataFrame:
    """``bin, share, sample``: :func:`prediction_drift`'s bin shares, backtest then recent
    (the Desk page's "then vs now" chart)."""
    ref, cur = drift["reference_shares"], drift["recent_shares"]
    return pl.DataFrame(
        {
            "bin": list(range(len(ref))) + list(range(len(cur))),
            "share": ref + cur,
            "sample": ["backtest"] * len(ref) + ["recent"] * len(cur),
        }
    )


def _demeaned(preds: pl.DataFrame) -> np.ndarray:
    """Predictions minus their date's mean: books use only each date's ordering, so a level
    common to every asset (e.g. a calendar effect) is not drift."""
    value = pl.col(PREDICTION) - pl.col(PREDICTION).mean().over("date")
    return preds.select(value)[PREDICTION].to_numpy()


def coverage(
    entries: list[dict[str, Any]], panel: pl.DataFrame, model: SavedModel
) -> dict[str, Any]:
    """Share of the latest book's assets with a bar that were scored; missing/stale assets."""
    last_date = panel["date"].max()
    universe = run_universe(model.run_folder, last_date) or []
    last_bar = (
        panel.filter(pl.col("asset").is_in(universe)).group_by("asset").agg(pl.col("date").max())
    )
    stale = last_bar.filter(pl.col("date") < last_date).sort("asset")
    books = current_books(entries)
    latest = books[max(books)] if books else None
    scored = latest["n_scored"] if latest else 0
    unscorable = len(latest["unscorable"]) if latest else 0
    share = scored / (scored + unscorable) if scored + unscorable else math.nan
    return {
        "as_of": str(max(books)) if books else None,
        "share_scored": share,
        "n_scored": scored,
        "unscorable": latest["unscorable"] if latest else [],
        "dropped": latest["dropped"] if latest else [],
        "new": latest["new"] if latest else [],
        "missing": sorted(set(universe) - set(last_bar["asset"].to_list())),
        "stale": [{"asset": a, "last_bar": str(d)} for a, d in stale.iter_rows()],
    }


# ----------------------------------------------------------------------------- the report
@dataclass
class MonitorReport:
    """What ``alpha monitor`` prints and the Desk page draws."""

    run_id: str
    data_end: date
    daily: pl.DataFrame
    ic: pl.DataFrame
    decay: pl.DataFrame
    band: pl.DataFrame
    features: pl.DataFrame
    predictions: dict[str, Any]
    coverage: dict[str, Any]
    recent_start: date
    """The first date of the drift's sample: the decision date (``data_end``) alone."""
    settings: MonitorSettings
    reference: dict[str, Any] = field(default_factory=dict)
    """The research backtest the live track is judged against (:func:`reference_stats`)."""
    reasons: list[str] = field(default_factory=list)
    skipped: tuple[SkippedLine, ...] = ()
    """Ledger lines that were not entries (torn, bad JSON, wrong shape), by line number."""
    positions: dict[str, Any] | None = None
    """The live record from fills and positions (:mod:`alpha_core.desk.fills`), None without
    fills; ``daily`` above is the paper record (the ledger's books at the label's returns)."""

    @property
    def skipped_text(self) -> str:
        """``skipped ledger lines: N (lines ...): ...`` ("" when none)."""
        return skipped_text(self.skipped)

    @property
    def retrain(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        live = self.daily
        return {
            "run_id": self.run_id,
            "data_end": self.data_end.isoformat(),
            "live_days": live.height,
            "live_return_net": float(live["long_short_net"].sum()) if live.height else 0.0,
            "reference": self.reference,
            "decay": self.decay.to_dicts(),
            "drift": self.features.to_dicts(),
            "drift_window": [self.recent_start.isoformat(), self.data_end.isoformat()],
            "predictions": self.predictions,
            "coverage": self.coverage,
            "retrain": {"recommended": self.retrain, "reasons": self.reasons},
            "settings": asdict(self.settings),
            "skipped_ledger_lines": skipped_dict(self.skipped),
            "record": "paper: the ledger's books earning the label's returns (live_*, decay)",
            "positions": self.positions,
        }


def recommend(report: MonitorReport) -> list[str]:
    """The reasons to retrain, each one sentence (empty: none)."""
    reasons = []
    for row in report.decay.filter(pl.col("status") == "alert").iter_rows(named=True):
        reasons.append(
            f"decay: live {row['metric']} {row['live']:.4f} over {row['n_days']} days is below "
            f"the backtest's interval [{row['lower']:.4f}, {row['upper']:.4f}]"
        )
    if report.features.height and drift_stage.drift_alert(report.features, report.settings.drift):
        drifted = report.features.filter(pl.col("status").is_in(["alert", "warn"]))
        listed = ", ".join(_drifted(row) for row in drifted.iter_rows(named=True))
        reasons.append(f"feature drift: {listed} on {report.recent_start}")
    if report.predictions["status"] == "alert":
        reasons.append(f"prediction drift: PSI {report.predictions['psi']:.2f}")
    share = report.coverage["share_scored"]
    if not math.isnan(share) and share < report.settings.min_coverage:
        reasons.append(f"coverage: only {share:.0%} of the assets with a bar were scored")
    return reasons


def _drifted(row: dict[str, Any]) -> str:
    """``vol_20 (alert: location 41.20, alert threshold 6.30)``: a drifted feature and its
    statistic furthest past its alert threshold."""

    def ratio(name: str) -> float:
        value, threshold = row[name], row[f"{name}_threshold"]
        return value / threshold if value is not None and threshold else 0.0

    name = max(drift_stage.ALERTING, key=ratio)
    return (
        f"{row['feature']} ({row['status']}: {name} {row[name]:.2f}, "
        f"alert threshold {row[f'{name}_threshold']:.2f})"
    )
