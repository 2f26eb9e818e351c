"""Writing files so that a reader never sees half of one: the one atomic-write helper.

Every file the engine or the app persists (a run's tables and models, the SHAP cache, the
demo cache, an upload, a renamed run's metadata) is first written to a hidden temporary
name beside its target and then moved into place with ``os.replace``, which is atomic on
one filesystem. A failure leaves the old file (or nothing) and removes the temporary one.

Folders follow the same rule: :func:`atomic_dir` builds one under a unique hidden name and
renames it into place; :func:`remove_dir` renames one aside before deleting it. A process
killed half-way leaves only hidden ``.tmp-``/``.trash-`` folders named after it, which
:func:`clean_orphans` removes once their owner is gone.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Writer = Callable[[Path], Any]
"""Writes the content to the temporary path it is given (e.g. ``frame.write_parquet``)."""

FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
"""Errors of a write that found no room (disk full, quota exceeded)."""


class StorageError(OSError):
    """A write that could not complete for want of room: ``cannot write <path>: disk full``.

    Raised by every writer of this module (and the ledger's append) once the partial write
    was undone: temporary files removed, the previous file (or folder) left as it was. The
    CLI turns it into exit code 2 and its one line.
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__(errno.ENOSPC, f"cannot write {path}: disk full")
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.args[1])


_RUST_FULL_DISK = tuple(f"(os error {code})" for code in FULL_DISK)
"""How Rust libraries (polars' Parquet and CSV writers) end the message of an I/O error they
wrap in their own exception type, with no errno attribute."""


def is_full_disk(exc: BaseException) -> bool:
    """True for an error saying the disk (or quota) is full: an OSError with that errno, or
    a library's wrapped Rust I/O error (``... No space left on device (os error 28)``)."""
    if isinstance(exc, OSError):
        return exc.errno in FULL_DISK
    return isinstance(exc, Exception) and str(exc).rstrip().endswith(_RUST_FULL_DISK)


@contextmanager
def full_disk_as(path: Path | str) -> Iterator[None]:
    """Turn a full-disk OSError raised in the block into :class:`StorageError` for ``path``
    (the caller undoes the partial write; a StorageError already raised passes through)."""
    try:
        yield
    except StorageError:
        raise
    except Exception as exc:
        if is_full_disk(exc):
            raise StorageError(path) from exc
        raise


def write_atomic(path: Path, content: str | bytes | Writer) -> Path:
    """Write ``content`` (text, bytes, or a writer callable) to ``path`` atomically.

    A full disk raises :class:`StorageError` naming ``path``; the previous file stays.
    """
    path = Path(path)
    with full_disk_as(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        try:
            if isinstance(content, str):
                tmp.write_text(content)
            elif isinstance(content, bytes):
                tmp.write_bytes(content)
            else:
                content(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def append_whole(fd: int, path: Path | str, data: bytes) -> None:
    """Append ``data`` to the file open (for appending) as ``fd``: all of it, then ``fsync``.

    The one way an append-only log grows (the desk's and the sweep's ledgers). A write that
    fails half-way (a full disk, a signal) is undone by cutting the file back to its size
    before, so a log never keeps part of a line; a full disk is :class:`StorageError`.
    """
    size = os.fstat(fd).st_size
    try:
        written = 0
        while written < len(data):  # os.write may write less than asked (rarely, on signals)
            written += os.write(fd, data[written:])
        os.fsync(fd)
    except BaseException as exc:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError:
            pass
        if is_full_disk(exc):
            raise StorageError(path) from exc
        raise


def write_json(path: Path, payload: Any) -> Path:
    """Pretty, key-sorted JSON written atomically (dates and paths as strings)."""
    return write_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str))


TEMP_PREFIX = ".tmp-"
"""Hidden folders being written by :func:`atomic_dir`: ``.tmp-<name>.<owner>.<random>``."""
TRASH_PREFIX = ".trash-"
"""Hidden folders being removed by :func:`remove_dir`: ``.trash-<name>.<owner>.<random>``."""
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
"""Names the machine in ``<owner>`` (``<host>-<pid>``): a process id means something only
on the machine (and process namespace) that made it, e.g. with a registry shared by two
containers."""
STALE_AFTER_SECONDS = 6 * 3600.0
"""A temporary or trash folder older than this is removed even if its owner looks alive
(a process id may have been reused)."""


def owner_tag(pid: int | None = None) -> str:
    """``<host>-<pid>``: this process (or ``pid`` on this machine) as named in leftovers."""
    return f"{_HOST}-{pid if pid is not None else os.getpid()}"


def _owned_name(prefix: str, name: str) -> str:
    """``<prefix><name>.<owner>.``: the owner is part of the name (see :func:`owner_pid`)."""
    return f"{prefix}{name}.{owner_tag()}."


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a hidden temporary folder that becomes ``final`` only if the block succeeds.

    The folder's name is unique (process id plus a random part), so two saves, even of the
    same name in the same microsecond, never share it; an interrupted save leaves a folder
    that :func:`clean_orphans` removes later. ``final`` must not exist yet. A full disk
    anywhere in the block raises :class:`StorageError` naming ``final``, after the
    temporary folder is removed (nothing of it stays visible).
    """
    final = Path(final)
    with full_disk_as(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=_owned_name(TEMP_PREFIX, final.name)))
    try:
        yield tmp
        if final.exists():
            raise FileExistsError(f"{final} already exists")
        os.rename(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_full_disk(exc):  # a file of the hidden folder: name the folder it was for
            raise StorageError(final) from exc
        raise


def remove_dir(path: Path) -> None:
    """Remove a folder atomically for its readers: rename it aside, then delete it.

    Readers see the folder whole or not at all; a removal interrupted after the rename
    leaves a hidden ``.trash-`` folder that :func:`clean_orphans` finishes. Raises
    FileNotFoundError when ``path`` is absent (e.g. removed concurrently).
    """
    path = Path(path)
    aside = path.parent / f"{_owned_name(TRASH_PREFIX, path.name)}{uuid.uuid4().hex[:12]}"
    os.rename(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def owner_pid(name: str) -> int | None:
    """The process id in a temporary or trash folder's name when that process ran on this
    machine, else None (its owner cannot be checked from here)."""
    parts = name.rsplit(".", 2)
    host, _, pid = parts[1].partition("-") if len(parts) == 3 else ("", "", "")
    return int(pid) if host == _HOST and pid.isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def clean_orphans(root: Path, max_age: float = STALE_AFTER_SECONDS) -> list[Path]:
    """Remove the leftovers of interrupted saves and deletions directly under ``root``.

    A ``.tmp-`` folder (an unfinished :func:`atomic_dir`) is removed when its owning process
    (on this machine) is gone or it is older than ``max_age`` seconds; a ``.trash-`` folder
    (an unfinished :func:`remove_dir`) always, since it was already renamed out of sight; a hidden
    ``.<name>.<random>.tmp`` file (an unfinished :func:`write_atomic`) once older than
    ``max_age``. Returns what was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(Path(root).iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        name = entry.name
        temp_file = name.startswith(".") and name.endswith(".tmp")
        if not (temp_file or name.startswith((TEMP_PREFIX, TRASH_PREFIX))):
            continue
        if not name.startswith(TRASH_PREFIX):
            try:
                age = now - entry.lstat().st_mtime
            except OSError:
                continue
            pid = None if temp_file else owner_pid(name)
            if age < max_age and (temp_file or pid is None or _alive(pid)):
                continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
