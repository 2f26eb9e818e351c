"""SHAP explanations of a run's model: exact contributions per (date, asset), importances, reasons.

Values are the model's own exact contributions (``TrainedModel.contributions`` of
:mod:`alpha_core.models.base`): one column per feature plus a last column holding the expected
value, and each row sums exactly to the raw prediction. For LightGBM they are path-dependent
TreeSHAP (the algorithm of ``shap.TreeExplainer`` with
``feature_perturbation="tree_path_dependent"``), computed by
:mod:`alpha_core.models.lightgbm.fastshap` (see :mod:`alpha_core.models.lightgbm.model`). Only
the model contract is used here, so every model type is explained the same way.

Two views are computed for a run:

- **test window** (every row the run predicted, exact): beeswarm, dependence plot and the
  "why is this asset long today" tables;
- **global sample** (a uniform random sample of ``sample_size`` training-window rows, drawn with
  a fixed seed): mean |SHAP| per feature with its standard error
  ``sd(|phi|) / sqrt(n) * sqrt(1 - n / N)`` (finite-population correction), so the reader
  sees how much of a difference between two features is sampling noise.

Results are cached per run as Parquet + JSON in the run's folder (:func:`load_or_compute`).

**Date-level features** are the same for every asset on a date (``month``, ``day_of_week``,
or any feature found constant across assets on every test date). They cannot rank assets by
themselves, only through interactions, typically moving the whole day's scores: a model that
leans on them fits the market's day-to-day level, which a long-short book does not trade.
When they carry more than ``DATE_LEVEL_SHARE`` of the test window's mean |SHAP|, the
explanations' meta flags it (``date_level``) and the Explain page offers a per-date
normalised training target.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from alpha_core.base.storage import write_atomic, write_json
from alpha_core.features.library import DATE_LEVEL_FEATURES, model_rows
from alpha_core.features.transforms import percentile_rank
from alpha_core.models.base import (
    TrainedModel,
    feature_matrix,
    model_contributions,
    training_rows,
)
from alpha_core.signals.predictions import PREDICTION

SHAP_PREFIX = "shap__"
VALUE_PREFIX = "value__"
EXPECTED = "expected_value"
CACHE_VERSION = 1
TEST_FILE = "shap_test.parquet"
SAMPLE_FILE = "shap_sample.parquet"
META_FILE = "shap_meta.json"
DEFAULT_IMPORTANCE_MEASURE = "LightGBM gain"
"""The model importance's label in caches written before the meta recorded it."""
DATE_LEVEL_SHARE = 0.25
"""Share of the test window's mean |SHAP| above which date-level features are flagged."""


def contributions(model: TrainedModel, x: np.ndarray, dates: Any = None) -> np.ndarray:
    """The model's contributions, shape ``(n, k + 1)``; the last column is the expected value.

    ``dates``: the rows' dates, which a cross-sectional model (per-date normalisation) needs."""
    return model_contributions(model, x, dates)


def shap_frame(model: TrainedModel, rows: pl.DataFrame) -> pl.DataFrame:
    """``date, asset, prediction, expected_value, shap__<f>..., value__<f>...`` for ``rows``.

    ``prediction`` is the raw model output, equal to the row's contributions plus expected value.
    """
    x = feature_matrix(rows, model.features, dtype=model.input_dtype)
    phi = contributions(model, x, rows["date"])
    data: dict[str, Any] = {
        "date": rows["date"],
        "asset": rows["asset"],
        PREDICTION: phi.sum(axis=1),
        EXPECTED: phi[:, -1],
    }
    for j, f in enumerate(model.features):
        data[SHAP_PREFIX + f] = phi[:, j]
    for j, f in enumerate(model.features):
        data[VALUE_PREFIX + f] = x[:, j]
    return pl.DataFrame(data)


