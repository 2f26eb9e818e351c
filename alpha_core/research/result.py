"""What a run produced: :class:`RunResult`, below both the run loop and the registry.

The pipeline fills one; the registry saves and loads it; the run service hands it to the
front ends. It carries what later stages need, so nothing downstream rebuilds it: the
feature frame the models were fed (``features``, present right after training, ``None``
for a run read back from disk) and the prediction statistics, computed once per result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from alpha_core.evaluation.metrics import PredictionStats, prediction_stats
from alpha_core.models.base import TrainedModel
from alpha_core.research.config import RunConfig


@dataclass
class RunResult:
    """Everything a run produced; persisted by :mod:`alpha_core.runs.registry`."""

    config: RunConfig
    model: TrainedModel
    predictions: pl.DataFrame
    books: pl.DataFrame
    daily: pl.DataFrame
    metrics: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    models: list[TrainedModel] = field(default_factory=list)
    """Every fold's model in order (one for a single split); ``model`` is the last."""
    folds: pl.DataFrame | None = None
    """One row per fold: windows, purge boundary, rows, RMSE (see walkforward.run_folds)."""
    quantiles: pl.DataFrame | None = None
    """Mean realised return per prediction quintile."""
    ic_decay: pl.DataFrame | None = None
    """Mean rank IC against forward 1..20-day returns."""
    candidates: pl.DataFrame | None = None
    """One row per candidate the validation window judged (alpha_core.research.selection); None
    when the run chose nothing."""
    attribution: pl.DataFrame | None = None
    """Daily P&L by market, sector, style, specific and cost (alpha_core.evaluation.attribution)."""
    features: pl.DataFrame | None = field(default=None, repr=False)
    """The raw feature frame of the run (with label); None for a run loaded from disk."""
    _pred_stats: PredictionStats | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.models:
            self.models = [self.model]

    @property
    def pred_stats(self) -> PredictionStats:
        """What the predictions alone say (IC, quantiles): computed once per result, since
        it does not depend on books, sizing or costs."""
        if self._pred_stats is None:
            self._pred_stats = prediction_stats(self.predictions)
        return self._pred_stats

    @property
    def model_meta(self) -> dict[str, Any]:
        """Training summary over folds (what rebooking and the metrics need)."""
        return models_meta(self.models)


SELECTION_KEYS = (
    "selection",
    "n_candidates",
    "chosen_candidate",
    "valid_rank_ic",
    "valid_window",
    "chosen_books",
    "valid_net_sharpe",
    "book_candidates",
)
"""What the validation window decided, recorded in every model's meta
(alpha_core.research.selection)."""


def models_meta(models: list[TrainedModel]) -> dict[str, Any]:
    """Training summary over folds: mean train RMSE, rows of the last fold, fold count, and
    the selection's record (the same in every fold)."""
    if len(models) == 1:
        return {**models[0].meta, "n_folds": 1}
    rmses = [m.meta.get("train_rmse", math.nan) for m in models]
    carried = {
        k: models[-1].meta[k]
        for k in ("data_contract", "data_fingerprint", *SELECTION_KEYS)
        if k in models[-1].meta
    }
    return {
        "train_rmse": sum(rmses) / len(rmses),
        "n_train_rows": models[-1].meta.get("n_train_rows", 0),
        "n_folds": len(models),
        **carried,  # the run's calendar, data losses and selection, for rebooks
    }
