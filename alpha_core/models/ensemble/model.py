"""The ensemble model type: member models of any registered types, combined by weights.

Members are named ``"type"`` or ``"type:preset"`` (``ensemble_members``), each fitted
``ensemble_seeds`` times (seed ``seed + 7919 i + s``), optionally on a random subset of the
features (``ensemble_feature_fraction``). Weights are chosen on validation rows: the run's
validation window when ``fit`` is given ``valid=``, else the last ``ensemble_valid_fraction``
of the training dates (purged; the members then fit on the dates before it). With
``ensemble_weighting = "valid_ic"`` a member's weight is proportional to its positive mean
daily rank IC there, equal weights when none is positive; the weights and the reason are
recorded in ``meta``. Validation rows also reach validation-aware members (early stopping).
The prediction is the weighted sum of the members'; so are the contributions (exact when
every member's are). Saved as a folder of member models plus a JSON file, all listed with
their checksums in the sidecar's ``files``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from alpha_core.base.settings import setting, validate_fields
from alpha_core.base.storage import write_json
from alpha_core.features.library import LABEL
from alpha_core.models.base import (
    Capabilities,
    FitProgress,
    ModelFileError,
    Preset,
    TrainedModel,
    fit_model,
    load_model,
    model_class,
    model_contributions,
    params_to_dict,
    preset_params,
    read_model_file,
    read_sidecar,
    split_validation_tail,
    write_sidecar,
)
from alpha_core.stats.scoring import mean_daily_rank_ic

FORMAT = "alpha_lab.ensemble/1"
WEIGHTINGS = ("valid_ic", "equal")


@dataclass(frozen=True)
class EnsembleParams:
    """The ensemble's parameters (flat CLI flags ``--ensemble-members`` ...)."""

    ensemble_members: tuple[str, ...] = setting(
        ("lightgbm:fast", "linear"),
        label="Ensemble members",
        section="Model",
        help="ensemble: member models as type or type:preset, comma separated",
    )
    ensemble_seeds: int = setting(
        1, label="Seeds per member", lo=1, hi=20, section="Model", advanced=True
    )
    ensemble_feature_fraction: float = setting(
        1.0,
        label="Feature fraction per member fit",
        lo=0,
        hi=1,
        closed="right",
        step=0.05,
        section="Model",
        advanced=True,
        help="ensemble: each member fit sees a random subset of this share of the features",
    )
    ensemble_weighting: str = setting(
        "valid_ic",
        label="Ensemble weighting",
        choices=WEIGHTINGS,
        section="Model",
        help="valid_ic: weights proportional to the members' positive validation rank IC; "
        "equal: the same weight each",
    )
    ensemble_valid_fraction: float = setting(
        0.2,
        label="Ensemble validation tail",
        lo=0,
        hi=0.5,
        closed="left",
        step=0.05,
        section="Model",
        advanced=True,
        help="ensemble fitted without the run's validation window: the last share of its "
        "training dates (purged) chooses the weights; 0: equal weights",
    )

    def validate(self) -> None:
        validate_fields(self, "model.")
        parse_members(self.ensemble_members)


PRESETS = {
    "blend": Preset(
        EnsembleParams(), "LightGBM + linear", "fast LightGBM and the ridge, weighted by IC"
    ),
    "bagged-linear": Preset(
        EnsembleParams(("linear",), ensemble_seeds=3, ensemble_feature_fraction=0.7),
        "3 ridges on feature subsets",
        "three ridges, each on a random 70% of the features",
    ),
}


