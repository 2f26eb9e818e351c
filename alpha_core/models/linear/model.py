"""The linear model type: ridge regression on features z-scored within each date.

Each feature is standardised across the assets of its date (z-score, clipped to
``zscore_clip``, missing -> 0), so the model is scale-free across dates and only ranks
assets by where they sit in the day's cross-section. The ridge minimises the mean squared
error plus ``ridge_alpha * |w|^2`` (an intercept, unpenalised); the fit is closed-form and
deterministic. Contributions are exact: ``phi_j = w_j (z_j - mean_j)`` with the training mean
of ``z_j``, and the expected value ``b + w . mean`` makes each row sum to its prediction.
Because a row's z-score depends on its date's other rows, the type is ``cross_sectional``:
it predicts and explains whole dates (``contributions(x, dates=...)``). Saved as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
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
    feature_matrix,
    read_model_file,
    read_sidecar,
    write_sidecar,
)

FORMAT = "alpha_lab.linear/1"


@dataclass(frozen=True)
class LinearParams:
    """The linear model's parameters (flat CLI flags ``--ridge-alpha``, ``--zscore-clip``)."""

    ridge_alpha: float = setting(
        0.01,
        label="Ridge penalty (linear)",
        lo=0,
        step=0.01,
        fmt="%.4f",
        section="Model",
        help="linear model: penalty on the squared weights, per training row (0: least squares)",
    )
    zscore_clip: float = setting(
        3.0,
        label="Z-score clip (linear)",
        lo=0,
        closed="neither",
        step=0.5,
        section="Model",
        advanced=True,
        help="linear model: per-date z-scores are clipped to [-clip, clip]",
    )

    def validate(self) -> None:
        validate_fields(self, "model.")


PRESETS = {
    "ridge": Preset(LinearParams(), "light ridge", "ridge penalty 0.01 on z-scored features"),
    "strong": Preset(
        LinearParams(ridge_alpha=1.0), "strong ridge", "ridge penalty 1.0: weights shrunk hard"
    ),
}


