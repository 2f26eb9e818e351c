"""Leak-free daily features, the feature sets a run chooses from, and the next-day label.

Two libraries of features: the seed's (``FEATURES`` below) and Qlib's Alpha158
(:mod:`alpha_core.features.alpha158`, imported on first use). A *feature set* (``FEATURE_SETS``) names
a list of features drawn from them: ``seed12`` (the seed's 12, the default) or ``alpha158``
(every Alpha158 feature the panel's columns allow). A run uses its set's features, or the
subset it names (``RunConfig.features``, from either library); :func:`build_features`
builds the label and any mix of features.

Every feature for (asset, date t) is computed from that asset's bars up to and including t,
counted on the asset's own bar sequence (``lag k`` = k bars earlier). The label is the only
column that looks ahead, and it is never a model input.

To add a feature, add one :class:`Feature` to ``FEATURES``: its name, a one-line definition
(shown in the docs and the app) and a polars expression over the sorted panel. The
expression may use ``lag(col, k)`` and ``rolling_*`` helpers below; the first ``warmup``
bars of each asset are set to null automatically. ``needs`` names the panel columns it
reads: a run on data without one of them leaves the feature out and says so
(:mod:`alpha_core.research.contract`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from alpha_core.data.panel import strictly_increasing

LABEL = "label"
LABEL_END = "label_end"
"""Date of the bar at which the label's return is fully known (for purging)."""
TARGET = "target"
TARGET_END = "target_end"
"""A longer-horizon training target and the date its return is fully known
(:func:`with_target`; present only when a run's ``target_horizon`` exceeds 1)."""


@dataclass(frozen=True)
class Feature:
    """One model input: name, one-line definition, expression, bars of history it needs."""

    name: str
    definition: str
    expr: Callable[[], pl.Expr]
    warmup: int = 0
    categorical: bool = False
    needs: tuple[str, ...] = ("close",)
    """Panel columns the expression reads (``()`` for calendar and metadata features)."""


def _lag(col: str, k: int) -> pl.Expr:
    # Shift on the whole asset-sorted column; the warmup mask removes cross-asset bleed.
    return pl.col(col).shift(k)


def _ln_ret() -> pl.Expr:
    # Null on each asset's first bar, so no other asset's close enters a rolling window.
    return pl.when(pl.col("_bar") >= 1).then((pl.col("close") / _lag("close", 1)).log())


def _rolling_mean(value: pl.Expr, window: int) -> pl.Expr:
    # Per asset: polars' incremental rolling kernels carry floating-point state along the
    # column, so one asset's later bars could otherwise nudge another asset's values.
    return value.rolling_mean(window).over("asset")


def _rolling_std(value: pl.Expr, window: int) -> pl.Expr:
    return value.rolling_std(window).over("asset")


def _zscore(col: str, window: int) -> pl.Expr:
    return (pl.col(col) - _rolling_mean(pl.col(col), window)) / _rolling_std(pl.col(col), window)


