"""A sweep file (``alpha sweep --grid FILE`` or ``--space FILE``), read as untrusted input.

Everything is checked before a trial is built or anything runs, and each problem is one
:class:`SweepFileError` line naming the file, the key and the problem:

* only a regular file is opened (a folder, FIFO or device is refused from its ``stat``,
  never opened), of at most :data:`MAX_FILE_BYTES`, UTF-8 text and valid TOML;
* its tables are ``[base]`` (settings for every trial) and ``[grid]`` (``--grid``) or
  ``[space]`` (``--space``), which it must have, and nothing else;
* every key is a run setting's name (:func:`alpha_core.base.settings.settings`); a model
  parameter's dotted name is quoted (``"model.num_leaves" = [...]``): TOML reads a bare
  ``model.num_leaves`` as a nested table, which is refused with that hint. Settings the
  sweep sets itself (:data:`SWEEP_OWNED`) are refused, and so is varying the data source;
* every ``[grid]``/``[space]`` entry is a non-empty list of distinct values, and every
  value (each list's and each ``[base]`` one) is checked by its setting's declaration (type,
  range, choices), as the CLI checks a flag;
* the trials are **counted before they are built**: the product of the lists' lengths,
  computed arithmetically, and a grid over :data:`MAX_TRIALS` is refused at once.

:func:`check_space` does the last three for a table given in code (``grid_trials``,
``search_trials`` and the default search space go through it too).
"""

from __future__ import annotations

import difflib
import math
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from alpha_core.base.settings import ConfigError, Setting, settings
from alpha_core.research.config import RunConfig

MAX_TRIALS = 10_000
"""The most trials a grid (or ``--search N``) may make: a larger one is refused before any
trial is built (a sweep of more is several sweeps, or a random search of a large space)."""
MAX_FILE_BYTES = 1 << 20
"""The largest sweep file read (1 MiB; a real one is a few hundred bytes)."""
SWEEP_OWNED: dict[str, str] = {
    "executor": "the trials run serially inside the sweep's tasks; choose the sweep's "
    "backend with --executor",
    "n_trials": "the sweep sets it to its number of trials (the deflated Sharpe counts them)",
    "name": "the sweep names each trial itself (trial K)",
}
"""Settings a sweep sets itself, refused in a sweep file."""
ONE_PANEL = ("data", "metadata")
"""Settings that cannot vary between trials: every trial reads the sweep's one panel."""
TABLES = {"grid": "[grid]", "space": "[space]"}


class SweepFileError(ConfigError):
    """A sweep file (or a table of values) that cannot make a sweep: one line naming the
    file (``path``, None for a table given in code), the key (``key``) and the problem."""

    def __init__(self, path: Path | None, key: str | None, problem: str) -> None:
        where = "".join(part + ": " for part in (str(path) if path else None, key) if part)
        super().__init__(where + problem, problem=problem)
        self.path = path
        self.key = key


@dataclass(frozen=True)
class SweepFile:
    """A checked sweep file: ``base`` settings and the ``table``'s lists (``values``)."""

    path: Path
    table: str
    """``"grid"`` or ``"space"``."""
    base: dict[str, Any]
    """Setting path -> value (lists of strings as tuples, ISO dates as dates)."""
    values: dict[str, list[Any]]

    @property
    def n_combinations(self) -> int:
        return count_combinations(self.values)


def count_combinations(space: Mapping[str, list[Any]]) -> int:
    """The number of combinations of ``space``'s lists (their lengths multiplied)."""
    return math.prod(len(values) for values in space.values())


# ------------------------------------------------------------------------------ the file
def read_sweep_file(path: Path, table: str = "grid") -> SweepFile:
    """Read and check a sweep file; raise :class:`SweepFileError` on the first problem."""
    if table not in TABLES:
        raise ValueError(f"table must be one of {tuple(TABLES)}, got {table!r}")
    path = Path(path)
    doc = _parse(path, _text(path))
    allowed = ("base", table)
    for key, value in doc.items():
        if key not in allowed:
            where = "is outside any table" if not isinstance(value, dict) else "unknown table"
            raise SweepFileError(
                path,
                key,
                f"{where}; a --{'grid' if table == 'grid' else 'space'} file has [base] "
                f"(settings for every trial) and {TABLES[table]} (setting = [values]) only",
            )
        if not isinstance(value, dict):
            raise SweepFileError(
                path,
                key,
                f"must be a table ([{key}] followed by setting = value lines), got "
                f"{_kind_of(value)} {_show(value)}",
            )
    if table not in doc:
        raise SweepFileError(
            path,
            None,
            f"has no {TABLES[table]} table: a sweep needs {TABLES[table]} with at least one "
            'setting = [values] line, e.g. "model.num_leaves" = [15, 31]',
        )
    base = {key: _base_value(path, key, value) for key, value in _flat(path, "base", doc)}
    values = check_space(doc[table], table, path)
    return SweepFile(path, table, base, values)