def parse_members(members: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """``[(type, preset or None)]``; ValueError naming an unknown type or preset."""
    if not members:
        raise ValueError("an ensemble needs at least one member")
    out = []
    for spec in members:
        kind, _, preset = spec.strip().partition(":")
        if kind == EnsembleModel.model_type:
            raise ValueError("an ensemble cannot hold an ensemble")
        preset_params(kind, preset or None)  # raises for an unknown type or preset
        out.append((kind, preset or None))
    return out


class EnsembleModel(TrainedModel):
    """Weighted member models of any types (weights chosen on validation rows)."""

    model_type: ClassVar[str] = "ensemble"
    input_dtype: ClassVar[type] = np.float64
    capabilities: ClassVar[Capabilities] = Capabilities(
        validation_aware=True, exact_contributions=True, cross_sectional=True
    )
    params_class: ClassVar[type] = EnsembleParams
    presets: ClassVar[dict[str, Any]] = PRESETS

    def __init__(
        self,
        features: tuple[str, ...],
        members: list[TrainedModel],
        weights: Any,
        specs: list[str],
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.features = tuple(features)
        self.members = list(members)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.specs = list(specs)
        self.meta: dict[str, Any] = dict(meta or {})
        self._index = [[self.features.index(f) for f in m.features] for m in self.members]

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        features: tuple[str, ...],
        params: EnsembleParams,
        seed: int,
        progress: FitProgress | None = None,
        valid: pl.DataFrame | None = None,
    ) -> EnsembleModel:
        kinds = parse_members(params.ensemble_members)
        fit_rows, rows = train, valid
        if valid is None and params.ensemble_valid_fraction > 0:
            fit_rows, rows = split_validation_tail(train, params.ensemble_valid_fraction)
        members, specs = [], []
        total = len(kinds) * params.ensemble_seeds
        for i, (kind, preset) in enumerate(kinds):
            for s in range(params.ensemble_seeds):
                member_seed = seed + 7919 * i + s
                subset = _subset(features, params.ensemble_feature_fraction, member_seed)
                member = fit_model(
                    fit_rows,
                    subset,
                    preset_params(kind, preset),
                    member_seed,
                    model_type=kind,
                    valid=rows,
                )
                members.append(member)
                specs.append(params.ensemble_members[i])
                if progress:
                    progress(len(members), total)
        weights, why, ics = _weights(members, rows, params.ensemble_weighting)
        model = cls(features, members, weights, specs)
        y = train[LABEL].to_numpy()
        fitted = model.predict(train)
        model.meta = {
            "params": params_to_dict(params),
            "seed": seed,
            "n_train_rows": train.height,
            "train_start": str(train["date"].min()),
            "train_end": str(train["date"].max()),
            "train_rmse": float(np.sqrt(np.mean((fitted - y) ** 2))),
            "weights": weights.tolist(),
            "weighting": why,
            "member_valid_rank_ic": ics,
        }
        if rows is not None and rows.height:
            model.meta.update(
                n_valid_rows=rows.height,
                valid_start=str(rows["date"].min()),
                valid_end=str(rows["date"].max()),
                valid_rank_ic=_ic(rows, model.predict(rows)),
            )
        return model

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        out = np.zeros(frame.height)
        for w, m in zip(self.weights, self.members, strict=True):
            out += w * m.predict(frame)
        return out

    def contributions(self, x: np.ndarray, dates: Any = None) -> np.ndarray:
        """The weighted sum of the members' contributions, each mapped onto ``features``."""
        phi = np.zeros((x.shape[0], len(self.features) + 1))
        if x.shape[0] == 0:
            return phi
        for w, m, idx in zip(self.weights, self.members, self._index, strict=True):
            if not m.capabilities.exact_contributions:
                raise ValueError(f"member {m.model_type} has no exact contributions")
            part = model_contributions(m, x[:, idx].astype(m.input_dtype), dates)
            phi[:, idx] += w * part[:, :-1]
            phi[:, -1] += w * part[:, -1]
        return phi

    def importance(self) -> pl.DataFrame:
        out = np.zeros(len(self.features))
        for w, m, idx in zip(self.weights, self.members, self._index, strict=True):
            imp = m.importance()["importance"].to_numpy().astype(float)
            if imp.sum() > 0:
                out[idx] += w * imp / imp.sum()
        return pl.DataFrame({"feature": list(self.features), "importance": out})

    def describe(self) -> dict[str, Any]:
        return {
            "contributions_method": "weighted sum of the members' exact contributions",
            "importance_measure": "weighted members' importance shares",
            "members": [
                {"spec": s, "model_type": m.model_type, "weight": float(w)}
                for s, m, w in zip(self.specs, self.members, self.weights, strict=True)
            ],
        }

    def save(self, directory: Path, stem: str) -> None:
        directory = Path(directory)
        folder = f"{stem}.members"
        names = []
        for k, m in enumerate(self.members):
            m.save(directory / folder, _stem(k))
            names += [f"{folder}/{_stem(k)}.json", *_member_files(directory / folder, _stem(k))]
        own = f"{stem}.ensemble.json"
        write_json(
            directory / own,
            {"format": FORMAT, "weights": self.weights.tolist(), "specs": self.specs},
        )
        write_sidecar(self, directory, stem, files=(own, *names))

    @classmethod
    def load(cls, directory: Path, stem: str) -> EnsembleModel:
        directory = Path(directory)
        features, meta = read_sidecar(directory, stem)
        recorded = json.loads((directory / f"{stem}.json").read_text()).get("files") or {}
        for name in recorded:  # every member file checked before any is parsed
            read_model_file(directory, stem, name)
        own = f"{stem}.ensemble.json"
        try:
            raw = json.loads(read_model_file(directory, stem, own))
            if raw.get("format") != FORMAT:
                raise ValueError(f"format {raw.get('format')!r} is not {FORMAT}")
            weights, specs = raw["weights"], raw["specs"]
            if len(weights) != len(specs):
                raise ValueError("weights and members differ in number")
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"{directory / own}: not an ensemble ({exc})") from None
        members = [load_model(directory / f"{stem}.members", _stem(k)) for k in range(len(specs))]
        if any(f not in features for m in members for f in m.features):
            raise ModelFileError(f"{directory / own}: a member reads a feature the sidecar lacks")
        return cls(features, members, weights, specs, meta)