def test_rows(model: TrainedModel, feats: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """The rows ``predictions.predict_window`` scores, sorted by date then asset."""
    return feats.filter(
        pl.col("date").is_between(start, end), model_rows(feats, model.features)
    ).sort("date", "asset")


def sample_rows(
    model: TrainedModel,
    feats: pl.DataFrame,
    start: date,
    end: date,
    purge_before: date,
    sample_size: int,
    seed: int,
) -> tuple[pl.DataFrame, int]:
    """A uniform sample (without replacement) of the training rows, and the population size.

    A cross-sectional model (its inputs normalised per date) is explained on whole dates:
    dates drawn at random until they hold ``sample_size`` rows (a cluster sample)."""
    rows = training_rows(feats, start, end, purge_before, model.features)
    n = min(sample_size, rows.height)
    if n == rows.height:
        return rows, rows.height
    if model.capabilities.cross_sectional:
        counts = rows.group_by("date").len().sort("date")
        order = np.random.default_rng(seed).permutation(counts.height)
        keep = order[: int(np.searchsorted(np.cumsum(counts["len"].to_numpy()[order]), n)) + 1]
        chosen = counts["date"].gather(np.sort(keep))
        return rows.filter(pl.col("date").is_in(chosen.implode())), rows.height
    return rows.sample(n=n, seed=seed, shuffle=False), rows.height


# ----------------------------------------------------------------------------- summaries
def features_of(frame: pl.DataFrame) -> list[str]:
    return [c.removeprefix(SHAP_PREFIX) for c in frame.columns if c.startswith(SHAP_PREFIX)]


def global_importance(frame: pl.DataFrame, population: int | None = None) -> pl.DataFrame:
    """``feature, mean_abs_shap, se, n``: mean |SHAP| per feature and its standard error.

    With ``population`` (N) the error carries the finite-population correction; without it
    (the frame is the whole population) the error is 0.
    """
    n = frame.height
    rows = []
    for f in features_of(frame):
        a = np.abs(frame[SHAP_PREFIX + f].to_numpy())
        mean = float(a.mean()) if n else math.nan
        if population is None or population <= n or n < 2:
            se = 0.0
        else:
            se = float(a.std(ddof=1) / math.sqrt(n) * math.sqrt(1 - n / population))
        rows.append((f, mean, se, n))
    return pl.DataFrame(rows, schema=["feature", "mean_abs_shap", "se", "n"], orient="row").sort(
        "mean_abs_shap", descending=True
    )


def gain_importance(model: TrainedModel) -> pl.DataFrame:
    """``feature, gain, gain_share``: the model's own importance per feature (LightGBM: total
    split gain) and its share of the sum."""
    gain = model.importance()["importance"].to_numpy().astype(float)
    total = gain.sum()
    return pl.DataFrame(
        {
            "feature": list(model.features),
            "gain": gain,
            "gain_share": gain / total if total > 0 else np.zeros_like(gain),
        }
    ).sort("gain", descending=True)


def importance_table(
    test: pl.DataFrame, model: TrainedModel, sample: pl.DataFrame | None, population: int | None
) -> pl.DataFrame:
    """Test-window mean |SHAP| (exact), sampled global mean |SHAP| +- se and gain share."""
    out = global_importance(test).select(
        "feature", pl.col("mean_abs_shap").alias("test_mean_abs_shap")
    )
    if sample is not None and sample.height:
        glob = global_importance(sample, population).select(
            "feature",
            pl.col("mean_abs_shap").alias("sample_mean_abs_shap"),
            pl.col("se").alias("sample_se"),
        )
        out = out.join(glob, on="feature", how="left")
    out = out.join(gain_importance(model).select("feature", "gain_share"), on="feature", how="left")
    return out.sort("test_mean_abs_shap", descending=True)


def importance_shares(
    table: pl.DataFrame, measure: str = DEFAULT_IMPORTANCE_MEASURE
) -> pl.DataFrame:
    """Long ``feature, measure, value``: each feature's share of test mean |SHAP| and of the
    model's own importance (labelled ``measure``), drawn side by side on one scale."""
    shap_share = pl.col("test_mean_abs_shap") / pl.col("test_mean_abs_shap").sum()
    return pl.concat(
        [
            table.select(
                "feature", pl.lit("mean |SHAP|, test").alias("measure"), shap_share.alias("value")
            ),
            table.select(
                "feature",
                pl.lit(measure).alias("measure"),
                pl.col("gain_share").alias("value"),
            ),
        ]
    )


def beeswarm_frame(frame: pl.DataFrame, per_feature: int = 400, seed: int = 0) -> pl.DataFrame:
    """Long ``feature, shap, value, value_pct`` with at most ``per_feature`` rows per feature.

    ``value_pct`` is the feature value's percentile rank within the frame (0..1), the colour
    scale of a beeswarm (comparable across features with different units).
    """
    take = frame if frame.height <= per_feature else frame.sample(per_feature, seed=seed)
    parts = []
    for f in features_of(frame):
        v = pl.col(VALUE_PREFIX + f)
        parts.append(
            take.select(
                pl.lit(f).alias("feature"),
                pl.col(SHAP_PREFIX + f).alias("shap"),
                v.alias("value"),
                percentile_rank(v).alias("value_pct"),
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def dependence_frame(frame: pl.DataFrame, feature: str, max_rows: int = 3000, seed: int = 0):
    """``value, shap`` of one feature (a uniform sample of at most ``max_rows`` rows)."""
    take = frame if frame.height <= max_rows else frame.sample(max_rows, seed=seed)
    return take.select(
        pl.col(VALUE_PREFIX + feature).alias("value"), pl.col(SHAP_PREFIX + feature).alias("shap")
    )


def top_contributions(
    frame: pl.DataFrame, day: date, assets: list[str], k: int = 3
) -> pl.DataFrame:
    """``asset, position, feature, value, shap``: each asset's ``k`` largest |SHAP| on ``day``.

    ``position`` is 1 for the largest contribution. Assets absent that day are skipped.
    """
    feats = features_of(frame)
    rows = frame.filter((pl.col("date") == day) & pl.col("asset").is_in(assets))
    long = rows.unpivot(
        index="asset",
        on=[SHAP_PREFIX + f for f in feats],
        variable_name="feature",
        value_name="shap",
    ).with_columns(pl.col("feature").str.strip_prefix(SHAP_PREFIX))
    values = rows.unpivot(
        index="asset", on=[VALUE_PREFIX + f for f in feats], variable_name="feature",
        value_name="value",
    ).with_columns(pl.col("feature").str.strip_prefix(VALUE_PREFIX))  # fmt: skip
    out = (
        long.join(values, on=["asset", "feature"])
        .with_columns(
            pl.col("shap").abs().rank("ordinal", descending=True).over("asset").alias("position")
        )
        .filter(pl.col("position") <= k)
        .with_columns(pl.col("position").cast(pl.Int64))
    )
    order = {a: i for i, a in enumerate(assets)}
    return (
        out.with_columns(pl.col("asset").replace_strict(order, return_dtype=pl.Int64).alias("_o"))
        .sort("_o", "position")
        .select("asset", "position", "feature", "value", "shap")
    )


def date_level_features(frame: pl.DataFrame) -> tuple[str, ...]:
    """Features of a SHAP frame that are the same for every asset on a date: the registry's
    calendar features, and any whose value is constant across assets on every date that has
    at least two rows."""
    feats = features_of(frame)
    crowded = frame.filter(pl.len().over("date") >= 2)
    if crowded.height == 0:
        return tuple(f for f in feats if f in DATE_LEVEL_FEATURES)
    spread = crowded.group_by("date").agg(
        pl.col(VALUE_PREFIX + f).n_unique().alias(f) for f in feats
    )
    constant = {f for f in feats if spread[f].max() <= 1}  # type: ignore[operator]
    return tuple(f for f in feats if f in DATE_LEVEL_FEATURES or f in constant)


def date_level_summary(frame: pl.DataFrame) -> dict[str, Any]:
    """``features``, their ``shap_share`` of the mean |SHAP| over ``frame``, the
    ``threshold`` (:data:`DATE_LEVEL_SHARE`) and whether the share is above it (``flagged``)."""
    table = global_importance(frame)
    total = float(table["mean_abs_shap"].sum())
    found = date_level_features(frame)
    mine = float(table.filter(pl.col("feature").is_in(list(found)))["mean_abs_shap"].sum())
    share = mine / total if total > 0 else 0.0
    return {
        "features": list(found),
        "shap_share": share,
        "threshold": DATE_LEVEL_SHARE,
        "flagged": share > DATE_LEVEL_SHARE,
    }


# ----------------------------------------------------------------------------- the run cache
@dataclass
class Explanations:
    """A run's SHAP views and how they were computed."""

    test: pl.DataFrame
    sample: pl.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def _model_window(model: TrainedModel, config: Any) -> tuple[date, date]:
    """The test block a model served: its fold's block, else the run's test window."""
    lo = model.meta.get("test_start")
    hi = model.meta.get("test_end")
    if lo and hi:
        return date.fromisoformat(str(lo)), date.fromisoformat(str(hi))
    return config.test_start, config.test_end


def model_inputs(feats: pl.DataFrame, model: TrainedModel, config: Any) -> pl.DataFrame:
    """Features as the model saw them (the run's per-date feature transform applied)."""
    how = getattr(config, "feature_transform", "raw")
    if how == "raw":
        return feats
    from alpha_core.features.transforms import transform_features

    return transform_features(feats, model.features, how)


def compute(
    models: TrainedModel | list[TrainedModel],
    feats: pl.DataFrame,
    config: Any,
    sample_size: int = 2000,
    seed: int = 0,
) -> Explanations:
    """Exact test-window SHAP and a sampled training-window view (see module doc).

    With several models (walk-forward folds) each test row is explained by the model that
    predicted it; the global sample is explained by the last model on its training window.
    """
    models = [models] if isinstance(models, TrainedModel) else list(models)
    inputs = model_inputs(feats, models[-1], config)
    t0 = time.perf_counter()
    parts = []
    for model in models:
        lo, hi = _model_window(model, config)
        lo, hi = max(lo, config.test_start), min(hi, config.test_end)
        rows = test_rows(model, inputs, lo, hi)
        if rows.height:
            parts.append(shap_frame(model, rows))
    test = pl.concat(parts).sort("date", "asset")
    t_test = time.perf_counter() - t0
    last = models[-1]
    t0 = time.perf_counter()
    train_lo = date.fromisoformat(str(last.meta.get("train_start", config.train_start)))
    train_hi = date.fromisoformat(str(last.meta.get("train_end", config.train_end)))
    purge = last.meta.get("purge_before")
    purge_before = date.fromisoformat(str(purge)) if purge else config.test_start
    rows, population = sample_rows(
        last, inputs, train_lo, train_hi, purge_before, sample_size, seed
    )
    sample = shap_frame(last, rows)
    t_sample = time.perf_counter() - t0
    about = dict(last.describe())  # n_trees and the like, shown beside the explanations
    method = about.pop("contributions_method")
    meta = {
        **about,
        "version": CACHE_VERSION,
        "model_type": last.model_type,
        "method": method,
        "test_rows": test.height,
        "n_models": len(models),
        "sample_rows": sample.height,
        "sample_population": population,
        "sample_seed": seed,
        "sample_window": [str(train_lo), str(train_hi)],
        "seconds_test": t_test,
        "seconds_sample": t_sample,
        "feature_transform": getattr(config, "feature_transform", "raw"),
        "date_level": date_level_summary(test),
    }
    return Explanations(test, sample, meta)


def load_cached(folder: Path) -> Explanations | None:
    """The cached explanations in a run folder, or None when absent or stale."""
    meta_path = folder / META_FILE
    if not (meta_path.exists() and (folder / TEST_FILE).exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("version") != CACHE_VERSION:
            return None
        test = pl.read_parquet(folder / TEST_FILE)
        sample = pl.read_parquet(folder / SAMPLE_FILE)
    except Exception:
        return None
    return Explanations(test, sample, meta)


def save_cached(folder: Path, exp: Explanations) -> None:
    """Write the three cache files, each atomically (the meta last: it marks the cache whole)."""
    for name, frame in ((TEST_FILE, exp.test), (SAMPLE_FILE, exp.sample)):
        write_atomic(folder / name, frame.write_parquet)
    write_json(folder / META_FILE, exp.meta)


def load_or_compute(
    folder: Path,
    models: TrainedModel | list[TrainedModel],
    feats: pl.DataFrame,
    config: Any,
    sample_size: int = 2000,
) -> Explanations:
    """Cached explanations of the run in ``folder``, computing and caching them when absent."""
    cached = load_cached(folder)
    if cached is not None:
        return cached
    exp = compute(models, feats, config, sample_size=sample_size)
    save_cached(folder, exp)
    return exp


__all__ = [
    "EXPECTED",
    "Explanations",
    "beeswarm_frame",
    "compute",
    "contributions",
    "date_level_features",
    "date_level_summary",
    "dependence_frame",
    "gain_importance",
    "global_importance",
    "importance_table",
    "load_or_compute",
    "shap_frame",
    "top_contributions",
]
