"""Qlib's Alpha158 feature set, computed per asset in polars.

The 158 definitions are Qlib 0.9.7's ``Alpha158DL.get_feature_config`` defaults: 9 K-bar
shapes, 4 prices relative to the close (window 0) and 29 rolling operator families at windows
5, 10, 20, 30 and 60. Qlib's conventions are kept where they define a value: ``Std`` is the
sample std (ddof 1), ``Quantile`` interpolates linearly, ``Rank`` is the average-tie
percentile of the last value in its window, ``Slope``/``Rsquare``/``Resi`` regress on the bar
index 1..d, ``IdxMax``/``IdxMin`` are 1-based positions of the first extreme from the window's
oldest bar, the ``+1e-12`` guards are Qlib's, and ``Rsquare``/``Corr`` are null where an
input's rolling std is within 2e-5 of 0 (Qlib's ``np.isclose(std, 0, atol=2e-05)``).

Where we differ from Qlib (see ``docs/alpha158.md``): windows count the asset's own bars, not
calendar rows (Qlib pads an asset's missing days with NaN rows); a feature is null until its
window is full and whenever its window holds a missing value (Qlib's rolling operators use
``min_periods=1`` and skip NaNs); the output is float32 with non-finite values as null.

Every value for (asset, t) depends only on that asset's bars up to t. The previous bar's value
is null on an asset's first bar, so no other asset's price enters a window; a window that
reaches into the previous asset lies inside the warmup and is masked. Sums and means use
polars' weighted rolling sum, which adds up each window afresh; stds run per asset
(``.over("asset")``), because an incremental kernel may carry floating-point state from one
asset into the next; max, min and quantiles are exact functions of their window. The rolling
regression (slope, R², residual), arg-max/arg-min (which polars lacks) and the percentile
rank (polars' is unstable and several times slower) are numba kernels in
:mod:`alpha_core.features.rolling_kernels` that restart at every asset.

Features are built one window at a time over named rolling aggregates (``sum(_gain,5)``,
``std(close,20)`` ...), so an aggregate shared by several features is computed once and
only one window's aggregates are held in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.base.storage import write_atomic
from alpha_core.data.panel import strictly_increasing
from alpha_core.features.libraries import FeatureLibrary
from alpha_core.features.rolling_kernels import (
    rolling_arg_extreme,
    rolling_rank_pct,
    rolling_regression,
)

WINDOWS: tuple[int, ...] = (5, 10, 20, 30, 60)
EPS = 1e-12
"""Qlib's guard added to denominators that can be 0 (a flat bar, zero volume, no change)."""
FLAT_STD = 2e-5
"""Qlib's ``np.isclose(rolling std, 0, atol=2e-05)``: Rsquare and Corr are null below it."""
PRICE_INPUTS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Alpha158Feature:
    """One Alpha158 feature: Qlib's name, a one-line definition, its expression and warmup.

    ``warmup`` is the number of bars of the asset's own history the feature needs before bar
    t: the asset's first ``warmup`` bars are null. ``window`` is the rolling window (0 for the
    K-bar and price features) and ``columns`` the panel columns it reads.
    """

    name: str
    definition: str
    warmup: int
    expr: Callable[[], pl.Expr]
    window: int = 0
    columns: tuple[str, ...] = PRICE_INPUTS

    @property
    def needs(self) -> tuple[str, ...]:
        """The panel columns it reads (the feature-library contract's name for them)."""
        return self.columns

    @property
    def categorical(self) -> bool:
        """Never: every Alpha158 feature is a quantity."""
        return False


# ------------------------------------------------------------------ expression pieces
CLOSE, OPEN, HIGH, LOW, VOLUME = (pl.col(c) for c in ("close", "open", "high", "low", "volume"))


def _prev(value: pl.Expr) -> pl.Expr:
    # Null on each asset's first bar: the sorted column's shift would bring in another asset.
    return pl.when(pl.col("_bar") >= 1).then(value.shift(1))


