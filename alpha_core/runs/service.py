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
from typing import Any

import polars as pl

from alpha_core.base.executor import Executor, SerialExecutor
from alpha_core.base.progress import OnProgress, Progress, ignore
from alpha_core.base.storage import Writer, write_atomic
from alpha_core.config import RunConfig, validate_fields
from alpha_core.data.demo import DEMO_SOURCE_LABEL
from alpha_core.data.panel import PanelError, load_panel, panel_fingerprint
from alpha_core.desk import book as desk
from alpha_core.desk import ledger, monitor
from alpha_core.evaluation import explain as explain_stage
from alpha_core.evaluation import html_report
from alpha_core.evaluation.metrics import daily_ic
from alpha_core.portfolio.books import books_csv
from alpha_core.research.pipeline import rebook, run_experiment, run_feature_frame
from alpha_core.research.result import RunResult
from alpha_core.runs import sweep
from alpha_core.runs.registry import (
    Listing,
    RunInfo,
    default_root,
    delete_run,
    list_runs,
    load_run,
    read_notes,
    rename_run,
    run_dir,
    save_run,
    scan_runs,
    write_notes,
)

Export = Callable[[RunResult], Writer]
"""``export(result) -> writer`` of one file saved beside a run (see :data:`EXPORTS`)."""

LINEAGE_FILE = "lineage.json"
"""Written into a retrained run's folder: ``{"parent": run_id, ...}``."""

EXPORTS: dict[str, Export] = {}
"""Files every saved run gets besides the registry's tables, by file name. Adding an entry
here adds the artifact to runs saved from the CLI and from the app alike."""

ON_REQUEST: dict[str, Export] = {
    "predictions.csv": lambda result: result.predictions.write_csv,
}
"""Exports written only when asked (``train_and_save(exports=...)``, ``alpha run
--export-csv``): every prediction as CSV is most of a large run's bytes (Parquet stays the
store; the Books page offers the CSV as a download)."""


