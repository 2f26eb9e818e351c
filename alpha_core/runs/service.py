"""The run service: the one way front ends train, save, explain, rebook and export runs.

The CLI and the app call a :class:`RunService`; it calls the stages. Whichever front end
trains a run, :meth:`RunService.train_and_save` writes the same artifacts (the registry's
tables and models, the exports and, unless asked not to, the SHAP cache), and
reports structured :class:`~alpha_core.base.progress.Progress` events on the way.

The exports (:data:`EXPORTS`) are written with the registry's files, before the run becomes
visible; the SHAP cache, a recomputable cache, is added afterwards (see
:mod:`alpha_core.runs.registry` for the rule).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from alpha_core.base.csvsafe import csv_writer
from alpha_core.base.progress import OnProgress, Progress, ignore
from alpha_core.base.settings import ConfigError, validate_fields
from alpha_core.base.storage import Writer, write_atomic
from alpha_core.data.demo import DEMO_SOURCE_LABEL
from alpha_core.data.panel import PanelError, load_panel, panel_fingerprint
from alpha_core.evaluation import explain as explain_stage
from alpha_core.evaluation import html_report
from alpha_core.features.library import sector_codes
from alpha_core.portfolio.books import books_csv
from alpha_core.research.config import FAMILY_FIELDS, RunConfig
from alpha_core.research.pipeline import rebook, run_experiment, run_feature_frame
from alpha_core.research.result import RunResult
from alpha_core.runs.registry import (
    Listing,
    RunInfo,
    check_outside_runs,
    default_root,
    delete_run,
    list_runs,
    load_run,
    read_config,
    read_file,
    read_meta,
    read_notes,
    read_table,
    rename_run,
    run_dir,
    save_run,
    scan_runs,
    verify_run,
    write_notes,
    write_side_file,
)

Export = Callable[[RunResult], Writer]
"""``export(result) -> writer`` of one file saved beside a run (see :data:`EXPORTS`)."""

EXPORTS: dict[str, Export] = {}
"""Files every saved run gets besides the registry's tables, by file name. Adding an entry
here adds the artifact to runs saved from the CLI and from the app alike."""

ON_REQUEST: dict[str, Export] = {
    "predictions.csv": lambda result: csv_writer(result.predictions),
}
"""Exports written only when asked (``train_and_save(exports=...)``, ``alpha run
--export-csv``): every prediction as CSV is most of a large run's bytes (Parquet stays the
store; the Books page offers the CSV as a download)."""


CODES_FILE = "codes.json"
"""What a run learned from its data besides its models: ``{"sector_id": {sector: code}}``,
the sector codes numbered over the run's whole panel (first appearance). Saved with the run
(in its manifest) so the desk codes new bars as the run did, whatever history it is given."""


def codes_writer(panel: pl.DataFrame) -> Writer:
    """Writer of a run's :data:`CODES_FILE` from the panel it was trained on."""
    codes = sector_codes(panel)
    payload = {"sector_id": dict(zip(codes["sector"], codes["sector_id"], strict=True))}
    text = json.dumps(payload, indent=2, sort_keys=True)
    return lambda path: Path(path).write_text(text)


def read_codes(raw: bytes | None) -> dict[str, dict[str, int]]:
    """The mappings of a run's :data:`CODES_FILE` (empty for a run saved before it)."""
    if raw is None:
        return {}
    payload = json.loads(raw)
    return {k: {str(n): int(c) for n, c in v.items()} for k, v in payload.items()}


class Lineage(Protocol):
    """A retraining saved with its run (the desk's ``RetrainPlan``): ``FILE`` and its writer."""

    FILE: str

    def write_lineage(self, path: Path) -> None: ...


class Cancelled(Exception):  # noqa: N818 - the name says what happened
    """Raised by a progress callback to stop a run; the run service lets it through, and
    a run stopped before its save leaves nothing on disk."""


def source_label(data: str) -> str:
    """How a data source is named in run metadata, the CLI summary and the app."""
    return f"demo universe ({DEMO_SOURCE_LABEL})" if data == "demo" else str(data)