def _greater(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    # Qlib's Greater (np.maximum) propagates missing values; max_horizontal would skip them.
    return pl.when(a >= b).then(a).when(a < b).then(b)


def _less(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(a <= b).then(a).when(a > b).then(b)


def _base_columns() -> dict[str, pl.Expr]:
    """Per-bar inputs of the rolling operators, computed once before any window."""
    change, vchange = CLOSE - _prev(CLOSE), VOLUME - _prev(VOLUME)
    ratio = CLOSE / _prev(CLOSE)
    return {
        "_gain": change.clip(lower_bound=0),
        "_loss": (-change).clip(lower_bound=0),
        "_abs_change": change.abs(),
        "_up": (_prev(CLOSE) < CLOSE).cast(pl.Float64),
        "_down": (_prev(CLOSE) > CLOSE).cast(pl.Float64),
        "_log_volume": (VOLUME + 1).log(),
        "_ratio": ratio,
        "_log_vratio": (VOLUME / _prev(VOLUME) + 1).log(),
        "_abs_ret_volume": (ratio - 1).abs() * VOLUME,
        "_close_x_log_volume": CLOSE * (VOLUME + 1).log(),
        "_ratio_x_log_vratio": ratio * (VOLUME / _prev(VOLUME) + 1).log(),
        "_vgain": vchange.clip(lower_bound=0),
        "_vloss": (-vchange).clip(lower_bound=0),
        "_abs_vchange": vchange.abs(),
    }


def _agg(op: str, column: str, d: int) -> pl.Expr:
    """A rolling aggregate column, ``op(column,d)``, computed by :func:`_aggregate` per window.

    Features are written over these named columns so an aggregate shared by several features
    (the sum of absolute changes in SUMP, SUMN and SUMD ...) is computed once.
    """
    return pl.col(f"{op}({column},{d})")


def _sum(column: str, d: int) -> pl.Expr:
    return _agg("sum", column, d)


def _mean(column: str, d: int) -> pl.Expr:
    return _sum(column, d) / d


def _std(column: str, d: int) -> pl.Expr:
    return _agg("std", column, d)


def _corr(a: str, b: str, product: str, d: int) -> pl.Expr:
    """Qlib's Corr: sample correlation, null where either input's std is within 2e-5 of 0."""
    std_a, std_b = _std(a, d), _std(b, d)
    cov = (_sum(product, d) - _sum(a, d) * _sum(b, d) / d) / (d - 1)
    return pl.when((std_a > FLAT_STD) & (std_b > FLAT_STD)).then(cov / (std_a * std_b))


def _share(top: str, total: str, d: int, minus: str | None = None) -> pl.Expr:
    """Qlib's SUMP/SUMN/SUMD family: sum(top) [- sum(minus)] over sum(total) + 1e-12."""
    numerator = _sum(top, d) if minus is None else _sum(top, d) - _sum(minus, d)
    return numerator / (_sum(total, d) + EPS)


# ---------------------------------------------------------------------- the registry
def _kbar() -> list[Alpha158Feature]:
    top, bottom = _greater(OPEN, CLOSE), _less(OPEN, CLOSE)
    rng = HIGH - LOW + EPS
    rows = [
        ("KMID", "(close - open) / open", lambda: (CLOSE - OPEN) / OPEN),
        ("KLEN", "(high - low) / open", lambda: (HIGH - LOW) / OPEN),
        ("KMID2", "(close - open) / (high - low + 1e-12)", lambda: (CLOSE - OPEN) / rng),
        ("KUP", "(high - max(open, close)) / open", lambda: (HIGH - top) / OPEN),
        ("KUP2", "(high - max(open, close)) / (high - low + 1e-12)", lambda: (HIGH - top) / rng),
        ("KLOW", "(min(open, close) - low) / open", lambda: (bottom - LOW) / OPEN),
        ("KLOW2", "(min(open, close) - low) / (high - low + 1e-12)", lambda: (bottom - LOW) / rng),
        ("KSFT", "(2 close - high - low) / open", lambda: (2 * CLOSE - HIGH - LOW) / OPEN),
        (
            "KSFT2",
            "(2 close - high - low) / (high - low + 1e-12)",
            lambda: (2 * CLOSE - HIGH - LOW) / rng,
        ),
    ]
    return [Alpha158Feature(n, f"K-bar: {d}", 0, e) for n, d, e in rows]


def _price() -> list[Alpha158Feature]:
    out = [
        Alpha158Feature(f"{c.upper()}0", f"{c}_t / close_t", 0, lambda c=c: pl.col(c) / CLOSE)
        for c in ("open", "high", "low")
    ]
    out.append(
        Alpha158Feature(
            "VWAP0",
            "vwap_t / close_t (null when the panel has no vwap column, as in Qlib)",
            0,
            lambda: pl.col("vwap") / CLOSE,
            columns=("close", "vwap"),
        )
    )
    return out


Family = tuple[str, str, int, Callable[[int], pl.Expr]]
"""(prefix, definition template with {d} and {d1} = d - 1, warmup offset, expr(d))."""

_FAMILIES: tuple[Family, ...] = (
    ("ROC", "close_t-{d} / close_t", 0, lambda d: CLOSE.shift(d) / CLOSE),
    (
        "MA",
        "mean of close over bars t-{d1}..t / close_t",
        -1,
        lambda d: _mean("close", d) / CLOSE,
    ),
    (
        "STD",
        "sample std of close over bars t-{d1}..t / close_t",
        -1,
        lambda d: _std("close", d) / CLOSE,
    ),
    (
        "BETA",
        "slope of close regressed on bar number 1..{d} over bars t-{d1}..t / close_t",
        -1,
        lambda d: _agg("slope", "close", d) / CLOSE,
    ),
    (
        "RSQR",
        "R² of that {d}-bar regression (null if the close's {d}-bar std <= 2e-5)",
        -1,
        lambda d: _agg("rsq", "close", d),
    ),
    (
        "RESI",
        "residual of close_t in that {d}-bar regression / close_t",
        -1,
        lambda d: _agg("resi", "close", d) / CLOSE,
    ),
    (
        "MAX",
        "max of high over bars t-{d1}..t / close_t",
        -1,
        lambda d: _agg("max", "high", d) / CLOSE,
    ),
    (
        "MIN",
        "min of low over bars t-{d1}..t / close_t",
        -1,
        lambda d: _agg("min", "low", d) / CLOSE,
    ),
    (
        "QTLU",
        "0.8 quantile (linear) of close over bars t-{d1}..t / close_t",
        -1,
        lambda d: _agg("q80", "close", d) / CLOSE,
    ),
    (
        "QTLD",
        "0.2 quantile (linear) of close over bars t-{d1}..t / close_t",
        -1,
        lambda d: _agg("q20", "close", d) / CLOSE,
    ),
    (
        "RANK",
        "percentile of close_t among closes t-{d1}..t (average rank of ties / {d})",
        -1,
        lambda d: _agg("rank", "close", d),
    ),
    (
        "RSV",
        "(close_t - {d}-bar min low) / ({d}-bar max high - {d}-bar min low + 1e-12)",
        -1,
        lambda d: (
            (CLOSE - _agg("min", "low", d)) / (_agg("max", "high", d) - _agg("min", "low", d) + EPS)
        ),
    ),
    (
        "IMAX",
        "1-based position of the first max high in bars t-{d1}..t (oldest = 1) / {d}",
        -1,
        lambda d: _agg("imax", "high", d) / d,
    ),
    (
        "IMIN",
        "1-based position of the first min low in bars t-{d1}..t (oldest = 1) / {d}",
        -1,
        lambda d: _agg("imin", "low", d) / d,
    ),
    (
        "IMXD",
        "(IMAX{d} position - IMIN{d} position) / {d}",
        -1,
        lambda d: (_agg("imax", "high", d) - _agg("imin", "low", d)) / d,
    ),
    (
        "CORR",
        "correlation of close and ln(volume + 1) over bars t-{d1}..t (null if either is flat)",
        -1,
        lambda d: _corr("close", "_log_volume", "_close_x_log_volume", d),
    ),
    (
        "CORD",
        "correlation of close_t/close_t-1 and ln(volume_t/volume_t-1 + 1) over {d} bars",
        0,
        lambda d: _corr("_ratio", "_log_vratio", "_ratio_x_log_vratio", d),
    ),
    (
        "CNTP",
        "share of the last {d} bars with close_t > close_t-1",
        0,
        lambda d: _mean("_up", d),
    ),
    (
        "CNTN",
        "share of the last {d} bars with close_t < close_t-1",
        0,
        lambda d: _mean("_down", d),
    ),
    (
        "CNTD",
        "CNTP{d} - CNTN{d}",
        0,
        lambda d: _mean("_up", d) - _mean("_down", d),
    ),
    (
        "SUMP",
        "sum of close gains / (sum of abs(close changes) + 1e-12) over {d} bars",
        0,
        lambda d: _share("_gain", "_abs_change", d),
    ),
    (
        "SUMN",
        "sum of close losses / (sum of abs(close changes) + 1e-12) over {d} bars",
        0,
        lambda d: _share("_loss", "_abs_change", d),
    ),
    (
        "SUMD",
        "(sum of gains - sum of losses) / (sum of abs(close changes) + 1e-12) over {d} bars",
        0,
        lambda d: _share("_gain", "_abs_change", d, minus="_loss"),
    ),
    (
        "VMA",
        "mean of volume over bars t-{d1}..t / (volume_t + 1e-12)",
        -1,
        lambda d: _mean("volume", d) / (VOLUME + EPS),
    ),
    (
        "VSTD",
        "sample std of volume over bars t-{d1}..t / (volume_t + 1e-12)",
        -1,
        lambda d: _std("volume", d) / (VOLUME + EPS),
    ),
    (
        "WVMA",
        "std / (mean + 1e-12) of abs(close_t/close_t-1 - 1) * volume_t over {d} bars",
        0,
        lambda d: _std("_abs_ret_volume", d) / (_mean("_abs_ret_volume", d) + EPS),
    ),
    (
        "VSUMP",
        "sum of volume rises / (sum of abs(volume changes) + 1e-12) over {d} bars",
        0,
        lambda d: _share("_vgain", "_abs_vchange", d),
    ),
    (
        "VSUMN",
        "sum of volume falls / (sum of abs(volume changes) + 1e-12) over {d} bars",
        0,
        lambda d: _share("_vloss", "_abs_vchange", d),
    ),
    (
        "VSUMD",
        "(sum of volume rises - falls) / (sum of abs(volume changes) + 1e-12) over {d} bars",
        0,
        lambda d: _share("_vgain", "_abs_vchange", d, minus="_vloss"),
    ),
)


def _rolling() -> list[Alpha158Feature]:
    # Qlib's order: each family at every window, family by family.
    return [
        Alpha158Feature(
            f"{prefix}{d}",
            template.format(d=d, d1=d - 1),
            d + offset,
            lambda expr=expr, d=d: expr(d),
            window=d,
        )
        for prefix, template, offset, expr in _FAMILIES
        for d in WINDOWS
    ]


ALPHA158: tuple[Alpha158Feature, ...] = (*_kbar(), *_price(), *_rolling())
ALPHA158_NAMES: tuple[str, ...] = tuple(f.name for f in ALPHA158)
ALPHA158_BY_NAME: dict[str, Alpha158Feature] = {f.name: f for f in ALPHA158}


def available_names(columns: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Alpha158 features a panel with these columns can compute (VWAP0 needs ``vwap``)."""
    have = set(columns)
    return tuple(f.name for f in ALPHA158 if have.issuperset(f.columns))


# ------------------------------------------------------------------------ the build
def build_alpha158(panel: pl.DataFrame, names: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Alpha158 features for every (date, asset) bar of a canonical panel.

    Returns ``date, asset, <features...>`` (all 158 in Qlib's order, or ``names`` in the
    order given) as Float32, sorted by asset then date. A feature is null on the asset's
    first ``warmup`` bars, where its window holds a missing value, and where it is not finite.
    VWAP0 reads a ``vwap`` column and is null without one.
    """
    selected = _select(names)
    frame = _prepare(panel)
    starts = _asset_starts(frame)
    parts = [frame.select("date", "asset")]
    # One window at a time: its rolling aggregates live only while its features are built.
    for d in sorted({f.window for f in selected}):
        features = [f for f in selected if f.window == d]
        roots = {c for f in features for c in f.expr().meta.root_names()}
        needed = sorted(c for c in roots if "(" in c)
        parts.append(_finished(frame.with_columns(_aggregates(frame, starts, needed)), features))
    out = pl.concat(parts, how="horizontal")
    return out.select("date", "asset", *(f.name for f in selected))


def _select(names: tuple[str, ...] | None) -> list[Alpha158Feature]:
    if not names:
        return list(ALPHA158)
    unknown = [n for n in names if n not in ALPHA158_BY_NAME]
    if unknown:
        raise ValueError(f"unknown Alpha158 features: {', '.join(unknown)}")
    return [ALPHA158_BY_NAME[n] for n in dict.fromkeys(names)]


def _prepare(panel: pl.DataFrame) -> pl.DataFrame:
    """Price columns as Float64 sorted by asset then date, ``_bar`` and the per-bar inputs."""
    vwap = pl.col("vwap") if "vwap" in panel.columns else pl.lit(None)
    frame = panel.select(
        "date",
        pl.col("asset").cast(pl.String),
        *(pl.col(c).cast(pl.Float64) for c in PRICE_INPUTS),
        vwap.cast(pl.Float64).alias("vwap"),
    )
    if strictly_increasing(frame):
        frame = frame.with_columns(pl.col("asset").set_sorted())
    else:
        frame = frame.sort("asset", "date")
    frame = frame.with_columns(pl.int_range(pl.len()).over("asset").alias("_bar"))
    return frame.with_columns(v.alias(k) for k, v in _base_columns().items())


def _asset_starts(frame: pl.DataFrame) -> np.ndarray:
    """Row offsets of each asset's segment in the sorted frame, and the end (n_assets + 1)."""
    lengths = frame.group_by("asset", maintain_order=True).len()["len"].to_numpy()
    return np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)


_AGG_NAME = re.compile(r"(\w+)\((\w+),(\d+)\)")


def _aggregates(frame: pl.DataFrame, starts: np.ndarray, names: list[str]) -> list:
    """The named rolling aggregates: polars expressions, or numba kernels' columns."""
    out: list = []
    regressions: set[int] = set()
    for name in names:
        op, column, window = _AGG_NAME.fullmatch(name).groups()  # type: ignore[union-attr]
        d = int(window)
        if op in _POLARS_OPS:
            out.append(_POLARS_OPS[op](pl.col(column), d).alias(name))
        elif op in _REGRESSION:
            regressions.add(d)
        else:
            out.append(pl.Series(name, _order_kernel(op, frame[column].to_numpy(), starts, d)))
    close = frame["close"].to_numpy()
    for d in sorted(regressions):
        fits = rolling_regression(close, starts, d, FLAT_STD)
        out += [
            pl.Series(f"{op}(close,{d})", v)
            for op, v in zip(_REGRESSION, fits, strict=True)
            if f"{op}(close,{d})" in names
        ]
    return out


_REGRESSION = ("slope", "rsq", "resi")


def _order_kernel(op: str, values: np.ndarray, starts: np.ndarray, d: int) -> np.ndarray:
    if op == "rank":
        return rolling_rank_pct(values, starts, d)
    return rolling_arg_extreme(values, starts, d, op == "imax")


_POLARS_OPS: dict[str, Callable[[pl.Expr, int], pl.Expr]] = {
    # polars' weighted rolling sum adds up every window afresh: no state runs along the
    # column, so a window reaching into the previous asset lies inside the warmup and is
    # masked. It rejects nulls, so a missing value becomes NaN and its windows end up null.
    "sum": lambda x, d: x.fill_null(np.nan).rolling_sum(d, weights=[1.0] * d),
    # The stable incremental std kernel carries floating-point state along the column: run
    # it per asset, so no asset's bars can touch another's values.
    "std": lambda x, d: x.rolling_std(d).over("asset"),
    # Order statistics are exact functions of the window: no partition needed.
    "max": lambda x, d: x.rolling_max(d),
    "min": lambda x, d: x.rolling_min(d),
    "q80": lambda x, d: x.rolling_quantile(0.8, "linear", d),
    "q20": lambda x, d: x.rolling_quantile(0.2, "linear", d),
}


def _finished(frame: pl.DataFrame, features: list[Alpha158Feature]) -> pl.DataFrame:
    """The features as Float32: null inside the warmup and wherever not finite."""
    values = frame.select("_bar", *(f.expr().cast(pl.Float32).alias(f.name) for f in features))
    return values.select(
        pl.when(pl.col(f.name).is_finite() & (pl.col("_bar") >= f.warmup))
        .then(pl.col(f.name))
        .alias(f.name)
        for f in features
    )


LIBRARY = FeatureLibrary(
    name="alpha158",
    description="Qlib's Alpha158: 158 price and volume features (docs/alpha158.md)",
    features=lambda: ALPHA158_BY_NAME,
    build=lambda panel, names: build_alpha158(panel, names),
)
"""Alpha158 as a feature-library plug-in (entry point ``alpha158``)."""


# ------------------------------------------------------------------------------ docs
DOCS = "docs/alpha158.md"
TABLE_START = (
    "<!-- registry table: generated by `python -m alpha_core.features.alpha158`, do not edit -->"
)
TABLE_END = "<!-- end of the generated table -->"


def registry_markdown() -> str:
    """The Markdown table of every feature (name, definition, warmup) for docs/alpha158.md."""
    cell = str.maketrans({"|": "\\|"})
    rows = [f"| `{f.name}` | {f.definition.translate(cell)} | {f.warmup} |" for f in ALPHA158]
    return "\n".join(["| feature | definition | warmup (bars) |", "|---|---|---|", *rows])


def _write_docs(root: Path) -> Path:
    """Replace the generated table in docs/alpha158.md with the registry's."""
    path = root / DOCS
    text = path.read_text()
    head, rest = text.split(TABLE_START, 1)
    tail = rest.split(TABLE_END, 1)[1]
    return write_atomic(path, f"{head}{TABLE_START}\n{registry_markdown()}\n{TABLE_END}{tail}")


if __name__ == "__main__":
    print(_write_docs(Path(__file__).resolve().parents[2]))
