"""The rows every model trains and scores on: purged training rows and feature matrices."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from alpha_core.features.library import LABEL, LABEL_END, model_rows


def training_rows(
    feats: pl.DataFrame,
    start: date,
    end: date,
    purge_before: date,
    features: tuple[str, ...],
    extra: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Rows dated in [start, end] whose label is fully known strictly before ``purge_before``.

    Purging on the label's end date removes the last ``horizon`` decision dates before the
    test window, so no training label overlaps the period the model is tested on.

    Only what a fit needs is copied, one column at a time: the keys, the label and its end,
    ``features`` as Float32 (the precision every model matrix has, :func:`feature_matrix`)
    and the ``extra`` columns as they are; a fold never copies the whole feature frame.
    """
    mask = feats.select(
        pl.col("date").is_between(start, end)
        & pl.col(LABEL).is_not_null()
        & (pl.col(LABEL_END) < purge_before)
        & model_rows(feats, features)
    ).to_series()
    keys = [c for c in ("date", "asset", LABEL, LABEL_END, *extra) if c in feats.columns]
    as_is = [feats.get_column(c).filter(mask) for c in dict.fromkeys(keys)]
    cast = [feats.get_column(f).filter(mask).cast(pl.Float32) for f in features if f not in keys]
    return pl.DataFrame([*as_is, *cast])


def feature_matrix(
    frame: pl.DataFrame, features: tuple[str, ...], dtype: type = np.float32
) -> np.ndarray:
    """The ``features`` columns of ``frame`` as a matrix, in that order.

    Float32 by default, for training and scoring alike: half the memory of float64, and a
    model always sees its inputs at the precision it was fitted on.
    """
    cast = pl.Float32 if dtype == np.float32 else pl.Float64
    return frame.select(pl.col(f).cast(cast) for f in features).to_numpy()


def split_validation_tail(
    train: pl.DataFrame, valid_fraction: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(fit rows, validation rows): the last ``valid_fraction`` of the training dates.

    The fit rows are purged by the label horizon: a row stays only if its label is fully
    known strictly before the first validation date, so no fit label overlaps the tail.
    """
    dates = train.get_column("date").unique().sort()
    n_valid = max(1, round(dates.len() * valid_fraction))
    if n_valid >= dates.len():
        raise ValueError(f"valid_fraction {valid_fraction} leaves no training dates")
    split = dates[dates.len() - n_valid]
    fit = train.filter(pl.col(LABEL_END) < split)
    valid = train.filter(pl.col("date") >= split)
    if fit.height == 0:
        raise ValueError("no training rows left before the validation tail")
    return fit, valid
