"""The run registry: runs saved under ``artifacts/runs/<run_id>/`` and read back without code.

A run folder holds ``config.json``, ``metrics.json``, ``meta.json`` (name, timings, data
label), ``model.json`` + the files its model type wrote (the sidecar lists them; LightGBM:
``model.txt``; the last fold's model for a walk-forward run), ``models/fold_000.json`` + its
files ... (every fold's model, walk-forward runs only), the Parquet tables of :data:`TABLES`
and :data:`OPTIONAL_TABLES`, and the caller's extra files (the run service's exports,
``predictions.csv``). ``meta.json``
also holds the manifest (``files``): the size and sha256 of every other file of the save.

**When a run is visible.** Everything above is written into a hidden temporary folder
(``.tmp-<run_id>.<host>-<pid>.<random>``), ``meta.json`` last, and the folder is renamed to
``<run_id>`` only then: a run either appears whole or not at all. Files added later (the
SHAP cache ``shap_*``) are each written atomically and are not in the manifest: they are a
cache, and a missing or damaged SHAP cache is recomputed, never trusted. A rename rewrites
``meta.json`` keeping its manifest.

**Listing** (:func:`scan_runs`) never raises on a run folder: a folder that is malformed
(unreadable JSON, JSON nested too deeply, a named pipe where a file should be), partial (a
file of its manifest missing or of the wrong size), foreign (not a run) or whose
``lineage.json`` is malformed or on a cycle (:func:`read_lineages`) is reported in
``Listing.damaged`` with its problem and left out of the runs. Hidden folders (``.tmp-``
saves in progress, ``.trash-`` deletions, any other dot folder) are never read as runs.
It reads JSON and ``stat``s files only; checksums are verified when a run is loaded
(:func:`load_run` raises :class:`DamagedRunError` naming the file). Runs saved before
manifests existed are listed and loaded without checksums.

**Deleting** renames the folder aside (``.trash-...``) before removing it, so a concurrent
listing or loading sees the run whole or not at all. Leftovers of a save or deletion killed
half-way are removed by the next listing (:func:`alpha_core.base.storage.clean_orphans`).

**Run ids** match ``[A-Za-z0-9][A-Za-z0-9_-]*`` (at most 128 characters): no ``.``, ``..``,
separators, spaces or newlines, so an id is always one plain folder name.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.base.storage import (
    TEMP_PREFIX,
    TRASH_PREFIX,
    StorageError,
    Writer,
    atomic_dir,
    clean_orphans,
    full_disk_as,
    remove_dir,
    write_atomic,
    write_json,
)
from alpha_core.models.base import load_model, numbered_stems, save_model
from alpha_core.research.config import RunConfig
from alpha_core.research.result import RunResult

TABLES = ("predictions", "books", "daily")
"""RunResult attributes saved as ``<name>.parquet`` in every run."""
OPTIONAL_TABLES = ("folds", "quantiles", "ic_decay", "candidates", "attribution")
"""RunResult attributes saved as ``<name>.parquet`` when not None."""
MODELS_DIR = "models"
META = "meta.json"
"""Written last: name, dates, timings and the manifest ``files``
(``{relative path: {"bytes", "sha256"}}``)."""
RUN_JSON = (META, "config.json", "metrics.json")
"""The JSON objects every run folder holds (read by the listing)."""


def fold_stem(index: int) -> str:
    return f"fold_{index:03d}"


_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def is_run_id(text: object) -> bool:
    """Whether ``text`` is a valid run id (a plain folder name: see the module docstring)."""
    return isinstance(text, str) and _ID_PATTERN.fullmatch(text) is not None


class RunNotFoundError(FileNotFoundError):
    """No run of that id (never saved, or deleted)."""


class DamagedRunError(ValueError):
    """A run folder that cannot be read back; the message names the run, file and problem."""

    def __init__(self, run_id: str, problem: str) -> None:
        super().__init__(f"run {run_id} is damaged: {problem}")
        self.run_id = run_id
        self.problem = problem


def default_root() -> Path:
    """``$ALPHA_LAB_ARTIFACTS`` if set, else ``./artifacts/runs``."""
    env = os.environ.get("ALPHA_LAB_ARTIFACTS")
    return Path(env) if env else Path.cwd() / "artifacts" / "runs"


_last_stamp = datetime.min.replace(tzinfo=UTC)
_stamp_lock = threading.Lock()


def new_run_id(config: RunConfig) -> str:
    """``<UTC time to the microsecond>-<config fingerprint>``, never repeated in a process."""
    global _last_stamp
    with _stamp_lock:
        now = max(datetime.now(UTC), _last_stamp + timedelta(microseconds=1))
        _last_stamp = now
    return f"{now.strftime('%Y%m%d-%H%M%S-%f')}-{config.fingerprint()[:6]}"


def save_run(
    result: RunResult,
    root: Path | None = None,
    extra_meta: dict[str, Any] | None = None,
    extra_files: Mapping[str, Writer] | None = None,
) -> Path:
    """Persist a run atomically; returns its folder. Sets ``result.run_id``.

    ``extra_files``: more files of the run, by plain file name, each written by its writer
    into the temporary folder, so they are in place (and in the manifest) before the run
    becomes visible.
    """
    root = root or default_root()
    run_id = result.run_id or new_run_id(result.config)
    if not is_run_id(run_id):
        raise ValueError(f"invalid run id: {run_id!r}")
    for name in extra_files or {}:
        if not is_run_id(name.replace(".", "_")) or name in RUN_JSON:
            raise ValueError(f"invalid extra file name: {name!r}")
    final = root / run_id
    with atomic_dir(final) as tmp:
        write_json(tmp / "config.json", result.config.to_dict())
        write_json(tmp / "metrics.json", result.metrics)
        meta = {
            "run_id": run_id,
            "name": result.config.name or result.config.auto_name(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "timings": result.timings,
            **(extra_meta or {}),
        }
        save_model(result.model, tmp)
        if result.config.walk_forward != "none" or len(result.models) > 1:
            for k, model in enumerate(result.models):
                save_model(model, tmp / MODELS_DIR, fold_stem(k))
        for table in TABLES:
            getattr(result, table).write_parquet(tmp / f"{table}.parquet")
        for table in OPTIONAL_TABLES:
            frame = getattr(result, table)
            if frame is not None:
                frame.write_parquet(tmp / f"{table}.parquet")
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)
        write_json(tmp / META, {**meta, "files": _fingerprints(tmp)})
    result.run_id = run_id
    return final


def _fingerprints(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under ``folder`` but ``meta.json``."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name != META:
            data = path.read_bytes()
            out[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return out


@dataclass(frozen=True)
class RunInfo:
    """A registry entry as listed: enough to pick a run without loading its tables."""

    run_id: str
    name: str
    created: str
    path: Path
    metrics: dict[str, Any]
    config: dict[str, Any]


@dataclass(frozen=True)
class DamagedRun:
    """A folder in the registry that is not a readable run, and why."""

    run_id: str
    """The folder's name (not necessarily a valid run id)."""
    path: Path
    problem: str