def _text(path: Path) -> str:
    """The file's text: a regular file only (never opened otherwise), bounded, UTF-8."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SweepFileError(path, None, f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise SweepFileError(path, None, f"is {kind}; a sweep file is a TOML file")
    if info.st_size > MAX_FILE_BYTES:
        raise SweepFileError(
            path, None, f"is {info.st_size:,} bytes, more than a sweep file's {MAX_FILE_BYTES:,}"
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SweepFileError(path, None, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:  # grew since its stat
        raise SweepFileError(path, None, f"is more than a sweep file's {MAX_FILE_BYTES:,} bytes")
    data = data.removeprefix(b"\xef\xbb\xbf")  # the byte-order mark some editors write
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SweepFileError(
            path, None, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})"
        ) from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise SweepFileError(path, None, f"is not valid TOML ({reason})") from None


def _flat(path: Path | None, table: str, doc: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(key, value)`` of a table, refusing TOML's nested tables (a bare dotted key)."""
    out = []
    for key, value in doc.get(table, {}).items():
        if isinstance(value, dict):
            leaf = _first_leaf(key, value)
            example = "[...]" if table != "base" else "..."
            raise SweepFileError(
                path,
                f"[{table}] {leaf}",
                f"a bare dotted key is a nested TOML table; quote the setting's whole name: "
                f'"{leaf}" = {example}',
            )
        out.append((key, value))
    return out


def _first_leaf(prefix: str, table: dict[str, Any]) -> str:
    for key, value in table.items():
        name = f"{prefix}.{key}"
        return _first_leaf(name, value) if isinstance(value, dict) and value else name
    return prefix


# ------------------------------------------------------------------------------ settings
def _known() -> dict[str, Setting]:
    return {s.path: s for s in settings(RunConfig)}


def _setting(path: Path | None, where: str, key: str) -> Setting:
    known = _known()
    if key in known:
        if key in SWEEP_OWNED:
            raise SweepFileError(path, where, f"is set by the sweep itself: {SWEEP_OWNED[key]}")
        return known[key]
    suffix = [p for p in known if p.endswith("." + key)]
    close = suffix or difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise SweepFileError(path, where, f"unknown setting {key!r}{hint}")


def _base_value(path: Path | None, key: str, value: Any) -> Any:
    s = _setting(path, f"[base] {key}", key)
    if isinstance(value, list) and s.kind is not tuple:
        raise SweepFileError(
            path,
            f"[base] {key}",
            f"must be one value for every trial, got a list {_show(value)}; values to try "
            "go in [grid]",
        )
    return checked_value(s, value, path, f"[base] {key}")


def checked_value(s: Setting, value: Any, path: Path | None = None, where: str = "") -> Any:
    """``value`` (as TOML or JSON gives it) as setting ``s`` takes it, or SweepFileError:
    lists of strings become tuples, ISO date strings dates, and the declaration's type,
    range and choices are checked as for a CLI flag."""
    where = where or s.path
    if s.kind is tuple and isinstance(value, list):
        value = tuple(value)
    elif s.kind is date:
        if isinstance(value, datetime | time):
            raise SweepFileError(path, where, f"must be a date, got {_show(value)}")
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise SweepFileError(
                    path, where, f"must be a date (YYYY-MM-DD), got {value!r}"
                ) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise SweepFileError(path, where, f"must be a finite number, got {value}")
    problem = s.problem(value)
    if problem:
        raise SweepFileError(path, where, problem)
    return value


def check_space(
    space: Any, table: str = "grid", path: Path | None = None, limit: int | None = MAX_TRIALS
) -> dict[str, list[Any]]:
    """A ``[grid]``/``[space]`` table checked: known settings, each a non-empty list of
    distinct valid values, and (``limit``) at most that many combinations, counted before
    any is built. Returns the lists (values as the settings take them)."""
    name = TABLES.get(table, f"[{table}]")
    if not isinstance(space, Mapping):
        raise SweepFileError(
            path, table, f"must be a table of setting = [values], got {_kind_of(space)}"
        )
    entries = _flat(path, table, {table: space})
    if not entries:
        raise SweepFileError(
            path, name, "is empty: a sweep needs at least one setting = [values] line"
        )
    for key, values in entries:
        where = f"{name} {key}"
        _setting(path, where, key)
        if key in ONE_PANEL:
            raise SweepFileError(
                path,
                where,
                "cannot vary between trials: every trial reads the sweep's one panel "
                "(set it in [base] or with --data)",
            )
        if not isinstance(values, list):
            raise SweepFileError(
                path,
                where,
                f"must be a list of values to try, e.g. {key} = [{_show(values)}], got "
                f"{_kind_of(values)}; one value for every trial goes in [base]",
            )
        if not values:
            raise SweepFileError(path, where, "is an empty list: it makes no trial")
    n = count_combinations(dict(entries))
    if limit is not None and n > limit:
        sizes = " x ".join(str(len(v)) for _, v in entries)
        raise SweepFileError(
            path,
            name,
            f"makes {n:,} trials ({sizes}), more than the limit of {limit:,} (MAX_TRIALS); "
            "sweep fewer values, or draw some with --search N --space FILE",
        )
    out: dict[str, list[Any]] = {}
    for key, values in entries:
        where = f"{name} {key}"
        s = _known()[key]
        kept = [checked_value(s, v, path, f"{where}[{i}]") for i, v in enumerate(values)]
        seen: set[Any] = set()
        for i, v in enumerate(kept):
            if v in seen:  # 1 and 1.0 too: the same run
                raise SweepFileError(
                    path, f"{where}[{i}]", f"repeats the value {_show(v)}: a trial would run twice"
                )
            seen.add(v)
        out[key] = kept
    return out


def _kind_of(value: Any) -> str:
    kinds = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a table"),
        (datetime, "a date and time"),
        (date, "a date"),
        (time, "a time"),
    ]
    return next((text for kind, text in kinds if isinstance(value, kind)), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, date | time) else value.isoformat()
    return text if len(text) <= 60 else text[:57] + "..."
