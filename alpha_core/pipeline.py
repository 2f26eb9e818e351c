"""One run, end to end: panel -> features -> model(s) -> predictions -> books -> backtest -> report.

The CLI and the app both call :func:`run_experiment`; nothing here is specific to either.
Training goes through :mod:`alpha_core.walkforward` (a single split is one fold); the
predictions carry what sizing, limits and statistics need besides the score: the raw
``vol_20``, ``sector`` and ``asset_class`` at the decision date, the fold, and the forward
returns ``fwd_ret_<h>`` for the IC decay. :func:`rebook` turns stored predictions into
books, daily P&L (gross and net of costs) and metrics without retraining.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from alpha_core.backtest import add_costs, daily_returns
from alpha_core.books import build_books
from alpha_core.config import ConfigError, RunConfig
from alpha_core.data import PanelError, panel_fingerprint
from alpha_core.features import FEATURE_NAMES, build_features
from alpha_core.metrics import (
    IC_HORIZONS,
    PredictionStats,
    compute_metrics,
    fwd_col,
    prediction_stats,
)
from alpha_core.model import TrainedModel
from alpha_core.quality import duplicate_bars
from alpha_core.transforms import transform_features
from alpha_core.walkforward import run_folds, shuffle_labels_within_date

__all__ = [
    "OnProgress",
    "RunResult",
    "check_windows",
    "data_span",
    "default_windows",
    "feature_names",
    "rebook",
    "run_experiment",
    "shuffle_labels_within_date",
]

OnProgress = Callable[[str, float], None]
"""Called as ``on_progress(message, fraction_done)``."""


@dataclass
class RunResult:
    """Everything a run produced; persisted by :mod:`alpha_core.registry`."""

    config: RunConfig
    model: TrainedModel
    predictions: pl.DataFrame
    books: pl.DataFrame
    daily: pl.DataFrame
    metrics: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    models: list[TrainedModel] = field(default_factory=list)
    """Every fold's model in order (one for a single split); ``model`` is the last."""
    folds: pl.DataFrame | None = None
    """One row per fold: windows, purge boundary, rows, RMSE (see walkforward.run_folds)."""
    quantiles: pl.DataFrame | None = None
    """Mean realised return per prediction quintile (report.quantile_returns)."""
    ic_decay: pl.DataFrame | None = None
    """Mean rank IC against forward 1..20-day returns (report.ic_decay)."""


def data_span(panel: pl.DataFrame) -> tuple[date, date]:
    span = panel.select(pl.col("date").min().alias("lo"), pl.col("date").max().alias("hi"))
    return span["lo"][0], span["hi"][0]


def check_windows(config: RunConfig, panel: pl.DataFrame) -> None:
    """Raise ConfigError unless the config is valid and its four dates lie inside the data.

    Raise PanelError when the panel cannot be run as is (duplicate bars would make
    "the previous bar" ambiguous, so the engine refuses them rather than pick one).
    """
    config.validate()
    duplicates = duplicate_bars(panel)
    if duplicates.height:
        extra = int((duplicates["len"] - 1).sum())
        first = duplicates.row(0)
        raise PanelError(
            f"the panel has {extra} extra rows sharing an (asset, date), e.g. "
            f"{first[0]} {first[1]}; remove the duplicates (see the quality report)"
        )
    lo, hi = data_span(panel)
    for name in ("train_start", "train_end", "test_start", "test_end"):
        value = getattr(config, name)
        if not lo <= value <= hi:
            raise ConfigError(f"{name} {value} is outside the data's span {lo} .. {hi}")


def default_windows(panel: pl.DataFrame, test_days: int = 126) -> dict[str, date]:
    """Test on the last ``test_days`` trading dates, train on everything before them."""
    dates = panel.get_column("date").unique().sort()
    if dates.len() < test_days + 60:
        raise ConfigError(
            f"the data has {dates.len()} trading dates; give --train/--test dates explicitly"
        )
    return {
        "train_start": dates[0],
        "train_end": dates[-test_days - 2],
        "test_start": dates[-test_days],
        "test_end": dates[-1],
    }


def feature_names(config: RunConfig) -> tuple[str, ...]:
    return config.features or FEATURE_NAMES


