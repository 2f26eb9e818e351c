"""Walk-forward training: the test window split into blocks, one model per block.

The test window ``[test_start, test_end]`` is cut into consecutive blocks of trading dates
(one block for ``walk_forward = "none"``; calendar months or quarters; or every
``retrain_days`` trading dates). Before each block a fresh model is trained on rows that
end before it:

* purge: a training row's label must end strictly before ``purge_before``, so no training
  label overlaps the block (this drops the last ``label_horizon`` decision dates);
* embargo: ``purge_before`` is the block's first date moved back ``embargo_days`` trading
  dates, leaving that many extra days out between training and test. (Training is always
  before the test block here, so the embargo that purged k-fold CV places *after* a test
  block, to keep serially correlated data out of training, becomes this gap before it.)
* window: decision dates from ``train_start`` ("expanding"; the first fold also stops at
  ``train_end``) or the last ``window_days`` trading dates ("rolling").

Each block is predicted only by its own model, and the blocks' predictions are stitched
into one out-of-sample series with a ``fold`` column; :func:`fold_table` records every
fold's windows so the ordering can be audited.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.base.executor import Executor, Task, make_executor
from alpha_core.base.progress import OnProgress, Progress
from alpha_core.base.settings import ConfigError
from alpha_core.base.storage import atomic_dir
from alpha_core.features.libraries import feature_spec
from alpha_core.features.library import (
    LABEL,
    LABEL_END,
    TARGET,
    TARGET_END,
    as_training_target,
    is_categorical,
)
from alpha_core.features.transforms import transform_label
from alpha_core.models.base import (
    TrainedModel,
    fit_model,
    load_model,
    save_model,
    training_rows,
)
from alpha_core.research.config import RunConfig
from alpha_core.research.schedules import SCHEDULES, WINDOWS
from alpha_core.signals.predictions import predict_window

FOLD = "fold"


@dataclass(frozen=True)
class Fold:
    """One retraining: its training window, purge boundary and test block."""

    index: int
    train_start: date
    train_end: date
    purge_before: date
    test_start: date
    test_end: date


def block_dates(test_dates: list[date], mode: str, retrain_days: int) -> list[list[date]]:
    """Consecutive blocks of the test window's trading dates for a retraining schedule."""
    if mode not in SCHEDULES:
        raise ValueError(f"unknown walk-forward mode {mode!r}")
    return SCHEDULES[mode](test_dates, retrain_days) if test_dates else []


def plan_folds(config: RunConfig, dates: list[date]) -> list[Fold]:
    """The folds of a run over the sorted trading ``dates`` of the data (see module doc)."""
    test_dates = [d for d in dates if config.test_start <= d <= config.test_end]
    if not test_dates:
        raise ConfigError(
            f"no trading dates in the test window {config.test_start} .. {config.test_end}"
        )
    position = {d: i for i, d in enumerate(dates)}
    folds = []
    for k, block in enumerate(block_dates(test_dates, config.walk_forward, config.retrain_days)):
        cut = position[block[0]] - config.embargo_days
        if cut <= 0:
            raise ConfigError(
                f"fold {k}: no trading dates before {block[0]} once the embargo of "
                f"{config.embargo_days} days is left out"
            )
        purge_before = dates[cut]
        last = cut - 1
        if k == 0:
            last = min(last, max(i for i, d in enumerate(dates) if d <= config.train_end))
        first = next((i for i, d in enumerate(dates) if d >= config.train_start), 0)
        first = WINDOWS[config.window](first, last, config.window_days)
        if last < first:
            raise ConfigError(f"fold {k}: empty training window before {block[0]}")
        folds.append(Fold(k, dates[first], dates[last], purge_before, block[0], block[-1]))
    return folds


