"""Declarative run settings: one declaration per field, from which everything else derives.

A config class is a frozen dataclass whose fields are declared with :func:`setting` (type from
the annotation; default, bounds or choices, label, help, Train-page section, CLI spelling and
widget hints in a :class:`Spec`). :func:`settings` resolves them (nested dataclasses flattened
to dotted paths such as ``model.learning_rate``); :func:`validate_fields` checks single fields;
:mod:`alpha_core.cli.main` builds the parser and :mod:`alpha_ui.config_form` the Train form from
the same list. The run's own declarations live in :mod:`alpha_core.config`.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

SECTIONS = ("Windows", "Model", "Books", "Costs & limits")
"""Train-page columns, in order."""
HIDDEN = "hidden"
"""Section of settings the Train form does not show (the data source, the feature subset)."""
CLOSED = ("both", "left", "right", "neither")

Choices = Sequence[str] | Callable[[], Sequence[str]]
"""Allowed values, or a zero-argument callable returning them (evaluated at each use)."""


class ConfigError(ValueError):
    """A run configuration that cannot be run.

    ``field`` is the offending field's path ("long_pct", "model.learning_rate") or None;
    ``problem`` is the message without the field name when the message is "<field> <problem>",
    so a front end can name the field its own way (the CLI prints the flag).
    """

    def __init__(self, message: str, field: str | None = None, problem: str | None = None):
        super().__init__(message)
        self.field = field
        self.problem = problem

    @classmethod
    def of_field(cls, path: str, problem: str) -> ConfigError:
        return cls(f"{path} {problem}", field=path, problem=problem)


@dataclass(frozen=True)
class Spec:
    """How one run setting is checked, shown and spelled; declared with :func:`setting`.

    Bounds follow scikit-learn's ``Interval``: ``lo``/``hi`` (None: unbounded) and ``closed``
    saying which ends are allowed ("both", "left", "right", "neither").
    """

    label: str
    help: str = ""
    section: str = HIDDEN
    lo: float | None = None
    hi: float | None = None
    closed: str = "both"
    choices: Choices | None = None
    flag: str | None = None
    """CLI spelling; default ``--`` + the field name with hyphens."""
    widget: str = ""
    """Form hint: "percent" (integer-percent slider), "slider", or "" (chosen by type)."""
    step: float | None = None
    fmt: str | None = None
    advanced: bool = False
    """Shown under "More" in its section of the form."""

    def __post_init__(self) -> None:
        if self.section not in (*SECTIONS, HIDDEN):
            raise ValueError(f"unknown section {self.section!r}; use one of {SECTIONS} or HIDDEN")
        if self.closed not in CLOSED:
            raise ValueError(f"closed must be one of {CLOSED}, got {self.closed!r}")


def names_of(table: Any) -> Callable[[], tuple[str, ...]]:
    """``choices`` reading the names of a registry (a dict or a tuple) at each use, so an
    entry added to it later (a plug-in, a test's toy item) is offered too."""

    def names() -> tuple[str, ...]:
        return tuple(table() if callable(table) else table)

    return names


def setting(default: Any, *, label: str, **spec: Any) -> Any:
    """Declare a config field: ``name: type = setting(default, label=..., lo=..., ...)``."""
    return field(default=default, metadata={"spec": Spec(label=label, **spec)})


@dataclass(frozen=True)
class Setting:
    """A declared field resolved against its class: path, value type, default and spec."""

    path: str
    kind: type
    """int, float, bool, str, date or tuple (a tuple of strings)."""
    optional: bool
    default: Any
    spec: Spec

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def flag(self) -> str:
        return self.spec.flag or "--" + self.name.replace("_", "-")

    @property
    def numeric(self) -> bool:
        return self.kind in (int, float)

    def options(self) -> tuple[str, ...] | None:
        choices = self.spec.choices
        if choices is None:
            return None
        return tuple(choices() if callable(choices) else choices)

    def within(self, value: float) -> bool:
        lo, hi, closed = self.spec.lo, self.spec.hi, self.spec.closed
        above = lo is None or (value >= lo if closed in ("both", "left") else value > lo)
        below = hi is None or (value <= hi if closed in ("both", "right") else value < hi)
        return above and below

    def describe(self) -> str:
        """What a valid value is, e.g. "in (0, 0.5]" or "an integer >= 20"."""
        if self.kind in (int, float):
            lo, hi, closed = self.spec.lo, self.spec.hi, self.spec.closed
            left, right = closed in ("both", "left"), closed in ("both", "right")
            if lo is not None and hi is not None:
                text = f"in {'[' if left else '('}{lo}, {hi}{']' if right else ')'}"
            elif lo is not None:
                text = f"{'>=' if left else '>'} {lo}"
            elif hi is not None:
                text = f"{'<=' if right else '<'} {hi}"
            else:
                text = "a number"
            text = f"an integer {text}" if self.kind is int and text != "a number" else text
        else:
            text = {bool: "true or false", date: "a date", tuple: "a list of strings"}.get(
                self.kind, "a string"
            )
        return f"{text} or None" if self.optional else text

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed (message without the field name), or None."""
        if value is None:
            return None if self.optional else f"must be {self.describe()}, got None"
        options = self.options()
        if options is not None and self.kind is tuple and _has_kind(value, tuple):
            unknown = [v for v in value if v not in options]  # a subset of the options
            return f"has unknown values {unknown}" if unknown else None
        if options is not None:
            return None if value in options else f"must be one of {options}, got {value!r}"
        if not _has_kind(value, self.kind):
            return f"must be {self.describe()}, got {value!r}"
        if self.numeric and not self.within(value):
            return f"must be {self.describe()}, got {value!r}"
        return None


def _has_kind(value: Any, kind: type) -> bool:
    if kind in (int, float):
        allowed = int if kind is int else (int, float)
        return isinstance(value, allowed) and not isinstance(value, bool)
    if kind is tuple:
        return isinstance(value, tuple) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


def _kind(hint: Any) -> tuple[Any, bool]:
    """(value type, whether None is allowed) of an annotation such as ``float | None``."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = len(args) < len(typing.get_args(hint)), args[0]
    return typing.get_origin(hint) or hint, optional


@functools.cache
def settings(cls: type) -> tuple[Setting, ...]:
    """Every declared setting of a config class, nested dataclasses flattened with dots."""
    hints = typing.get_type_hints(cls)
    out: list[Setting] = []
    for f in fields(cls):
        kind, optional = _kind(hints[f.name])
        if dataclasses.is_dataclass(kind):
            out += [dataclasses.replace(s, path=f"{f.name}.{s.path}") for s in settings(kind)]
        elif "spec" in f.metadata:
            out.append(Setting(f.name, kind, optional, f.default, f.metadata["spec"]))
        else:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting()")
    return tuple(out)


def setting_for(cls: type, path: str) -> Setting:
    return next(s for s in settings(cls) if s.path == path)


def get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def replace_paths(obj: Any, changes: Mapping[str, Any]) -> Any:
    """``obj`` with fields replaced by dotted path (``{"model.learning_rate": 0.1}``)."""
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in changes.items():
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, sub in nested.items():
        direct[head] = replace_paths(getattr(obj, head), sub)
    return dataclasses.replace(obj, **direct)


def validate_fields(obj: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for the first field whose value its spec refuses."""
    for s in settings(type(obj)):
        problem = s.problem(get_path(obj, s.path))
        if problem:
            raise ConfigError.of_field(prefix + s.path, problem)


def from_dict_of(cls: type, raw: Mapping[str, Any], prefix: str = "") -> Any:
    """Build ``cls`` from JSON values (ISO dates, lists, nested dicts); unknown keys refused."""
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - {f.name for f in fields(cls)})
    if unknown:
        raise ConfigError(f"unknown {prefix.rstrip('.') or 'config'} keys: {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        kind, _ = _kind(hints[key])
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            value = from_dict_of(kind, value, f"{prefix}{key}.")
        elif kind is date and isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError as exc:
                raise ConfigError(f"{key}: not an ISO date: {value!r}", field=prefix + key) from exc
        elif kind is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)
