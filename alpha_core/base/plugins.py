"""Plug-in discovery: model types, data readers and feature libraries found by entry point.

Each kind of plug-in has an entry-point group (:data:`GROUPS`). A distribution offers a
plug-in by naming an object in its ``pyproject.toml``::

    [project.entry-points."alpha_lab.model_types"]
    ridge = "my_package.ridge:RidgeModel"

Alpha Lab's own plug-ins are declared the same way in its ``pyproject.toml``; the
``builtins`` a caller passes are used only when the distribution's metadata is absent
(a source checkout that was never installed), so the engine still finds its own.

This module is the one place where code is imported by name (``EntryPoint.load``); the
architecture test allows string imports here and nowhere else. Every plug-in must pass its
kind's conformance suite (``alpha_core.models.conformance``, ``alpha_core.data.conformance``,
``alpha_core.features.conformance``) before it is offered to users.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

GROUPS = {
    "model_types": "alpha_lab.model_types",
    "readers": "alpha_lab.readers",
    "feature_libraries": "alpha_lab.feature_libraries",
}
"""Plug-in kind -> entry-point group."""


class PluginError(RuntimeError):
    """A plug-in that cannot be loaded: names the group, the entry point and the cause."""


@dataclass(frozen=True)
class Found:
    """One discovered plug-in: its name, where it points (``module:attr``) and its object."""

    name: str
    target: str
    obj: Any


def entry_points(kind: str) -> dict[str, str]:
    """``name -> "module:attr"`` of every installed entry point of ``kind``."""
    group = GROUPS[kind]
    return {ep.name: ep.value for ep in metadata.entry_points(group=group)}


def load_target(target: str) -> Any:
    """The object ``"package.module:attr"`` names (the one string import of the engine)."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def discover(kind: str, builtins: Mapping[str, str]) -> dict[str, Found]:
    """Every plug-in of ``kind``: the built-ins first (in their order), then the others by
    name. Raises :class:`PluginError` naming a plug-in whose target cannot be imported."""
    targets = dict(builtins)
    installed = entry_points(kind)
    targets.update(installed)
    order = [*builtins, *sorted(n for n in installed if n not in builtins)]
    found: dict[str, Found] = {}
    for name in order:
        try:
            found[name] = Found(name, targets[name], load_target(targets[name]))
        except Exception as exc:  # a broken plug-in is named, never a bare traceback
            raise PluginError(
                f"{GROUPS[kind]} plug-in {name!r} ({targets[name]}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return found
