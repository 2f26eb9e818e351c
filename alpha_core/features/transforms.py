"""Cross-sectional label and feature transforms, applied per date.

Every transform here is a function of one date's cross-section only, so it cannot carry
information across dates: transforming the training rows gives the same values whether or
not the test rows are present (nothing is fitted on the test window). The label transform
is applied to the training rows only; predictions are always measured against the raw
realised return kept in the ``label`` column.

* label "raw": the return itself (the seed's target).
* label "demean": return minus the mean return of that date's training rows.
* label "rank": the date's centred percentile ``(r - 0.5) / n - 0.5`` in (-0.5, 0.5), with
  r the average 1-based rank (ties share a rank).
* label "zscore": ``(return - mean) / std`` over that date's training rows (sample std,
  ddof 1), as Qlib's ``CSZScoreNorm``; a date whose std is 0 or undefined (one row) has no
  z-score, and its rows leave the training set.
* feature "rank": every numeric feature replaced by its centred percentile among the
  date's non-null values; ``month``, ``day_of_week`` and ``sector_id`` stay raw.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from alpha_core.features.library import DATE_LEVEL_FEATURES, LABEL, is_categorical


def keeps_raw(feature: str) -> bool:
    """Features never transformed: calendar fields and categorical codes."""
    return feature in DATE_LEVEL_FEATURES or is_categorical(feature)


def percentile_rank(value: pl.Expr, over: list[str] | None = None) -> pl.Expr:
    """``(r - 0.5) / n`` in (0, 1): r the average rank of ``value`` among the n non-null
    values of each ``over`` group (the whole frame when None); nulls stay null."""
    r, n = value.rank("average"), value.count()
    if over:
        r, n = r.over(over), n.over(over)
    return (r - 0.5) / n


ExprTransform = Callable[[pl.Expr], pl.Expr]
"""A per-date cross-sectional transform of one column's expression."""


def _demean(value: pl.Expr) -> pl.Expr:
    return value - value.mean().over("date")


def _centred(value: pl.Expr) -> pl.Expr:
    return percentile_rank(value, ["date"]) - 0.5


def _zscore(value: pl.Expr) -> pl.Expr:
    std = value.std().over("date")
    return pl.when(std > 0).then((value - value.mean().over("date")) / std)


LABEL_TRANSFORMS: dict[str, ExprTransform | None] = {
    "raw": None,
    "demean": _demean,
    "rank": _centred,
    "zscore": _zscore,
}
"""Training-target transforms by name (None: unchanged). Adding an entry here adds the
option to the run config, the CLI and the Train page."""

FEATURE_TRANSFORMS: dict[str, ExprTransform | None] = {"raw": None, "rank": _centred}
"""Per-date transforms of the numeric model features by name (None: unchanged)."""


def transform_label(train: pl.DataFrame, how: str) -> pl.DataFrame:
    """Replace ``label`` of training rows by its per-date transform (see module doc)."""
    fn = _lookup(LABEL_TRANSFORMS, how, "label transform")
    if fn is None:
        return train
    # A transform may leave a date without a value (zscore of one row): those rows drop out.
    return train.with_columns(fn(pl.col(LABEL)).alias(LABEL)).filter(pl.col(LABEL).is_not_null())


def transform_features(feats: pl.DataFrame, features: tuple[str, ...], how: str) -> pl.DataFrame:
    """Per-date transform of the numeric model features (see module doc)."""
    fn = _lookup(FEATURE_TRANSFORMS, how, "feature transform")
    if fn is None:
        return feats
    cols = [f for f in features if not keeps_raw(f) and f in feats.columns]
    return feats.with_columns(fn(pl.col(c)).alias(c) for c in cols)


def _lookup(table: dict[str, ExprTransform | None], how: str, what: str) -> ExprTransform | None:
    if how not in table:
        raise ValueError(f"{what} must be one of {', '.join(table)}, got {how!r}")
    return table[how]
