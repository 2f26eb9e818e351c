"""LightGBM regressor: purged date-window training, prediction, text-format persistence.

A model is saved as LightGBM's own text format (``<stem>.txt``) plus a JSON sidecar
(``<stem>.json``: feature list, parameters, training window, data fingerprint). Loading
reads text only; nothing is unpickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

# OpenMP threads that spin while waiting collapse when the cores are shared (another
# process, the app, a second run): measured 9-30x slower training on a loaded 2-core
# machine (docs/performance.md). Passive waiting changes no result. It must be set before
# LightGBM loads libgomp; an explicit setting by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from alpha_core.config import ModelParams
from alpha_core.features import CATEGORICAL_FEATURES, LABEL, LABEL_END, model_rows

Progress = Callable[[int, int], None]
"""Called as ``progress(trees_built, trees_total)`` while a model trains."""


@dataclass
class TrainedModel:
    """A fitted booster and what is needed to use and audit it."""

    booster: lgb.Booster
    features: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return self.booster.predict(feature_matrix(frame, self.features))


def training_rows(
    feats: pl.DataFrame,
    start: date,
    end: date,
    purge_before: date,
    features: tuple[str, ...],
) -> pl.DataFrame:
    """Rows dated in [start, end] whose label is fully known strictly before ``purge_before``.

    Purging on the label's end date removes the last ``horizon`` decision dates before the
    test window, so no training label overlaps the period the model is tested on.
    """
    return feats.filter(
        pl.col("date").is_between(start, end),
        pl.col(LABEL).is_not_null(),
        pl.col(LABEL_END) < purge_before,
        model_rows(feats, features),
    )


def feature_matrix(frame: pl.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    return frame.select(pl.col(f).cast(pl.Float64) for f in features).to_numpy()


def lgb_params(params: ModelParams, seed: int) -> dict[str, Any]:
    """LightGBM parameter dict; deterministic for a seed (and a thread count)."""
    return {
        "objective": "regression",
        "learning_rate": params.learning_rate,
        "max_depth": params.max_depth,
        "num_leaves": params.num_leaves,
        "feature_fraction": params.feature_fraction,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": params.bagging_freq,
        "min_data_in_leaf": params.min_data_in_leaf,
        "max_bin": params.max_bin,
        "num_threads": params.num_threads,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
    }


def fit_model(
    train: pl.DataFrame,
    features: tuple[str, ...],
    params: ModelParams,
    seed: int,
    progress: Progress | None = None,
) -> TrainedModel:
    """Fit on prepared training rows (see :func:`training_rows`)."""
    if train.height == 0:
        raise ValueError("no training rows: the train window has no bars with features and label")
    valid_meta: dict[str, Any] = {}
    valid = None
    if params.valid_fraction > 0:
        train, valid = split_validation_tail(train, params.valid_fraction)
        valid_meta = {
            "n_valid_rows": valid.height,
            "valid_start": str(valid["date"].min()),
            "valid_end": str(valid["date"].max()),
        }
    x = feature_matrix(train, features)
    y = train[LABEL].to_numpy()
    categorical = [f for f in features if f in CATEGORICAL_FEATURES]
    dataset = lgb.Dataset(
        x,
        label=y,
        feature_name=list(features),
        categorical_feature=categorical,
        params={"max_bin": params.max_bin, "verbosity": -1},
    )
    callbacks = [_progress_callback(progress, params.n_estimators)] if progress else []
    valid_sets = []
    if valid is not None:
        valid_sets = [
            lgb.Dataset(
                feature_matrix(valid, features), label=valid[LABEL].to_numpy(), reference=dataset
            )
        ]
        if params.early_stopping_rounds:
            callbacks.append(
                lgb.early_stopping(
                    params.early_stopping_rounds, first_metric_only=True, verbose=False
                )
            )
    booster = lgb.train(
        {**lgb_params(params, seed), **({"metric": "l2"} if valid_sets else {})},
        dataset,
        num_boost_round=params.n_estimators,
        valid_sets=valid_sets or None,
        valid_names=["valid"] if valid_sets else None,
        callbacks=callbacks,
        keep_training_booster=True,  # its training scores give train_rmse (below)
    )
    fitted = None
    if valid_sets:
        best = booster.best_iteration or booster.current_iteration()
        valid_meta["best_iteration"] = best
        valid_meta["valid_l2"] = (
            float(booster.best_score["valid"]["l2"]) if booster.best_score else None
        )
        # Keep only the trees up to the best iteration, so every later use (predict,
        # SHAP, save) sees the same model.
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    else:
        fitted = _training_scores(booster, train.height)
        # What lgb.train does when it does not keep the training booster: the same model,
        # reloaded from its text, without the training data.
        booster.model_from_string(booster.model_to_string()).free_dataset()
    if fitted is None:
        fitted = booster.predict(x)
    meta = {
        "params": asdict(params),
        "seed": seed,
        "n_train_rows": train.height,
        "train_start": str(train["date"].min()),
        "train_end": str(train["date"].max()),
        "train_rmse": float(np.sqrt(np.mean((fitted - y) ** 2))),
        **valid_meta,
    }
    return TrainedModel(booster, tuple(features), meta)


def _training_scores(booster: lgb.Booster, n_rows: int) -> np.ndarray | None:
    """The booster's own scores of its training rows, or None where LightGBM hides them.

    Boosting keeps every training row's score up to date; reading it costs milliseconds,
    where ``booster.predict`` over the training matrix costs about a third of the seed's
    fit (7.7 of 20 s on the demo). The values are the same bits as ``booster.predict``
    (tests/test_model_fast.py checks it); this uses LightGBM's internal accessor, so any
    failure falls back to predicting.
    """
    try:
        scores = booster._Booster__inner_predict(data_idx=0)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a LightGBM without the accessor: predict instead
        return None
    scores = np.array(scores, dtype=np.float64, copy=True)
    return scores if scores.shape == (n_rows,) else None


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


def _progress_callback(progress: Progress, total: int) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        progress(env.iteration + 1, total)

    callback.order = 100  # type: ignore[attr-defined]
    return callback


def save_model(model: TrainedModel, directory: Path, stem: str = "model") -> None:
    """Write ``<stem>.txt`` (LightGBM text) and ``<stem>.json`` (features and metadata)."""
    directory.mkdir(parents=True, exist_ok=True)
    model.booster.save_model(str(directory / f"{stem}.txt"))
    sidecar = {"features": list(model.features), **model.meta}
    tmp = directory / f".{stem}.json.tmp"
    tmp.write_text(json.dumps(sidecar, indent=2, sort_keys=True, default=str))
    os.replace(tmp, directory / f"{stem}.json")


def load_model(directory: Path, stem: str = "model") -> TrainedModel:
    """Read a model saved by :func:`save_model`; raises FileNotFoundError naming the file."""
    text = directory / f"{stem}.txt"
    sidecar = directory / f"{stem}.json"
    for path in (text, sidecar):
        if not path.exists():
            raise FileNotFoundError(f"model file missing: {path}")
    meta = json.loads(sidecar.read_text())
    features = tuple(meta.pop("features"))
    booster = lgb.Booster(model_file=str(text))
    if tuple(booster.feature_name()) != features:
        raise ValueError(f"{sidecar}: feature list does not match the booster in {text}")
    return TrainedModel(booster, features, meta)