def shuffle_labels_within_date(train: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Permute labels among the assets of each date: the no-signal control."""
    rng = np.random.default_rng(seed)
    keys = pl.Series("_key", rng.random(train.height))
    shuffled = train.select("date", LABEL).with_columns(keys).sort("date", "_key").get_column(LABEL)
    return train.sort("date").with_columns(shuffled.alias(LABEL))


def fold_training_rows(
    feats: pl.DataFrame, fold: Fold, names: tuple[str, ...], config: RunConfig
) -> pl.DataFrame:
    """Purged, optionally shuffled and label-transformed training rows of one fold (on the
    run's longer training target, when the frame carries one)."""
    train = training_rows(
        as_training_target(feats), fold.train_start, fold.train_end, fold.purge_before, names
    )
    if config.shuffle_labels:
        train = shuffle_labels_within_date(train, config.seed + fold.index)
    return transform_label(train, config.label_transform)


def why_no_rows(feats: pl.DataFrame, fold: Fold, names: tuple[str, ...]) -> str:
    """What emptied a fold's training window: no bars, no label, or the feature (and the
    column it needs) that is missing on every bar of the window."""
    window = feats.filter(pl.col("date").is_between(fold.train_start, fold.train_end))
    if window.height == 0:
        return "the data has no bars in that window"
    labelled = window.filter(pl.col(LABEL).is_not_null(), pl.col(LABEL_END) < fold.purge_before)
    if labelled.height == 0:
        return f"no bar of the window has a label that ends before {fold.purge_before}"
    numeric = [n for n in names if not is_categorical(n)]
    present = labelled.select(pl.col(n).is_not_null().sum() for n in numeric).row(0)
    counts = sorted(zip(present, numeric, strict=True))
    empty = [n for c, n in counts if c == 0]
    if empty:
        needs = {n: getattr(feature_spec(n), "needs", ()) for n in empty}
        named = [f"{n} (needs {', '.join(needs[n])})" if needs[n] else n for n in empty]
        return f"feature {', '.join(named)} is missing on every bar of the window"
    return (
        f"no bar has every feature at once; the sparsest is {counts[0][1]} "
        f"({counts[0][0]} of {labelled.height} labelled bars)"
    )


def run_folds(
    config: RunConfig,
    feats: pl.DataFrame,
    names: tuple[str, ...],
    on_progress: OnProgress,
    start: float = 0.05,
    span: float = 0.9,
    executor: Executor | None = None,
) -> tuple[list[TrainedModel], pl.DataFrame, pl.DataFrame]:
    """Train every fold and predict its block: ``(models, predictions, fold_table)``.

    Predictions are ``date, asset, prediction, label, fold``; the fold table has one row per
    fold with its planned windows, the training rows' actual first/last date and last label
    end, row count, training RMSE and seconds. Folds run through ``executor`` (default: the
    config's ``executor`` backend); a serial run keeps the frame in memory, the others write
    it once to a work folder and each fold reads its own window (:func:`fold_task`).
    """
    dates = feats.get_column("date").unique().sort().to_list()
    folds = plan_folds(config, dates)
    if executor is None:
        executor = make_executor(getattr(config, "executor", "serial"))
    if executor.name == "serial" or len(folds) == 1:
        results = _serial_folds(config, feats, folds, names, on_progress, start, span)
    else:
        results = _distributed_folds(config, feats, folds, names, on_progress, executor)
    models = [model for model, _, _ in results]
    parts = [preds for _, preds, _ in results]
    table = pl.DataFrame([row for _, _, row in results]).select(FOLD, pl.exclude(FOLD))
    return models, pl.concat(parts).sort("date", "asset"), table


FoldResult = tuple[TrainedModel, pl.DataFrame, dict[str, object]]


def _serial_folds(
    config: RunConfig,
    feats: pl.DataFrame,
    folds: list[Fold],
    names: tuple[str, ...],
    on_progress: OnProgress,
    start: float,
    span: float,
) -> list[FoldResult]:
    n_folds = len(folds)
    results = []
    for fold in folds:
        base = start + span * fold.index / n_folds

        def progress(i: int, n: int, base: float = base, k: int = fold.index) -> None:
            fraction = base + span * i / (max(n, 1) * n_folds)
            on_progress(Progress("training", fraction, k, n_folds, i, n))

        results.append(fit_fold(config, feats, fold, names, progress))
    return results


def fit_fold(
    config: RunConfig,
    feats: pl.DataFrame,
    fold: Fold,
    names: tuple[str, ...],
    progress: Callable[[int, int], None] | None = None,
) -> FoldResult:
    """One fold: train on its purged window, predict its block; ``(model, preds, row)``.

    The model trains the config's parameters of its type (``config.params``)."""
    t0 = time.perf_counter()
    train = fold_training_rows(feats, fold, names, config)
    if train.height == 0:
        raise ConfigError(
            f"fold {fold.index}: no training rows in {fold.train_start} .. {fold.train_end}"
            f": {why_no_rows(feats, fold, names)}"
        )
    labels = train.get_column(LABEL).drop_nulls().unique()
    if labels.len() == 1:  # LightGBM would grow no split and every score would tie
        transform = f" after the {config.label_transform} transform" * (
            config.label_transform != "raw"
        )
        raise ConfigError(
            f"fold {fold.index}: the label is constant: it is {labels[0]:g}{transform} on every "
            f"training row in {fold.train_start} .. {fold.train_end}, so there is nothing to learn"
        )
    model = fit_model(
        train, names, config.params, config.seed, progress=progress, model_type=config.model_type
    )
    model.meta.update(
        {
            "fold": fold.index,
            "purge_before": str(fold.purge_before),
            "test_start": str(fold.test_start),
            "test_end": str(fold.test_end),
            "label_transform": config.label_transform,
            "feature_transform": config.feature_transform,
        }
    )
    preds = predict_window(model, feats, fold.test_start, fold.test_end)
    preds = preds.with_columns(pl.lit(fold.index, dtype=pl.Int32).alias(FOLD))
    row = {
        **{k: v for k, v in dataclasses.asdict(fold).items() if k != "index"},
        FOLD: fold.index,
        "first_train_date": train["date"].min(),
        "last_train_date": train["date"].max(),
        "last_label_end": train[LABEL_END].max(),
        "n_train_rows": train.height,
        "train_rmse": model.meta.get("train_rmse"),
        "seconds": time.perf_counter() - t0,
    }
    return model, preds, row


# ------------------------------------------------------------ folds through the executor
FEATS_FILE = "feats.parquet"
ROW_FILE = "row.json"
PREDS_FILE = "predictions.parquet"
MODEL_STEM = "model"


def fold_task(out: Path, feats: str, config: dict, fold: dict, names: list[str]) -> None:
    """A fold as a task: read its window of the work folder's features, fit, predict and
    write ``out/`` (model, predictions, row) atomically."""
    run_config = RunConfig.from_dict(config)
    plan = Fold(**{k: date.fromisoformat(v) if k != "index" else v for k, v in fold.items()})
    frame = (
        pl.scan_parquet(feats)
        .filter(pl.col("date").is_between(plan.train_start, plan.test_end))
        .collect()
    )
    model, preds, row = fit_fold(run_config, frame, plan, tuple(names), None)
    with atomic_dir(out) as tmp:
        save_model(model, tmp, MODEL_STEM)
        preds.write_parquet(tmp / PREDS_FILE)
        (tmp / ROW_FILE).write_text(json.dumps(row, default=str))


def _fold_dict(fold: Fold) -> dict[str, object]:
    return {k: (v if k == "index" else str(v)) for k, v in dataclasses.asdict(fold).items()}


def _distributed_folds(
    config: RunConfig,
    feats: pl.DataFrame,
    folds: list[Fold],
    names: tuple[str, ...],
    on_progress: OnProgress,
    executor: Executor,
) -> list[FoldResult]:
    keep = ["date", "asset", LABEL, LABEL_END, *[n for n in names if n not in (LABEL, LABEL_END)]]
    keep += [c for c in (TARGET, TARGET_END) if c in feats.columns]
    with tempfile.TemporaryDirectory(prefix="alpha-folds-", dir=work_root()) as work:
        path = Path(work) / FEATS_FILE
        feats.select(keep).write_parquet(path, statistics=True, row_group_size=256_000)
        tasks = [
            Task(
                key=f"fold_{f.index:03d}",
                fn="alpha_core.research.walkforward:fold_task",
                kwargs={
                    "feats": str(path),
                    "config": config.to_dict(),
                    "fold": _fold_dict(f),
                    "names": list(names),
                },
                out=Path(work) / f"fold_{f.index:03d}",
            )
            for f in folds
        ]
        done: list[int] = []

        def report(task: Task) -> None:
            done.append(1)
            on_progress(
                Progress("training", 0.05 + 0.9 * len(done) / len(tasks), len(done) - 1,
                         len(tasks), message=f"{len(done)}/{len(tasks)} folds trained")
            )  # fmt: skip

        executor.run(tasks, on_done=report)
        return [_read_fold(t.out) for t in tasks]


def _read_fold(folder: Path) -> FoldResult:
    model = load_model(folder, MODEL_STEM)
    preds = pl.read_parquet(folder / PREDS_FILE)
    raw = json.loads((folder / ROW_FILE).read_text())
    row: dict[str, object] = {
        k: date.fromisoformat(v) if isinstance(v, str) else v for k, v in raw.items()
    }
    return model, preds, row


def work_root() -> str | None:
    """Where fold work folders go (``ALPHA_LAB_WORK_DIR``, shared by a cluster's nodes;
    default the system temporary folder)."""
    return os.environ.get("ALPHA_LAB_WORK_DIR") or None