class Cancelled(Exception):  # noqa: N818 - the name says what happened
    """Raised by a progress callback to stop a run; the run service lets it through, and
    a run stopped before its save leaves nothing on disk."""


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
        lineage: RetrainPlan | None = None,
        exports: tuple[str, ...] = (),
    ) -> RunResult:
        """Train, save every artifact and (by default) cache the SHAP explanations.

        Returns the result with ``run_id`` set. The explanations are computed from the
        features the run was trained on, never rebuilt. ``lineage``: the retraining this run
        is (its ``lineage.json`` is saved with the run, so the desk serves it at once).
        ``exports``: names of :data:`ON_REQUEST` files to write too (e.g. predictions.csv).
        """
        unknown = [name for name in exports if name not in ON_REQUEST]
        if unknown:
            raise ValueError(f"unknown export {unknown[0]!r}; use one of {', '.join(ON_REQUEST)}")
        result = self.train(config, panel, feats=feats, on_progress=on_progress)
        on_progress(Progress("saving", 1.0))
        meta = {"data": config.data, "data_label": data_label or source_label(config.data)}
        files = {name: export(result) for name, export in EXPORTS.items()}
        files.update({name: ON_REQUEST[name](result) for name in exports})
        if lineage is not None:
            files[LINEAGE_FILE] = lineage.write_lineage
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
        meta = json.loads((self.folder(run_id) / "meta.json").read_text())
        if panel is None:
            try:
                panel = load_panel(result.config.data, metadata=result.config.metadata)
            except (PanelError, OSError):
                panel = None
        fingerprint = panel_fingerprint(panel) if panel is not None else None
        return html_report.render(result, meta, fingerprint)

    def write_report(self, run_id: str, out: Path | None = None) -> Path:
        """Write :meth:`report_html` to ``out`` (default ``<run folder>/report.html``)."""
        out = Path(out) if out is not None else self.folder(run_id) / "report.html"
        write_atomic(out, self.report_html(run_id))
        return out

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

    def rename(self, run_id: str, name: str) -> None:
        rename_run(run_id, name, self.root)

    def delete(self, run_id: str) -> None:
        delete_run(run_id, self.root)

    # ------------------------------------------------------------------ sweeps
    def sweep(
        self,
        spec: sweep.SweepSpec,
        panel: pl.DataFrame | None = None,
        *,
        executor: Executor | None = None,
        on_trial: Callable[[int, int], None] | None = None,
    ) -> sweep.Sweep:
        """Run (or resume) a sweep in ``<artifacts>/sweeps/<sweep_id>``; its ledger and
        statistics are then :meth:`alpha_core.runs.sweep.Sweep.summary`."""
        sweep.check_spec(spec)
        found = sweep.Sweep(self.sweeps_root() / spec.sweep_id, spec)
        if panel is None and not (found.folder / sweep.PANEL_FILE).exists():
            panel = load_panel(spec.base.data, metadata=spec.base.metadata)
        if panel is not None:
            found.prepare(panel)
        found.run(executor or SerialExecutor(), on_trial)
        return found

    def sweeps_root(self) -> Path:
        return sweep.sweeps_root(self.root)

    def sweeps(self) -> list[sweep.Sweep]:
        """Sweeps with a ledger, newest first."""
        root = self.sweeps_root()
        found = [sweep.Sweep(p.parent) for p in root.glob(f"*/{sweep.LEDGER_FILE}")]
        return sorted(found, key=lambda s: s.ledger_path.stat().st_mtime, reverse=True)

    def load_sweep(self, sweep_id: str) -> sweep.Sweep:
        folder = self.sweeps_root() / sweep_id
        if not (folder / sweep.SPEC_FILE).exists():
            raise FileNotFoundError(f"no sweep {sweep_id!r} in {self.sweeps_root()}")
        return sweep.Sweep(folder)

    def notes(self, run_id: str) -> dict[str, Any]:
        """The run's note and tags (``{"note": str, "tags": [str]}``)."""
        return read_notes(run_id, self.root)

    def set_notes(self, run_id: str, note: str, tags: list[str]) -> None:
        """Store the run's note and tags with the run (``notes.json`` in its folder)."""
        write_notes(run_id, note, tags, self.root)

    # ------------------------------------------------------------------ the desk
    def lineage(self, run_id: str) -> list[str]:
        """The runs of ``run_id``'s lineage, oldest first: its first ancestor, then each
        newest child down to the newest retraining (see :meth:`retrain`)."""
        parents = self._parents()
        first = run_id
        while first in parents:
            first = parents[first]
        chain = [first]
        children: dict[str, list[str]] = {}
        for child, parent in parents.items():
            children.setdefault(parent, []).append(child)
        while chain[-1] in children:
            chain.append(max(children[chain[-1]], key=self._created))
        return chain

    def _parents(self) -> dict[str, str]:
        out = {}
        if self.root.exists():
            for path in self.root.glob(f"*/{LINEAGE_FILE}"):
                out[path.parent.name] = json.loads(path.read_text())["parent"]
        return out

    def _created(self, run_id: str) -> tuple[str, str]:
        meta = json.loads((self.folder(run_id) / "meta.json").read_text())
        return meta.get("created", ""), run_id

    def desk_models(self, run_id: str) -> list[desk.SavedModel]:
        """Every saved model of the run's lineage, oldest run and fold first."""
        return [m for rid in self.lineage(run_id) for m in desk.saved_models(self.folder(rid), rid)]

    def ledger_path(self, run_id: str) -> Path:
        """The lineage's ledger: ``ledger.jsonl`` in the folder of its first run."""
        return self.folder(self.lineage(run_id)[0]) / ledger.LEDGER_FILE

    def ledger(self, run_id: str) -> ledger.Entries:
        return ledger.read_entries(self.ledger_path(run_id))

    def book(
        self,
        run_id: str,
        panel: pl.DataFrame | None = None,
        *,
        data: str | None = None,
        as_of: date | None = None,
        today: date | None = None,
        settings: desk.DeskSettings | None = None,
        record: bool = True,
        force: bool = False,
    ) -> desk.Book:
        """The book decided at the close of ``as_of`` with the lineage's model in force,
        appended to the lineage's ledger unless ``record`` is False.

        ``panel`` or ``data`` (a source, e.g. ``demo:2025-06-30``); default: the run's data.
        Raises :class:`alpha_core.desk.book.DeskError` or :class:`alpha_core.desk.ledger.LedgerConflict`.
        """
        config = RunConfig.from_dict(json.loads((self.folder(run_id) / "config.json").read_text()))
        if panel is None:
            panel = load_panel(data or config.data, metadata=config.metadata)
        result = desk.make_book(
            config, self.desk_models(run_id), panel, as_of, run_id=run_id, today=today,
            settings=settings or desk.DeskSettings(),
        )  # fmt: skip
        if record:
            ledger.record(self.ledger_path(run_id), result, force=force)
        return result

    @staticmethod
    def prices(panel: pl.DataFrame, as_of: date) -> pl.DataFrame:
        """``asset, close`` on ``as_of``: the reference prices of orders."""
        return panel.filter(pl.col("date") == as_of).select("asset", "close")

    def run_config(self, run_id: str) -> RunConfig:
        """A saved run's config (without loading its tables)."""
        return RunConfig.from_dict(json.loads((self.folder(run_id) / "config.json").read_text()))

    def monitor(
        self,
        run_id: str,
        panel: pl.DataFrame | None = None,
        *,
        data: str | None = None,
        settings: monitor.MonitorSettings | None = None,
    ) -> monitor.MonitorReport:
        """The lineage's live track record against its backtest, drift and coverage."""
        settings = settings or monitor.MonitorSettings()
        config = self.run_config(run_id)
        if panel is None:
            panel = load_panel(data or config.data, metadata=config.metadata)
        newest = self.desk_models(run_id)[-1]
        entries = self.ledger(run_id).entries
        live, live_ic = monitor.live_daily(entries, panel, config)
        backtest = pl.read_parquet(newest.run_folder / "daily.parquet")
        preds = pl.read_parquet(newest.run_folder / "predictions.parquet")
        features, recent_start, data_end = monitor.input_drift(panel, config, newest, settings)
        report = monitor.MonitorReport(
            run_id=run_id,
            data_end=data_end,
            daily=live,
            ic=live_ic,
            decay=monitor.decay_table(live, live_ic, backtest, daily_ic(preds), settings),
            band=monitor.track_band(live, backtest, settings.decay_z),
            features=features,
            predictions=monitor.prediction_drift(preds, ledger.ledger_scores(entries), settings),
            coverage=monitor.coverage(entries, panel, newest),
            recent_start=recent_start,
            settings=settings,
        )
        report.reasons = monitor.recommend(report)
        return report

    def retrain(
        self,
        run_id: str,
        panel: pl.DataFrame | None = None,
        *,
        data: str | None = None,
        every: str | None = None,
        explain: bool = False,
        on_progress: OnProgress = ignore,
    ) -> RunResult | None:
        """Train a child of the lineage's newest run on the data since its test window
        (:meth:`retrain_plan`); None when no retraining is due."""
        plan = self.retrain_plan(run_id, panel, data=data, every=every)
        if plan is None:
            return None
        return self.train_and_save(
            plan.config, plan.panel, data_label=source_label(plan.config.data),
            explain=explain, on_progress=on_progress, lineage=plan,
        )  # fmt: skip

    def retrain_plan(
        self,
        run_id: str,
        panel: pl.DataFrame | None = None,
        *,
        data: str | None = None,
        every: str | None = None,
    ) -> RetrainPlan | None:
        """The child run of the lineage's newest run, or None when no retraining is due.

        The child keeps the config; its training window ends where the parent's test window
        ended (expanding from the same start, or a rolling window moved forward by the new
        dates) and its test window is the new dates, purge and embargo as configured.
        ``every`` ("monthly" or "quarterly"): due only when the data reached a later month
        (quarter) than the parent's test end; None: due on any new date.
        """
        chain = self.lineage(run_id)
        parent_id = chain[-1]
        parent = self.run_config(parent_id)
        source = data or parent.data
        if panel is None:
            panel = load_panel(source, metadata=parent.metadata)
        dates = panel.get_column("date").unique().sort()
        new = dates.filter(dates > parent.test_end)
        if new.len() == 0 or not retrain_due(parent.test_end, new[-1], every):
            return None
        old = dates.filter(dates <= parent.test_end)
        start = parent.train_start
        if parent.window == "rolling":
            later = old.filter(old >= parent.train_start)
            start = later[min(new.len(), later.len() - 1)]
        config = parent.replace(
            data=source,
            train_start=start,
            train_end=parent.test_end,
            test_start=new[0],
            test_end=new[-1],
            name=f"{parent.name or parent_id} (retrained to {new[-1]})",
        )
        return RetrainPlan(config, panel, parent_id, chain[0])


