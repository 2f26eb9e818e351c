"""The reader conformance suite: what every reader plug-in must do (``check_reader``).

As scikit-learn's ``check_estimator`` does for estimators, :func:`check_reader` proves a
reader plug-in (``alpha_core.data.readers``) through the public loader only: the sample it
writes itself reads back as the reference panel, an empty or garbage file is refused with
one :class:`PanelError` line naming the file, and nothing but regular files is opened. The
reference panel (:func:`reference_panel`) is generated here, so the suite needs no data.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.data import readers
from alpha_core.data.canonical import PANEL_COLUMNS
from alpha_core.data.panel import READERS, load_panel
from alpha_core.data.reading import FOLDER, FileReader, PanelError, SourceTable

GARBAGE = bytes(range(256)) * 3 + b"\x00PAR1 not a table \xff\xfe" * 8
"""Bytes no format can read as prices (every byte value, then noise)."""
PIPE_TIMEOUT = 30.0
"""Seconds a read of a named pipe may take before the reader counts as blocked."""


class ReaderConformanceError(AssertionError):
    """A reader that breaks the contract: names the reader and the property."""


def reference_panel(
    n_assets: int = 4, n_days: int = 30, seed: int = 0, stagger: int = 2
) -> pl.DataFrame:
    """A canonical random-walk OHLCV panel on weekdays from 2020-01-01 (asset ``i`` starts
    ``i * stagger`` bars late), sorted by asset and date: the suites' generated data."""
    rng = np.random.default_rng(seed)
    days = [d for d in _dates(dt.date(2020, 1, 1), n_days * 2) if d.weekday() < 5][:n_days]
    frames = []
    for i in range(n_assets):
        d = days[i * stagger :]
        n = len(d)
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
        open_ = close * np.exp(rng.normal(0, 0.005, n))
        frames.append(
            pl.DataFrame(
                {
                    "date": d,
                    "asset": f"A{i:02d}",
                    "open": open_,
                    "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, n)),
                    "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, n)),
                    "close": close,
                    "volume": rng.lognormal(12, 0.4, n),
                },
                schema_overrides={"date": pl.Date},
            )
        )
    return pl.concat(frames).select(PANEL_COLUMNS).sort("asset", "date")


def _dates(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=k) for k in range(n)]


def check_reader(name: str, folder: str | Path | None = None) -> list[str]:
    """Run every check on the discovered reader ``name``; return the checks passed.

    Raises :class:`ReaderConformanceError` naming the first property broken. Files are
    written under ``folder`` (a fresh temporary folder when None).
    """
    found = readers.file_readers()
    if name not in found:
        raise ReaderConformanceError(f"no reader plug-in named {name!r} (found {list(found)})")
    reader = found[name]
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="alpha-lab-reader-") as scratch:
            return _run(reader, Path(scratch))
    return _run(reader, Path(folder))


def _run(reader: FileReader, root: Path) -> list[str]:
    checks = [
        ("declared", _declared),
        ("round trip", _round_trip),
        ("empty files refused", _empty),
        ("garbage refused", _garbage),
        ("regular files only", _regular_only),
    ]
    passed = []
    for i, (label, check) in enumerate(checks):
        work = root / f"{i}-{label.replace(' ', '-')}"
        work.mkdir(parents=True)
        try:
            check(reader, work)
        except ReaderConformanceError as exc:
            raise ReaderConformanceError(f"reader {reader.name!r}, {label}: {exc}") from None
        passed.append(label)
    return passed


def _fail(message: str) -> ReaderConformanceError:
    return ReaderConformanceError(message)


def _declared(reader: FileReader, work: Path) -> None:
    if not isinstance(reader, FileReader):
        raise _fail(f"not a FileReader: {type(reader).__name__}")
    if not reader.suffixes:
        raise _fail("declares no suffix")
    for suffix in reader.suffixes:
        if suffix != FOLDER and not (
            suffix.startswith(".") and suffix == suffix.lower() and suffix[1:].isalnum()
        ):
            raise _fail(f"suffix {suffix!r} is not a lower-case '.ext' or the folder key")
        if READERS.get(suffix) is not reader.read:
            raise _fail(f"READERS[{suffix!r}] is not this reader (claimed by another?)")
    text = reader.description.strip()
    if not text or "\n" in text:
        raise _fail("needs a one-line description (README, docs)")


