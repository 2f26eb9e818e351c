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

The file is untrusted input all the same: :func:`read_entries` skips, and reports by line
number (:class:`SkippedLine`), every line that is not complete JSON, is nested too deeply
to parse, or is JSON of the wrong shape (:func:`entry_problem`); ``alpha monitor`` and the
Desk page show them.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import stat
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


class LedgerError(ValueError):
    """A ledger file that cannot be read at all (not a regular file)."""


@dataclass(frozen=True)
class SkippedLine:
    """A ledger line that is not a ledger entry: its 1-based line number and why."""

    line: int
    problem: str


@dataclass(frozen=True)
class Entries:
    """What a ledger holds: its complete entries, and the lines skipped (torn or foreign)."""

    entries: list[dict[str, Any]]
    skipped: tuple[SkippedLine, ...] = ()

    @property
    def torn(self) -> int:
        """How many lines were skipped."""
        return len(self.skipped)

    def skipped_text(self) -> str:
        """``skipped ledger lines: 3 (lines 4, 9, 12): line 4: ...`` ("" when none)."""
        return skipped_text(self.skipped)


def skipped_text(skipped: tuple[SkippedLine, ...], shown: int = 10) -> str:
    """``skipped ledger lines: 3 (lines 4, 9, 12): line 4: why; ...`` ("" when none); at
    most ``shown`` lines are listed."""
    if not skipped:
        return ""
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    lines = ", ".join(str(s.line) for s in skipped[:shown])
    why = "; ".join(f"line {s.line}: {s.problem}" for s in skipped[:shown])
    return f"skipped ledger lines: {len(skipped)} (lines {lines}{more}): {why}"


def skipped_dict(skipped: tuple[SkippedLine, ...]) -> dict[str, Any]:
    """``{"count", "lines", "problems"}`` of skipped ledger lines (JSON-able)."""
    return {
        "count": len(skipped),
        "lines": [s.line for s in skipped],
        "problems": [{"line": s.line, "problem": s.problem} for s in skipped],
    }


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


def _is_number(value: Any, finite: bool = False) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and (not finite or math.isfinite(value))


def _is_date(value: Any) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


_TEXT = ("key", "run_id", "model", "model_sha256", "data_fingerprint", "config_hash", "created",
         "status")  # fmt: skip
_COUNTS = ("n_long", "n_short", "n_scored")
_NAMES = ("dropped", "new", "unscorable")


def entry_problem(entry: Any) -> str | None:
    """Why ``entry`` (a parsed ledger line) is not a ledger entry the desk can use, or None.

    Every field the desk reads is checked for its type: the decision date, the text fields,
    the counts, the asset lists, each book row (ISO date, asset, side, a finite weight,
    numbers or null for prediction and rank) and the scores (asset -> number or null).
    """
    if not isinstance(entry, dict):
        kind = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}
        return f"not a JSON object ({kind.get(type(entry), 'a number')})"
    if not isinstance(entry.get("as_of"), str) or not _is_date(entry["as_of"]):
        return "no decision date (as_of) in YYYY-MM-DD"
    for k in _TEXT:
        if k == "key" and not isinstance(entry.get(k), str):
            return "no key"
        if k in entry and entry[k] is not None and not isinstance(entry[k], str):
            return f"{k} is not text"
    for k in ("model_sha256", "data_fingerprint", "config_hash"):
        if not isinstance(entry.get(k), str):
            return f"no {k}"
    for k in _COUNTS:
        if k in entry and not (isinstance(entry[k], int) and not isinstance(entry[k], bool)):
            return f"{k} is not a whole number"
    for k in _NAMES:
        names = entry.get(k, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return f"{k} is not a list of assets"
    rows = entry.get("book")
    if not isinstance(rows, list):
        return "no book rows (book is not a list)"
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            return f"book row {i} is not an object"
        if not isinstance(row.get("date"), str) or not _is_date(row["date"]):
            return f"book row {i}: no date"
        if not isinstance(row.get("asset"), str) or row.get("side") not in ("long", "short"):
            return f"book row {i}: no asset or side"
        if not _is_number(row.get("weight"), finite=True):
            return f"book row {i}: weight is not a finite number"
        for k in ("prediction", "rank"):
            if row.get(k) is not None and not _is_number(row[k]):
                return f"book row {i}: {k} is not a number"
        if row.get("sector") is not None and not isinstance(row["sector"], str | int):
            return f"book row {i}: sector is not text"
    scores = entry.get("scores")
    if not isinstance(scores, dict):
        return "no scores (scores is not an object)"
    if not all(v is None or _is_number(v) for v in scores.values()):
        return "a score is not a number"
    return None


def read_entries(path: Path) -> Entries:
    """Every ledger entry in file order; each other line is skipped and reported.

    A line is skipped when it is not complete JSON (a torn last line of an interrupted
    append, bad bytes), is nested too deeply to parse, or is JSON of the wrong shape
    (:func:`entry_problem`). Blank lines are ignored. Raises :class:`LedgerError` when the
    ledger is not a regular file (a pipe is never opened).
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Entries([])
    except OSError as exc:
        raise LedgerError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise LedgerError(f"{path}: not a regular file (the ledger is never read from a pipe)")
    entries: list[dict[str, Any]] = []
    skipped: list[SkippedLine] = []
    lines = path.read_bytes().split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except RecursionError:
            skipped.append(SkippedLine(number, "nested too deeply"))
            continue
        except ValueError as exc:
            last = number == len(lines)  # no newline after it: an interrupted append
            why = "torn (an interrupted append)" if last else f"not valid JSON ({_short(exc)})"
            skipped.append(SkippedLine(number, why))
            continue
        problem = entry_problem(entry)
        if problem is None:
            entries.append(entry)
        else:
            skipped.append(SkippedLine(number, problem))
    return Entries(entries, tuple(skipped))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 80 else line[:77] + "..."


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


def record(
    path: Path, book: Book, force: bool = False, pre_trade: dict[str, Any] | None = None
) -> Book:
    """Append ``book`` unless the same inputs are recorded; sets and returns ``book.status``.

    A different book for a date already recorded raises :class:`LedgerConflict` unless
    ``force`` (then both stay, the new one last). ``pre_trade`` (the pre-trade checks run,
    the checks overridden and the corporate actions applied, when orders were formed) is
    recorded under ``pre_trade``; the same book traded with overrides not yet recorded for
    it is appended again (``status: overridden``), so every override reaches the ledger.
    """
    path, entry = Path(path), entry_of(book)
    if pre_trade is not None:
        entry["pre_trade"] = pre_trade
    overrides = (pre_trade or {}).get("overrides") or []
    with _locked(path) as fd:
        same_day = [e for e in read_entries(path).entries if e["as_of"] == entry["as_of"]]
        same = [e for e in same_day if e["key"] == entry["key"]]
        recorded = [e["pre_trade"].get("overrides") for e in same
                    if isinstance(e.get("pre_trade"), dict)]  # fmt: skip
        if same and (not overrides or overrides in recorded):
            book.status = "unchanged"
            return book
        if same:
            book.status = entry["status"] = "overridden"
            _append(fd, path, json.dumps(entry, sort_keys=True, default=str).encode() + b"\n")
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
