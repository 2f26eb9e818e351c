"""Feature library plug-ins: the contract and their discovery through entry points.

A feature library is a :class:`FeatureLibrary` named in the ``alpha_lab.feature_libraries``
entry-point group (``pyproject.toml``): the seed's 12 (``alpha_core.features.library``) and
Alpha158 (``alpha_core.features.alpha158``) are the engine's own. Every feature of every
discovered library is selectable by name (``--features``); each library must pass
:func:`alpha_core.features.conformance.check_feature_library`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import polars as pl

from alpha_core.base.plugins import discover


class FeatureSpec(Protocol):
    """What a library says about one feature."""

    @property
    def name(self) -> str: ...
    @property
    def definition(self) -> str:
        """One line for people (docs, the Explain page)."""

    @property
    def needs(self) -> tuple[str, ...]:
        """Panel columns its values read (a run without one leaves the feature out)."""

    @property
    def warmup(self) -> int:
        """Bars of the asset's own history before the first value (the first are null)."""

    @property
    def categorical(self) -> bool:
        """An integer code (never ranked or scaled), not a quantity."""


@dataclass(frozen=True)
class FeatureLibrary:
    """A library of leak-free features: its catalogue and how to build any subset of it.

    ``build(panel, names)`` returns ``date, asset, <names...>``: one row per bar of the
    panel, sorted by asset then date, every value of (asset, t) computed from that asset's
    bars up to t, non-finite values as null.
    """

    name: str
    description: str
    """One line for people: what the library is."""
    features: Callable[[], Mapping[str, FeatureSpec]]
    """The catalogue by name, in order, read when asked (a library may grow at run time)."""
    build: Callable[[pl.DataFrame, tuple[str, ...]], pl.DataFrame]


BUILTINS = {
    "seed": "alpha_core.features.library:SEED_LIBRARY",
    "alpha158": "alpha_core.features.alpha158:LIBRARY",
}
"""The engine's libraries, in order (declared in ``pyproject.toml`` too)."""


@cache
def feature_libraries() -> dict[str, FeatureLibrary]:
    """Every discovered library by name: the built-ins first, then installed ones by name.

    Discovered on first use (Alpha158 loads numba, which a seed-only run does not need) and
    cached; :func:`clear_cache` forgets them.
    """
    found = discover("feature_libraries", builtins=BUILTINS)
    out = {}
    for name, plugin in found.items():
        if not isinstance(plugin.obj, FeatureLibrary):
            raise TypeError(f"feature library {name!r} ({plugin.target}) is not a FeatureLibrary")
        out[name] = plugin.obj
    return out


def clear_cache() -> None:
    """Forget the discovered libraries (after installing one in a running process)."""
    feature_libraries.cache_clear()


def owner(name: str) -> FeatureLibrary | None:
    """The first library (in discovery order) that offers feature ``name``."""
    for library in feature_libraries().values():
        if name in library.features():
            return library
    return None


def feature_spec(name: str) -> FeatureSpec | None:
    """What the library offering ``name`` says about it (None: no library offers it)."""
    library = owner(name)
    return None if library is None else library.features()[name]