def in_family(info: RunInfo, config: RunConfig, fingerprint: str) -> bool:
    """Whether a saved run is of the family of ``config`` on data of ``fingerprint``: the
    same data (its recorded ``data_fingerprint``; a run saved before fingerprints were
    recorded: the same data source) and the same :data:`FAMILY_FIELDS`."""
    saved = info.metrics.get("data_fingerprint")
    if saved:
        same_data = saved == fingerprint
    else:
        same_data = (info.config.get("data"), info.config.get("metadata")) == (
            config.data,
            config.metadata,
        )
    default = RunConfig()
    return same_data and all(
        info.config.get(f, getattr(default, f)) == getattr(config, f) for f in FAMILY_FIELDS
    )


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
        forward: bool = False,
    ) -> RunResult:
        """Train and evaluate ``config`` without saving (its panel is loaded when not given;
        ``forward``: :func:`~alpha_core.research.pipeline.run_experiment`'s)."""
        if panel is None:
            panel = load_panel(config.data, metadata=config.metadata)
        return run_experiment(config, panel, feats=feats, on_progress=on_progress, forward=forward)

    def train_and_save(
        self,
        config: RunConfig,
        panel: pl.DataFrame | None = None,
        *,
        data_label: str = "",
        explain: bool = True,
        feats: pl.DataFrame | None = None,
        on_progress: OnProgress = ignore,
        lineage: Lineage | None = None,
        exports: tuple[str, ...] = (),
    ) -> RunResult:
        """Train, save every artifact and (by default) cache the SHAP explanations.

        Returns the result with ``run_id`` set. The explanations are computed from the
        features the run was trained on, never rebuilt. ``lineage``: the retraining this run
        is (its ``lineage.json`` is saved with the run, so the desk serves it at once); a
        retraining is a forward model: its test window may hold no realised day yet.
        ``exports``: names of :data:`ON_REQUEST` files to write too (e.g. predictions.csv).
        """
        unknown = [name for name in exports if name not in ON_REQUEST]
        if unknown:
            raise ValueError(f"unknown export {unknown[0]!r}; use one of {', '.join(ON_REQUEST)}")
        if panel is None:
            panel = load_panel(config.data, metadata=config.metadata)
        result = self.train(
            config, panel, feats=feats, on_progress=on_progress, forward=lineage is not None
        )
        on_progress(Progress("saving", 1.0))
        meta = {"data": config.data, "data_label": data_label or source_label(config.data)}
        files = {name: export(result) for name, export in EXPORTS.items()}
        files[CODES_FILE] = codes_writer(panel)
        files.update({name: ON_REQUEST[name](result) for name in exports})
        if lineage is not None:
            files[lineage.FILE] = lineage.write_lineage
        save_run(result, self.root, meta, extra_files=files)
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
        return run_feature_frame(config, panel)

    # ------------------------------------------------------------------ rebooking
    def rebook(self, result: RunResult, **changes: Any) -> Rebooked:
        """Books, P&L and metrics of a run with changed book settings (e.g. percentiles)."""
        if result.config.construction != "rank":
            if changes:
                raise ConfigError(
                    "optimised books are solved day by day on the run's market data: train "
                    "the run again to change its settings",
                    field="construction",
                )
            return Rebooked(result.config, result.books, result.daily, result.metrics)
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

    def report_html(self, run_id: str, panel: pl.DataFrame | None = None) -> str:
        """The run as one self-contained HTML page (:mod:`alpha_core.evaluation.html_report`).

        The data fingerprint is :func:`alpha_core.data.panel.panel_fingerprint` of the run's panel
        (``panel``, else its source when still readable; otherwise the report says so).
        """
        result = self.load(run_id)
        meta = read_meta(run_id, self.root)
        if panel is None:
            try:
                panel = load_panel(result.config.data, metadata=result.config.metadata)
            except (PanelError, OSError):
                panel = None
        fingerprint = panel_fingerprint(panel) if panel is not None else None
        return html_report.render(result, meta, fingerprint)

    def write_report(self, run_id: str, out: Path | None = None) -> Path:
        """Write :meth:`report_html` to ``out`` (default ``<run folder>/report.html``, through
        the registry). An ``out`` inside any run folder is refused (InsideRunError, a
        ValueError): only the registry writes there."""
        if out is None:
            return write_side_file(run_id, "report.html", self.report_html(run_id), self.root)
        out = check_outside_runs(Path(out), self.root)
        write_atomic(out, self.report_html(run_id))
        return out

    # ------------------------------------------------------------------ run families
    @staticmethod
    def fingerprint(panel: pl.DataFrame) -> str:
        """The data fingerprint a run on ``panel`` records (its family's data)."""
        return panel_fingerprint(panel)

    def family_runs(self, config: RunConfig, data: pl.DataFrame | str) -> int:
        """How many saved runs are of the family of a run of ``config`` on ``data`` (a panel
        or its fingerprint): its deflated Sharpe's other trials. Runs on other data, or
        measured on another label, are not counted."""
        fingerprint = data if isinstance(data, str) else panel_fingerprint(data)
        return sum(in_family(info, config, fingerprint) for info in self.list())

    # ------------------------------------------------------------------ the registry
    def load(self, run_id: str) -> RunResult:
        return load_run(run_id, self.root)

    def list(self) -> list[RunInfo]:
        """Readable runs, newest first."""
        return list_runs(self.root)

    def scan(self) -> Listing:
        """Readable runs and damaged folders (:func:`alpha_core.runs.registry.scan_runs`)."""
        return scan_runs(self.root)

    def folder(self, run_id: str) -> Path:
        return run_dir(run_id, self.root)

    def config(self, run_id: str) -> RunConfig:
        """A saved run's config (checked against its manifest, tables not loaded)."""
        return read_config(run_id, self.root)

    def table(self, run_id: str, name: str) -> pl.DataFrame:
        """One of a saved run's Parquet tables, checked against its manifest."""
        return read_table(run_id, name, self.root)

    def meta(self, run_id: str) -> dict[str, Any]:
        return read_meta(run_id, self.root)

    def verify(self, run_id: str) -> Path:
        """Check every file of the run against its manifest; its folder (or DamagedRunError)."""
        return verify_run(run_id, self.root)

    def file(self, run_id: str, name: str) -> bytes | None:
        """One file of the run's manifest, checked against it (missing or altered: a
        DamagedRunError); None when the manifest does not list it (a file added later is
        not the run's)."""
        if name not in (self.meta(run_id).get("files") or {}):
            return None
        return read_file(run_id, name, self.root)

    def codes(self, run_id: str) -> dict[str, dict[str, int]]:
        """The codes the run learned from its data (:data:`CODES_FILE`; {} for older runs)."""
        return read_codes(self.file(run_id, CODES_FILE))

    def rename(self, run_id: str, name: str) -> None:
        rename_run(run_id, name, self.root)

    def delete(self, run_id: str) -> None:
        delete_run(run_id, self.root)

    def notes(self, run_id: str) -> dict[str, Any]:
        """The run's note and tags (``{"note": str, "tags": [str]}``)."""
        return read_notes(run_id, self.root)

    def set_notes(self, run_id: str, note: str, tags: list[str]) -> None:
        """Store the run's note and tags with the run (``notes.json`` in its folder)."""
        write_notes(run_id, note, tags, self.root)
