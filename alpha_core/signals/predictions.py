"""Out-of-sample predictions and what they are judged and sized by.

One score per (date, asset) in the test window, kept beside the realised label (null where
the next bar is not known yet, as on the latest date: that row still yields tomorrow's
book). This stage also owns the two joins every prediction frame gets: the decision
context (group labels and the raw ``vol_20`` known at close t, for sizing and limits) and
the forward returns ``fwd_ret_<h>`` (for the IC decay).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from alpha_core.base.settings import ConfigError
from alpha_core.features.library import LABEL, forward_return, model_rows
from alpha_core.models.base import TrainedModel

PREDICTION = "prediction"
CONTEXT_FEATURES = ("vol_20",)
"""Raw features the books need at the decision date whatever the model uses."""
GROUP_COLUMNS = ("sector", "asset_class")
IC_HORIZONS = (1, 2, 5, 10, 20)
"""Horizons (trading days) of the IC decay: rank IC of the prediction at t against the
forward return close t -> close t+h (column ``fwd_ret_<h>``)."""


def fwd_col(h: int) -> str:
    return f"fwd_ret_{h}"


def predict_window(
    model: TrainedModel, feats: pl.DataFrame, start: date, end: date
) -> pl.DataFrame:
    """``date, asset, prediction, label`` for every bar in [start, end] with its features."""
    window = feats.filter(pl.col("date").is_between(start, end))
    rows = window.filter(model_rows(window, model.features))
    if rows.height == 0:
        empty = [f for f in model.features if f in window.columns and window[f].is_null().all()]
        why = f": {', '.join(empty)} missing on every bar of it" if empty else ""
        raise ConfigError(f"no bars with features in the test window {start} .. {end}{why}")
    return (
        rows.select("date", "asset", LABEL)
        .with_columns(pl.Series(PREDICTION, model.predict(rows)))
        .select("date", "asset", PREDICTION, LABEL)
        .sort("date", "asset")
    )


def forward_returns(panel: pl.DataFrame, horizons: tuple[int, ...] = IC_HORIZONS) -> pl.DataFrame:
    """``date, asset, fwd_ret_<h>...``: close t -> close t+h on the asset's own bars."""
    return (
        panel.select("date", "asset", "close")
        .sort("asset", "date")
        .with_columns(forward_return(h).over("asset").alias(fwd_col(h)) for h in horizons)
        .drop("close")
    )


def decision_context(panel: pl.DataFrame, feats: pl.DataFrame) -> pl.DataFrame:
    """``date, asset, sector, asset_class, vol_20`` (raw, known at close t) per bar.

    ``feats`` must hold the raw :data:`CONTEXT_FEATURES` (the pipeline builds them with
    the model's features, so nothing is computed twice).
    """
    missing = [c for c in CONTEXT_FEATURES if c not in feats.columns]
    if missing:
        raise ValueError(f"the feature frame lacks the decision context {missing}")
    groups = [
        pl.col(c).cast(pl.Utf8).fill_null("unknown").alias(c)
        if c in panel.columns
        else pl.lit("unknown").alias(c)
        for c in GROUP_COLUMNS
    ]
    context = panel.select("date", "asset", *groups)
    return context.join(
        feats.select("date", "asset", *CONTEXT_FEATURES), on=["date", "asset"], how="left"
    )


def with_context(preds: pl.DataFrame, panel: pl.DataFrame, feats: pl.DataFrame) -> pl.DataFrame:
    """Predictions joined with their decision context and forward returns.

    Only the predictions' dates are joined: the context of the days they span, and the
    forward returns from their first day on (a forward return looks only ahead, so the bars
    before it change nothing). A run's test window is then all this stage touches.
    """
    keys = ["date", "asset"]
    dates = preds.get_column("date")
    first, last = dates.min(), dates.max()  # None for no predictions: nothing to join
    span = pl.col("date").is_between(first, last) if first else pl.lit(False)
    ahead = pl.col("date") >= first if first else pl.lit(False)
    present = [c for c in CONTEXT_FEATURES if c in feats.columns]  # else the error below
    context = decision_context(
        panel.filter(span), feats.select("date", "asset", *present).filter(span)
    )
    return (
        preds.join(context, on=keys, how="left")
        .join(forward_returns(panel.filter(ahead)), on=keys, how="left")
        .sort(keys)
    )
