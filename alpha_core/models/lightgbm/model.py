"""LightGBM, the built-in model type: a gradient-boosted regressor behind the model contract.

Training is deterministic for a seed (and a thread count). Early stopping watches validation
rows of a later window (the run's validation window, :mod:`alpha_core.research.selection`): every
``EVAL_EVERY`` trees it scores them by the mean daily rank IC (:mod:`alpha_core.stats.scoring`)
and stops when that has not improved for ``early_stopping_rounds`` trees, keeping the best
trees. The legacy ``valid_fraction`` tail (the last dates of the training rows, purged by
the label horizon) stops on its L2 instead, as runs saved before the validation window did.
A model is saved as LightGBM's own text format (``<stem>.txt``) beside the JSON sidecar,
which records the text's sha256; loading checks that checksum and the text's structure
(:func:`check_model_text`) before LightGBM parses it, since LightGBM aborts the whole process
on some malformed model files.
Contributions are exact path-dependent TreeSHAP, computed by
:mod:`alpha_core.models.lightgbm.fastshap` from tables compiled once per model and kept on
it, or by LightGBM's ``pred_contrib`` for trees fastshap does not handle.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from alpha_core.base.storage import write_atomic
from alpha_core.features.library import LABEL, is_categorical

# Any alpha_core import runs alpha_core/__init__.py first, which sets OMP_WAIT_POLICY
# before LightGBM loads libgomp.
from alpha_core.models.base import (
    Capabilities,
    FitProgress,
    ModelFileError,
    TrainedModel,
    feature_matrix,
    read_model_file,
    read_sidecar,
    register_model_type,
    split_validation_tail,
    write_sidecar,
)
from alpha_core.models.lightgbm.params import MODEL_PRESETS, ModelParams
from alpha_core.stats.scoring import mean_daily_rank_ic


def _import_lightgbm():  # noqa: ANN202
    """LightGBM without its scikit-learn wrapper (only ``Booster``/``Dataset``/``train`` are
    used here). ``import lightgbm`` imports scikit-learn when it is installed (shap brings it),
    about 1.5 s of a 2 s budget for a daily ``alpha book``; hiding it during the import makes
    LightGBM skip its optional sklearn layer. A scikit-learn imported earlier is left alone."""
    hide = "sklearn" not in sys.modules
    if hide:
        sys.modules["sklearn"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import lightgbm
    finally:
        if hide:
            del sys.modules["sklearn"]
    return lightgbm


lgb = _import_lightgbm()

PREDICT_BLOCK = 100_000
"""Rows scored at a time (a block of 158 Float32 features is about 63 MB)."""
EVAL_EVERY = 10
"""Trees between two validation scores when early stopping on validation rows."""

FASTSHAP = "path-dependent TreeSHAP (alpha_core.models.lightgbm.fastshap)"
NATIVE = "path-dependent TreeSHAP (LightGBM pred_contrib)"


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


@register_model_type
@dataclass
class LightGBMModel(TrainedModel):
    """A fitted booster and what is needed to use and audit it."""

    model_type: ClassVar[str] = "lightgbm"
    capabilities: ClassVar[Capabilities] = Capabilities(
        validation_aware=True, exact_contributions=True, shares_fits=True
    )
    params_class: ClassVar[type] = ModelParams
    presets: ClassVar[dict[str, Any]] = MODEL_PRESETS

    booster: lgb.Booster
    features: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    _tables: Any = field(default=None, init=False, repr=False, compare=False)
    _tables_built: bool = field(default=False, init=False, repr=False, compare=False)
    _valid_scores: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    # ------------------------------------------------------------------------- fit
    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        features: tuple[str, ...],
        params: ModelParams,
        seed: int,
        progress: FitProgress | None = None,
        valid: pl.DataFrame | None = None,
    ) -> LightGBMModel:
        """Fit on prepared training rows; with ``valid`` (rows of a later window, raw labels)
        score them and early-stop on them if asked, else on the legacy tail if set."""
        if valid is not None:
            return cls._fit_on_window(train, features, params, seed, valid, progress)
        valid_meta: dict[str, Any] = {}
        if params.valid_fraction > 0:
            train, valid = split_validation_tail(train, params.valid_fraction)
            valid_meta = {
                "n_valid_rows": valid.height,
                "valid_start": str(valid["date"].min()),
                "valid_end": str(valid["date"].max()),
            }
        elif params.early_stopping_rounds:
            raise ValueError(
                "early stopping needs validation rows: the run's validation window "
                "(fit_model(..., valid=rows)) or model.valid_fraction > 0"
            )
        y = train[LABEL].to_numpy()
        dataset = _dataset(train, y, features, params, seed)
        callbacks = [_progress_callback(progress, params.n_estimators)] if progress else []
        valid_sets = []
        if valid is not None:
            valid_sets = [
                lgb.Dataset(
                    feature_matrix(valid, features),
                    label=valid[LABEL].to_numpy(),
                    reference=dataset,
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
        best = booster.current_iteration()
        if valid_sets:
            best = booster.best_iteration or best
            valid_meta["best_iteration"] = best
            valid_meta["valid_l2"] = (
                float(booster.best_score["valid"]["l2"]) if booster.best_score else None
            )
        booster, fitted = _keep_trees(booster, best, train.height)
        del dataset  # the binned rows go before the matrix is built again to score them
        if fitted is None:
            fitted = booster.predict(feature_matrix(train, features))
        return cls(booster, tuple(features), _meta(params, seed, train, fitted, y, valid_meta))

    @classmethod
    def _fit_on_window(
        cls,
        train: pl.DataFrame,
        features: tuple[str, ...],
        params: ModelParams,
        seed: int,
        valid: pl.DataFrame,
        progress: FitProgress | None,
    ) -> LightGBMModel:
        """Fit, scoring ``valid`` every EVAL_EVERY trees; keep the best trees when stopping."""
        y = train[LABEL].to_numpy()
        dataset = _dataset(train, y, features, params, seed)
        watcher = _RankICStopping(valid, features, params.early_stopping_rounds)
        callbacks = [watcher] + (
            [_progress_callback(progress, params.n_estimators)] if progress else []
        )
        # the validation rows ride along binned, so LightGBM keeps their scores up to date
        # tree by tree (read by the watcher, no prediction); no metric is computed on them
        booster = lgb.train(
            {**lgb_params(params, seed), "metric": "None"},
            dataset,
            num_boost_round=params.n_estimators,
            valid_sets=[watcher.binned(dataset)],
            valid_names=["valid"],
            callbacks=callbacks,
            keep_training_booster=True,
        )
        stopped = params.early_stopping_rounds or watcher.raced_out_at
        best = watcher.best_iteration if stopped else booster.current_iteration()
        if best < booster.current_iteration():
            # a candidate (or an ensemble's member): its training error is never reported,
            # so the trees are cut from the text and no training row is scored again
            text = booster.model_to_string(num_iteration=best)
            booster, fitted = lgb.Booster(model_str=text), None
        else:
            booster, fitted = _keep_trees(booster, best, train.height)
        del dataset
        kept = watcher.best_scores if best == watcher.best_iteration else None
        scores = booster.predict(watcher.matrix()) if kept is None else kept
        score = mean_daily_rank_ic(valid["date"], scores, valid[LABEL])
        valid_meta = {
            "n_valid_rows": valid.height,
            "valid_start": str(valid["date"].min()),
            "valid_end": str(valid["date"].max()),
            "best_iteration": best,
            "valid_rank_ic": score,
            "valid_curve": watcher.curve,
            **({"raced_out_at": watcher.raced_out_at} if watcher.raced_out_at else {}),
        }
        model = cls(booster, tuple(features), _meta(params, seed, train, fitted, y, valid_meta))
        model._valid_scores = scores
        return model

    def valid_predictions(self) -> np.ndarray | None:
        return self._valid_scores

    @classmethod
    def sharing_fits(cls, keep: bool = False) -> AbstractContextManager[None]:
        return reusing_datasets(keep)

    @classmethod
    def racing(cls, rung: int) -> AbstractContextManager[None]:
        return racing(rung)

    @classmethod
    def wants_validation(cls, params: ModelParams) -> bool:
        return params.early_stopping_rounds > 0 and params.valid_fraction == 0

    @classmethod
    def refit_params(cls, params: ModelParams, model: TrainedModel) -> ModelParams:
        trees = int(model.meta.get("best_iteration", params.n_estimators))
        return replace(params, n_estimators=trees, early_stopping_rounds=0)

    @classmethod
    def legacy_files(cls, stem: str) -> tuple[str, ...]:
        return (f"{stem}.txt",)

    # ------------------------------------------------------------------------- use
    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """In blocks of :data:`PREDICT_BLOCK` rows, so scoring a long test window never holds
        more than one block's matrix (the same values as one call)."""
        if frame.height <= PREDICT_BLOCK:
            return self.booster.predict(feature_matrix(frame, self.features))
        return np.concatenate(
            [
                self.booster.predict(feature_matrix(frame.slice(i, PREDICT_BLOCK), self.features))
                for i in range(0, frame.height, PREDICT_BLOCK)
            ]
        )

    def contributions(self, x: np.ndarray, method: str = "auto") -> np.ndarray:
        """TreeSHAP contributions, shape ``(n, k + 1)``; the last column is the expected value.

        ``method``: "fast" (:mod:`alpha_core.models.lightgbm.fastshap`, same values in O(T L D)
        per row), "native" (LightGBM's ``pred_contrib``) or "auto" (fast when the model allows it).
        """
        if x.shape[0] == 0:
            return np.zeros((0, len(self.features) + 1))
        if method in ("auto", "fast"):
            tables = self.shap_tables()
            if tables is not None:
                from alpha_core.models.lightgbm import fastshap

                return fastshap.shap_values(tables, x)
            if method == "fast":
                raise ValueError("this model cannot use the fast TreeSHAP path (see fastshap)")
        out = self.booster.predict(x, pred_contrib=True)
        return np.asarray(out, dtype=float)

    def shap_tables(self) -> Any:
        """The trees compiled for :mod:`alpha_core.models.lightgbm.fastshap`, or None where it
        cannot serve.

        Built on first use (about a second on the demo model) and kept on the model; the
        lock makes the app's background thread and page scripts build them once.
        """
        if not self._tables_built:
            with self._lock:
                if not self._tables_built:
                    from alpha_core.models.lightgbm import fastshap

                    if fastshap.HAVE_NUMBA:
                        self._tables = fastshap.compile_model(self.booster, len(self.features))
                    self._tables_built = True
        return self._tables

    def importance(self) -> pl.DataFrame:
        """``feature, importance``: total split gain per feature."""
        gain = self.booster.feature_importance(importance_type="gain").astype(float)
        return pl.DataFrame({"feature": list(self.features), "importance": gain})

    def describe(self) -> dict[str, Any]:
        return {
            "contributions_method": FASTSHAP if self.shap_tables() is not None else NATIVE,
            "importance_measure": "LightGBM gain",
            "n_trees": self.booster.num_trees(),
        }

    # ------------------------------------------------------------------------- persistence
    def save(self, directory: Path, stem: str) -> None:
        """Write ``<stem>.txt`` (LightGBM text), then ``<stem>.json`` (features, metadata and
        the text's checksum)."""
        write_atomic(directory / f"{stem}.txt", lambda p: self.booster.save_model(str(p)))
        write_sidecar(self, directory, stem, files=(f"{stem}.txt",))

    @classmethod
    def load(cls, directory: Path, stem: str) -> LightGBMModel:
        """Read a saved model; the booster's feature list must match the sidecar's.

        The text reaches LightGBM only after its checksum (when the sidecar has one) and
        its structure are checked; either failing is a :class:`ModelFileError`.
        """
        name = f"{stem}.txt"
        features, meta = read_sidecar(directory, stem)
        data = read_model_file(directory, stem, name)
        try:
            text = data.decode("utf-8")
            check_model_text(text, features)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ModelFileError(
                f"{directory / name}: not a valid LightGBM model ({exc})"
            ) from None
        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise ModelFileError(f"{directory / name}: LightGBM cannot read it ({exc})") from None
        if tuple(booster.feature_name()) != features:
            raise ModelFileError(
                f"{directory / f'{stem}.json'}: feature list does not match the booster in "
                f"{directory / name}"
            )
        return cls(booster, features, meta)