def _stem(k: int) -> str:
    return f"member_{k:03d}"


def _member_files(folder: Path, stem: str) -> list[str]:
    raw = json.loads((folder / f"{stem}.json").read_text())
    files = raw.get("files") or {}
    if not files:  # a type that records no files: its legacy list
        return [f"{folder.name}/{n}" for n in model_class(raw["model_type"]).legacy_files(stem)]
    return [f"{folder.name}/{n}" for n in sorted(files)]


def _subset(features: tuple[str, ...], fraction: float, seed: int) -> tuple[str, ...]:
    if fraction >= 1:
        return tuple(features)
    k = max(1, round(fraction * len(features)))
    pick = np.random.default_rng(seed).choice(len(features), size=k, replace=False)
    return tuple(features[j] for j in sorted(pick))


def _ic(rows: pl.DataFrame, scores: np.ndarray) -> float:
    return float(mean_daily_rank_ic(rows["date"], scores, rows[LABEL]))


def _weights(
    members: list[TrainedModel], rows: pl.DataFrame | None, weighting: str
) -> tuple[np.ndarray, str, list[float | None]]:
    """Weights, the reason, and each member's validation rank IC (None without rows)."""
    n = len(members)
    equal = np.full(n, 1.0 / n)
    if rows is None or rows.height == 0:
        return equal, "equal: no validation rows", [None] * n
    ics = [_ic(rows, m.predict(rows)) for m in members]
    if weighting == "equal":
        return equal, "equal: asked for", ics
    positive = np.array([ic if np.isfinite(ic) and ic > 0 else 0.0 for ic in ics])
    if positive.sum() <= 0:
        return equal, "equal: no member has a positive validation rank IC", ics
    return positive / positive.sum(), "proportional to positive validation rank IC", ics