@dataclass(frozen=True)
class RetrainPlan:
    """A retraining to run: the child's config and panel, its parent and its lineage's first."""

    config: RunConfig
    panel: pl.DataFrame
    parent: str
    first: str

    def write_lineage(self, path: Path) -> None:
        """Writer of the child's ``lineage.json`` (saved with the child run)."""
        lineage = {
            "parent": self.parent,
            "first": self.first,
            "data_end": str(self.config.test_end),
        }
        path.write_text(json.dumps(lineage, indent=2, sort_keys=True))


def retrain_due(last_seen: date, data_end: date, every: str | None) -> bool:
    """Whether data up to ``data_end`` calls for a retraining of a model that has seen
    ``last_seen``: any later date (``every`` None), a later month, or a later quarter."""
    if every is None:
        return data_end > last_seen
    if every not in RETRAIN_EVERY:
        raise ValueError(f"every must be one of {', '.join(RETRAIN_EVERY)}, got {every!r}")
    return RETRAIN_EVERY[every](data_end) > RETRAIN_EVERY[every](last_seen)


RETRAIN_EVERY: dict[str, Callable[[date], tuple[int, int]]] = {
    "monthly": lambda d: (d.year, d.month),
    "quarterly": lambda d: (d.year, (d.month - 1) // 3),
}
"""Retraining schedules of ``alpha retrain --every`` by name."""