def _dataset_params(params: ModelParams) -> dict[str, Any]:
    """Dataset parameters that differ from LightGBM's defaults (none at the defaults, so a
    model trained before they existed is built on the same bins)."""
    sample = params.bin_construct_sample_cnt
    return {} if sample == 200_000 else {"bin_construct_sample_cnt": sample}


def _dataset(
    train: pl.DataFrame,
    y: np.ndarray,
    features: tuple[str, ...],
    params: ModelParams,
    seed: int,
) -> lgb.Dataset:
    """LightGBM's binned Dataset of the ``features`` columns of ``train``, as Float32, with
    label ``y``; constructed here with the parameters ``lgb.train`` would merge in.

    Fed as Arrow columns (no copy of polars' buffers) rather than a numpy matrix: LightGBM
    bins the same values into the same model (tests/test_model_fast.py) at about 20% less
    CPU, and no row-major copy of the training frame is made. The columns live only while
    LightGBM bins them (free_raw_data), not during boosting.

    Inside :func:`reusing_datasets`, a Dataset binned before from the same values with the
    same binning parameters is reused with the new label (binning never reads the label)."""
    merged = {**lgb_params(params, seed), **_dataset_params(params)}
    categorical = [f for f in features if is_categorical(f)]
    columns = train.select(pl.col(f).cast(pl.Float32) for f in features)
    key = None
    if _DATASETS.depth:
        key = _dataset_key(columns, merged, categorical)
        found = _DATASETS.get(key)
        if found is not None:
            found.set_label(y)
            return found
    dataset = lgb.Dataset(
        columns.to_arrow(),
        label=y,
        feature_name=list(features),
        categorical_feature=categorical,
        params=merged,
    ).construct()
    if key is not None:
        _DATASETS.put(key, dataset, columns.height * columns.width)
    return dataset