@dataclass(frozen=True)
class Listing:
    """What a registry folder holds: its readable runs (newest first) and the rest."""

    runs: list[RunInfo] = field(default_factory=list)
    damaged: list[DamagedRun] = field(default_factory=list)


def run_dir(run_id: str, root: Path | None = None) -> Path:
    """The folder of a saved run; ValueError for an invalid id, RunNotFoundError if absent."""
    if not is_run_id(run_id):
        raise ValueError(f"invalid run id: {run_id!r}")
    path = (root or default_root()) / run_id
    if not (path / "config.json").exists():
        raise RunNotFoundError(f"no run {run_id!r} in {path.parent}")
    return path


def scan_runs(root: Path | None = None) -> Listing:
    """The registry's runs, newest first, and its damaged folders; never raises on a folder.

    Also removes what interrupted saves and deletions left (see the module docstring).
    """
    root = root or default_root()
    if not root.is_dir():
        return Listing()
    clean_orphans(root)
    infos, damaged = [], []
    for path in _run_folders(root, named=False):
        try:
            infos.append(_run_info(path))
        except _Problem as problem:
            if path.is_dir():  # not deleted meanwhile
                damaged.append(DamagedRun(path.name, path, str(problem)))
    broken = read_lineages(root).problems
    damaged += [DamagedRun(i.run_id, i.path, broken[i.run_id]) for i in infos if i.run_id in broken]
    infos = [i for i in infos if i.run_id not in broken]
    infos.sort(key=lambda i: (i.created, i.run_id), reverse=True)
    damaged.sort(key=lambda d: d.run_id)
    return Listing(infos, damaged)


