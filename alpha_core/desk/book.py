"""Tomorrow's book from a saved run: score new bars with the run's own stages.

:func:`make_book` takes a run's config and saved models and a panel whose bars may run past
the run's test window, and forms the book decided at the close of ``as_of`` (default: the
panel's last date) exactly as the run formed its books:

1. only the lookback the model's features need is computed (:func:`lookback_bars`: each
   asset's last ``max warmup + 1`` bars up to ``as_of``, counted on its own bars), with
   :func:`alpha_core.features.library.build_features`; ``sector_id`` keeps the codes of the whole
   history up to ``as_of`` (first appearance), as the run numbered them;
2. the run's feature transform (:func:`alpha_core.features.transforms.transform_features`);
3. the model in force at ``as_of`` (:func:`model_in_force`: the fold whose test block holds
   ``as_of``, else the newest) through the model contract's ``predict``;
4. :func:`alpha_core.portfolio.books.build_books` with the run's percentiles, sizing, limits and
   neutrality, on the decision context of ``as_of`` (sector, asset class, raw ``vol_20``).

So for any date inside a run's test window the book equals the run's own book for that date
(``tests/test_desk.py``). Rolling windows restarted ``k`` bars back can differ from the
full-history build in the last bits (about 1e-15); ranks, sides and weights are unchanged.

Refusals (:class:`DeskError`, with ``reason``): the decision date is not a bar of the data;
the data is stale for its calendar (fewer than ``min_fresh_share`` of the previous session's
assets have a bar on ``as_of``, or the date is more than ``max_stale_sessions`` business days
before ``today`` when one is given); ``as_of`` is on or before the model's training end; a
feature is unknown or cannot be computed for any asset; the universe changed so much that the
percentiles cannot be honoured (a side would be empty, or fewer than ``min_overlap`` of the
run's universe is scored). Assets that dropped out of or are new to the run's universe, and
assets with a bar but no score, are reported on the :class:`Book`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from alpha_core.base.csvsafe import csv_text
from alpha_core.data.panel import PanelError, panel_fingerprint
from alpha_core.desk.execution import Execution, execution
from alpha_core.features.library import FEATURES_BY_NAME, build_features, model_rows, sector_codes
from alpha_core.features.transforms import transform_features
from alpha_core.models.base import (
    ModelFileError,
    TrainedModel,
    load_model,
    model_digest,
    numbered_stems,
)
from alpha_core.portfolio.construction import Market, market_data
from alpha_core.portfolio.stage import form_books
from alpha_core.research.config import RunConfig
from alpha_core.research.contract import CONTRACT_KEY, apply_bad_bar_policy, periods_of
from alpha_core.signals.predictions import CONTEXT_FEATURES, PREDICTION, decision_context

BOOK_ROW_COLUMNS = ("date", "asset", "side", "weight", PREDICTION, "rank", "sector")
"""Columns of a desk book: the run's book columns plus the asset's sector."""


class DeskError(ValueError):
    """A book the desk refuses to produce; ``reason`` is a short code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DeskSettings:
    """The desk's own guards (not run settings: they do not change what a run learns)."""

    min_fresh_share: float = 0.8
    """Share of the previous session's assets that must have a bar on the decision date."""
    min_overlap: float = 0.5
    """Share of the run's universe (its last scored cross-section) that must be scored."""
    max_stale_sessions: int = 1
    """With ``today`` given: business days the decision date may lag behind it."""


# ----------------------------------------------------------------------------- saved models
@dataclass(frozen=True)
class SavedModel:
    """One saved model of a run: where it lives, its checksum and the dates it is good for."""

    run_id: str
    run_folder: Path
    folder: Path
    stem: str
    model: TrainedModel = field(repr=False)
    sha256: str
    train_end: date
    test_start: date | None
    sector_codes: Mapping[str, int] | None = field(default=None, repr=False)
    """The sector codes its run learned from its data (``codes.json``); None for a run saved
    before they were kept (the desk then numbers the history it is given)."""

    @property
    def label(self) -> str:
        return f"{self.run_id}/{self.stem}"


