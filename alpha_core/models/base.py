"""The model contract, the registry of model types, and the rows every model trains on.

A *model type* is a class implementing :class:`TrainedModel` (fit, predict, contributions,
importance, describe, save, load) that declares its :class:`Capabilities`, its parameter
class (``params_class``, fields declared with ``setting(...)``) and its named ``presets``.
Model types are discovered through the ``alpha_lab.model_types`` entry points
(:func:`alpha_core.base.plugins.discover`; Alpha Lab declares lightgbm, linear and ensemble in
its ``pyproject.toml``); :func:`register_model_type` adds one at run time (tests). The rest of
the engine (walk-forward, selection, the run registry, the desk, explanations) uses only this
contract; every type must pass :mod:`alpha_core.models.conformance`.

On disk a model is ``<stem>.json``, the sidecar (``model_type``, ``features`` and the
model's ``meta``: parameters, training window, data fingerprint), plus whatever files its type
writes beside it (LightGBM: ``<stem>.txt``), listed in the sidecar's ``files``
(:func:`model_files`). Nothing is pickled. A sidecar without
``model_type`` is a LightGBM model saved before the contract existed.

The sidecar also records the size and sha256 of each file its type wrote (``files``), and
:func:`read_model_file` checks them before a file's bytes reach the model library: a model
file altered or damaged after its save is a :class:`ModelFileError` for that run, never a
crash of the process (LightGBM aborts on some malformed model text). Sidecars written before
checksums existed have no ``files``; their models are loaded after the type's own checks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import polars as pl

from alpha_core.base import plugins
from alpha_core.base.settings import from_dict_of
from alpha_core.features.library import (  # noqa: F401 - re-exported: the columns a fit reads
    LABEL,
    LABEL_END,
)
from alpha_core.models.rows import (  # noqa: F401 - re-exported: the contract's rows
    feature_matrix,
    split_validation_tail,
    training_rows,
)
from alpha_core.models.sidecar import (  # noqa: F401 - re-exported: the contract's files
    ModelFileError,
    numbered_stems,
    read_json,
    read_model_file,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

FitProgress = Callable[[int, int], None]
"""Called as ``progress(step, total)`` while a model trains (LightGBM: trees built)."""

DEFAULT_MODEL_TYPE = "lightgbm"
"""The model type of a run that names none, and of a sidecar without ``model_type``."""


@dataclass(frozen=True)
class Capabilities:
    """What a model type can do, so the engine asks instead of guessing."""

    validation_aware: bool = False
    """``fit`` accepts ``valid=``: rows of the validation window (early stopping, weights)."""
    exact_contributions: bool = True
    """``contributions`` sum exactly to the prediction (the Explain page relies on it)."""
    shares_fits: bool = False
    """``sharing_fits`` shares work between fits on identical rows."""
    cross_sectional: bool = False
    """A row's prediction depends on the other rows of its date (per-date normalisation):
    ``contributions`` then needs ``dates=`` and a sample explains whole dates."""


@dataclass(frozen=True)
class Preset:
    """A named set of a model type's parameters (LightGBM's ``ModelPreset`` has the same
    fields)."""

    params: Any
    summary: str
    help: str


class TrainedModel(ABC):
    """A fitted model and what is needed to use, explain and audit it: the contract.

    ``features`` are the columns it reads, in order; ``meta`` is JSON-able and records at
    least ``params``, ``seed``, ``n_train_rows``, ``train_start``, ``train_end`` and
    ``train_rmse`` (the walk-forward loop adds the fold's windows to it).
    """

    model_type: ClassVar[str] = ""
    """The registry name, also written to the sidecar."""
    input_dtype: ClassVar[type] = np.float32
    """The precision of the matrices it is fitted, scored and explained on
    (:func:`feature_matrix`); explanations use it so they add up to the predictions."""
    capabilities: ClassVar[Capabilities] = Capabilities()
    params_class: ClassVar[type | None] = None
    """Its parameters: a frozen dataclass declared with ``setting(...)`` (None: it takes none)."""
    presets: ClassVar[Mapping[str, Any]] = {}
    """Named parameter sets (``name -> Preset``); the selection's candidates by default."""

    features: tuple[str, ...]
    meta: dict[str, Any]

    @classmethod
    @abstractmethod
    def fit(
        cls,
        train: pl.DataFrame,
        features: tuple[str, ...],
        params: Any,
        seed: int,
        progress: FitProgress | None = None,
    ) -> TrainedModel:
        """Fit on prepared, non-empty training rows (see :func:`training_rows`); ``params``
        is an instance of ``params_class``.

        A ``validation_aware`` type also takes ``valid=``: rows of a later window (raw
        labels) to choose its size or weights on (LightGBM: early stopping).
        """

    @abstractmethod
    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Raw predictions for the rows of ``frame`` (which holds every one of ``features``)."""

    def valid_predictions(self) -> np.ndarray | None:
        """Its predictions of the ``valid=`` rows it was fitted with, when the fit already
        made them (the same values as ``predict``); None: predict them."""
        return None

    @abstractmethod
    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Exact per-feature contributions to the raw prediction of each row of ``x``.

        ``x`` is :func:`feature_matrix` of the rows; a ``cross_sectional`` type is called
        with ``dates=`` (the rows' dates) too, see :func:`model_contributions`. The result
        has shape ``(n, k + 1)``: one column per feature, the last holding the expected
        value; each row sums to the row's raw prediction. Zero rows give a ``(0, k + 1)`` array.
        """

    @abstractmethod
    def importance(self) -> pl.DataFrame:
        """``feature, importance``: a non-negative, gain-like importance, one row per feature
        in ``features`` order."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able facts shown beside the model's explanations.

        Holds ``contributions_method`` (how :meth:`contributions` computes them) and
        ``importance_measure`` (what :meth:`importance` reports), plus anything the type
        wants to show (LightGBM: ``n_trees``).
        """

    @abstractmethod
    def save(self, directory: Path, stem: str) -> None:
        """Write the sidecar (:func:`write_sidecar`) and the type's own files, atomically."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, stem: str) -> TrainedModel:
        """Read what :meth:`save` wrote; raises FileNotFoundError naming a missing file."""

    @classmethod
    def candidates(cls) -> tuple[tuple[str, str | None, Any], ...]:
        """``(name, label_transform or None for the run's, params)`` compared by
        ``--select valid``; default: the presets."""
        return tuple((name, None, p.params) for name, p in cls.presets.items())

    @classmethod
    def wants_validation(cls, params: Any) -> bool:
        """Whether fitting with ``params`` needs the run's validation window (LightGBM:
        early stopping)."""
        return False

    @classmethod
    def refit_params(cls, params: Any, model: TrainedModel) -> Any:
        """The parameters refitting on the whole span uses after ``model`` was fitted with
        ``params`` and the validation window (LightGBM: the trees early stopping kept)."""
        return params

    @classmethod
    def legacy_files(cls, stem: str) -> tuple[str, ...]:
        """The files a sidecar without ``files`` (saved before checksums) stands for."""
        return ()

    @classmethod
    def sharing_fits(cls, keep: bool = False) -> AbstractContextManager[None]:
        """A block within which fits may share work done on identical training values (the
        same model must come out); ``keep`` keeps it past the block. Default: nothing
        shared (LightGBM shares its binned Dataset,
        :func:`alpha_core.models.lightgbm.model.reusing_datasets`)."""
        return nullcontext()

    @classmethod
    def racing(cls, rung: int) -> AbstractContextManager[None]:
        """A block within which validation-aware fits race (asynchronous successive
        halving): a fit that reaches ``rung`` steps goes on only while its best validation
        score so far is in the top half of the scores the block's fits had there. Default:
        no race (LightGBM: :func:`alpha_core.models.lightgbm.model.racing`, in trees)."""
        return nullcontext()


M = TypeVar("M", bound=type[TrainedModel])

MODEL_TYPES: dict[str, type[TrainedModel]] = {}
"""Model types by name: the discovered ones, and any registered at run time."""

_BUILT_IN = {
    "lightgbm": "alpha_core.models.lightgbm.model:LightGBMModel",
    "linear": "alpha_core.models.linear.model:LinearModel",
    "ensemble": "alpha_core.models.ensemble.model:EnsembleModel",
}
"""Alpha Lab's own types, as its ``pyproject.toml`` declares them (used when the
distribution's metadata is absent)."""

_DISCOVERED: list[str] | None = None
"""Names found by the last discovery, in order (None: not yet discovered)."""


def register_model_type(cls: M) -> M:
    """Register a :class:`TrainedModel` implementation under its ``model_type``.

    Usable as a class decorator. Registering the same class again is a no-op; another class
    under a taken name is refused.
    """
    if not (isinstance(cls, type) and issubclass(cls, TrainedModel)):
        raise TypeError(f"{cls!r} does not implement alpha_core.models.base.TrainedModel")
    if inspect.isabstract(cls):
        raise TypeError(f"{cls.__name__} leaves abstract methods unimplemented")
    name = cls.model_type
    if not name:
        raise ValueError(f"{cls.__name__} has no model_type name")
    known = MODEL_TYPES.get(name)
    owner = _BUILT_IN.get(name, cls.__module__).partition(":")[0]  # a built-in name is its own
    if (known is not None and known is not cls) or owner != cls.__module__:
        where = known.__name__ if known else owner
        raise ValueError(f"model type {name!r} is already registered ({where})")
    MODEL_TYPES[name] = cls
    return cls


def discover_model_types(refresh: bool = False) -> tuple[str, ...]:
    """Names of the model types installed as ``alpha_lab.model_types`` entry points (built-ins
    first), each registered; found once per process unless ``refresh``."""
    global _DISCOVERED
    if _DISCOVERED is None or refresh:
        found = plugins.discover("model_types", builtins=_BUILT_IN)
        for name, item in found.items():
            cls = item.obj
            if not (isinstance(cls, type) and issubclass(cls, TrainedModel)):
                raise plugins.PluginError(f"{item.target} ({name}) is not a TrainedModel")
            if cls.model_type != name:
                raise plugins.PluginError(
                    f"{item.target} is declared as {name!r} but its model_type is "
                    f"{cls.model_type!r}"
                )
            if MODEL_TYPES.get(name) is not cls:
                register_model_type(cls)
        _DISCOVERED = list(found)
    return tuple(_DISCOVERED)


def model_class(model_type: str) -> type[TrainedModel]:
    """The implementation registered as ``model_type``; ValueError listing the known ones."""
    if model_type not in MODEL_TYPES:
        discover_model_types()
    try:
        return MODEL_TYPES[model_type]
    except KeyError:
        known = ", ".join(model_types())
        raise ValueError(f"unknown model type {model_type!r} (known: {known})") from None


def model_types() -> tuple[str, ...]:
    """Names of every available model type, the discovered ones first (built-ins first)."""
    found = discover_model_types()
    return (*found, *(name for name in MODEL_TYPES if name not in found))


def sharing_fits(model_type: str, keep: bool = False) -> AbstractContextManager[None]:
    """:meth:`TrainedModel.sharing_fits` of the model type: a selection's candidates and a
    sweep's trials fit inside it."""
    return model_class(model_type).sharing_fits(keep)


def racing(model_type: str, rung: int) -> AbstractContextManager[None]:
    """:meth:`TrainedModel.racing` of the model type: a selection's candidates fit inside it."""
    return model_class(model_type).racing(rung)


# ----------------------------------------------------------------------------- parameters
def resolve_params(model_type: str, params: Any) -> Any:
    """``params`` as the type's ``params_class``: an instance as is, a dict (JSON) read with
    its declarations, None or another type's parameters (a run config holding LightGBM's
    fields) as the type's defaults. A type without ``params_class`` gets ``params`` as is."""
    cls = model_class(model_type).params_class
    if cls is None or isinstance(params, cls):
        return params
    if isinstance(params, Mapping):
        return from_dict_of(cls, params, prefix="model.")
    return cls()


def params_to_dict(params: Any) -> dict[str, Any]:
    """JSON-able parameters (a dataclass as a dict, tuples as lists)."""
    if params is None:
        return {}
    out = dataclasses.asdict(params)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def model_presets(model_type: str) -> dict[str, Any]:
    """The type's named presets (``name -> Preset`` with ``params``, ``summary``, ``help``)."""
    return dict(model_class(model_type).presets)


def preset_params(model_type: str, preset: str | None = None) -> Any:
    """The parameters of a preset of the type (None: its defaults); ValueError naming the
    known presets."""
    cls = model_class(model_type)
    if preset is None:
        return cls.params_class() if cls.params_class else None
    try:
        return cls.presets[preset].params
    except KeyError:
        known = ", ".join(cls.presets) or "none"
        raise ValueError(
            f"model type {model_type!r} has no preset {preset!r} (known: {known})"
        ) from None


@dataclass(frozen=True)
class ModelTypeInfo:
    """What a front end needs of a model type: its parameters, presets and capabilities."""

    name: str
    params_class: type | None
    presets: dict[str, Any]
    capabilities: Capabilities
    summary: str


def model_type_info(model_type: str) -> ModelTypeInfo:
    cls = model_class(model_type)
    doc = (cls.__doc__ or model_type).strip().splitlines()[0]
    return ModelTypeInfo(model_type, cls.params_class, dict(cls.presets), cls.capabilities, doc)


def model_type_infos() -> dict[str, ModelTypeInfo]:
    """Every available type's :class:`ModelTypeInfo` (the CLI's and Train form's source)."""
    return {name: model_type_info(name) for name in model_types()}


def param_owners() -> dict[str, str]:
    """``field name -> model type`` over every type's parameters; ValueError when two types
    declare the same field name (their flat CLI flags ``--<field>`` would collide)."""
    owners: dict[str, str] = {}
    for name, info in model_type_infos().items():
        if info.params_class is None:
            continue
        if any(info.params_class is model_class(o).params_class for o in set(owners.values())):
            continue
        for f in dataclasses.fields(info.params_class):
            if f.name in owners:
                raise ValueError(
                    f"model types {owners[f.name]!r} and {name!r} both declare {f.name!r}"
                )
            owners[f.name] = name
    return owners


def fit_model(
    train: pl.DataFrame,
    features: tuple[str, ...],
    params: Any,
    seed: int,
    progress: FitProgress | None = None,
    model_type: str = DEFAULT_MODEL_TYPE,
    valid: pl.DataFrame | None = None,
) -> TrainedModel:
    """Fit a model of ``model_type`` on prepared training rows (see :func:`training_rows`).

    ``params`` go through :func:`resolve_params`. ``valid``: rows of the validation window,
    passed on to ``validation_aware`` types only (others fit without them).
    """
    if train.height == 0:
        raise ValueError("no training rows: the train window has no bars with features and label")
    cls = model_class(model_type)
    params = resolve_params(model_type, params)
    if valid is None or not cls.capabilities.validation_aware:
        return cls.fit(train, tuple(features), params, seed, progress)
    return cls.fit(train, tuple(features), params, seed, progress, valid=valid)  # type: ignore[call-arg]


def model_contributions(
    model: TrainedModel, x: np.ndarray, dates: Sequence[Any] | None = None
) -> np.ndarray:
    """``model.contributions(x)``, with the rows' ``dates`` for a ``cross_sectional`` type."""
    if model.capabilities.cross_sectional:
        if dates is None:
            raise ValueError(f"{model.model_type} contributions need the rows' dates")
        return model.contributions(x, dates=dates)  # type: ignore[call-arg]
    return model.contributions(x)


def save_model(model: TrainedModel, directory: Path, stem: str = "model") -> None:
    """Write ``<stem>.json`` (the sidecar) and the model type's own files into ``directory``."""
    model.save(Path(directory), stem)


def load_model(directory: Path, stem: str = "model") -> TrainedModel:
    """Read a model saved by :func:`save_model`, whatever its type (from the sidecar).

    Raises FileNotFoundError naming a missing file and :class:`ModelFileError` for a damaged
    one; the type's ``load`` raises the latter too for files that fail its own checks.
    """
    model_type = read_json(sidecar_path(Path(directory), stem)).get(
        "model_type", DEFAULT_MODEL_TYPE
    )
    return model_class(model_type).load(Path(directory), stem)


def model_files(directory: Path, stem: str = "model") -> tuple[str, ...]:
    """Names (relative to ``directory``, in name order) of the files the saved model's type
    wrote besides its sidecar: the sidecar's ``files``, else its type's ``legacy_files``."""
    raw = read_json(sidecar_path(Path(directory), stem))
    files = raw.get("files")
    if isinstance(files, dict) and files:
        return tuple(sorted(files))
    return model_class(raw.get("model_type", DEFAULT_MODEL_TYPE)).legacy_files(stem)


def model_digest(directory: Path, stem: str = "model") -> str:
    """sha256 over the bytes of the model's files (:func:`model_files`, each checked against
    its sidecar first), in name order: what the desk's ledger records."""
    names = model_files(directory, stem)
    if not names:
        raise FileNotFoundError(f"no model file for {Path(directory) / stem}")
    h = hashlib.sha256()
    for name in names:
        h.update(read_model_file(directory, stem, name))
    return h.hexdigest()