def _run_folders(root: Path, named: bool = True) -> list[Path]:
    """The folders of ``root`` that may be runs: never a hidden one (``.tmp-`` saves in
    progress, ``.trash-`` deletions, anything else starting with a dot); with ``named``,
    only those whose name is a run id."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    return [
        p
        for p in entries
        if not p.name.startswith(".") and (is_run_id(p.name) or not named) and p.is_dir()
    ]


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Saved, readable runs, newest first (damaged folders: :func:`scan_runs`)."""
    return scan_runs(root).runs


class _Problem(Exception):
    """Why a folder is not a listable run."""


def _run_info(path: Path) -> RunInfo:
    if not is_run_id(path.name):
        raise _Problem("not a run folder (its name is not a run id)")
    objects = {name: _json_object(path / name) for name in RUN_JSON}
    meta = objects[META]
    _check_files(path, meta)
    return RunInfo(
        run_id=path.name,
        name=str(meta.get("name") or path.name),
        created=str(meta.get("created", "")),
        path=path,
        metrics=objects["metrics.json"],
        config=objects["config.json"],
    )


def _check_files(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Every file of the manifest in ``meta`` present with its size (by ``stat``); returns
    the manifest. A run saved before manifests existed must hold its tables and model."""
    if "files" not in meta:
        for name in (*(f"{t}.parquet" for t in TABLES), "model.json"):
            if not (path / name).is_file():
                raise _Problem(f"{name} is missing")
        return {}
    files = meta["files"]
    if not isinstance(files, dict):
        raise _Problem(f"{META} lists no files")
    for name, entry in files.items():
        try:
            size = (path / name).stat().st_size
        except OSError:
            raise _Problem(f"{name} is missing") from None
        saved = entry.get("bytes") if isinstance(entry, dict) else None
        if saved != size:
            raise _Problem(f"{name} has {size:,} bytes, not the {saved} saved")
    return files


def _json_object(path: Path, limit: int | None = None) -> dict[str, Any]:
    try:
        payload = json.loads(_regular_bytes(path, limit))
    except FileNotFoundError:
        raise _Problem(f"{path.name} is missing") from None
    except RecursionError:
        raise _Problem(f"{path.name} is not valid JSON (nested too deeply)") from None
    except (OSError, ValueError) as exc:
        raise _Problem(f"{path.name} is not valid JSON ({_first_line(exc)})") from None
    if not isinstance(payload, dict):
        raise _Problem(f"{path.name} is not a JSON object")
    return payload


def _regular_bytes(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file: a pipe, device or folder is refused from its ``stat``
    (never opened, so it cannot block); FileNotFoundError when there is none."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise _Problem(f"{path.name} is not a regular file")
    if limit is not None and info.st_size > limit:
        raise _Problem(f"{path.name} has {info.st_size:,} bytes, more than the {limit:,} allowed")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Problem(f"{path.name} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- lineages
LINEAGE = "lineage.json"
"""Written into a retrained run's folder by the desk: ``{"parent": run_id, "first": run_id,
...}``. Read as untrusted input by :func:`read_lineages`."""
MAX_LINEAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Lineages:
    """The registry's retraining links: ``parents`` (run -> its parent) of the runs whose
    ``lineage.json`` is sound, and ``problems`` (run -> why not) of the rest."""

    parents: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def read_lineages(root: Path | None = None) -> Lineages:
    """Every run's parent, read from its ``lineage.json``; never raises on a folder.

    A ``lineage.json`` that is not a regular file, not JSON (or nested too deeply), not an
    object with a run id under ``parent``, is a problem of that run only. Runs whose parent
    links form a cycle (two runs naming each other, a run its own parent), and the runs
    whose ancestry leads into one, are problems too (``lineage cycle: A -> B -> A``), so no
    walk along ``parents`` can loop. Hidden and temporary folders are never read.
    """
    root = root or default_root()
    parents: dict[str, str] = {}
    problems: dict[str, str] = {}
    for path in _run_folders(root):
        try:
            lineage = _json_object(path / LINEAGE, MAX_LINEAGE_BYTES)
        except _Problem as problem:
            if (path / LINEAGE).exists() or (path / LINEAGE).is_symlink():
                problems[path.name] = str(problem)
            continue
        parent = lineage.get("parent")
        if not is_run_id(parent):
            problems[path.name] = f"{LINEAGE} names no run as its parent (got {parent!r:.60})"
            continue
        first = lineage.get("first", parent)
        if not is_run_id(first):
            problems[path.name] = f"{LINEAGE} names no run as its first (got {first!r:.60})"
            continue
        parents[path.name] = parent
    for run_id, problem in _cycles(parents).items():
        problems[run_id] = problem
        del parents[run_id]
    return Lineages(parents, problems)


def _cycles(parents: dict[str, str]) -> dict[str, str]:
    """The runs on or leading into a cycle of ``parents``, with the cycle spelled out."""
    out: dict[str, str] = {}
    done: set[str] = set()
    for start in sorted(parents):
        path: list[str] = []
        at: dict[str, int] = {}
        node = start
        while node in parents and node not in done and node not in at:
            at[node] = len(path)
            path.append(node)
            node = parents[node]
        if node in at:  # a new cycle: path[at[node]:]
            ring = path[at[node] :]
            k = ring.index(min(ring))
            ring = ring[k:] + ring[:k]
            text = "lineage cycle: " + " -> ".join([*ring, ring[0]])
            for run_id in ring:
                out[run_id] = text
            for run_id in path[: at[node]]:
                out[run_id] = f"its ancestry runs into a {text}"
        elif node in out:  # into a cycle found before
            cycle = out[node].split("lineage cycle: ", 1)[1]
            for run_id in path:
                out[run_id] = f"its ancestry runs into a lineage cycle: {cycle}"
        done.update(path)
    return out


def load_run(run_id: str, root: Path | None = None) -> RunResult:
    """Read a saved run back (JSON, Parquet and model text only).

    Every file in the run's manifest must be present with its size, each file read is
    checked against its checksum before it is parsed, and every model file against its
    sidecar's. Raises RunNotFoundError when the run does
    not exist (or was deleted meanwhile) and :class:`DamagedRunError` naming the file when
    it cannot be read.
    """
    path = run_dir(run_id, root)
    try:
        return _read_run(run_id, path)
    except (Exception, pl.exceptions.PanicException) as exc:  # noqa: BLE001 - any reader failure
        if not path.exists():  # renamed aside by a concurrent delete
            raise RunNotFoundError(f"run {run_id!r} no longer exists (deleted)") from None
        if isinstance(exc, DamagedRunError):
            raise
        if isinstance(exc, FileNotFoundError):
            raise DamagedRunError(run_id, f"a file is missing ({exc})") from None
        raise DamagedRunError(run_id, _first_line(exc)) from None


def _read_run(run_id: str, path: Path) -> RunResult:
    try:
        meta = _json_object(path / META)
        files = _check_files(path, meta)
    except _Problem as problem:
        raise DamagedRunError(run_id, str(problem)) from None

    def data(name: str) -> bytes:
        raw = _regular_bytes(path / name)
        entry = files.get(name)
        if isinstance(entry, dict) and entry.get("sha256") != hashlib.sha256(raw).hexdigest():
            raise DamagedRunError(run_id, f"{name}: checksum mismatch (altered since saved)")
        return raw

    def table(name: str) -> pl.DataFrame:
        return pl.read_parquet(io.BytesIO(data(f"{name}.parquet")))

    # every other file of the manifest (the models, the exports, lineage.json) is checked
    # too, before a model library sees a byte: a model re-signed with a consistent sidecar
    # still disagrees with the manifest
    _verify(run_id, path, files, [n for n in files if not n.endswith(".parquet")])
    config = RunConfig.from_dict(json.loads(data("config.json")))
    tables = {t: table(t) for t in TABLES}
    optional = {t: table(t) if (path / f"{t}.parquet").exists() else None for t in OPTIONAL_TABLES}
    model = load_model(path)
    folder = path / MODELS_DIR
    n_folds = len(numbered_stems(folder)) if folder.exists() else 0
    models = [load_model(folder, fold_stem(k)) for k in range(n_folds)] or [model]
    return RunResult(
        config=config,
        model=model,
        models=models,
        **optional,
        metrics=json.loads(data("metrics.json")),
        timings=meta.get("timings", {}),
        run_id=run_id,
        **tables,
    )


def _verify(run_id: str, path: Path, files: dict[str, Any], names: list[str]) -> None:
    """Check the size and sha256 of each of ``names`` against the manifest ``files``."""
    for name in names:
        entry = files.get(name)
        if not isinstance(entry, dict):
            continue
        try:
            raw = (path / name).read_bytes()
        except OSError as exc:
            raise DamagedRunError(run_id, f"{name} cannot be read ({_first_line(exc)})") from None
        if len(raw) != entry.get("bytes"):
            raise DamagedRunError(
                run_id, f"{name} has {len(raw):,} bytes, not the {entry.get('bytes')} saved"
            )
        if entry.get("sha256") != hashlib.sha256(raw).hexdigest():
            raise DamagedRunError(run_id, f"{name}: checksum mismatch (altered since saved)")


def verify_run(run_id: str, root: Path | None = None) -> Path:
    """Check every file of a saved run against its manifest (presence, size and sha256: the
    tables, the config, the models and their sidecars, the exports); returns the run's
    folder. What the desk calls before it trusts a run's files. Raises RunNotFoundError or
    :class:`DamagedRunError` naming the first file that disagrees. A run saved before
    manifests existed passes with its structure checked only."""
    path = run_dir(run_id, root)
    try:
        files = _check_files(path, _json_object(path / META))
    except _Problem as problem:
        raise DamagedRunError(run_id, str(problem)) from None
    _verify(run_id, path, files, sorted(files))
    return path


def read_file(run_id: str, name: str, root: Path | None = None) -> bytes:
    """The bytes of one file of a saved run, checked against the run's manifest (size and
    sha256) before anyone parses them: the way services read a run without loading it
    whole. Raises RunNotFoundError or :class:`DamagedRunError` naming the file."""
    path = run_dir(run_id, root)
    if not path.is_dir():
        raise RunNotFoundError(f"no run {run_id!r} in {path.parent}")
    try:
        files = _check_files(path, _json_object(path / META))
        raw = _regular_bytes(path / name)
    except _Problem as problem:
        raise DamagedRunError(run_id, str(problem)) from None
    except OSError as exc:
        raise DamagedRunError(run_id, f"{name} cannot be read ({_first_line(exc)})") from None
    entry = files.get(name)
    if isinstance(entry, dict) and entry.get("sha256") != hashlib.sha256(raw).hexdigest():
        raise DamagedRunError(run_id, f"{name}: checksum mismatch (altered since saved)")
    return raw


def read_config(run_id: str, root: Path | None = None) -> RunConfig:
    """A saved run's config, checked against its manifest (without loading its tables)."""
    try:
        return RunConfig.from_dict(json.loads(read_file(run_id, "config.json", root)))
    except RecursionError:
        raise DamagedRunError(run_id, "config.json: nested too deeply") from None
    except (ValueError, TypeError) as exc:
        if isinstance(exc, DamagedRunError):
            raise
        raise DamagedRunError(run_id, f"config.json: {_first_line(exc)}") from None


