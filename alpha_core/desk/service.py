"""The desk service: the one way front ends book, monitor and retrain a saved run.

A :class:`DeskService` serves the runs of one registry folder through the run service
(:class:`alpha_core.runs.service.RunService`), so every file it reads is checked against
the run's manifest. A *lineage* is a run and its retrained children (``lineage.json`` in a
child's folder); its ledger (``ledger.jsonl``) lives in the folder of its first run.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from alpha_core.base.progress import OnProgress, ignore
from alpha_core.base.settings import ConfigError
from alpha_core.data.panel import load_panel
from alpha_core.desk import book as book_stage
from alpha_core.desk import checks, corporate, ledger, monitor, tickets
from alpha_core.desk import fills as fills_stage
from alpha_core.desk import trade as trade_stage
from alpha_core.desk.execution import Execution, execution
from alpha_core.evaluation.metrics import daily_ic
from alpha_core.features.library import LABELS
from alpha_core.portfolio.construction import held_on
from alpha_core.research.config import RunConfig
from alpha_core.research.pipeline import check_windows
from alpha_core.research.result import RunResult
from alpha_core.research.schedules import WINDOWS
from alpha_core.research.selection import gives_books
from alpha_core.runs.registry import LINEAGE, DamagedRunError, read_lineages
from alpha_core.runs.service import RunService, source_label


def has_path(config: RunConfig) -> bool:
    """True when the run's rank books depend on the days before (smoothing, a hold buffer,
    a rebalance interval or a turnover cap): the desk then replays them."""
    return config.construction == "rank" and gives_books(config)


LINEAGE_FILE = LINEAGE
"""Written into a retrained run's folder: ``{"parent": run_id, ...}``."""


