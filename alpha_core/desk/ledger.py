"""The desk's ledger: every book produced, appended, never rewritten.

The ledger is one file, ``ledger.jsonl``, in the folder of a lineage's first run: one JSON
object per line and per book (decision date, creation time, run, model, model checksum,
data fingerprint, config hash, the book's rows and every scored prediction).

Rules (:func:`record`):

* the same decision date with the same inputs (:meth:`alpha_core.desk.book.Book.key`: model
  checksum, data fingerprint, config hash) is a no-op: the recorded entry stands;
* the same date with different inputs is refused (:class:`LedgerConflict`) unless forced;
  a forced book is appended after the first one, both are kept, and the latest line of a
  date is that date's book (:func:`current_books`).

Durability: this is a file the engine appends to instead of replacing. A line is written
whole on a file opened for appending, then ``fsync``-ed
(:func:`alpha_core.base.storage.append_whole`: a write cut short, e.g. by a full disk, is
undone and raised as ``StorageError``), under an exclusive ``flock`` so two desks cannot
interleave; the registry takes the same lock to move the ledger when its run is deleted, and
a desk that waited for it is told so (:class:`LedgerMoved`). A crash (``kill -9``) can leave
only a torn last line, without its newline: :func:`read_entries` ignores any line that is
not complete JSON, and the next append starts on a fresh line, so a torn line never corrupts
the lines around it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.base.storage import append_whole, full_disk_as
from alpha_core.desk.book import Book

LEDGER_FILE = "ledger.jsonl"
LEDGER_VERSION = 1


class LedgerConflict(ValueError):
    """A different book for a date already in the ledger (pass ``force`` to add it)."""


@dataclass(frozen=True)
class Entries:
    """What a ledger holds: its complete entries, and how many lines were torn."""

    entries: list[dict[str, Any]]
    torn: int = 0


def entry_of(book: Book) -> dict[str, Any]:
    """The ledger line of a book (JSON-able)."""
    return {
        "version": LEDGER_VERSION,
        "key": book.key(),
        **book.summary(),
        "book": book.records(),
        "scores": dict(
            zip(book.scores["asset"].to_list(), book.scores["prediction"].to_list(), strict=True)
        ),
    }


def read_entries(path: Path) -> Entries:
    """Every complete line of the ledger in file order; torn or foreign lines are skipped."""
    path = Path(path)
    if not path.exists():
        return Entries([])
    entries, torn = [], 0
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if isinstance(entry, dict) and "as_of" in entry and "key" in entry:
            entries.append(entry)
        else:
            torn += 1
    return Entries(entries, torn)


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    new = not path.exists()  # its folder must exist: a run deleted meanwhile is not recreated
    with full_disk_as(path):
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _check_still_there(fd, path)
        if new:  # the file's name must survive a crash too
            _fsync_dir(path.parent)
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class LedgerMoved(ValueError):
    """The ledger file was moved away while this desk waited for it (its run was deleted and
    the ledger handed to the lineage's next run): book again."""


def _check_still_there(fd: int, path: Path) -> None:
    """Refuse to append to a ledger file that is no longer the one at ``path`` (the registry
    moves a lineage's ledger, under this lock, when its first run is deleted)."""
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        same = False
    if not same:
        raise LedgerMoved(f"{path} was moved (its run was deleted meanwhile): book again")


def _fsync_dir(folder: Path) -> None:
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def append_line(path: Path, payload: dict[str, Any]) -> None:
    """Append one JSON line durably (one write, flush, fsync; under an exclusive lock)."""
    path, data = Path(path), json.dumps(payload, sort_keys=True, default=str).encode() + b"\n"
    with _locked(path) as fd:
        _append(fd, path, data)


def _append(fd: int, path: Path, data: bytes) -> None:
    size = os.fstat(fd).st_size
    if size:
        with path.open("rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":  # a torn last line: start ours on a line of its own
                data = b"\n" + data
    append_whole(fd, path, data)  # all or nothing: a full disk leaves the ledger as it was


def record(path: Path, book: Book, force: bool = False) -> Book:
    """Append ``book`` unless the same inputs are recorded; sets and returns ``book.status``.

    A different book for a date already recorded raises :class:`LedgerConflict` unless
    ``force`` (then both stay, the new one last).
    """
    path, entry = Path(path), entry_of(book)
    with _locked(path) as fd:
        same_day = [e for e in read_entries(path).entries if e["as_of"] == entry["as_of"]]
        if any(e["key"] == entry["key"] for e in same_day):
            book.status = "unchanged"
            return book
        if same_day and not force:
            old = same_day[-1]
            raise LedgerConflict(
                f"the ledger already holds a different book for {entry['as_of']} (model "
                f"{old['model_sha256'][:12]}, data {old['data_fingerprint']}, config "
                f"{old['config_hash']}; now model {entry['model_sha256'][:12]}, data "
                f"{entry['data_fingerprint']}, config {entry['config_hash']}): pass force "
                "to record this one too"
            )
        book.status = "forced" if same_day else "appended"
        entry["status"] = book.status
        data = json.dumps(entry, sort_keys=True, default=str).encode() + b"\n"
        _append(fd, path, data)
    return book


def current_books(entries: list[dict[str, Any]]) -> dict[date, dict[str, Any]]:
    """The book in force for each decision date: its latest ledger line."""
    out: dict[date, dict[str, Any]] = {}
    for e in entries:
        out[date.fromisoformat(e["as_of"])] = e
    return dict(sorted(out.items()))


def ledger_books(entries: list[dict[str, Any]]) -> pl.DataFrame:
    """``date, asset, side, weight, prediction, rank, sector`` of the current books."""
    rows = [r for e in current_books(entries).values() for r in e["book"]]
    if not rows:
        return pl.DataFrame(
            schema={"date": pl.Date, "asset": pl.Utf8, "side": pl.Utf8, "weight": pl.Float64}
        )
    return pl.DataFrame(rows).with_columns(pl.col("date").str.to_date()).sort("date", "asset")


def ledger_scores(entries: list[dict[str, Any]]) -> pl.DataFrame:
    """``date, asset, prediction`` of every asset scored by the current books."""
    frames = [
        pl.DataFrame(
            {"asset": list(e["scores"]), "prediction": list(e["scores"].values())},
            schema={"asset": pl.Utf8, "prediction": pl.Float64},
        ).with_columns(pl.lit(d).alias("date"))
        for d, e in current_books(entries).items()
    ]
    if not frames:
        return pl.DataFrame(schema={"date": pl.Date, "asset": pl.Utf8, "prediction": pl.Float64})
    return pl.concat(frames).select("date", "asset", "prediction")


def ledger_table(entries: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per ledger line (no book rows): what the Desk page and ``alpha monitor`` list."""
    keys = ("as_of", "created", "run_id", "model", "model_sha256", "data_fingerprint",
            "config_hash", "n_long", "n_short", "status")  # fmt: skip
    return pl.DataFrame(
        [{k: e.get(k) for k in keys} for e in entries],
        schema={k: pl.Int64 if k.startswith("n_") else pl.Utf8 for k in keys},
    )
