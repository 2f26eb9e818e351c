"""The feature library conformance suite: what every library plug-in must do.

:func:`check_feature_library` proves a discovered library (``alpha_core.features.libraries``)
on a generated panel (:func:`alpha_core.data.conformance.reference_panel`): unique, described
names; the panel columns each feature reads are declared (altering any other column moves
nothing); one number per bar in the panel's order, never NaN or infinite; the declared
warmup is null; and no lookahead: features at dates up to a cut are identical when every bar
after the cut is altered or deleted, or a new asset appears after it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from alpha_core.data.conformance import reference_panel
from alpha_core.features.libraries import FeatureLibrary, feature_libraries

ALTERABLE = ("open", "high", "low", "close", "volume", "vwap")
"""Number columns of the generated panel; a feature not declaring one must ignore it."""
CUTS = (0.05, 0.3, 0.55, 0.8, 0.97)
"""Cut dates, as fractions of the generated panel's dates."""


class FeatureConformanceError(AssertionError):
    """A library that breaks the contract: names the library, the property and a feature."""


def conformance_panel(n_assets: int = 6, n_days: int = 90, seed: int = 3) -> pl.DataFrame:
    """The generated panel the suite builds on: staggered starts, a ``vwap`` and sectors."""
    panel = reference_panel(n_assets=n_assets, n_days=n_days, seed=seed, stagger=5)
    return panel.with_columns(
        ((pl.col("high") + pl.col("low") + pl.col("close")) / 3).alias("vwap"),
        pl.col("asset").str.slice(-1).cast(pl.Int32).mod(3).cast(pl.Utf8).alias("sector"),
    )


def check_feature_library(name: str) -> list[str]:
    """Run every check on the discovered library ``name``; return the checks passed.

    Raises :class:`FeatureConformanceError` naming the first property broken.
    """
    libraries = feature_libraries()
    if name not in libraries:
        raise FeatureConformanceError(
            f"no feature library named {name!r} (found {list(libraries)})"
        )
    library = libraries[name]
    earlier = {n for lib in list(libraries.values())[: list(libraries).index(name)] for n in
               lib.features()}  # fmt: skip
    panel = conformance_panel()
    checks = [
        ("declared", lambda: _declared(library, earlier)),
        ("numbers per bar", lambda: _numbers(library, panel)),
        ("subsets and order", lambda: _subsets(library, panel)),
        ("needs declared", lambda: _needs(library, panel)),
        ("warmup", lambda: _warmup(library, panel)),
        ("no lookahead", lambda: _no_lookahead(library, panel)),
    ]
    passed = []
    for label, check in checks:
        try:
            check()
        except FeatureConformanceError as exc:
            raise FeatureConformanceError(f"library {name!r}, {label}: {exc}") from None
        passed.append(label)
    return passed


def _fail(message: str) -> FeatureConformanceError:
    return FeatureConformanceError(message)


def _names(library: FeatureLibrary) -> tuple[str, ...]:
    return tuple(library.features())


def _declared(library: FeatureLibrary, earlier: set[str]) -> None:
    if not isinstance(library, FeatureLibrary):
        raise _fail(f"not a FeatureLibrary: {type(library).__name__}")
    if not library.description.strip() or "\n" in library.description.strip():
        raise _fail("needs a one-line description")
    features = library.features()
    if not features:
        raise _fail("offers no feature")
    for key, spec in features.items():
        if spec.name != key:
            raise _fail(f"{key!r} is catalogued under another name ({spec.name!r})")
        if key in earlier:
            raise _fail(f"{key!r} is already a feature of an earlier library")
        if key in ("date", "asset", "label", "label_end") or not key.isidentifier():
            raise _fail(f"{key!r} is not a usable feature name")
        text = spec.definition.strip()
        if not text or "\n" in text:
            raise _fail(f"{key!r} needs a one-line definition")
        if not all(isinstance(c, str) and c for c in spec.needs):
            raise _fail(f"{key!r} must declare its panel columns as names: {spec.needs!r}")
        if not isinstance(spec.warmup, int) or spec.warmup < 0:
            raise _fail(f"{key!r} has an invalid warmup {spec.warmup!r}")