def forward_returns(panel: pl.DataFrame, horizons: tuple[int, ...] = IC_HORIZONS) -> pl.DataFrame:
    """``date, asset, fwd_ret_<h>...``: close t -> close t+h on the asset's own bars."""
    return (
        panel.select("date", "asset", "close")
        .sort("asset", "date")
        .with_columns(
            (pl.col("close").shift(-h).over("asset") / pl.col("close") - 1).alias(fwd_col(h))
            for h in horizons
        )
        .drop("close")
    )


def decision_context(panel: pl.DataFrame, feats: pl.DataFrame) -> pl.DataFrame:
    """``date, asset, sector, asset_class, vol_20`` (raw, known at close t) per bar."""
    groups = [
        pl.col(c).cast(pl.Utf8).fill_null("unknown").alias(c)
        if c in panel.columns
        else pl.lit("unknown").alias(c)
        for c in ("sector", "asset_class")
    ]
    context = panel.select("date", "asset", *groups)
    vol = feats if "vol_20" in feats.columns else build_features(panel, features=("vol_20",))
    return context.join(vol.select("date", "asset", "vol_20"), on=["date", "asset"], how="left")


def run_experiment(
    config: RunConfig,
    panel: pl.DataFrame,
    feats: pl.DataFrame | None = None,
    on_progress: OnProgress | None = None,
) -> RunResult:
    """Train (one model, or one per walk-forward fold), predict, form books and measure.

    ``feats`` may be passed when already built for the same panel and label convention.
    """
    check_windows(config, panel)
    notify = on_progress or (lambda _m, _f: None)
    timings: dict[str, float] = {}
    names = feature_names(config)

    t0 = time.perf_counter()
    if feats is None:
        notify("building features", 0.0)
        feats = build_features(panel, label=config.label, features=names)
    model_feats = transform_features(feats, names, config.feature_transform)
    timings["features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    models, preds, folds = run_folds(config, model_feats, names, notify)
    timings["model"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    keys = ["date", "asset"]
    preds = (
        preds.join(decision_context(panel, feats), on=keys, how="left")
        .join(forward_returns(panel), on=keys, how="left")
        .sort(keys)
    )
    timings["predictions"] = time.perf_counter() - t0

    provenance = {"config": config.to_dict(), "data_fingerprint": panel_fingerprint(panel)}
    for m in models:
        m.meta.update(provenance)
    meta = models_meta(models)
    pred_stats = prediction_stats(preds)
    books, daily, metrics = rebook(preds, config, meta, timings=timings, pred_stats=pred_stats)
    notify("done", 1.0)
    return RunResult(
        config,
        models[-1],
        preds,
        books,
        daily,
        metrics,
        timings,
        models=models,
        folds=folds,
        quantiles=pred_stats.quantiles,
        ic_decay=pred_stats.ic_decay,
    )


def models_meta(models: list[TrainedModel]) -> dict[str, Any]:
    """Training summary over folds: mean train RMSE, rows of the last fold, fold count."""
    if len(models) == 1:
        return {**models[0].meta, "n_folds": 1}
    rmses = [m.meta.get("train_rmse", math.nan) for m in models]
    return {
        "train_rmse": sum(rmses) / len(rmses),
        "n_train_rows": models[-1].meta.get("n_train_rows", 0),
        "n_folds": len(models),
    }


def rebook(
    preds: pl.DataFrame,
    config: RunConfig,
    model_meta: dict[str, Any],
    timings: dict[str, float] | None = None,
    pred_stats: PredictionStats | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Books (ranking, sizing, limits), daily P&L gross and net of costs, and metrics.

    No retraining: this is the whole cost of a percentile, sizing or cost change in the app.
    ``pred_stats`` (:func:`alpha_core.metrics.prediction_stats` of ``preds``) are computed
    when not given.
    """
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    books, limits = build_books(preds, config)
    timings["books"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    daily = daily_returns(books, preds)
    daily = add_costs(daily, books, preds["date"], config.cost_bps, config.borrow_bps)
    timings["backtest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    extra = {**limits, "n_folds": int(model_meta.get("n_folds", 1))}
    metrics = compute_metrics(
        daily,
        preds,
        model_meta,
        books=books,
        n_trials=config.n_trials,
        seed=config.seed,
        extra=extra,
        pred_stats=pred_stats,
    )
    timings["report"] = time.perf_counter() - t0
    return books, daily, metrics