FEATURES: tuple[Feature, ...] = (
    Feature("ln_ret_1", "log return of the last bar: ln(close_t / close_t-1)", _ln_ret, 1),
    Feature(
        "mom_5",
        "5-bar momentum: close_t / close_t-5 - 1",
        lambda: pl.col("close") / _lag("close", 5) - 1,
        5,
    ),
    Feature(
        "mom_20",
        "20-bar momentum: close_t / close_t-20 - 1",
        lambda: pl.col("close") / _lag("close", 20) - 1,
        20,
    ),
    Feature(
        "vol_5",
        "5-bar realised volatility: sample std of ln_ret_1 over bars t-4..t",
        lambda: _rolling_std(_ln_ret(), 5),
        5,
    ),
    Feature(
        "vol_20",
        "20-bar realised volatility: sample std of ln_ret_1 over bars t-19..t",
        lambda: _rolling_std(_ln_ret(), 20),
        20,
    ),
    Feature(
        "vol_z_20",
        "volume z-score: (volume_t - mean) / std of volume over bars t-19..t",
        lambda: _zscore("volume", 20),
        19,
        needs=("volume",),
    ),
    Feature(
        "gap_pc",
        "overnight gap: open_t / close_t-1 - 1",
        lambda: pl.col("open") / _lag("close", 1) - 1,
        1,
        needs=("open", "close"),
    ),
    Feature(
        "price_sma20_dev",
        "distance from the 20-bar mean close: close_t / SMA20_t - 1",
        lambda: pl.col("close") / _rolling_mean(pl.col("close"), 20) - 1,
        19,
    ),
    Feature(
        "hl_range_pc",
        "intraday range: (high_t - low_t) / close_t",
        lambda: (pl.col("high") - pl.col("low")) / pl.col("close"),
        0,
        needs=("high", "low", "close"),
    ),
    Feature("month", "calendar month of t (1-12)", lambda: pl.col("date").dt.month(), 0, needs=()),
    Feature(
        "day_of_week",
        "weekday of t (0 = Monday .. 4 = Friday)",
        lambda: pl.col("date").dt.weekday() - 1,
        0,
        needs=(),
    ),
    Feature(
        "sector_id",
        "sector code, numbered in order of the sector's first appearance in the data",
        lambda: pl.col("sector_id"),
        0,
        categorical=True,
        needs=(),
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
"""The default feature set: the founding document's 12."""
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
"""Every feature a run may select (``RunConfig.features``), by name."""
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.categorical)
DATE_LEVEL_FEATURES = ("month", "day_of_week")
"""Features that are the same for every asset on a date (never ranked across assets)."""

FeatureSet = Callable[[Sequence[str]], tuple[str, ...]]
"""``feature_set(panel_columns) -> feature names``: a named list of features."""


def _alpha158() -> Any:
    # Imported on first use: it loads numba, which a seed12 run does not need.
    return importlib.import_module("alpha_core.features.alpha158")


FEATURE_SETS: dict[str, FeatureSet] = {
    "seed12": lambda _columns: FEATURE_NAMES,
    "alpha158": lambda columns: _alpha158().available_names(columns),
}
"""Feature sets by name (the ``feature_set`` setting). Adding an entry here adds the option to
the run config, the CLI and the Train page. ``alpha158`` leaves out what the panel cannot
compute (``VWAP0`` without a ``vwap`` column)."""


def set_features(feature_set: str, columns: Sequence[str]) -> tuple[str, ...]:
    """The features of ``feature_set`` for a panel with these columns."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature set must be one of {tuple(FEATURE_SETS)}, got {feature_set!r}")
    return tuple(FEATURE_SETS[feature_set](columns))


def run_features(
    feature_set: str, features: Sequence[str], columns: Sequence[str]
) -> tuple[str, ...]:
    """A run's model inputs: its named ``features`` when any, else its set's."""
    return tuple(features) or set_features(feature_set, columns)


def all_feature_names() -> tuple[str, ...]:
    """Every selectable feature: the seed library's (with registered ones), then Alpha158's."""
    return (*FEATURES_BY_NAME, *_alpha158().ALPHA158_BY_NAME)


def definitions() -> dict[str, str]:
    """One-line definition of every selectable feature, by name (docs, Explain page)."""
    seed = {name: f.definition for name, f in FEATURES_BY_NAME.items()}
    return {**seed, **{n: f.definition for n, f in _alpha158().ALPHA158_BY_NAME.items()}}


def register_feature(feature: Feature) -> Feature:
    """Make ``feature`` selectable by name (``--features``, the Train form, saved runs)."""
    if feature.name in FEATURES_BY_NAME:
        raise ValueError(f"a feature named {feature.name!r} is already registered")
    FEATURES_BY_NAME[feature.name] = feature
    return feature


def is_categorical(name: str) -> bool:
    """True for a registered categorical code (e.g. ``sector_id``)."""
    feature = FEATURES_BY_NAME.get(name)
    return feature is not None and feature.categorical


def sector_codes(panel: pl.DataFrame) -> pl.DataFrame:
    """Map each sector to an integer by order of first appearance (date, then name).

    First-appearance order means bars after any date T never change a code used before T,
    unlike alphabetical codes, which a sector listed later could shift.
    """
    sectors = _sector_column(panel)
    first = (
        panel.select("date", sectors.alias("sector"))
        .group_by("sector")
        .agg(pl.col("date").min().alias("first_date"))
        .sort("first_date", "sector")
    )
    return first.with_columns(pl.int_range(pl.len(), dtype=pl.Int32).alias("sector_id")).select(
        "sector", "sector_id"
    )


def _sector_column(panel: pl.DataFrame) -> pl.Expr:
    if "sector" in panel.columns:
        return pl.col("sector").fill_null("unknown")
    return pl.lit("unknown")


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


def build_features(
    panel: pl.DataFrame,
    label: str = "close_to_close",
    features: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Features and label for every (date, asset) bar of a canonical panel.

    Returns ``date, asset, <features...>, label, label_end`` sorted by asset then date.
    Rows inside an asset's warmup have null features; non-finite values become null.
    ``features`` may name features of either library (None: the seed's 12); Alpha158's are
    Float32 (:func:`alpha_core.features.alpha158.build_alpha158`).
    """
    names = tuple(features) if features else FEATURE_NAMES
    _check_known(names)
    alpha = tuple(n for n in names if n not in FEATURES_BY_NAME)
    if not alpha:
        return _build_seed(panel, label, names)
    frame = _build_seed(panel, label, tuple(n for n in names if n in FEATURES_BY_NAME))
    extra = _alpha158().build_alpha158(panel, alpha)
    if not frame.select("date", "asset").equals(extra.select("date", "asset")):
        extra = frame.select("date", "asset").join(extra, on=["date", "asset"], how="left")
    frame = pl.concat([frame, extra.drop("date", "asset")], how="horizontal")
    return frame.select("date", "asset", *names, LABEL, LABEL_END)


def _check_known(names: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in FEATURES_BY_NAME]
    if unknown:
        unknown = [n for n in unknown if n not in _alpha158().ALPHA158_BY_NAME]
    if unknown:
        raise ValueError(
            f"unknown features: {', '.join(unknown)}; known: the seed's "
            f"{tuple(FEATURES_BY_NAME)} and Alpha158's (docs/alpha158.md)"
        )


def _build_seed(panel: pl.DataFrame, label: str, names: tuple[str, ...]) -> pl.DataFrame:
    """Label and seed-library features (see :func:`build_features`)."""
    selected = [FEATURES_BY_NAME[n] for n in names]
    label_value, horizon = label_expr(label)
    codes = sector_codes(panel)
    # A mapping, not a join: no hash join and no copy of the panel beyond the new column.
    sector_id = _sector_column(panel).replace_strict(
        codes["sector"], codes["sector_id"], return_dtype=pl.Int32
    )
    if codes.height == 0:  # an empty mapping would keep the string dtype
        sector_id = pl.lit(None, dtype=pl.Int32)
    frame = panel.with_columns(sector_id.alias("sector_id"))
    if strictly_increasing(frame):  # canonical panels are: skip a 15M-row sort, and say
        # so, which lets the per-asset windows below use polars' sorted-key fast path
        frame = frame.with_columns(pl.col("asset").set_sorted())
    else:
        frame = frame.sort("asset", "date")
    frame = frame.with_columns(
        pl.int_range(pl.len()).over("asset").alias("_bar"),
        pl.len().over("asset").alias("_n_bars"),
    )
    label_ok = pl.col("_bar") < pl.col("_n_bars") - horizon
    values = [_masked(f) for f in selected] + [pl.when(label_ok).then(label_value).alias(LABEL)]
    # One lazy plan, run by the in-memory engine (the streaming engine runs the per-asset
    # rolling windows about 2x slower); non-finite floats become null in the same plan.
    lazy = frame.lazy().select(
        "date",
        "asset",
        *values,
        pl.when(label_ok).then(pl.col("date").shift(-horizon)).alias(LABEL_END),
    )
    return _finite(lazy, [f.name for f in selected] + [LABEL]).collect(engine="in-memory")


def _masked(feature: Feature) -> pl.Expr:
    value = feature.expr()
    if feature.warmup:
        value = pl.when(pl.col("_bar") >= feature.warmup).then(value)
    return value.alias(feature.name)


def _finite(frame: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    schema = frame.collect_schema()
    floats = [c for c in columns if schema[c].is_float()]
    return frame.with_columns(
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c) for c in floats
    )


def model_rows(frame: pl.DataFrame, features: tuple[str, ...]) -> pl.Expr:
    """Rows a model may see: every numeric feature present (warmup and bad bars drop out)."""
    numeric = [f for f in features if not is_categorical(f)]
    return pl.all_horizontal(pl.col(c).is_not_null() for c in numeric)


def feature_table() -> str:
    """The Markdown table of every registered feature (docs/features.md shows it)."""
    rows = [f"| `{f.name}` | {f.definition} |" for f in FEATURES_BY_NAME.values()]
    return "\n".join(["| feature | definition |", "|---|---|", *rows])


if (
    __name__ == "__main__"
):  # python -m alpha_core.features.library > table: regenerate the docs table
    print(feature_table())