_BINNING = ("max_bin", "bin_construct_sample_cnt", "min_data_in_leaf", "seed")
"""The parameters of ``lgb_params``/``_dataset_params`` LightGBM's binning reads (with the
feature names, the categorical ones and the values): a cached Dataset is reused only when
all are equal, so the model is the one a fresh Dataset gives (tests/test_model_fast.py)."""


def _dataset_key(columns: pl.DataFrame, merged: dict[str, Any], categorical: list[str]) -> tuple:
    rows = hashlib.blake2b(columns.hash_rows(seed=0).to_numpy().tobytes(), digest_size=16)
    binning = tuple((k, merged.get(k)) for k in _BINNING)
    return (rows.hexdigest(), columns.shape, tuple(columns.columns), tuple(categorical), binning)


DATASET_CACHE_VALUES = 400_000_000
"""At most this many binned values (rows x features, about a byte each) stay cached."""


class _DatasetCache(threading.local):
    """Constructed Datasets by content key, least recently used first out; one per thread
    (a Dataset whose label is being replaced must not be training in another thread)."""

    def __init__(self) -> None:
        self.depth = 0
        self.keep = False
        self.entries: dict[tuple, tuple[lgb.Dataset, int]] = {}

    def get(self, key: tuple) -> lgb.Dataset | None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return None
        self.entries[key] = entry  # most recently used last
        return entry[0]

    def put(self, key: tuple, dataset: lgb.Dataset, values: int) -> None:
        self.entries[key] = (dataset, values)
        while sum(v for _, v in self.entries.values()) > DATASET_CACHE_VALUES:
            self.entries.pop(next(iter(self.entries)))