def model_sha256(folder: Path, stem: str) -> str:
    """sha256 of the model's own files (those its sidecar lists, in name order; LightGBM:
    ``<stem>.txt``), each first checked against the checksum recorded at save
    (:func:`alpha_core.models.base.model_digest`)."""
    try:
        return model_digest(folder, stem)
    except ModelFileError as exc:
        raise DeskError("model_changed", f"{exc}; the model file changed after training") from exc


def saved_models(
    folder: Path, run_id: str, sector_codes: Mapping[str, int] | None = None
) -> list[SavedModel]:
    """The models of a saved run in fold order (``models/fold_NNN``, else ``model``).

    ``folder`` must have been checked against the run's manifest (the desk service reads it
    through the registry first); ``sector_codes``: the run's (``codes.json``)."""
    folds = numbered_stems(folder / "models")
    where = [(folder / "models", stem) for stem in folds] or [(folder, "model")]
    out = []
    for directory, stem in where:
        model = load_model(directory, stem)
        start = model.meta.get("test_start")
        out.append(
            SavedModel(
                run_id,
                folder,
                directory,
                stem,
                model,
                model_sha256(directory, stem),
                date.fromisoformat(str(model.meta["train_end"])),
                date.fromisoformat(str(start)) if start else None,
                sector_codes,
            )
        )
    return out


def model_in_force(models: list[SavedModel], as_of: date) -> SavedModel:
    """The model that decides ``as_of``: the newest whose test block starts on or before it.

    Models are in lineage order (a parent's folds, then its child's). Before every test
    block, the first model serves. ``as_of`` on or before its training end is refused.
    """
    if not models:
        raise DeskError("no_model", "the run has no saved model")
    started = [m for m in models if m.test_start is not None and m.test_start <= as_of]
    chosen = started[-1] if started else models[0]
    if as_of <= chosen.train_end:
        raise DeskError(
            "before_training_end",
            f"decision date {as_of} is on or before the training end {chosen.train_end} of "
            f"model {chosen.label}: its book would be in-sample",
        )
    return chosen


def run_universe(run_folder: Path, as_of: date) -> list[str] | None:
    """Assets the run scored on its last prediction date up to ``as_of`` (None: unknown)."""
    path = run_folder / "predictions.parquet"
    if not path.exists():
        return None
    preds = pl.scan_parquet(path).select("date", "asset").filter(pl.col("date") <= as_of)
    last = preds.select(pl.col("date").max()).collect().item()
    if last is None:
        return None
    return preds.filter(pl.col("date") == last).collect()["asset"].to_list()


# ----------------------------------------------------------------------------- the lookback
def lookback_bars(names: tuple[str, ...]) -> int:
    """Bars of each asset's own history the features need at the decision date."""
    unknown = [n for n in names if n not in FEATURES_BY_NAME]
    if unknown:
        raise DeskError(
            "unknown_feature", f"the model reads features this engine cannot build: {unknown}"
        )
    return max((FEATURES_BY_NAME[n].warmup for n in names), default=0) + 1


def as_trained(config: RunConfig, panel: pl.DataFrame) -> pl.DataFrame:
    """The bars the run's data contract lets through: bad bars dropped, refused or kept as
    the run's ``on_bad_bars`` says, so the book is computed on the bars its model was."""
    if config.on_bad_bars == "keep":  # nothing to find: skip the quality checks
        return panel
    try:
        return apply_bad_bar_policy(config.on_bad_bars, panel)[0]
    except PanelError as exc:
        raise DeskError("bad_bars", str(exc)) from exc