class DeskService:
    """Book, monitor and retrain the runs in one registry folder (``root``)."""

    def __init__(self, root: Path | None = None) -> None:
        self.runs = RunService(root)

    @property
    def root(self) -> Path:
        return self.runs.root

    def lineage(self, run_id: str) -> list[str]:
        """The runs of ``run_id``'s lineage, oldest first: its first ancestor, then each
        newest child down to the newest retraining (see :meth:`retrain`).

        ``lineage.json`` files are untrusted (:func:`alpha_core.runs.registry.read_lineages`):
        a run whose own file, or an ancestor's, is malformed or on a cycle raises
        :class:`~alpha_core.runs.registry.DamagedRunError` naming that run; children with a
        malformed file are left out, and other lineages are not affected.
        """
        lineages = read_lineages(self.root)
        parents = lineages.parents
        first = run_id
        while True:
            if first in lineages.problems:
                raise DamagedRunError(first, lineages.problems[first])
            if first not in parents:
                break
            first = parents[first]
        chain = [first]
        children: dict[str, list[str]] = {}
        for child, parent in parents.items():
            children.setdefault(parent, []).append(child)
        while chain[-1] in children:  # no cycle: read_lineages removed every one
            chain.append(max(children[chain[-1]], key=self._created))
        return chain

    def _created(self, run_id: str) -> tuple[str, str]:
        return str(self.runs.meta(run_id).get("created", "")), run_id

    def desk_models(self, run_id: str) -> list[book_stage.SavedModel]:
        """Every saved model of the run's lineage, oldest run and fold first.

        Each run is first checked whole against its manifest through the registry (every
        table, model and sidecar: a damaged or re-signed run is refused with the registry's
        reason, a DamagedRunError), and its models come with the codes it learned."""
        return [
            m
            for rid in self.lineage(run_id)
            for m in book_stage.saved_models(
                self.runs.verify(rid), rid, self.runs.codes(rid).get("sector_id")
            )
        ]

    def models_for(self, run_id: str, day: date) -> list[book_stage.SavedModel]:
        """The models that may decide ``day``: the one the ledger recorded for it, when the
        lineage still holds a model of that checksum (so a past date is re-booked with the
        model that booked it, whatever retrainings followed); else every model of the
        lineage, of which :func:`~alpha_core.desk.book.model_in_force` takes the one in
        force at ``day`` (a retrained child serves from the date it was trained on)."""
        models = self.desk_models(run_id)
        recorded = ledger.current_books(self.ledger(run_id).entries).get(day)
        if recorded is not None:
            same = [m for m in models if m.sha256 == recorded["model_sha256"]]
            if same:
                return same[-1:]
        return models

    def verify_lineage(self, run_id: str) -> list[str]:
        """The run's lineage (:meth:`lineage`), each run checked against its manifest."""
        chain = self.lineage(run_id)
        for rid in chain:
            self.runs.verify(rid)
        return chain

    def ledger_path(self, run_id: str) -> Path:
        """The lineage's ledger: ``ledger.jsonl`` in the folder of its first run."""
        return self.runs.folder(self.lineage(run_id)[0]) / ledger.LEDGER_FILE

    def ledger(self, run_id: str) -> ledger.Entries:
        return ledger.read_entries(self.ledger_path(run_id))

    # ------------------------------------------------------------------------- fills
    def fills_path(self, run_id: str) -> Path:
        """The lineage's fills: ``fills.jsonl`` beside its ledger."""
        return self.ledger_path(run_id).parent / fills_stage.FILLS_FILE

    def fills(self, run_id: str) -> fills_stage.Stored:
        """The lineage's stored fills (untrusted input: bad lines skipped and reported)."""
        return fills_stage.read_store(self.fills_path(run_id))

    def execution(self, run_id: str) -> Execution:
        """The run's execution convention (decide at the close; fill at the next open or
        close, as its label says)."""
        return execution(self.run_config(run_id).label)

    def import_fills(self, run_id: str, fills: list[fills_stage.Fill]) -> tuple[int, int]:
        """Append fills (:func:`alpha_core.desk.fills.read_fills`) to the lineage's store;
        ``(added, already stored)``."""
        self.verify_lineage(run_id)
        return fills_stage.append_fills(self.ledger_path(run_id), self.fills_path(run_id), fills)

    def assume_fills(
        self, run_id: str, panel: pl.DataFrame
    ) -> tuple[fills_stage.Assumed, int, int]:
        """Fill every order recorded in the ledger whose fill bar is in ``panel``, at the
        execution convention's price; ``(assumed, added, already stored)``."""
        self.verify_lineage(run_id)
        assumed = fills_stage.assumed_fills(
            self.ledger(run_id).entries, panel, self.execution(run_id)
        )
        added, known = fills_stage.append_fills(
            self.ledger_path(run_id), self.fills_path(run_id), assumed.fills
        )
        return assumed, added, known

    def live_record(self, run_id: str, panel: pl.DataFrame) -> fills_stage.Record | None:
        """The live record from the lineage's fills and positions (None without fills)."""
        stored = self.fills(run_id)
        record = fills_stage.positions_record(stored.fills, panel, self.run_config(run_id).cost_bps)
        return replace(record, skipped=stored.skipped) if record is not None else None

    def book(
        self,
        run_id: str,
        panel: pl.DataFrame | None = None,
        *,
        data: str | None = None,
        as_of: date | None = None,
        today: date | None = None,
        settings: book_stage.DeskSettings | None = None,
        record: bool = True,
        force: bool = False,
    ) -> book_stage.Book:
        """The book decided at the close of ``as_of`` with the lineage's model in force,
        appended to the lineage's ledger unless ``record`` is False.

        ``panel`` or ``data`` (a source, e.g. ``demo:2025-06-30``); default: the run's data.
        Raises :class:`~alpha_core.desk.book.DeskError` or
        :class:`~alpha_core.desk.ledger.LedgerConflict`.
        """
        config = self.runs.config(run_id)
        if panel is None:
            panel = load_panel(data or config.data, metadata=config.metadata)
        day = as_of or panel["date"].max()
        held = self.held(run_id, day) if config.construction == "optimizer" else None
        history = self.history(run_id, day) if has_path(config) else None
        result = book_stage.make_book(
            config, self.models_for(run_id, day), panel, as_of, run_id=run_id, today=today,
            settings=settings or book_stage.DeskSettings(), held=held, history=history,
        )  # fmt: skip
        if record:
            self.record(run_id, result, force=force)
        return result

    def record(
        self,
        run_id: str,
        book: book_stage.Book,
        force: bool = False,
        pre_trade: dict[str, Any] | None = None,
    ) -> book_stage.Book:
        """Append a book made with ``record=False`` to the lineage's ledger (sets its
        ``status``; ``pre_trade``: :meth:`alpha_core.desk.trade.Trade.pre_trade` when orders
        were formed; :func:`alpha_core.desk.ledger.record`)."""
        return ledger.record(self.ledger_path(run_id), book, force=force, pre_trade=pre_trade)

    def trade(
        self,
        run_id: str,
        book: book_stage.Book,
        panel: pl.DataFrame,
        holdings: pl.DataFrame,
        capital: float,
        lot_size: float = 1.0,
        min_trade: float = 0.0,
        *,
        overrides: Iterable[str] = (),
        check_settings: checks.CheckSettings | None = None,
        ticket_settings: tickets.TicketSettings | None = None,
        corporate_actions: list[dict[str, Any]] | None = None,
    ) -> trade_stage.Trade:
        """Checked, broker-ready orders from ``holdings`` to ``book``
        (:func:`alpha_core.desk.trade.prepare`; the kill switch is ``<root>/KILL``, or
        ``$ALPHA_KILL_SWITCH``). Raises :class:`~alpha_core.desk.checks.ChecksRefused`."""
        return trade_stage.prepare(
            book.rows, holdings, panel, book.as_of, self.runs.config(run_id), run_id=run_id,
            capital=capital, lot_size=lot_size, min_trade=min_trade, root=self.root,
            overrides=overrides, check_settings=check_settings,
            ticket_settings=ticket_settings, corporate_actions=corporate_actions,
        )  # fmt: skip

    @staticmethod
    def corporate_actions(
        panel: pl.DataFrame,
        actions: list[corporate.Action],
        as_of: date | None = None,
        holdings: pl.DataFrame | None = None,
    ) -> corporate.Adjusted:
        """The panel and holdings with the corporate actions dated on or before ``as_of``
        (default: the panel's last date) applied (:func:`alpha_core.desk.corporate.adjust`)."""
        return corporate.adjust(panel, actions, as_of or panel["date"].max(), holdings)

    def history(self, run_id: str, day: date) -> pl.DataFrame:
        """The predictions the portfolio stage saw before ``day``: the research backtest's
        (the lineage's first run), then for each later date the ledger's scores, else a
        retrained child's (turnover control replays them)."""
        chain = self.lineage(run_id)
        first = self.runs.table(chain[0], "predictions").filter(pl.col("date") < day)
        end = first["date"].max() if first.height else None
        scores = ledger.ledger_scores(self.ledger(run_id).entries).filter(pl.col("date") < day)
        if end is not None:
            scores = scores.filter(pl.col("date") > end)
        recorded = scores["date"].unique().implode()
        children = [self.runs.table(rid, "predictions") for rid in chain[1:]]
        later = [
            c.filter(pl.col("date") < day, ~pl.col("date").is_in(recorded))
            for c in children
            if c.height
        ]
        if end is not None:
            later = [c.filter(pl.col("date") > end) for c in later]
        stored = pl.concat([first, *later], how="diagonal_relaxed")
        stored = stored.unique(["date", "asset"], keep="last")
        return pl.concat([stored, scores], how="diagonal_relaxed").sort("date", "asset")

    def held(self, run_id: str, day: date) -> dict[str, float]:
        """The book held when deciding ``day``: the latest book before it, among the
        lineage's backtested books and the ledger's (the state the optimiser trades from)."""
        books = [self.runs.table(rid, "books") for rid in self.lineage(run_id)]
        books.append(ledger.ledger_books(self.ledger(run_id).entries))
        frames = [b.select("date", "asset", "weight") for b in books if b.height]
        if not frames:
            return {}
        return held_on(pl.concat(frames).unique(["date", "asset"], keep="last"), day)

    @staticmethod
    def prices(panel: pl.DataFrame, as_of: date) -> pl.DataFrame:
        """``asset, close`` on ``as_of``: the reference prices of orders."""
        return panel.filter(pl.col("date") == as_of).select("asset", "close")

    def run_config(self, run_id: str) -> RunConfig:
        """A saved run's config (checked against its manifest)."""
        return self.runs.config(run_id)

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
        models = self.desk_models(run_id)
        newest = models[-1]
        read = self.ledger(run_id)
        entries = read.entries
        live, live_ic = monitor.live_daily(entries, panel, config)
        reference = self.reference_run(run_id)
        backtest = self.runs.table(reference, "daily")
        preds = self.runs.table(reference, "predictions")
        backtest_ic = daily_ic(preds)
        research = [m for m in models if m.run_id == reference][-1]  # its newest fold
        features, data_end = monitor.input_drift(panel, config, research, settings)
        report = monitor.MonitorReport(
            run_id=run_id,
            data_end=data_end,
            daily=live,
            ic=live_ic,
            decay=monitor.decay_table(live, live_ic, backtest, backtest_ic, settings),
            band=monitor.track_band(live, backtest, settings.decay_z),
            features=features,
            predictions=monitor.prediction_drift(preds, ledger.ledger_scores(entries), settings),
            coverage=monitor.coverage(entries, panel, newest),
            recent_start=data_end,
            settings=settings,
            reference=monitor.reference_stats(reference, backtest, backtest_ic),
            skipped=read.skipped,
        )
        report.reasons = monitor.recommend(report)
        record = self.live_record(run_id, panel)  # the record from fills, beside the paper one
        report.positions = record.to_dict() if record is not None else None
        return report

    def reference_run(self, run_id: str) -> str:
        """The run whose backtest the lineage's live track is judged against: its first run
        (the research backtest), kept across retrainings; should that run have been deleted,
        the oldest run left with a backtest of at least two days."""
        chain = self.lineage(run_id)
        for rid in chain:
            if self.runs.table(rid, "daily").height >= 2:
                return rid
        return chain[0]

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
        """Train a child of the lineage's newest run on every label known at the data's last
        date (:meth:`retrain_plan`); None when no retraining is due."""
        plan = self.retrain_plan(run_id, panel, data=data, every=every)
        if plan is None:
            return None
        return self.runs.train_and_save(
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

        The child keeps the config and is trained at the close of the data's last date, the
        *as-of* date (:func:`fresh_windows`): its training window ends at the last date whose
        training label is known before the as-of date (purge and embargo as configured),
        expanding from the same start or rolling, and its test window is the as-of date alone,
        the date from which it is in force. ``every`` ("monthly" or "quarterly"): due only
        when the data reached a later month (quarter) than the parent's test end; None: due
        on any new date.

        Every check that could refuse the retraining runs here, before any training: a
        refusal (a ``ConfigError``) is immediate.
        """
        chain = self.verify_lineage(run_id)  # a damaged run is not retrained from
        parent_id = chain[-1]
        parent = self.run_config(parent_id)
        source = data or parent.data
        if panel is None:
            panel = load_panel(source, metadata=parent.metadata)
        dates = panel.get_column("date").unique().sort().to_list()
        if not dates or not retrain_due(parent.test_end, dates[-1], every):
            return None
        config = fresh_windows(parent, dates).replace(
            data=source, name=f"{parent.name or parent_id} (retrained to {dates[-1]})"
        )
        check_windows(config, panel, contract=False)
        return RetrainPlan(config, panel, parent_id, chain[0])


def training_horizon(config: RunConfig) -> int:
    """Trading dates from a decision to the end of its training target: the label's horizon,
    or the longer training target's (``target_horizon``, entered as the label is)."""
    label = LABELS[config.label]
    if config.target_horizon > 1:
        return max(label.horizon, label.lead + config.target_horizon)
    return label.horizon


def fresh_windows(parent: RunConfig, dates: list[date]) -> RunConfig:
    """The windows of a retraining at the close of ``dates[-1]`` (the as-of date ``A``).

    Test window: ``A`` alone (the child decides from ``A`` on). Training window: every label
    known at ``A``, purged as each run's training is: a row's training label must end
    strictly before the test window's first date less ``embargo_days`` trading dates, so the
    window ends ``embargo_days + training_horizon + 1`` trading dates before ``A`` (a
    close-to-close label without embargo: the day before yesterday, whose label ended
    yesterday). It expands from the parent's start, or rolls over the last ``window_days``
    dates; an explicit validation window moves forward with it. Raises ``ConfigError`` when
    no training label is known yet.
    """
    as_of, n = dates[-1], len(dates) - 1
    last = n - parent.embargo_days - training_horizon(parent) - 1
    first = bisect_left(dates, parent.train_start)
    if last < first:
        raise ConfigError(
            f"cannot retrain at {as_of}: no training label ends before it (less the embargo of "
            f"{parent.embargo_days} days) on or after train_start {parent.train_start}",
            field="train_end",
        )
    start = parent.train_start
    if parent.window == "rolling":
        start = dates[WINDOWS["rolling"](first, last, parent.window_days)]
    shift = last - min(bisect_left(dates, parent.train_end), n)

    def moved(day: date | None) -> date | None:
        if day is None:
            return None
        return dates[min(max(bisect_left(dates, day) + shift, 0), last)]

    return parent.replace(
        train_start=start,
        train_end=dates[last],
        test_start=as_of,
        test_end=as_of,
        valid_start=moved(parent.valid_start),
        valid_end=moved(parent.valid_end),
    )


@dataclass(frozen=True)
class RetrainPlan:
    """A retraining to run: the child's config and panel, its parent and its lineage's first."""

    FILE: ClassVar[str] = LINEAGE_FILE

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