_DATASETS = _DatasetCache()


@contextmanager
def reusing_datasets(keep: bool = False) -> Iterator[None]:
    """Within this block, fits (in this thread) on identical training values share one
    binned Dataset.

    Binning (LightGBM's Dataset) is 40% of a small walk-forward fit's CPU; the candidates
    of a selection and the trials of a sweep train on the same rows with other labels or
    booster settings, so they can share it. Leaving the outermost block empties the cache
    unless that block asked to ``keep`` it: a sweep's worker process keeps it from one
    trial to the next, within :data:`DATASET_CACHE_VALUES`."""
    if _DATASETS.depth == 0:
        _DATASETS.keep = keep
    _DATASETS.depth += 1
    try:
        yield
    finally:
        _DATASETS.depth -= 1
        if _DATASETS.depth == 0 and not _DATASETS.keep:
            _DATASETS.entries.clear()


def _meta(
    params: ModelParams,
    seed: int,
    train: pl.DataFrame,
    fitted: np.ndarray | None,
    y: np.ndarray,
    valid_meta: dict[str, Any],
) -> dict[str, Any]:
    return {
        "params": asdict(params),
        "seed": seed,
        "n_train_rows": train.height,
        "train_start": str(train["date"].min()),
        "train_end": str(train["date"].max()),
        "train_rmse": None if fitted is None else float(np.sqrt(np.mean((fitted - y) ** 2))),
        **valid_meta,
    }