def _build(library: FeatureLibrary, panel: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    frame = library.build(panel, names)
    if frame.columns != ["date", "asset", *names]:
        raise _fail(f"build returned columns {frame.columns[:6]}..., not date, asset, names")
    keys = panel.select("date", "asset").sort("asset", "date")
    if not frame.select("date", "asset").equals(keys):
        raise _fail("build must return one row per bar of the panel, by asset then date")
    return frame


def _numbers(library: FeatureLibrary, panel: pl.DataFrame) -> None:
    names = _names(library)
    frame = _build(library, panel, names)
    for name in names:
        s = frame[name]
        if not s.dtype.is_numeric():
            raise _fail(f"{name!r} is {s.dtype}, not a number")
        values = s.cast(pl.Float64)
        if not values.cast(s.dtype).equals(s, null_equal=True):
            raise _fail(f"{name!r} does not cast to float exactly")
        if s.dtype.is_float() and not values.drop_nulls().is_finite().all():
            raise _fail(f"{name!r} holds NaN or infinite values (they must be null)")
        if s.null_count() == s.len():
            raise _fail(f"{name!r} is null on every bar of the generated panel")
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=11)
    if not _build(library, shuffled, names).equals(frame, null_equal=True):
        raise _fail("a shuffled panel gave other values than the sorted one")


def _subsets(library: FeatureLibrary, panel: pl.DataFrame) -> None:
    names = _names(library)
    full = _build(library, panel, names)
    subset = tuple(reversed(names[::2]))
    part = _build(library, panel, subset)
    for name in subset:
        if not part[name].equals(full[name], null_equal=True):
            raise _fail(f"{name!r} differs when built with other features")


def _needs(library: FeatureLibrary, panel: pl.DataFrame) -> None:
    names = _names(library)
    features = library.features()
    full = _build(library, panel, names)
    for column in ALTERABLE:
        free = tuple(n for n in names if column not in features[n].needs)
        if not free:
            continue
        altered = panel.with_columns(pl.col(column) * 1.37 + 0.5)
        after = _build(library, altered, free)
        for name in free:
            if not after[name].equals(full[name], null_equal=True):
                raise _fail(f"{name!r} reads {column!r} without declaring it in needs")


def _warmup(library: FeatureLibrary, panel: pl.DataFrame) -> None:
    names = _names(library)
    frame = _build(library, panel, names).with_columns(
        pl.int_range(pl.len()).over("asset").alias("_bar")
    )
    for name in names:
        warm = frame.filter(pl.col("_bar") < library.features()[name].warmup)
        if warm[name].null_count() != warm.height:
            raise _fail(f"{name!r} has values inside its declared warmup")


def _no_lookahead(library: FeatureLibrary, panel: pl.DataFrame) -> None:
    names = _names(library)
    full = _build(library, panel, names)
    dates = panel["date"].unique().sort()
    newcomer = reference_panel(n_assets=1, n_days=40, seed=99, stagger=0).with_columns(
        pl.lit("Z99").alias("asset")
    )
    for fraction in CUTS:
        cut = dates[int(fraction * (dates.len() - 1))]
        later = pl.col("date") > cut
        futures = {
            "altered": panel.with_columns(
                pl.when(later).then(pl.col(c) * 1.7 + 0.3).otherwise(pl.col(c)).alias(c)
                for c in ALTERABLE
            ),
            "deleted": panel.filter(~later),
            "a new asset": pl.concat([panel, _after(newcomer, cut, panel)], how="diagonal_relaxed"),
        }
        before = full.filter(pl.col("date") <= cut)
        for what, future in futures.items():
            after = _build(library, future, names).filter(pl.col("date") <= cut)
            after = before.select("date", "asset").join(after, on=["date", "asset"], how="left")
            for name in names:
                if not after[name].equals(before[name], null_equal=True):
                    raise _fail(f"{name!r} moved at dates up to {cut} when later bars were {what}")


def _after(newcomer: pl.DataFrame, cut: dt.date, panel: pl.DataFrame) -> pl.DataFrame:
    """The newcomer's bars, moved to start the day after ``cut``, in the panel's columns."""
    shift = cut - newcomer["date"].min() + dt.timedelta(days=1)
    moved = newcomer.with_columns(pl.col("date") + shift)
    moved = moved.with_columns(
        ((pl.col("high") + pl.col("low") + pl.col("close")) / 3).alias("vwap"),
        pl.lit("9").alias("sector"),
    )
    return moved.select(panel.columns)
