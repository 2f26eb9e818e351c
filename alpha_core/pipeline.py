"""One run, end to end: panel -> features -> model -> predictions -> books -> backtest -> report.

The CLI and the app both call :func:`run_experiment`; nothing here is specific to either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from alpha_core.backtest import daily_returns
from alpha_core.books import form_books, rank_predictions
from alpha_core.config import ConfigError, RunConfig
from alpha_core.features import FEATURE_NAMES, LABEL, build_features
from alpha_core.model import TrainedModel, fit_model, training_rows
from alpha_core.predictions import predict_window
from alpha_core.report import compute_metrics

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


def data_span(panel: pl.DataFrame) -> tuple[date, date]:
    span = panel.select(pl.col("date").min().alias("lo"), pl.col("date").max().alias("hi"))
    return span["lo"][0], span["hi"][0]


def check_windows(config: RunConfig, panel: pl.DataFrame) -> None:
    """Raise ConfigError unless the config is valid and its four dates lie inside the data."""
    config.validate()
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


def shuffle_labels_within_date(train: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Permute labels among the assets of each date: the no-signal control."""
    rng = np.random.default_rng(seed)
    keys = pl.Series("_key", rng.random(train.height))
    shuffled = train.select("date", LABEL).with_columns(keys).sort("date", "_key").get_column(LABEL)
    return train.sort("date").with_columns(shuffled.alias(LABEL))


def feature_names(config: RunConfig) -> tuple[str, ...]:
    return config.features or FEATURE_NAMES


def run_experiment(
    config: RunConfig,
    panel: pl.DataFrame,
    feats: pl.DataFrame | None = None,
    on_progress: OnProgress | None = None,
) -> RunResult:
    """Train on the config's window, predict the test window, form books and measure them.

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
    timings["features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    train = training_rows(feats, config.train_start, config.train_end, config.test_start, names)
    if config.shuffle_labels:
        train = shuffle_labels_within_date(train, config.seed)
    total = config.model.n_estimators
    model = fit_model(
        train,
        names,
        config.model,
        config.seed,
        progress=lambda i, n: notify(f"training: {i}/{n} trees", 0.05 + 0.9 * i / total),
    )
    timings["model"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    preds = predict_window(model, feats, config.test_start, config.test_end)
    timings["predictions"] = time.perf_counter() - t0

    books, daily, metrics = rebook(preds, config, model.meta, timings=timings)
    notify("done", 1.0)
    return RunResult(config, model, preds, books, daily, metrics, timings)


def rebook(
    preds: pl.DataFrame,
    config: RunConfig,
    model_meta: dict[str, Any],
    timings: dict[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Books, daily P&L and metrics from stored predictions: no retraining.

    This is the whole cost of a percentile change in the app.
    """
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    books = form_books(rank_predictions(preds), config.long_pct, config.short_pct)
    timings["books"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    daily = daily_returns(books, preds)
    timings["backtest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    metrics = compute_metrics(daily, preds, model_meta)
    timings["report"] = time.perf_counter() - t0
    return books, daily, metrics
