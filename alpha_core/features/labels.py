"""Label conventions: when a decision is traded and which forward return it earns, and the
longer training target (the ``target_horizon`` setting).

The label is the only column that looks ahead, and it is never a model input. Adding an
entry to :data:`LABELS` adds the option to the run config, the CLI and the Train page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

LABEL = "label"
LABEL_END = "label_end"
"""Date of the bar at which the label's return is fully known (for purging)."""
TARGET = "target"
TARGET_END = "target_end"
"""A longer-horizon training target and the date its return is fully known
(:func:`with_target`; present only when a run's ``target_horizon`` exceeds 1)."""


def forward_return(horizon: int, price: str = "close", lead: int = 0) -> pl.Expr:
    """``price[t+lead+horizon] / price[t+lead] - 1`` on an asset-sorted frame.

    The one definition of a forward return: the label and the IC-decay horizons use it.
    Apply ``.over("asset")`` (or mask each asset's last bars) so it never crosses assets.
    """
    return pl.col(price).shift(-(lead + horizon)) / pl.col(price).shift(-lead) - 1


@dataclass(frozen=True)
class LabelConvention:
    """When the decision is traded and which return it earns."""

    expr: Callable[[], pl.Expr]
    horizon: int
    """Bars from the decision close to the end of the label's return (the purge length)."""
    definition: str
    price: str = "close"
    """The price the return is measured on."""
    lead: int = 0
    """Bars from the decision close to the bar the position is entered at."""


LABELS: dict[str, LabelConvention] = {
    "close_to_close": LabelConvention(
        lambda: forward_return(1), 1, "decide at close t, earn close t -> close t+1"
    ),
    "open_to_open": LabelConvention(
        lambda: forward_return(1, "open", lead=1),
        2,
        "decide at close t, trade at the next open, earn open t+1 -> open t+2",
        price="open",
        lead=1,
    ),
}
"""Label (execution) conventions by name (the ``label`` setting). Adding an entry here adds
the option to the run config, the CLI and the Train page."""


def label_expr(convention: str) -> tuple[pl.Expr, int]:
    """Label expression and its horizon in bars for an execution convention."""
    if convention not in LABELS:
        raise ValueError(f"label convention must be one of {tuple(LABELS)}, got {convention!r}")
    chosen = LABELS[convention]
    return chosen.expr(), chosen.horizon


def target_expr(convention: str, horizon: int) -> tuple[pl.Expr, int]:
    """The ``horizon``-bar return under an execution convention (entered where its label
    is entered, held ``horizon`` bars), and the bars from the decision to its end."""
    label_expr(convention)  # refuses an unknown convention
    chosen = LABELS[convention]
    return forward_return(horizon, chosen.price, chosen.lead), chosen.lead + horizon


def with_target(
    feats: pl.DataFrame, panel: pl.DataFrame, convention: str, horizon: int
) -> pl.DataFrame:
    """``feats`` with the ``horizon``-bar training target (:data:`TARGET`) and the date it
    is fully known (:data:`TARGET_END`), both null on each asset's last bars; unchanged when
    ``horizon`` is 1 (the target is then the label itself).

    The target of (asset, t) reads the asset's prices up to bar t + lead + horizon; it is
    only a training target: predictions are always judged and booked on the label.
    """
    if horizon <= 1:
        return feats
    value, bars = target_expr(convention, horizon)
    frame = panel.select("date", "asset", LABELS[convention].price).sort("asset", "date")
    ok = pl.int_range(pl.len()).over("asset") < pl.len().over("asset") - bars
    target = frame.select(
        "date",
        "asset",
        pl.when(ok).then(value).alias(TARGET),
        pl.when(ok).then(pl.col("date").shift(-bars)).alias(TARGET_END),
    )
    target = target.with_columns(
        pl.when(pl.col(TARGET).is_finite()).then(pl.col(TARGET)).alias(TARGET)
    )
    return feats.join(target, on=["date", "asset"], how="left", maintain_order="left")


def as_training_target(feats: pl.DataFrame) -> pl.DataFrame:
    """Rows to train on: ``label`` replaced by :data:`TARGET` and ``label_end`` by the later
    of the two ends when the frame carries a target (so purging on ``label_end`` keeps every
    training target's window out of the validation and test windows); else ``feats``."""
    if TARGET not in feats.columns:
        return feats
    known = pl.col(TARGET).is_not_null() & pl.col(LABEL).is_not_null()
    return feats.with_columns(
        pl.col(TARGET).alias(LABEL),
        pl.when(known).then(pl.max_horizontal(LABEL_END, TARGET_END)).alias(LABEL_END),
    ).drop(TARGET, TARGET_END)
