"""The run service: the one way front ends train, save, explain, rebook and export runs.

The CLI and the app call a :class:`RunService`; it calls the stages. Whichever front end
trains a run, :meth:`RunService.train_and_save` writes the same artifacts (the registry's
tables and models, ``predictions.csv`` and, unless asked not to, the SHAP cache), and
reports structured :class:`~alpha_core.progress.Progress` events on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core import explain as explain_stage
from alpha_core.books import books_csv
from alpha_core.config import RunConfig, validate_fields
from alpha_core.data import load_panel
from alpha_core.demo import DEMO_SOURCE_LABEL
from alpha_core.features import build_features
from alpha_core.pipeline import feature_names, rebook, run_experiment
from alpha_core.predictions import CONTEXT_FEATURES
from alpha_core.progress import OnProgress, Progress, ignore
from alpha_core.registry import (
    RunInfo,
    default_root,
    delete_run,
    list_runs,
    load_run,
    rename_run,
    run_dir,
    save_run,
)
from alpha_core.result import RunResult
from alpha_core.storage import Writer, write_atomic

Export = Callable[[RunResult], Writer]
"""``export(result) -> writer`` of one file saved beside a run (see :data:`EXPORTS`)."""

EXPORTS: dict[str, Export] = {
    "predictions.csv": lambda result: result.predictions.write_csv,
}
"""Files every saved run gets besides the registry's tables, by file name. Adding an entry
here adds the artifact to runs saved from the CLI and from the app alike."""


def source_label(data: str) -> str:
    """How a data source is named in run metadata, the CLI summary and the app."""
    return f"demo universe ({DEMO_SOURCE_LABEL})" if data == "demo" else str(data)


@dataclass(frozen=True)
class Rebooked:
    """Books, daily P&L and metrics of a run under changed book settings (no retraining)."""

    config: RunConfig
    books: pl.DataFrame
    daily: pl.DataFrame
    metrics: dict[str, Any]


class RunService:
    """Runs in one registry folder (``root``; default :func:`registry.default_root`)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    # ------------------------------------------------------------------ training
    def train(
        self,
        config: RunConfig,
        panel: pl.DataFrame | None = None,
        *,
        feats: pl.DataFrame | None = None,
        on_progress: OnProgress = ignore,
    ) -> RunResult:
        """Train and evaluate ``config`` without saving (its panel is loaded when not given)."""
        if panel is None:
            panel = load_panel(config.data, metadata=config.metadata)
        return run_experiment(config, panel, feats=feats, on_progress=on_progress)

    def train_and_save(
        self,
        config: RunConfig,
        panel: pl.DataFrame | None = None,
        *,
        data_label: str = "",
        explain: bool = True,
        feats: pl.DataFrame | None = None,
        on_progress: OnProgress = ignore,
    ) -> RunResult:
        """Train, save every artifact and (by default) cache the SHAP explanations.

        Returns the result with ``run_id`` set. The explanations are computed from the
        features the run was trained on, never rebuilt.
        """
        result = self.train(config, panel, feats=feats, on_progress=on_progress)
        on_progress(Progress("saving", 1.0))
        meta = {"data": config.data, "data_label": data_label or source_label(config.data)}
        folder = save_run(result, self.root, meta)
        for name, export in EXPORTS.items():
            write_atomic(folder / name, export(result))
        if explain:
            on_progress(Progress("explaining", 1.0))
            self.explain(result)
        on_progress(Progress("done", 1.0))
        return result

    # ------------------------------------------------------------------ explaining
    def explain(
        self, run: str | RunResult, feats: pl.DataFrame | None = None
    ) -> explain_stage.Explanations:
        """The run's SHAP views, from its folder's cache or computed and cached there.

        ``feats``: the run's raw features when the caller holds them; otherwise those the
        result carries, else they are built from the run's data source.
        """
        result = self.load(run) if isinstance(run, str) else run
        cached = self.cached_explanations(result.run_id)
        if cached is not None:
            return cached
        feats = feats if feats is not None else result.features
        if feats is None:
            feats = self.features(result.config)
        folder = self.folder(result.run_id)
        return explain_stage.load_or_compute(folder, result.models, feats, result.config)

    def cached_explanations(self, run_id: str) -> explain_stage.Explanations | None:
        """The SHAP views cached in the run's folder, or None when not computed yet."""
        return explain_stage.load_cached(self.folder(run_id))

    def features(self, config: RunConfig, panel: pl.DataFrame | None = None) -> pl.DataFrame:
        """The raw feature frame a run of ``config`` is trained and explained on."""
        if panel is None:
            panel = load_panel(config.data, metadata=config.metadata)
        names = feature_names(config, panel.columns)
        extra = tuple(c for c in CONTEXT_FEATURES if c not in names)
        return build_features(panel, label=config.label, features=names + extra)

    # ------------------------------------------------------------------ rebooking
    def rebook(self, result: RunResult, **changes: Any) -> Rebooked:
        """Books, P&L and metrics of a run with changed book settings (e.g. percentiles)."""
        config = result.config.replace(**changes) if changes else result.config
        validate_fields(config)
        books, daily, metrics = rebook(
            result.predictions, config, result.model_meta, pred_stats=result.pred_stats
        )
        return Rebooked(config, books, daily, metrics)

    # ------------------------------------------------------------------ exporting
    @staticmethod
    def books_csv(books: pl.DataFrame, day: date | None = None) -> str:
        """Books as CSV text (one date, or every date when ``day`` is None)."""
        return books_csv(books, day)

    # ------------------------------------------------------------------ the registry
    def load(self, run_id: str) -> RunResult:
        return load_run(run_id, self.root)

    def list(self) -> list[RunInfo]:
        return list_runs(self.root)

    def folder(self, run_id: str) -> Path:
        return run_dir(run_id, self.root)

    def rename(self, run_id: str, name: str) -> None:
        rename_run(run_id, name, self.root)

    def delete(self, run_id: str) -> None:
        delete_run(run_id, self.root)