def zscore_by_date(x: np.ndarray, dates: Any, clip: float) -> np.ndarray:
    """``x`` standardised within each date (population sd), clipped, non-finite -> 0.

    A feature constant (or absent) on a date gives 0 there."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] == 0:
        return x.copy()
    _, inv = np.unique(np.asarray(dates), return_inverse=True)
    inv = inv.ravel()
    k = int(inv.max()) + 1
    ok = np.isfinite(x)
    values = np.where(ok, x, 0.0)
    out = np.zeros_like(values)
    for j in range(x.shape[1]):
        n = np.bincount(inv, weights=ok[:, j], minlength=k)
        mean = np.bincount(inv, weights=values[:, j], minlength=k) / np.maximum(n, 1)
        dev = np.where(ok[:, j], values[:, j] - mean[inv], 0.0)
        sd = np.sqrt(np.bincount(inv, weights=dev * dev, minlength=k) / np.maximum(n, 1))
        scale = sd[inv]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(ok[:, j] & (scale > 0), dev / scale, 0.0)
        out[:, j] = np.clip(z, -clip, clip)
    return out


def ridge(z: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """``(w, b)`` minimising ``mean((y - b - z w)^2) + alpha |w|^2``."""
    mu, y_mean = z.mean(axis=0), float(y.mean())
    zc, yc = z - mu, y - y_mean
    n = z.shape[0]
    gram = zc.T @ zc / n + alpha * np.eye(z.shape[1])
    w = np.linalg.lstsq(gram, zc.T @ yc / n, rcond=None)[0]
    return w, y_mean - float(mu @ w)


class LinearModel(TrainedModel):
    """Ridge regression on per-date z-scored features (exact contributions)."""

    model_type: ClassVar[str] = "linear"
    input_dtype: ClassVar[type] = np.float64
    capabilities: ClassVar[Capabilities] = Capabilities(
        validation_aware=False, exact_contributions=True, cross_sectional=True
    )
    params_class: ClassVar[type] = LinearParams
    presets: ClassVar[dict[str, Any]] = PRESETS

    def __init__(
        self,
        features: tuple[str, ...],
        weights: Any,
        intercept: float,
        z_mean: Any,
        z_sd: Any,
        clip: float,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.features = tuple(features)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.intercept = float(intercept)
        self.z_mean = np.asarray(z_mean, dtype=np.float64)
        self.z_sd = np.asarray(z_sd, dtype=np.float64)
        self.clip = float(clip)
        self.meta: dict[str, Any] = dict(meta or {})

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        features: tuple[str, ...],
        params: LinearParams,
        seed: int,
        progress: FitProgress | None = None,
    ) -> LinearModel:
        x = feature_matrix(train, features, dtype=np.float64)
        z = zscore_by_date(x, train["date"], params.zscore_clip)
        y = train[LABEL].to_numpy().astype(np.float64)
        w, b = ridge(z, y, params.ridge_alpha)
        fitted = z @ w + b
        if progress:
            progress(1, 1)
        meta = {
            "params": asdict(params),
            "seed": seed,
            "n_train_rows": train.height,
            "train_start": str(train["date"].min()),
            "train_end": str(train["date"].max()),
            "train_rmse": float(np.sqrt(np.mean((fitted - y) ** 2))),
        }
        return cls(features, w, b, z.mean(axis=0), z.std(axis=0), params.zscore_clip, meta)

    def _z(self, x: np.ndarray, dates: Any) -> np.ndarray:
        return zscore_by_date(x, dates, self.clip)

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        x = feature_matrix(frame, self.features, dtype=np.float64)
        return self._z(x, frame["date"]) @ self.weights + self.intercept

    def contributions(self, x: np.ndarray, dates: Any = None) -> np.ndarray:
        """``w_j (z_j - mean_j)`` per feature and ``b + w . mean`` last; needs the rows'
        ``dates`` (the z-scores are per date)."""
        if x.shape[0] == 0:
            return np.zeros((0, len(self.features) + 1))
        if dates is None:
            raise ValueError("linear contributions need the rows' dates (per-date z-scores)")
        phi = (self._z(x, dates) - self.z_mean) * self.weights
        expected = np.full((x.shape[0], 1), self.intercept + float(self.z_mean @ self.weights))
        return np.hstack([phi, expected])

    def importance(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"feature": list(self.features), "importance": np.abs(self.weights) * self.z_sd}
        )

    def describe(self) -> dict[str, Any]:
        return {
            "contributions_method": "exact linear SHAP on per-date z-scores, w_j (z_j - mean_j)",
            "importance_measure": "|weight| x sd of the z-score",
            "ridge_alpha": self.meta.get("params", {}).get("ridge_alpha"),
        }

    def save(self, directory: Path, stem: str) -> None:
        name = f"{stem}.linear.json"
        write_json(
            Path(directory) / name,
            {
                "format": FORMAT,
                "weights": self.weights.tolist(),
                "intercept": self.intercept,
                "z_mean": self.z_mean.tolist(),
                "z_sd": self.z_sd.tolist(),
                "clip": self.clip,
            },
        )
        write_sidecar(self, Path(directory), stem, files=(name,))

    @classmethod
    def load(cls, directory: Path, stem: str) -> LinearModel:
        name = f"{stem}.linear.json"
        features, meta = read_sidecar(Path(directory), stem)
        try:
            raw = json.loads(read_model_file(Path(directory), stem, name))
            k = len(features)
            if raw.get("format") != FORMAT:
                raise ValueError(f"format {raw.get('format')!r} is not {FORMAT}")
            for key in ("weights", "z_mean", "z_sd"):
                if not isinstance(raw[key], list) or len(raw[key]) != k:
                    raise ValueError(f"{key} does not hold {k} numbers")
            return cls(
                features,
                raw["weights"],
                raw["intercept"],
                raw["z_mean"],
                raw["z_sd"],
                raw["clip"],
                meta,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"{Path(directory) / name}: not a linear model ({exc})") from None
