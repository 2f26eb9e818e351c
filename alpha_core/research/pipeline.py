"""One run, end to end: panel -> features -> model(s) -> predictions -> books -> backtest -> report.

The run service (:mod:`alpha_core.runs.service`) calls :func:`run_experiment`; nothing here is
specific to a front end. When the run selects a model or early-stops, the validation window
decides first (:mod:`alpha_core.research.selection`: candidate, number of trees); training then goes
through :mod:`alpha_core.research.walkforward` (a single split is one fold) with what it decided.
The predictions carry what sizing, limits and statistics need besides the score
(:func:`alpha_core.signals.predictions.with_context`). :func:`rebook` turns stored predictions into
books, daily P&L (gross and net of costs) and metrics without retraining.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import polars as pl

from alpha_core.base.progress import OnProgress, Progress, ignore
from alpha_core.base.settings import ConfigError
from alpha_core.data.panel import PanelError, panel_fingerprint
from alpha_core.data.quality import duplicate_bars
from alpha_core.evaluation.attribution import attribution, attribution_metrics
from alpha_core.evaluation.metrics import PredictionStats, compute_metrics, prediction_stats
from alpha_core.features.library import build_features, run_features, with_target
from alpha_core.features.transforms import transform_features
from alpha_core.portfolio.backtest import add_costs, daily_returns
from alpha_core.portfolio.construction import Market, market_data
from alpha_core.portfolio.risk import estimate_risk
from alpha_core.portfolio.stage import form_books
from alpha_core.research import contract as data_contract
from alpha_core.research.config import RunConfig
from alpha_core.research.result import RunResult, models_meta
from alpha_core.research.selection import (
    OPTIMIZER_FIELDS,
    SELECTION_SPAN,
    TURNOVER_FIELDS,
    Choice,
    choose,
    wants_validation,
)
from alpha_core.research.walkforward import run_folds, shuffle_labels_within_date
from alpha_core.signals.predictions import CONTEXT_FEATURES, with_context

__all__ = [
    "RunResult",
    "check_windows",
    "data_span",
    "feature_names",
    "rebook",
    "run_experiment",
    "shuffle_labels_within_date",
]


def data_span(panel: pl.DataFrame) -> tuple[date, date]:
    span = panel.select(pl.col("date").min().alias("lo"), pl.col("date").max().alias("hi"))
    return span["lo"][0], span["hi"][0]


def check_windows(config: RunConfig, panel: pl.DataFrame, contract: bool = True) -> None:
    """Raise ConfigError unless the config is valid and its four dates lie inside the data.

    Raise PanelError when the panel cannot be run as is (duplicate bars would make
    "the previous bar" ambiguous, so the engine refuses them rather than pick one; bad bars
    under ``on_bad_bars="refuse"`` and the rest of
    :func:`alpha_core.research.contract.apply_contract`).
    ``contract=False`` skips the data contract (its quality check reads every bar), for a
    caller that runs the experiment at once: :func:`run_experiment` applies it first thing.
    """
    _check_windows(config, panel)
    if contract:
        data_contract.apply_contract(config, panel, feature_names(config, panel.columns))


def _check_windows(config: RunConfig, panel: pl.DataFrame) -> None:
    config.validate()
    duplicates = duplicate_bars(panel)
    if duplicates.height:
        extra = int((duplicates["len"] - 1).sum())
        first = duplicates.row(0)
        raise PanelError(
            f"the panel has {extra} extra rows sharing an (asset, date), e.g. "
            f"{first[0]} {first[1]}; remove the duplicates (see the quality report)"
        )
    lo, hi = data_span(panel)
    for name in ("train_start", "train_end", "test_start", "test_end"):
        value = getattr(config, name)
        if not lo <= value <= hi:
            raise ConfigError(f"{name} {value} is outside the data's span {lo} .. {hi}")


def feature_names(config: RunConfig, columns: Sequence[str] = ()) -> tuple[str, ...]:
    """The run's model inputs: its feature subset, else its feature set's for a panel with
    these ``columns`` (Alpha158's VWAP0 needs a vwap column)."""
    return run_features(config.feature_set, config.features, columns)


def run_experiment(
    config: RunConfig,
    panel: pl.DataFrame,
    feats: pl.DataFrame | None = None,
    on_progress: OnProgress | None = None,
    forward: bool = False,
) -> RunResult:
    """Train (one model, or one per walk-forward fold), predict, form books and measure.

    ``feats`` may be passed when already built for the same panel and label convention.
    ``forward``: a model trained to decide from its test window on (the desk's retraining,
    whose test window is the dates whose labels are not known yet): a test window without a
    realised day is not refused (:func:`~alpha_core.research.contract.refuse_empty_books`).
    """
    _check_windows(config, panel)
    source = panel
    wanted = feature_names(config, panel.columns)
    panel, contract = data_contract.apply_contract(config, panel, wanted)
    feats = None if panel.height != source.height else feats  # built on the dropped bars
    on_progress = on_progress or ignore
    timings: dict[str, float] = {}
    names = data_contract.usable(wanted, contract)

    t0 = time.perf_counter()
    if feats is None:
        on_progress(Progress("features", 0.0))
        feats = _build_features(config, panel, names)
    else:
        feats = _with_context_features(feats, panel)
    model_feats = transform_features(feats, names, config.feature_transform)
    model_feats = with_target(model_feats, panel, config.label, config.target_horizon)
    timings["features"] = time.perf_counter() - t0

    market = None
    if config.construction == "optimizer":
        t0 = time.perf_counter()
        on_progress(Progress("risk model", 0.02))
        market = market_data(panel, config, ic=0.0, universe=(), periods=_periods(contract))
        timings["risk_model"] = time.perf_counter() - t0

    choice: Choice | None = None
    if wants_validation(config):
        t0 = time.perf_counter()
        choice = choose(config, model_feats, names, on_progress, market=market)
        chosen = TURNOVER_FIELDS + OPTIMIZER_FIELDS
        config = config.replace(**{f: getattr(choice.config, f) for f in chosen})
        timings["selection"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    trained = choice.config if choice else config
    after = sum(SELECTION_SPAN) if choice else 0.05  # the refit follows the candidates
    models, preds, folds = run_folds(trained, model_feats, names, on_progress, after, 0.95 - after)
    timings["model"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    on_progress(Progress("predicting", 0.97))
    preds = with_context(preds, panel, feats)
    timings["predictions"] = time.perf_counter() - t0
    if market is not None:
        market = optimizer_market(market, preds, choice.meta if choice else {})

    terms = {**contract.to_meta(), **data_contract.test_losses(source, preds, config)}
    provenance = {
        "config": config.to_dict(),
        "data_fingerprint": panel_fingerprint(source),
        data_contract.CONTRACT_KEY: terms,
    }
    for m in models:
        m.meta.update(provenance, **(choice.meta if choice else {}))
    meta = {**models_meta(models), data_contract.CONTRACT_KEY: terms}
    pred_stats = prediction_stats(preds)
    books, daily, metrics = rebook(
        preds, config, meta, timings=timings, pred_stats=pred_stats, market=market
    )
    if not forward:
        data_contract.refuse_empty_books(metrics, preds, config)
    t0 = time.perf_counter()
    risk = market.risk if market else estimate_risk(panel, config)
    table = attribution(books, daily, risk)
    metrics.update(attribution_metrics(table, data_contract.periods_of(terms)))
    timings["attribution"] = time.perf_counter() - t0
    on_progress(Progress("done", 1.0))
    return RunResult(
        config,
        models[-1],
        preds,
        books,
        daily,
        metrics,
        timings,
        models=models,
        folds=folds,
        quantiles=pred_stats.quantiles,
        ic_decay=pred_stats.ic_decay,
        candidates=choice.table if choice else None,
        attribution=table,
        features=feats,
        _pred_stats=pred_stats,
    )


def optimizer_market(market: Market, preds: pl.DataFrame, chosen: dict[str, Any]) -> Market:
    """The market data of an optimised run's test window: the IC the validation window
    measured (refused when not positive) and the universe of its predictions."""
    ic = chosen.get("valid_rank_ic")
    if ic is None or not ic > 0:
        raise ConfigError(
            f"the forecasts' mean daily rank IC on the validation window is {ic}: the optimiser "
            "scales expected returns by it and sees no edge to trade (use construction rank, "
            "or a model that predicts on the validation window)",
            field="construction",
        )
    universe = tuple(preds["asset"].unique().sort().to_list())
    return replace(market, ic=float(ic), universe=universe)


def _periods(contract: Any) -> int:
    return data_contract.periods_of(contract.to_meta())


def run_feature_frame(config: RunConfig, panel: pl.DataFrame) -> pl.DataFrame:
    """The raw feature frame a run of ``config`` trains and is explained on: the data
    contract applied first (bad bars dropped as the run dropped them), then the usable
    features plus the decision context."""
    panel, contract = data_contract.apply_contract(
        config, panel, feature_names(config, panel.columns)
    )
    names = data_contract.usable(feature_names(config, panel.columns), contract)
    return _build_features(config, panel, names)


def _build_features(config: RunConfig, panel: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    extra = tuple(c for c in CONTEXT_FEATURES if c not in names)
    return build_features(panel, label=config.label, features=names + extra)


def _with_context_features(feats: pl.DataFrame, panel: pl.DataFrame) -> pl.DataFrame:
    """A caller's feature frame plus any raw context feature it lacks (built once here)."""
    missing = tuple(c for c in CONTEXT_FEATURES if c not in feats.columns)
    if not missing:
        return feats
    extra = build_features(panel, features=missing).select("date", "asset", *missing)
    return feats.join(extra, on=["date", "asset"], how="left")


def rebook(
    preds: pl.DataFrame,
    config: RunConfig,
    model_meta: dict[str, Any],
    timings: dict[str, float] | None = None,
    pred_stats: PredictionStats | None = None,
    market: Market | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Books (ranking, sizing, limits), daily P&L gross and net of costs, and metrics.

    No retraining: this is the whole cost of a percentile, sizing or cost change in the app.
    ``pred_stats`` (:func:`alpha_core.evaluation.metrics.prediction_stats` of ``preds``) are
    computed when not given; ``market``: the optimiser's market data (an optimised run).
    """
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    books, limits = form_books(preds, config, market)
    timings["books"] = time.perf_counter() - t0
    terms = model_meta.get(data_contract.CONTRACT_KEY)
    periods = data_contract.periods_of(terms)
    t0 = time.perf_counter()
    daily = daily_returns(books, preds)
    daily = add_costs(daily, books, preds["date"], config.cost_bps, config.borrow_bps, periods)
    timings["backtest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    extra = {
        **limits,
        "n_folds": int(model_meta.get("n_folds", 1)),
        **data_contract.metrics_of(terms),
        **_chosen(config, model_meta),
    }
    metrics = compute_metrics(
        daily,
        preds,
        model_meta,
        books=books,
        n_trials=config.n_trials + extra["n_candidates"] - 1,
        seed=config.seed,
        extra=extra,
        pred_stats=pred_stats,
        periods=periods,
    )
    timings["report"] = time.perf_counter() - t0
    return books, daily, metrics


def _chosen(config: RunConfig, model_meta: dict[str, Any]) -> dict[str, Any]:
    """The run's feature set and what its validation window chose, as metrics.

    Each candidate compared is a trial for the deflated Sharpe ratio: ``n_trials`` (the saved
    runs plus this one) grows by the candidates beyond the one tested.
    """
    return {
        "feature_set": config.feature_set,
        "data_fingerprint": model_meta.get("data_fingerprint"),
        "n_candidates": int(model_meta.get("n_candidates", 1)),
        "chosen_candidate": model_meta.get("chosen_candidate"),
        "valid_rank_ic": model_meta.get("valid_rank_ic"),
        "chosen_books": model_meta.get("chosen_books"),
        "valid_net_sharpe": model_meta.get("valid_net_sharpe"),
    }