class _Race(threading.local):
    """The validation scores fits had at the rung, in the order they reached it."""

    def __init__(self) -> None:
        self.rung = 0
        self.scores: list[float] = []

    def promotes(self, score: float) -> bool:
        """Record ``score`` at the rung; True when it is among the best half of the scores
        recorded there so far (the first fit always goes on)."""
        self.scores.append(score if np.isfinite(score) else -np.inf)
        better = sum(s > self.scores[-1] for s in self.scores[:-1])
        return better < max(1, len(self.scores) // 2)


_RACE = _Race()


@contextmanager
def racing(rung: int) -> Iterator[None]:
    """Fits with ``valid=`` inside the block race: at ``rung`` trees (a multiple of
    EVAL_EVERY) a fit stops, keeping its best trees so far, unless its best validation rank
    IC so far is in the top half of those recorded there by the block's fits before it and
    itself (asynchronous successive halving, Li et al. 2018, with halving rate 2). A stopped
    fit cannot be the best: a fit that went on had at least its score there, and a best
    score only grows. Its ``meta["raced_out_at"]`` records the rung."""
    if rung % EVAL_EVERY:
        raise ValueError(f"the rung ({rung}) must be a multiple of {EVAL_EVERY} trees")
    _RACE.rung, _RACE.scores = rung, []
    try:
        yield
    finally:
        _RACE.rung, _RACE.scores = 0, []


class _RankICStopping:
    """LightGBM callback: every EVAL_EVERY trees (and after the last), the mean daily rank IC
    of the validation rows; stops when ``rounds`` trees brought no improvement (0: never).

    The validation scores are LightGBM's own, kept up to date on the binned validation rows
    (:meth:`binned`) as each tree is added (the same values as ``predict``, read in
    microseconds); where LightGBM hides them they are predicted block by block
    (``start_iteration``), each tree once. ``curve`` holds ``[trees, score]`` pairs.
    """

    order = 30

    def __init__(self, valid: pl.DataFrame, features: tuple[str, ...], rounds: int) -> None:
        self.valid, self.features, self._x = valid, features, None
        self.dates, self.label = valid["date"], valid[LABEL]
        self.rounds = rounds
        self.scores = np.zeros(valid.height)
        self.done = 0
        self.best_iteration, self.best_score = 0, -np.inf
        self.best_scores: np.ndarray | None = None
        self.raced_out_at: int | None = None
        self.curve: list[list[float]] = []

    def matrix(self) -> np.ndarray:
        """The validation rows' feature matrix (built once, only if something predicts)."""
        if self._x is None:
            self._x = feature_matrix(self.valid, self.features)
        return self._x

    def binned(self, reference: lgb.Dataset) -> lgb.Dataset:
        """The validation rows binned with the training rows' bins (no label is needed),
        from Arrow columns like the training rows; kept on ``reference`` so candidates that
        share their training Dataset (:func:`reusing_datasets`) bin them once."""
        columns = self.valid.select(pl.col(f).cast(pl.Float32) for f in self.features)
        rows = hashlib.blake2b(columns.hash_rows(seed=0).to_numpy().tobytes(), digest_size=16)
        key = (rows.hexdigest(), columns.shape, tuple(columns.columns))
        kept = getattr(reference, "_alpha_valid", {})
        if key not in kept:
            names = list(self.features)
            kept = {
                key: lgb.Dataset(
                    columns.to_arrow(),
                    reference=reference,
                    feature_name=names,
                    categorical_feature=[f for f in names if is_categorical(f)],
                    params=reference.get_params(),
                ).construct()
            }
            reference._alpha_valid = kept  # type: ignore[attr-defined]
        return kept[key]

    def __call__(self, env: Any) -> None:
        trees = env.iteration + 1
        if trees % EVAL_EVERY and trees != env.end_iteration:
            return
        kept = _inner_scores(env.model, 1, len(self.scores))
        if kept is not None:
            self.scores = kept
        else:
            self.scores += env.model.predict(
                self.matrix(), start_iteration=self.done, num_iteration=trees - self.done
            )
        self.done = trees
        score = mean_daily_rank_ic(self.dates, self.scores, self.label)
        self.curve.append([trees, score])
        if np.isfinite(score) and score > self.best_score:
            self.best_iteration, self.best_score = trees, score
            self.best_scores = self.scores.copy()  # the kept model's validation scores
        if _RACE.rung and trees == _RACE.rung and not _RACE.promotes(self.best_score):
            self.raced_out_at = trees
            if self.best_iteration == 0:  # never a finite score: nothing to choose by
                self.best_iteration = trees
            raise lgb.callback.EarlyStopException(self.best_iteration - 1, [])
        if self.rounds and trees - self.best_iteration >= self.rounds:
            if self.best_iteration == 0:  # never a finite score: nothing to choose by
                self.best_iteration = trees
            raise lgb.callback.EarlyStopException(self.best_iteration - 1, [])


_HEADER_KEYS = ("version", "num_class", "max_feature_idx", "feature_names", "tree_sizes")
_TREE_ARRAYS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")


def check_model_text(text: str, features: tuple[str, ...]) -> None:
    """Check the structure of LightGBM model text; ValueError naming the first defect.

    Checked: the header (its keys, ``feature_names`` equal to ``features``), that every tree
    sits where ``tree_sizes`` puts it and is followed by ``end of trees``, and in every tree
    the array lengths, child indices and split features LightGBM would index with.
    """
    if not text.startswith("tree\n"):
        raise ValueError("it does not start with 'tree'")
    header_end = text.find("\n\n")
    header = _key_values(text[:header_end] if header_end > 0 else "")
    missing = [k for k in _HEADER_KEYS if k not in header]
    if missing:
        raise ValueError(f"its header lacks {', '.join(missing)}")
    if tuple(header["feature_names"].split()) != features:
        raise ValueError("its feature names differ from the sidecar's")
    n_features = _int(header["max_feature_idx"], "max_feature_idx") + 1
    sizes = [_int(v, "tree_sizes") for v in header["tree_sizes"].split()]
    pos = text.find("Tree=0\n", header_end)
    if sizes and pos < 0:
        raise ValueError("it holds no trees")
    for index, size in enumerate(sizes):
        block = text[pos : pos + size] if size > 0 else ""
        if not block.startswith(f"Tree={index}\n") or len(block) != size:
            raise ValueError(f"tree {index} is not where tree_sizes puts it (truncated?)")
        _check_tree(index, _key_values(block), n_features)
        pos += size
    if not text[pos if sizes else header_end :].lstrip().startswith("end of trees"):
        raise ValueError("'end of trees' is missing (truncated?)")


def _check_tree(index: int, tree: dict[str, str], n_features: int) -> None:
    n_leaves = _int(tree.get("num_leaves", ""), f"tree {index} num_leaves")
    if n_leaves < 1:
        raise ValueError(f"tree {index} has {n_leaves} leaves")
    if len(_floats(tree, "leaf_value", index)) != n_leaves:
        raise ValueError(f"tree {index}: leaf_value does not hold {n_leaves} values")
    if n_leaves == 1:
        return
    arrays = {key: _floats(tree, key, index) for key in _TREE_ARRAYS}
    for key, values in arrays.items():
        if len(values) != n_leaves - 1:
            raise ValueError(f"tree {index}: {key} does not hold {n_leaves - 1} values")
    for key in ("left_child", "right_child"):
        if any(c != int(c) or not -n_leaves <= c < n_leaves - 1 for c in arrays[key]):
            raise ValueError(f"tree {index}: {key} points outside the tree")
    if any(f != int(f) or not 0 <= f < n_features for f in arrays["split_feature"]):
        raise ValueError(f"tree {index}: split_feature names a feature that does not exist")
    if _int(tree.get("num_cat", "0"), f"tree {index} num_cat") > 0:
        bounds = _floats(tree, "cat_boundaries", index)
        cats = _floats(tree, "cat_threshold", index)
        if not bounds or bounds[0] != 0 or bounds != sorted(bounds) or bounds[-1] != len(cats):
            raise ValueError(f"tree {index}: categorical splits are inconsistent")


_LINE = re.compile(r"^([a-z_]+)=(.*)$", re.MULTILINE)


def _key_values(block: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _LINE.finditer(block)}


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what} is not an integer: {value[:40]!r}") from None