def _sample(reader: FileReader, work: Path, panel: pl.DataFrame) -> Path:
    path = Path(reader.write_sample(panel, work))
    is_folder = FOLDER in reader.suffixes and path.is_dir()
    if not is_folder and path.suffix.lower() not in reader.suffixes:
        raise _fail(f"write_sample wrote {path.name}, not one of {reader.suffixes}")
    return path


def _round_trip(reader: FileReader, work: Path) -> None:
    reference = reference_panel()
    shuffled = reference.sample(fraction=1.0, shuffle=True, seed=7)  # order is the loader's
    path = _sample(reader, work, shuffled)
    tables = reader.read(path)
    if not tables or not all(isinstance(t, SourceTable) for t in tables):
        raise _fail("read() must return a non-empty list of SourceTable")
    unnamed = [t.name for t in tables if not t.name.startswith(str(path))]
    if unnamed:
        raise _fail(f"tables must be named after the source {path} (got {unnamed[:2]})")
    first = _load(path)
    got = first.select(PANEL_COLUMNS)
    if got.schema != reference.schema:
        raise _fail(f"schema {dict(got.schema)} is not the canonical {dict(reference.schema)}")
    if not got.equals(reference):
        diff = got.join(reference, on=["asset", "date"], how="full", suffix="_ref").height
        raise _fail(f"the sample does not read back as the reference panel ({diff} rows)")
    if not _load(path).equals(first):
        raise _fail("reading the same source twice gave different panels")


def _load(path: Path) -> pl.DataFrame:
    try:
        return load_panel(path)
    except PanelError as exc:
        raise _fail(f"its own sample was refused: {exc}") from None


def _refused(path: Path, what: str) -> str:
    """The one-line PanelError loading ``path`` must raise."""
    try:
        load_panel(path)
    except PanelError as exc:
        message = str(exc)
    except Exception as exc:  # anything else escapes the Data page's one line
        raise _fail(f"{what}: raised {type(exc).__name__} ({exc}), not PanelError") from None
    else:
        raise _fail(f"{what}: was read as a panel")
    if len(message.splitlines()) != 1:
        raise _fail(f"{what}: the message is not one line: {message!r}")
    if str(path) not in message:
        raise _fail(f"{what}: the message does not name {path}: {message!r}")
    return message


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]


def _empty(reader: FileReader, work: Path) -> None:
    path = _sample(reader, work, reference_panel())
    for file in _files(path):
        file.write_bytes(b"")
    _refused(path, "empty file(s)")
    if FOLDER in reader.suffixes:
        (work / "empty-folder").mkdir()
        _refused(work / "empty-folder", "an empty folder")


def _garbage(reader: FileReader, work: Path) -> None:
    path = _sample(reader, work, reference_panel())
    for file in _files(path):
        file.write_bytes(GARBAGE)
    _refused(path, "garbage bytes")


def _regular_only(reader: FileReader, work: Path) -> None:
    if not hasattr(os, "mkfifo"):  # no named pipes on this platform
        return
    targets = []
    for suffix in reader.suffixes:
        if suffix == FOLDER:
            path = _sample(reader, work / "folder", reference_panel())
            member = _files(path)[0]
            member.unlink()
            os.mkfifo(member)
            targets.append(path)
        else:
            pipe = work / f"pipe{suffix}"
            os.mkfifo(pipe)
            link = work / f"link{suffix}"
            link.symlink_to(pipe)
            targets += [pipe, link]
    for path in targets:
        _refused_without_blocking(path)


def _refused_without_blocking(path: Path) -> None:
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            message = _refused(path, "a named pipe")
            if "not a regular file" not in message:
                raise _fail(f"a named pipe: refused for another reason: {message!r}")
            outcome.append(None)
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(PIPE_TIMEOUT)
    if not outcome:
        raise _fail(f"reading {path} (a named pipe) blocked for {PIPE_TIMEOUT:.0f} s")
    if outcome[0] is not None:
        raise outcome[0]
