"""Honest model selection: a validation window in the training span chooses; the test never does.

The **validation window** is the last six months of the training span by default
(``valid_start``/``valid_end`` move it). Like the test window it is purged: a candidate
trains on the rows dated from the run's first training date whose label is known strictly
before the window opens, and the window's own rows count only if their label is known
before the first test block (after any embargo).

``select = "valid"`` trains every candidate of :data:`CANDIDATES` (a fixed, documented set;
for a model type other than LightGBM, its declared ``candidates()``, by default its presets)
on those rows, each with early stopping on the window (:mod:`alpha_core.models.lightgbm.model`),
and scores
it by the **validation criterion**: the mean daily rank IC of its scores against the
realised return over the window (:func:`alpha_core.stats.scoring.mean_daily_rank_ic`). A
candidate whose validation scores collapse into ties (more than half of a date's scores
shared, :data:`alpha_core.stats.scoring.TIE_LIMIT`, on any validation date) is refused. The
highest score wins (the first in table order on equal scores).

The winner is then **refit** on the whole training span (train + validation, purged before
the test, or before each walk-forward block) with the number of trees early stopping kept,
and that refit is what the run tests. Refit rather than keep: the six most recent months of
data are the ones closest to the test, a walk-forward run must retrain each fold anyway, and
the test then starts right after the training span exactly as with ``select = "none"``, so
the chosen settings given explicitly (the ``flags`` column of the candidates table) make the
same run. What the validation window decided (which candidate, how many trees) is all that
carries over.

``select = "none"`` trains the settings given, as before; if they ask for early stopping
(``model.early_stopping_rounds`` > 0 and no legacy ``valid_fraction`` tail), the given
settings are the one candidate: early stopping on the window picks the number of trees,
and the run's models are refit with it.

The candidate table (one row each: settings, trees kept, validation rank IC, ties, refused,
chosen) is saved with the run; ``n_candidates`` feeds the deflated Sharpe ratio.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from alpha_core.base.progress import OnProgress, Progress, ignore
from alpha_core.base.settings import ConfigError
from alpha_core.features.library import LABEL, as_training_target
from alpha_core.features.transforms import transform_label
from alpha_core.models.base import (
    fit_model,
    model_class,
    params_to_dict,
    racing,
    sharing_fits,
    training_rows,
)
from alpha_core.models.lightgbm.params import ModelParams
from alpha_core.portfolio.backtest import add_costs, daily_returns
from alpha_core.portfolio.construction import Market
from alpha_core.portfolio.stage import form_books
from alpha_core.research.config import RunConfig
from alpha_core.research.walkforward import plan_folds, shuffle_labels_within_date
from alpha_core.signals.predictions import GROUP_COLUMNS, PREDICTION
from alpha_core.stats import returns as stats
from alpha_core.stats.scoring import mean_daily_rank_ic, tie_summary

RACE_RUNG = 50
"""Trees at which the candidates race (``select_race``): a quarter of their 200 at most,
the early-stopping patience; a candidate that stops on its own before it never races."""

VALID_MONTHS = 6
"""Default validation window: this many calendar months up to ``train_end``."""


@dataclass(frozen=True)
class Candidate:
    """One setting the selection may choose: a training target and model parameters (of
    the run's model type)."""

    name: str
    label_transform: str
    params: Any


_CANDIDATE_BASE = ModelParams(
    n_estimators=200,
    learning_rate=0.05,
    feature_fraction=0.5,
    bagging_fraction=0.5,
    bagging_freq=1,
    max_bin=63,
    early_stopping_rounds=50,
    bin_construct_sample_cnt=50_000,
)
_SIZES = {
    "small": {"num_leaves": 15, "max_depth": 4, "min_data_in_leaf": 500},
    "medium": {"num_leaves": 63, "max_depth": 8, "min_data_in_leaf": 500},
}
CANDIDATES: tuple[Candidate, ...] = tuple(
    Candidate(f"{size} {label}", label, dataclasses.replace(_CANDIDATE_BASE, **changes))
    for size, changes in _SIZES.items()
    for label in ("raw", "zscore")
)
"""The fixed candidate set of ``select = "valid"``: two model sizes x two training targets.

Every candidate: at most 200 trees at learning rate 0.05, early stopping after 50 trees
without a better validation rank IC (scored every 10 trees), half the features and half the
rows per tree, 63 histogram bins placed from a sample of 50,000 rows (about 800 rows per bin
boundary: ample for 63 bins, and a quarter of LightGBM's default sample, whose binning is
most of a fit's CPU on a 400k x 157 matrix). *small*: 15 leaves, depth 4; *medium*: 63
leaves, depth 8; both with at least 500 rows per leaf. Targets: the raw return, or its
per-date z-score (Qlib's ``CSZScoreNorm``). Sized for the CPU budget of a whole run on the
S&P 500 file (docs/performance.md); the run's feature set, feature transform and training
target horizon (``target_horizon``) are the user's.

Why 0.05 and not 0.1: on the S&P 500's validation window the z-scored target's best rank IC
came after 10 trees at 0.1, too few for distinct scores (tied on 43 of its dates, so
refused); at 0.05 early stopping has finer steps (20 trees, no tie). Why no longer target
horizon among the candidates: 5- and 10-day targets showed no rank IC against their own
horizon on the validation window nor on an 18-month window inside the training span
(docs/performance.md, "Books that survive costs")."""


@dataclass
class Choice:
    """What the validation window decided, and the record of how."""

    config: RunConfig
    """The run's config with the chosen target and model (trees fixed, no early stopping)."""
    table: pl.DataFrame
    """One row per candidate (see the module doc)."""
    meta: dict[str, Any]
    """``n_candidates``, ``chosen_candidate``, ``valid_rank_ic``, ``valid_window``,
    ``selection``: recorded in every model's sidecar and the run's metrics."""


def wants_validation(config: RunConfig) -> bool:
    """True when the run trains on the validation window before its test models (to choose,
    to stop early, or to measure the IC the optimiser scales its expected returns by)."""
    cls = model_class(config.model_type)
    optimised = config.construction == "optimizer"
    return config.select == "valid" or optimised or cls.wants_validation(config.params)


def validation_window(config: RunConfig, dates: list[date]) -> tuple[date, date]:
    """First and last trading date of the validation window among the sorted ``dates``."""
    end = config.valid_end or config.train_end
    start = config.valid_start or _months_before(end, VALID_MONTHS) + timedelta(days=1)
    inside = [d for d in dates if start <= d <= end]
    if not inside:
        raise ConfigError(f"no trading dates in the validation window {start} .. {end}")
    if not any(config.train_start <= d < inside[0] for d in dates):
        raise ConfigError(
            f"no training dates before the validation window {inside[0]} .. {inside[-1]}",
            field="valid_start",
        )
    return inside[0], inside[-1]


def _months_before(day: date, months: int) -> date:
    month = day.month - months
    year, month = day.year + (month - 1) // 12, (month - 1) % 12 + 1
    for d in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


_SIZING_INPUTS = ("vol_20", *GROUP_COLUMNS)
"""What the books of the validation window need besides the scores and the label."""


def validation_rows(
    config: RunConfig, feats: pl.DataFrame, names: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(candidate training rows, validation rows), both purged (see the module doc).

    With a longer training target (``target_horizon``), the training rows are on it and
    purged until it is known before the window opens; the validation rows keep the label
    (the next bar's return), which is what they are scored on."""
    dates = feats.get_column("date").unique().sort().to_list()
    first = plan_folds(config, dates)[0]
    start, end = validation_window(config, dates)
    fit = training_rows(as_training_target(feats), first.train_start, start, start, names)
    if config.shuffle_labels:
        fit = shuffle_labels_within_date(fit, config.seed)
    valid = training_rows(feats, start, end, first.purge_before, names, extra=_SIZING_INPUTS)
    valid = valid.sort("date", "asset")
    if fit.height == 0 or valid.height == 0:
        what = "training rows before" if fit.height == 0 else "labelled rows in"
        raise ConfigError(f"no {what} the validation window {start} .. {end}", field="valid_start")
    return fit, valid


def candidates_for(config: RunConfig) -> tuple[Candidate, ...]:
    """The candidates a run compares: :data:`CANDIDATES` (LightGBM) or the model type's
    ``candidates()``, or its own settings alone."""
    if config.select == "valid":
        if config.model_type == "lightgbm":
            return CANDIDATES
        declared = model_class(config.model_type).candidates()
        if not declared:
            raise ConfigError(
                f"model type {config.model_type!r} declares no candidates", field="select"
            )
        return tuple(
            Candidate(name, label or config.label_transform, params)
            for name, label, params in declared
        )
    return (Candidate("as given", config.label_transform, config.params),)


def choose(
    config: RunConfig,
    feats: pl.DataFrame,
    names: tuple[str, ...],
    on_progress: OnProgress = ignore,
    market: Market | None = None,
) -> Choice:
    """Train each candidate before the validation window, score it there, pick one; then
    the books' variant (``market``: the optimiser's, for an optimised run)."""
    candidates = candidates_for(config)
    on_progress(Progress("selecting", 0.0, 0, len(candidates)))
    fit, valid = validation_rows(config, feats, names)
    rows, scores, params = [], [], []
    # every candidate fits the same rows; one alone has nothing to share (and the shared
    # Dataset would outlive its fit, raising the peak while it scores its training rows)
    shared = sharing_fits(config.model_type) if len(candidates) > 1 else nullcontext()
    race = config.select_race and config.select == "valid" and len(candidates) > 1
    with shared, racing(config.model_type, RACE_RUNG) if race else nullcontext():
        for k, candidate in enumerate(candidates):
            progress = _candidate_progress(on_progress, k, candidates)
            progress(0, 0)
            row, score, refit_params = _score(candidate, config, fit, valid, names, progress)
            rows.append(row)
            scores.append(score)
            params.append(refit_params)
    pick = _pick(rows) if config.select == "valid" else 0
    refits = [_refit(config, c, p) for c, p in zip(candidates, params, strict=True)]
    books_meta: dict[str, Any] = {}
    if config.select == "valid" and not gives_books(config):
        scored = _scored(valid, scores[pick])
        ic = rows[pick]["valid_rank_ic"]
        if market is not None and ic is not None and ic > 0:  # else the run is refused
            assets = tuple(scored["asset"].unique().sort().to_list())
            market = replace(market, ic=ic, universe=assets)
            refits[pick], books_meta = choose_books(refits[pick], scored, market)
        elif market is None:
            refits[pick], books_meta = choose_books(refits[pick], scored)
    table = pl.DataFrame(
        [
            {**r, "chosen": i == pick, "flags": _flags(refit, i == pick, params[i])}
            for i, (r, refit) in enumerate(zip(rows, refits, strict=True))
        ]
    )
    chosen = candidates[pick]
    meta = {
        "selection": config.select,
        "n_candidates": len(candidates),
        "chosen_candidate": chosen.name,
        "valid_rank_ic": rows[pick]["valid_rank_ic"],
        "valid_window": [str(valid["date"].min()), str(valid["date"].max())],
        **books_meta,
    }
    return Choice(refits[pick], table, meta)


# ------------------------------------------------------------- the books' turnover stage
@dataclass(frozen=True)
class BookCandidate:
    """Turnover settings the selection may choose for the chosen model's books."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()


BOOK_CANDIDATES: tuple[BookCandidate, ...] = (
    BookCandidate("daily"),
    BookCandidate("buffer 0.1", (("hold_buffer", 0.1),)),
    BookCandidate("smooth 5", (("smooth_days", 5),)),
    BookCandidate("smooth 5, buffer 0.1", (("smooth_days", 5), ("hold_buffer", 0.1))),
    BookCandidate("smooth 10, buffer 0.2", (("smooth_days", 10), ("hold_buffer", 0.2))),
    BookCandidate("every 5 days", (("rebalance_every", 5),)),
    BookCandidate(
        "every 5 days, smooth 5, buffer 0.1",
        (("rebalance_every", 5), ("smooth_days", 5), ("hold_buffer", 0.1)),
    ),
    BookCandidate("every 10 days", (("rebalance_every", 10),)),
    BookCandidate("smooth 10, buffer 0.4", (("smooth_days", 10), ("hold_buffer", 0.4))),
    BookCandidate("smooth 20, buffer 0.3", (("smooth_days", 20), ("hold_buffer", 0.3))),
    BookCandidate(
        "every 5 days, smooth 5, buffer 0.3",
        (("rebalance_every", 5), ("smooth_days", 5), ("hold_buffer", 0.3)),
    ),
)
"""The fixed turnover variants of ``select = "valid"`` (:mod:`alpha_core.portfolio.turnover`), from
daily full rebalancing (the seed's books) to books held ten days, or smoothed over 20 days
with a wide buffer (slower variants, added when the slowest of the first seven were the
best net at 5 bps on the S&P 500's windows before the test: about 0.2-0.3 turnover a day
breaks even at a few bps where daily books need about 1 bp). Each is
scored on the validation window with the chosen model's validation predictions (the model
trained before the window) by the **net Sharpe ratio at the run's own costs**
(``cost_bps``, ``borrow_bps``) of its long-short books there: the first in this order (the
simplest) that is within one standard error of the best (:func:`one_standard_error_pick`),
so "daily" unless another is better net beyond the noise. Chosen only when
the run gives none of the turnover settings itself; they are variants of one signal, so
they are recorded (``book_candidates`` in the model's sidecar) but not counted as trials of
the deflated Sharpe ratio."""

TURNOVER_FIELDS = ("rebalance_every", "hold_buffer", "smooth_days", "max_turnover")
"""The run settings of :mod:`alpha_core.portfolio.turnover`."""

OPTIMIZER_CANDIDATES: tuple[BookCandidate, ...] = tuple(
    BookCandidate(name, (("trade_aversion", value),))
    for name, value in (
        ("costs as modelled", 1.0),
        ("trade aversion 2", 2.0),
        ("trade aversion 5", 5.0),
        ("trade aversion 10", 10.0),
        ("trade aversion 25", 25.0),
    )
)
"""The optimiser's variants of ``select = "valid"``: the cost as modelled (trade aversion 1,
the principled default) and costs weighted up, which stands for the holding period a
one-day forecast does not see (each trade is paid once and its alpha decays). Chosen like
the turnover variants, simplest first."""

OPTIMIZER_FIELDS = ("trade_aversion",)
"""The optimiser settings the selection may choose (kept when the run gives them)."""


def book_candidates(config: RunConfig) -> tuple[BookCandidate, ...]:
    """The variants of the run's construction, simplest first."""
    return OPTIMIZER_CANDIDATES if config.construction == "optimizer" else BOOK_CANDIDATES


def gives_books(config: RunConfig) -> bool:
    """True when the run sets itself a setting the book choice would choose (the selection
    then keeps them): the turnover settings of rank books, the optimiser's trade aversion."""
    fields = OPTIMIZER_FIELDS if config.construction == "optimizer" else TURNOVER_FIELDS
    default = RunConfig()
    return any(getattr(config, f) != getattr(default, f) for f in fields)


def one_standard_error_pick(returns: list[np.ndarray]) -> tuple[int, list[float]]:
    """The first (simplest) candidate whose validation Sharpe ratio is within one standard
    error of the best one's, and each candidate's gap to the best in standard errors.

    The candidates are variants of one signal on the same days, so the error that matters is
    that of the *difference* of two Sharpe ratios (Jobson-Korkie with Memmel's correction,
    :func:`~alpha_core.stats.returns.sharpe_difference_test`, on the paired daily returns):
    a variant not told apart from the best by one standard error is kept for its simplicity.
    """
    sharpes = [stats.sharpe_ratio(r) for r in returns]
    ok = [i for i, s in enumerate(sharpes) if math.isfinite(s)]
    if not ok:
        return 0, [math.nan] * len(returns)
    best = max(ok, key=lambda i: (sharpes[i], -i))
    gaps = []
    for r in returns:
        test = stats.sharpe_difference_test(returns[best], r)
        gaps.append(test["z"] if r is not returns[best] else 0.0)
    pick = next(i for i in ok if i == best or (math.isfinite(gaps[i]) and gaps[i] <= 1.0))
    return pick, gaps


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _scored(valid: pl.DataFrame, score: Any) -> pl.DataFrame:
    """Validation rows as predictions: scores, realised label and the sizing inputs present
    (those are the model's inputs there, after the run's feature transform)."""
    extra = [c for c in _SIZING_INPUTS if c in valid.columns]
    return valid.select("date", "asset", LABEL, *extra).with_columns(
        pl.Series(PREDICTION, score, dtype=pl.Float64)
    )


def book_score(
    preds: pl.DataFrame, config: RunConfig, market: Market | None = None
) -> dict[str, Any]:
    """Net and gross Sharpe, mean daily turnover and days held of ``config``'s books of
    ``preds`` (optimised books need the ``market``), and the daily net returns."""
    books, _ = form_books(preds, config, market)
    daily = add_costs(
        daily_returns(books, preds), books, preds["date"], config.cost_bps, config.borrow_bps
    )
    held = daily.filter((pl.col("n_long") + pl.col("n_short")) > 0)
    return {
        "valid_net_sharpe": stats.sharpe_ratio(held["long_short_net"].to_numpy()),
        "valid_sharpe": stats.sharpe_ratio(held["long_short"].to_numpy()),
        "valid_turnover": float(held["turnover"].mean()) if held.height else math.nan,
        "valid_days": held.height,
    }, daily["long_short_net"].to_numpy()


def choose_books(
    config: RunConfig, preds: pl.DataFrame, market: Market | None = None
) -> tuple[RunConfig, dict[str, Any]]:
    """``config`` with the variant of its construction (:func:`book_candidates`) chosen by
    :func:`one_standard_error_pick` on the validation net Sharpe, and the record
    (``book_candidates`` rows, ``chosen_books``, ``valid_net_sharpe``)."""
    candidates = book_candidates(config)
    rows, returns = [], []
    for candidate in candidates:
        settings = dict(candidate.settings)
        score, net = book_score(preds, config.replace(**settings), market)
        rows.append({"books": candidate.name, **score, **settings})
        returns.append(net)
    pick, gaps = one_standard_error_pick(returns)
    for i, r in enumerate(rows):
        r["chosen"] = i == pick
        r["se_below_best"] = gaps[i]
    chosen = candidates[pick]
    meta = {
        "book_candidates": [{k: _finite(v) for k, v in r.items()} for r in rows],
        "chosen_books": chosen.name,
        "valid_net_sharpe": rows[pick]["valid_net_sharpe"],
    }
    return config.replace(**dict(chosen.settings)), meta


def _refit(config: RunConfig, candidate: Candidate, params: Any) -> RunConfig:
    """The run's config training ``candidate`` with the parameters its fit on the validation
    window passed on (LightGBM: its trees, no early stopping), in its model type's block."""
    config = config.replace(label_transform=candidate.label_transform)
    return config if params is None else config.with_params(params)


SELECTION_SPAN = (0.05, 0.55)
"""Where the candidates' fits sit on a run's progress bar (start, width): most of a selecting
run's time, so the bar and its time-left estimate move while they train."""


def _candidate_progress(
    on_progress: OnProgress, k: int, candidates: tuple[Candidate, ...]
) -> Callable[[int, int], None]:
    """Progress of candidate ``k``'s fit, ``(trees done, trees at most)``, naming it."""
    start, width = SELECTION_SPAN
    n, name = len(candidates), candidates[k].name

    def progress(step: int, total: int) -> None:
        done = (k + (step / total if total else 0.0)) / n
        trees = f", {step}/{total} trees" if total else ""
        message = f"selecting: candidate {k + 1}/{n} ({name}){trees}"
        on_progress(Progress("selecting", start + width * done, k, n, step, total, message))

    return progress


def _score(
    candidate: Candidate,
    config: RunConfig,
    fit: pl.DataFrame,
    valid: pl.DataFrame,
    names: tuple[str, ...],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], Any, Any]:
    """The candidate's row of the table, its validation scores and its refit parameters."""
    t0 = time.perf_counter()
    train = transform_label(fit, candidate.label_transform)
    model = fit_model(
        train, names, candidate.params, config.seed, progress,
        model_type=config.model_type, valid=valid,
    )  # fmt: skip
    scores = model.valid_predictions()
    scores = model.predict(valid) if scores is None else scores
    ties = tie_summary(valid["date"], scores)
    p = candidate.params
    refit = type(model).refit_params(p, model)
    if not isinstance(p, ModelParams):
        ic = model.meta.get("valid_rank_ic")
        row = {
            "candidate": candidate.name,
            "label_transform": candidate.label_transform,
            "params": str(params_to_dict(p)),
            "valid_rank_ic": mean_daily_rank_ic(valid["date"], scores, valid[LABEL])
            if ic is None
            else ic,
            "valid_tie_share": ties["tie_share_mean"],
            "valid_tied_days": ties["tied_days"],
            "refused": ties["tied_days"] > 0,
            "n_train_rows": train.height,
            "n_valid_rows": valid.height,
            "seconds": time.perf_counter() - t0,
        }
        return row, scores, refit
    row = {
        "candidate": candidate.name,
        "label_transform": candidate.label_transform,
        "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves,
        "max_depth": p.max_depth,
        "min_data_in_leaf": p.min_data_in_leaf,
        "max_trees": p.n_estimators,
        "best_iteration": int(model.meta.get("best_iteration", p.n_estimators)),
        "raced_out_at": model.meta.get("raced_out_at"),
        "valid_rank_ic": model.meta.get("valid_rank_ic"),
        "valid_tie_share": ties["tie_share_mean"],
        "valid_tied_days": ties["tied_days"],
        "refused": ties["tied_days"] > 0,
        "n_train_rows": train.height,
        "n_valid_rows": valid.height,
        "seconds": time.perf_counter() - t0,
    }
    return row, scores, refit


def _pick(rows: list[dict[str, Any]]) -> int:
    """Index of the best validation rank IC among candidates not refused (first on equal)."""
    allowed = [
        i
        for i, r in enumerate(rows)
        if r["valid_rank_ic"] is not None
        and r["valid_rank_ic"] == r["valid_rank_ic"]  # not NaN
        and not r["refused"]
    ]
    if not allowed:
        raise ConfigError(
            "no candidate can be chosen: every one's validation predictions collapse into "
            "ties or have no rank IC (too few trees or assets in the validation window)",
            field="select",
        )
    return max(allowed, key=lambda i: (rows[i]["valid_rank_ic"], -i))


_MODEL_FLAGS = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "max_depth",
    "min_data_in_leaf",
    "feature_fraction",
    "bagging_fraction",
    "bagging_freq",
    "max_bin",
    "early_stopping_rounds",
    "bin_construct_sample_cnt",
)


def _flags(config: RunConfig, books: bool = False, params: Any = None) -> str:
    """The chosen settings as ``alpha run`` flags: the same run without selecting (with
    ``books``, its turnover settings too; ``params`` of a type other than LightGBM)."""
    parts = [f"--feature-set {config.feature_set}", f"--label-transform {config.label_transform}"]
    if config.features:
        parts.append(f"--features {','.join(config.features)}")
    if config.target_horizon != 1:
        parts.append(f"--target-horizon {config.target_horizon}")
    if params is not None and not isinstance(params, ModelParams):
        parts.append(f"--model-type {config.model_type}")
        for n, v in params_to_dict(params).items():
            v = ",".join(v) if isinstance(v, list) else v
            parts.append(f"--{n.replace('_', '-')} {v}")
    else:
        parts += [f"--{n.replace('_', '-')} {getattr(config.model, n)}" for n in _MODEL_FLAGS]
    if books:
        default = RunConfig()
        parts += [
            f"--{n.replace('_', '-')} {getattr(config, n)}"
            for n in TURNOVER_FIELDS
            if getattr(config, n) != getattr(default, n)
        ]
    return " ".join(parts)
