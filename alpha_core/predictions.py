"""Out-of-sample predictions: one score per (date, asset) in the test window.

The frame keeps the realised label beside the prediction (null where the next bar is not
known yet, as on the latest date: that row still yields tomorrow's book).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from alpha_core.features import LABEL, model_rows
from alpha_core.model import TrainedModel

PREDICTION = "prediction"


def predict_window(
    model: TrainedModel, feats: pl.DataFrame, start: date, end: date
) -> pl.DataFrame:
    """``date, asset, prediction, label`` for every bar in [start, end] with its features."""
    rows = feats.filter(pl.col("date").is_between(start, end), model_rows(feats, model.features))
    if rows.height == 0:
        raise ValueError(f"no bars with features in the test window {start} .. {end}")
    return (
        rows.select("date", "asset", LABEL)
        .with_columns(pl.Series(PREDICTION, model.predict(rows)))
        .select("date", "asset", PREDICTION, LABEL)
        .sort("date", "asset")
    )