def _floats(tree: dict[str, str], key: str, index: int) -> list[float]:
    if key not in tree:
        raise ValueError(f"tree {index} lacks {key}")
    try:
        return [float(v) for v in tree[key].split()]
    except ValueError:
        raise ValueError(f"tree {index}: {key} holds a value that is not a number") from None


def _keep_trees(
    booster: lgb.Booster, best: int, n_rows: int
) -> tuple[lgb.Booster, np.ndarray | None]:
    """The trained booster cut to its first ``best`` trees, without its training data, and
    its training scores when LightGBM still holds them (None: predict them).

    Cut: the trees after ``best`` are rolled back one by one (LightGBM subtracts each from
    the training scores it keeps, on the binned rows: far cheaper than predicting every
    training row again), so only the kept trees remain for every later use (predict, SHAP,
    save). Then what lgb.train does when it does not keep the training booster: the same
    model reloaded from its text, and its own scores read instead of predicted.
    """
    for _ in range(booster.current_iteration() - best):
        booster.rollback_one_iter()
    fitted = _training_scores(booster, n_rows)
    booster.model_from_string(booster.model_to_string()).free_dataset()
    return booster, fitted


def _training_scores(booster: lgb.Booster, n_rows: int) -> np.ndarray | None:
    """The booster's own scores of its training rows, or None where LightGBM hides them.

    Boosting keeps every training row's score up to date; reading it costs milliseconds,
    where ``booster.predict`` over the training matrix costs about a third of the seed's
    fit (7.7 of 20 s on the demo). The values are the same bits as ``booster.predict``
    (tests/test_model_fast.py checks it); this uses LightGBM's internal accessor, so any
    failure falls back to predicting.
    """
    return _inner_scores(booster, 0, n_rows)


def _inner_scores(booster: lgb.Booster, data_idx: int, n_rows: int) -> np.ndarray | None:
    """A copy of the scores LightGBM keeps for its dataset ``data_idx`` (0: training, 1: the
    first validation set), or None where it hides them (the caller predicts instead)."""
    try:
        scores = booster._Booster__inner_predict(data_idx=data_idx)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a LightGBM without the accessor: predict instead
        return None
    scores = np.array(scores, dtype=np.float64, copy=True)
    return scores if scores.shape == (n_rows,) else None


def _progress_callback(progress: FitProgress, total: int) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        progress(env.iteration + 1, total)

    callback.order = 100  # type: ignore[attr-defined]
    return callback