def read_table(run_id: str, name: str, root: Path | None = None) -> pl.DataFrame:
    """One Parquet table of a saved run (``daily``, ``predictions``...), checked."""
    return pl.read_parquet(io.BytesIO(read_file(run_id, f"{name}.parquet", root)))


def read_meta(run_id: str, root: Path | None = None) -> dict[str, Any]:
    """A saved run's ``meta.json`` (the manifest itself)."""
    try:
        return _json_object(run_dir(run_id, root) / META)
    except _Problem as problem:
        raise DamagedRunError(run_id, str(problem)) from None


def rename_run(run_id: str, new_name: str, root: Path | None = None) -> None:
    """Change a run's display name (its id and folder stay)."""
    if not new_name.strip():
        raise ValueError("a run name cannot be empty")
    path = run_dir(run_id, root)
    try:
        meta = _json_object(path / "meta.json")
    except _Problem as problem:
        raise DamagedRunError(run_id, str(problem)) from None
    meta["name"] = new_name.strip()
    write_json(path / "meta.json", meta)


NOTES = "notes.json"
"""A run's notes and tags (``{"note": str, "tags": [str, ...]}``): the researcher's words
about the run, written after the save, outside the manifest (editing them is not damage)."""
MAX_NOTE_CHARS, MAX_TAGS, MAX_TAG_CHARS = 10_000, 20, 40