def decision_slice(panel: pl.DataFrame, as_of: date, bars: int) -> pl.DataFrame:
    """Each asset's last ``bars`` bars up to ``as_of``, for the assets with a bar on it.

    Read from the panel's last ``2 * bars`` trading dates, and from further back only for the
    assets with gaps or a short history there (so no full-history sort on the daily path).
    """
    live = panel.filter(pl.col("date") == as_of)["asset"].implode()
    dates = panel.select(pl.col("date").filter(pl.col("date") <= as_of).unique().sort())["date"]
    start = dates[max(0, dates.len() - 2 * bars)]
    recent = panel.filter(pl.col("date").is_between(start, as_of), pl.col("asset").is_in(live))
    counts = recent.group_by("asset").len()
    short = counts.filter(pl.col("len") < bars)["asset"].implode()
    older = panel.filter(
        pl.col("date") < start, pl.col("date") <= as_of, pl.col("asset").is_in(short)
    )
    return (
        pl.concat([older, recent])
        .sort("asset", "date")
        .group_by("asset", maintain_order=True)
        .tail(bars)
        .select(panel.columns)
    )


def _recode_sectors(
    feats: pl.DataFrame,
    window: pl.DataFrame,
    history: pl.DataFrame,
    saved: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """``sector_id`` as the run numbered it: its saved codes (``saved``), a sector it never
    saw numbered after them (in order of first appearance in ``history``); a run without
    saved codes: as numbered over the whole history up to the decision date."""
    if "sector_id" not in feats.columns:
        return feats
    local, full = sector_codes(window), sector_codes(history)
    if saved is not None:
        known = pl.DataFrame(
            {"sector": list(saved), "sector_id": list(saved.values())},
            schema={"sector": pl.Utf8, "sector_id": pl.Int32},
        )
        unseen = full.filter(~pl.col("sector").is_in(known["sector"].implode()))
        start = (max(saved.values()) + 1) if saved else 0
        unseen = unseen.with_columns(
            (pl.int_range(pl.len(), dtype=pl.Int32) + start).alias("sector_id")
        )
        full = pl.concat([known, unseen])
    mapping = local.join(full, on="sector", suffix="_full")
    return feats.with_columns(
        pl.col("sector_id").replace_strict(
            mapping["sector_id"], mapping["sector_id_full"], return_dtype=pl.Int32
        )
    )


def _market(config: RunConfig, chosen: SavedModel, panel: pl.DataFrame) -> Market:
    """The optimiser's market data as the run's backtest had it at the decision date: the
    risk model and traded values of the bars up to it, the IC measured on the validation
    window and the universe of the run's predictions."""
    meta = chosen.model.meta
    ic = meta.get("valid_rank_ic")
    if ic is None or not ic > 0:
        raise DeskError("no_ic", f"the model records no positive validation rank IC ({ic})")
    preds = pl.scan_parquet(chosen.run_folder / "predictions.parquet").select("asset")
    universe = tuple(preds.unique().collect()["asset"].sort().to_list())
    periods = periods_of(meta.get(CONTRACT_KEY))
    return market_data(panel, config, float(ic), universe, periods)


# ----------------------------------------------------------------------------- the book
@dataclass
class Book:
    """The book decided at the close of ``as_of`` and everything needed to audit it."""

    as_of: date
    run_id: str
    model: str
    model_sha256: str
    data_fingerprint: str
    config_hash: str
    rows: pl.DataFrame
    """:data:`BOOK_ROW_COLUMNS` plus ``capped``, long first (strongest first)."""
    scores: pl.DataFrame
    """``asset, prediction`` of every scored asset (the live IC reads them)."""
    dropped: list[str] = field(default_factory=list)
    """Assets of the run's universe without a score on ``as_of``."""
    new: list[str] = field(default_factory=list)
    """Scored assets outside the run's universe."""
    unscorable: list[str] = field(default_factory=list)
    """Assets with a bar on ``as_of`` but missing features (too short a history, bad bars)."""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    status: str = "new"
    """Set by the ledger: appended, unchanged (same inputs already recorded) or forced."""
    execution: Execution | None = None
    """When its orders trade: decided at the close of ``as_of``, filled at the next bar's
    open or close as the run's label says (:mod:`alpha_core.desk.execution`)."""

    @property
    def n_long(self) -> int:
        return int((self.rows["side"] == "long").sum())

    @property
    def n_short(self) -> int:
        return int((self.rows["side"] == "short").sum())

    def key(self) -> str:
        """What makes two books of one date the same: model, data and config."""
        blob = f"{self.as_of}|{self.model_sha256}|{self.data_fingerprint}|{self.config_hash}"
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        """JSON-able facts of the book (the CLI's ``--json`` object without the rows)."""
        return {
            "as_of": self.as_of.isoformat(),
            "run_id": self.run_id,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "data_fingerprint": self.data_fingerprint,
            "config_hash": self.config_hash,
            "created": self.created,
            "n_long": self.n_long,
            "n_short": self.n_short,
            "n_scored": self.scores.height,
            "dropped": self.dropped,
            "new": self.new,
            "unscorable": self.unscorable,
            "status": self.status,
            **({"execution": self.execution.to_dict()} if self.execution else {}),
        }

    @property
    def execution_text(self) -> str:
        """``decided at the close of <as_of>; filled at the next session's close (label
        close_to_close)`` ("" when unknown)."""
        return self.execution.text(self.as_of) if self.execution else ""

    def csv(self) -> str:
        """The book's CSV (:data:`BOOK_ROW_COLUMNS`), text cells neutralised for spreadsheets
        (:mod:`alpha_core.base.csvsafe`): the app's download and ``alpha book --out``."""
        return csv_text(self.rows.select(BOOK_ROW_COLUMNS))

    def records(self) -> list[dict[str, Any]]:
        """The book rows as JSON-able dicts (dates as ISO text)."""
        return [
            {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}
            for row in self.rows.select(BOOK_ROW_COLUMNS).iter_rows(named=True)
        ]


def make_book(
    config: RunConfig,
    models: list[SavedModel],
    panel: pl.DataFrame,
    as_of: date | None = None,
    *,
    run_id: str = "",
    today: date | None = None,
    settings: DeskSettings = DeskSettings(),
    held: Mapping[str, float] | None = None,
    history: pl.DataFrame | None = None,
) -> Book:
    """The book decided at the close of ``as_of`` (default: the panel's last date).

    ``models``: a lineage's saved models, oldest first (:func:`saved_models`); ``today``
    turns on the calendar staleness guard; ``held``: the book held before ``as_of`` (the
    optimiser trades from it, as the backtest did); ``history``: the predictions of the days
    before ``as_of`` that path-dependent rank books replay (smoothing, buffer, rebalance
    interval, turnover cap), from the run's first test date.
    """
    as_of = as_of or panel["date"].max()
    check_fresh(panel, as_of, today, settings)
    panel = as_trained(config, panel.filter(pl.col("date") <= as_of))
    chosen = model_in_force(models, as_of)
    names = chosen.model.features
    extra = tuple(c for c in CONTEXT_FEATURES if c not in names)
    window = decision_slice(panel, as_of, lookback_bars(names + extra))
    feats = build_features(window, label=config.label, features=names + extra)
    feats = _recode_sectors(
        feats, window, panel.filter(pl.col("date") <= as_of), chosen.sector_codes
    )
    today_feats = feats.filter(pl.col("date") == as_of)
    _check_features(today_feats, names)
    model_in = transform_features(today_feats, names, config.feature_transform)
    rows = model_in.filter(model_rows(model_in, names))
    scored = rows.select("date", "asset").with_columns(
        pl.Series(PREDICTION, chosen.model.predict(rows), dtype=pl.Float64)
    )
    context = decision_context(window.filter(pl.col("date") == as_of), today_feats)
    preds = scored.join(context, on=["date", "asset"], how="left").sort("date", "asset")
    bar_assets = set(today_feats["asset"].to_list())
    scored_assets = set(scored["asset"].to_list())
    book = Book(
        as_of=as_of,
        run_id=run_id,
        model=chosen.label,
        model_sha256=chosen.sha256,
        data_fingerprint=panel_fingerprint(window),
        config_hash=config.fingerprint(),
        rows=pl.DataFrame(),
        scores=scored.select("asset", PREDICTION),
        unscorable=sorted(bar_assets - scored_assets),
        execution=execution(config.label),
    )
    universe = run_universe(chosen.run_folder, as_of)
    if universe is not None:
        book.dropped = sorted(set(universe) - scored_assets)
        book.new = sorted(scored_assets - set(universe))
        _check_overlap(universe, scored_assets, settings)
    _check_sides(scored.height, config)
    market = _market(config, chosen, panel) if config.construction == "optimizer" else None
    if history is not None:  # the same path as the backtest's, then today
        replay = pl.concat([history, preds], how="diagonal_relaxed")
        books, _limits = form_books(replay, config, market, held)
        books = books.filter(pl.col("date") == as_of)
    else:
        books, _limits = form_books(preds, config, market, held)
    columns = [c for c in (*BOOK_ROW_COLUMNS, "capped") if c in books.columns]
    book.rows = books.select(columns)
    return book


def check_fresh(
    panel: pl.DataFrame, as_of: date, today: date | None, settings: DeskSettings
) -> None:
    """Refuse a decision date that is not a bar, or whose bars are stale for the calendar."""
    dates = panel.get_column("date").unique().sort()
    if as_of not in set(dates.to_list()):
        raise DeskError("no_bars", f"the data has no bars on {as_of} (last bar {dates[-1]})")
    if today is not None:
        lag = int(np.busday_count(as_of, today))
        if lag > settings.max_stale_sessions:
            raise DeskError(
                "stale_data",
                f"the data ends {as_of}, {lag} business days before {today} "
                f"(at most {settings.max_stale_sessions} allowed): load the latest bars",
            )
    earlier = dates.filter(dates < as_of)
    if earlier.len() == 0:
        return
    prev = earlier[-1]
    counts = panel.filter(pl.col("date").is_in([prev, as_of])).group_by("date").len()
    n = dict(zip(counts["date"].to_list(), counts["len"].to_list(), strict=True))
    if n.get(as_of, 0) < settings.min_fresh_share * n.get(prev, 0):
        raise DeskError(
            "stale_data",
            f"only {n.get(as_of, 0)} assets have a bar on {as_of} against {n[prev]} on "
            f"{prev}: the data for {as_of} looks stale or partial",
        )


def _check_features(today: pl.DataFrame, names: tuple[str, ...]) -> None:
    empty = [n for n in names if n not in today.columns or today[n].null_count() == today.height]
    if empty:
        raise DeskError(
            "feature_unavailable",
            f"features {empty} cannot be computed for any asset on this date "
            "(a missing input column, e.g. volume, or too short a history)",
        )


def _check_overlap(universe: list[str], scored: set[str], settings: DeskSettings) -> None:
    kept = len(set(universe) & scored)
    if universe and kept < settings.min_overlap * len(universe):
        raise DeskError(
            "universe_changed",
            f"only {kept} of the run's {len(universe)} assets can be scored (at least "
            f"{settings.min_overlap:.0%} needed): the universe changed too much for the "
            "run's percentiles to mean the same book",
        )


def _check_sides(n_scored: int, config: RunConfig) -> None:
    """Refuse a universe too small for a side to hold one name at its percentile.

    (Ties can still empty a side, as they would in the run's own books.)
    """
    for side, pct in (("long", config.long_pct), ("short", config.short_pct)):
        if n_scored * pct < 1:
            raise DeskError(
                "universe_changed",
                f"{n_scored} scored assets cannot fill the {side} side at {pct:.0%}: "
                "the percentiles cannot be honoured",
            )
