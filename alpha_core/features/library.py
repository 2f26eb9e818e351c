"""The seed's leak-free daily features, and building any mix of features with the label.

Feature libraries are plug-ins (:mod:`alpha_core.features.libraries`): the seed's 12
(``FEATURES`` below, :data:`SEED_LIBRARY`) and Qlib's Alpha158
(:mod:`alpha_core.features.alpha158`), plus any installed through the
``alpha_lab.feature_libraries`` entry points. A run uses its frozen feature set's names
(:mod:`alpha_core.features.sets`) or the subset it names (``RunConfig.features``, from any
library); :func:`build_features` builds the label (:mod:`alpha_core.features.labels`) and
any mix of features.

Every feature for (asset, date t) is computed from that asset's bars up to and including t,
counted on the asset's own bar sequence (``lag k`` = k bars earlier). The label is the only
column that looks ahead, and it is never a model input.

To add a seed feature, add one :class:`Feature` to ``FEATURES`` (or :func:`register_feature`):
its name, a one-line definition (shown in the docs and the app) and a polars expression over
the sorted panel. The expression may use ``lag(col, k)`` and ``rolling_*`` helpers below;
the first ``warmup`` bars of each asset are set to null automatically. ``needs`` names the
panel columns it reads: a run on data without one of them leaves the feature out and says
so (:mod:`alpha_core.research.contract`). No feature set changes by it: sets are frozen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from alpha_core.data.panel import strictly_increasing
from alpha_core.features.labels import (
    LABEL,
    LABEL_END,
    LABELS,
    TARGET,
    TARGET_END,
    LabelConvention,
    as_training_target,
    forward_return,
    label_expr,
    target_expr,
    with_target,
)
from alpha_core.features.libraries import FeatureLibrary, feature_libraries, feature_spec
from alpha_core.features.sets import (
    FEATURE_SETS,
    SEED12,
    FeatureSet,
    run_features,
    set_features,
)

__all__ = [  # the labels and sets are re-exported: config and many callers read them here
    "CATEGORICAL_FEATURES",
    "DATE_LEVEL_FEATURES",
    "FEATURES",
    "FEATURES_BY_NAME",
    "FEATURE_NAMES",
    "FEATURE_SETS",
    "LABEL",
    "LABELS",
    "LABEL_END",
    "SEED_LIBRARY",
    "TARGET",
    "TARGET_END",
    "Feature",
    "FeatureSet",
    "LabelConvention",
    "all_feature_names",
    "as_training_target",
    "build_features",
    "definitions",
    "feature_table",
    "forward_return",
    "is_categorical",
    "label_expr",
    "model_rows",
    "register_feature",
    "run_features",
    "sector_codes",
    "set_features",
    "target_expr",
    "with_target",
]


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


FEATURE_NAMES: tuple[str, ...] = SEED12
"""The default feature set: the founding document's 12 (frozen: ``sets.SEED12``)."""
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
"""Every seed-library feature a run may select (``RunConfig.features``), by name."""
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.categorical)
DATE_LEVEL_FEATURES = ("month", "day_of_week")
"""Features that are the same for every asset on a date (never ranked across assets)."""


def all_feature_names() -> tuple[str, ...]:
    """Every selectable feature: every discovered library's, the seed's first."""
    names = (n for library in feature_libraries().values() for n in library.features())
    return tuple(dict.fromkeys(names))


def definitions() -> dict[str, str]:
    """One-line definition of every selectable feature, by name (docs, Explain page)."""
    out: dict[str, str] = {}
    for library in feature_libraries().values():
        for name, spec in library.features().items():
            out.setdefault(name, spec.definition)
    return out


def register_feature(feature: Feature) -> Feature:
    """Make ``feature`` selectable by name (``--features``, the Train form, saved runs)."""
    if feature.name in FEATURES_BY_NAME:
        raise ValueError(f"a feature named {feature.name!r} is already registered")
    FEATURES_BY_NAME[feature.name] = feature
    return feature


def is_categorical(name: str) -> bool:
    """True for a categorical code (e.g. ``sector_id``) of any library."""
    feature = FEATURES_BY_NAME.get(name)
    if feature is not None:
        return feature.categorical
    spec = feature_spec(name)
    return spec is not None and bool(spec.categorical)


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


def build_features(
    panel: pl.DataFrame,
    label: str = "close_to_close",
    features: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Features and label for every (date, asset) bar of a canonical panel.

    Returns ``date, asset, <features...>, label, label_end`` sorted by asset then date.
    Rows inside an asset's warmup have null features; non-finite values become null.
    ``features`` may name features of any library (None: the seed's 12); each library
    builds its own (Alpha158's are Float32, :func:`alpha_core.features.alpha158.build_alpha158`).
    """
    names = tuple(features) if features else FEATURE_NAMES
    _check_known(names)
    others = tuple(n for n in names if n not in FEATURES_BY_NAME)
    if not others:
        return _build_seed(panel, label, names)
    frame = _build_seed(panel, label, tuple(n for n in names if n in FEATURES_BY_NAME))
    keys = frame.select("date", "asset")
    for library in feature_libraries().values():
        mine = tuple(n for n in others if n in library.features())
        if not mine:
            continue
        others = tuple(n for n in others if n not in mine)
        extra = library.build(panel, mine)
        if not keys.equals(extra.select("date", "asset")):
            extra = keys.join(extra, on=["date", "asset"], how="left")
        frame = pl.concat([frame, extra.select(mine)], how="horizontal")
    return frame.select("date", "asset", *names, LABEL, LABEL_END)


def _check_known(names: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in FEATURES_BY_NAME]
    if unknown:
        known = set(all_feature_names())
        unknown = [n for n in unknown if n not in known]
    if unknown:
        more = [n for n in feature_libraries() if n not in ("seed", "alpha158")]
        raise ValueError(
            f"unknown features: {', '.join(unknown)}; known: the seed's "
            f"{tuple(FEATURES_BY_NAME)} and Alpha158's (docs/alpha158.md)"
            + (f", and the libraries {', '.join(more)}" if more else "")
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


def _seed_build(panel: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    return _build_seed(panel, "close_to_close", names).drop(LABEL, LABEL_END)


SEED_LIBRARY = FeatureLibrary(
    name="seed",
    description="the seed's 12 daily features (momentum, volatility, volume, gap, calendar, "
    "sector)",
    features=lambda: FEATURES_BY_NAME,
    build=_seed_build,
)
"""The seed library as a plug-in (entry point ``seed``)."""


if __name__ == "__main__":  # python -m alpha_core.features.library > table: the docs table
    print(feature_table())