def read_notes(run_id: str, root: Path | None = None) -> dict[str, Any]:
    """The run's note and tags (empty when none were written or the file is unreadable)."""
    path = run_dir(run_id, root) / NOTES
    try:
        raw = json.loads(_regular_bytes(path, 1024 * 1024))
    except (OSError, ValueError, RecursionError, _Problem):
        return {"note": "", "tags": []}
    note = raw.get("note") if isinstance(raw, dict) else ""
    tags = raw.get("tags") if isinstance(raw, dict) else []
    return {
        "note": note if isinstance(note, str) else "",
        "tags": [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
    }


def write_notes(run_id: str, note: str, tags: list[str], root: Path | None = None) -> None:
    """Replace the run's note and tags (atomically); tags are stripped, de-duplicated and
    lower-cased; ValueError when the note or a tag is too long or there are too many."""
    path = run_dir(run_id, root)
    if not (path / META).is_file():
        raise RunNotFoundError(f"no run {run_id!r} in {path.parent}")
    clean = list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
    if len(note) > MAX_NOTE_CHARS:
        raise ValueError(f"a note holds at most {MAX_NOTE_CHARS:,} characters")
    if len(clean) > MAX_TAGS or any(len(t) > MAX_TAG_CHARS for t in clean):
        raise ValueError(f"at most {MAX_TAGS} tags of at most {MAX_TAG_CHARS} characters")
    write_json(path / NOTES, {"note": note, "tags": clean})


LEDGER_FILE = "ledger.jsonl"
"""The desk's ledger, in the folder of its lineage's first run (outside the manifest)."""
FILLS_FILE = "fills.jsonl"
"""The desk's fills, beside the ledger (outside the manifest); moved with it."""
LINEAGE_FILE = "lineage.json"
"""A retrained run's parent (``{"parent": run_id, "first": run_id, ...}``; in its manifest)."""


class DeleteRefused(ValueError):
    """A run the registry will not delete: deleting it would lose data (the message says
    which and what to do)."""


def delete_run(run_id: str, root: Path | None = None) -> None:
    """Delete a run folder, readable or damaged: renamed aside first, then removed.

    A run of a lineage (the desk's retrainings) is cut out of it first: its children get
    its parent (``lineage.json``, manifest updated); when it is a lineage's first run, its
    retrained child becomes the first and takes the lineage's ledger (``ledger.jsonl``, byte
    for byte, under the ledger's lock, before anything is removed). A first run holding a
    ledger with no child to take it, or with several children (which one would keep the
    ledger?), is refused (:class:`DeleteRefused`), as is one whose child cannot be updated.

    Raises ValueError for an invalid id and RunNotFoundError when there is no such folder
    (e.g. deleted concurrently); a full disk while moving the ledger is
    :class:`~alpha_core.base.storage.StorageError` with nothing changed.
    """
    if not is_run_id(run_id):
        raise ValueError(f"invalid run id: {run_id!r}")
    root = root or default_root()
    path = root / run_id
    if not path.is_dir():
        raise RunNotFoundError(f"no run {run_id!r} in {root}")
    with _ledger_lock(path / LEDGER_FILE) as ledger:
        fills = path / FILLS_FILE
        _cut_from_lineage(run_id, root, ledger, fills.read_bytes() if fills.is_file() else b"")
        try:
            remove_dir(path)  # under the ledger's lock: a waiting desk sees it moved
        except FileNotFoundError:
            raise RunNotFoundError(f"no run {run_id!r} in {root}") from None


@contextmanager
def _ledger_lock(path: Path) -> Iterator[bytes]:
    """The ledger's bytes under its exclusive lock (the desk's appends take the same
    ``flock``; see :mod:`alpha_core.desk.ledger`). The file is created (empty) when absent,
    so a desk cannot start a ledger in the folder while it is being deleted; an empty one
    created here is removed again if the folder stays."""
    existed = path.exists()
    try:
        with full_disk_as(path):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # its folder deleted meanwhile
        raise RunNotFoundError(f"no run {path.parent.name!r} in {path.parent.parent}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path.read_bytes()
    finally:
        try:
            if not existed and os.fstat(fd).st_size == 0:
                path.unlink(missing_ok=True)  # gone with the folder, or the delete refused
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _lineages(root: Path) -> dict[str, dict[str, Any]]:
    """``lineage.json`` of every run folder that has one, by run id (unreadable ones left
    out: they point at nothing)."""
    out = {}
    for path in root.glob(f"*/{LINEAGE_FILE}"):
        try:
            payload = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(payload, dict) and isinstance(payload.get("parent"), str):
            out[path.parent.name] = payload
    return out


def _cut_from_lineage(run_id: str, root: Path, ledger: bytes | None, fills: bytes = b"") -> None:
    """Re-point the lineage files at ``run_id`` to the runs that stay (see :func:`delete_run`);
    the desk's fills (``fills.jsonl``) go wherever the ledger goes."""
    ledger = ledger or (b"\n" if fills else ledger)  # fills alone are a ledger to keep too
    lineages = _lineages(root)
    children = sorted(c for c, lin in lineages.items() if lin["parent"] == run_id and c != run_id)
    parent = lineages.get(run_id, {}).get("parent")
    if parent is not None and parent != run_id:  # a later run: its children get its parent
        if ledger:  # not where a ledger lives; keep it rather than lose it
            raise DeleteRefused(
                f"run {run_id} is a retraining but holds a ledger ({LEDGER_FILE}); move it to "
                "its lineage's first run before deleting"
            )
        for child in children:
            _write_lineage(root, child, {**lineages[child], "parent": parent})
        return
    if not ledger:
        for child in children:  # each becomes the first of its own lineage
            _promote(root, child, lineages)
        return
    if not children:
        books = ledger.count(b"\n")
        raise DeleteRefused(
            f"run {run_id} holds its lineage's ledger ({books} lines) and has no "
            "retrained child to take it: retrain it first (alpha retrain), or keep the run"
        )
    if len(children) > 1:
        raise DeleteRefused(
            f"run {run_id} holds its lineage's ledger and has {len(children)} retrained "
            f"children ({', '.join(children)}): delete all but the one to keep it first"
        )
    heir = children[0]
    target = root / heir / LEDGER_FILE
    if target.exists():
        held = target.read_bytes()
        if held and not ledger.startswith(held):  # not a copy left by an interrupted delete
            raise DeleteRefused(
                f"run {run_id}'s ledger cannot move to its child {heir}: {heir} holds a "
                f"different {LEDGER_FILE}"
            )
    write_atomic(target, ledger)
    if target.read_bytes() != ledger:
        raise StorageError(target)
    if fills:
        moved = root / heir / FILLS_FILE
        write_atomic(moved, fills)
        if moved.read_bytes() != fills:
            raise StorageError(moved)
    _promote(root, heir, lineages)


def _promote(root: Path, run_id: str, lineages: dict[str, dict[str, Any]]) -> None:
    """``run_id`` becomes the first run of its lineage: its ``lineage.json`` goes, and its
    descendants name it as their ``first``."""
    old_first = lineages[run_id].get("first")
    _write_lineage(root, run_id, None)
    for other, lineage in lineages.items():
        stale = other != run_id and old_first is not None and lineage.get("first") == old_first
        if stale and _descends(other, run_id, lineages):
            _write_lineage(root, other, {**lineage, "first": run_id})


def _descends(run_id: str, ancestor: str, lineages: dict[str, dict[str, Any]]) -> bool:
    seen = set()
    while run_id in lineages and run_id not in seen:
        seen.add(run_id)
        run_id = lineages[run_id]["parent"]
        if run_id == ancestor:
            return True
    return False


def _write_lineage(root: Path, run_id: str, payload: dict[str, Any] | None) -> None:
    """Replace (or, with None, remove) a run's ``lineage.json`` and its manifest entry.

    Each file is replaced atomically; the new ``lineage.json`` is in place before the
    manifest names its checksum (a removal drops the entry first), so a crash between the
    two leaves at worst a lineage file the manifest disagrees with, which a load reports.
    """
    folder = root / run_id
    try:
        meta = _json_object(folder / META)
    except _Problem as problem:
        raise DeleteRefused(f"the lineage's run {run_id} cannot be updated: {problem}") from None
    files = meta.get("files")
    manifest = dict(files) if isinstance(files, dict) else None
    if payload is None:
        if manifest is not None and LINEAGE_FILE in manifest:
            del manifest[LINEAGE_FILE]
            write_json(folder / META, {**meta, "files": manifest})
        (folder / LINEAGE_FILE).unlink(missing_ok=True)
        return
    raw = json.dumps(payload, indent=2, sort_keys=True).encode()
    write_atomic(folder / LINEAGE_FILE, raw)
    if manifest is not None and LINEAGE_FILE in manifest:
        manifest[LINEAGE_FILE] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        write_json(folder / META, {**meta, "files": manifest})


SIDE_FILES = ("report.html",)
"""Files a front end may add to a run folder after its save, outside the manifest (through
:func:`write_side_file`; the notes and the SHAP cache have their own writers)."""


def write_side_file(run_id: str, name: str, content: str | bytes, root: Path | None = None) -> Path:
    """Write one of :data:`SIDE_FILES` into a saved run's folder (atomically); returns it."""
    if name not in SIDE_FILES:
        raise ValueError(f"{name!r} is not a file a run may get after its save")
    path = run_dir(run_id, root)
    if not (path / META).is_file():
        raise RunNotFoundError(f"no run {run_id!r} in {path.parent}")
    return write_atomic(path / name, content)


class InsideRunError(ValueError):
    """A file a command was asked to write inside a run folder (only the registry writes
    there); ``folder`` is that run folder."""

    def __init__(self, message: str, folder: Path) -> None:
        super().__init__(message)
        self.folder = folder


def check_outside_runs(target: Path, root: Path | None = None) -> Path:
    """``target`` when it lies outside every run folder (:func:`run_folder_of`), else
    :class:`InsideRunError` naming the run."""
    folder = run_folder_of(target, root)
    if folder is not None:
        raise InsideRunError(
            f"{target} is inside the run folder {folder}: only the run registry writes there; "
            "choose a path outside it",
            folder,
        )
    return Path(target)


def run_folder_of(target: Path, root: Path | None = None) -> Path | None:
    """The run folder (or registry entry) ``target`` lies inside, else None: where no
    command may write except through this registry.

    ``target`` (symlinks resolved) is inside a folder of the registry ``root`` that holds a
    run's ``meta.json`` or ``config.json`` (a run, damaged or not) or is a save or delete in
    progress (``.tmp-``/``.trash-``), or below a folder holding both (a run of any registry).
    """
    target = Path(target).expanduser().resolve()
    top = (root or default_root()).expanduser().resolve()
    for folder in target.parents:
        in_registry = folder.parent == top
        if in_registry and folder.name.startswith((TEMP_PREFIX, TRASH_PREFIX)):
            return folder
        marks = [(folder / name).is_file() for name in (META, "config.json")]
        if all(marks) or (in_registry and any(marks)):
            return folder
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."
