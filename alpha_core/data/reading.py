"""Safe reading of source files, shared by every reader plug-in.

Only regular files are opened (never a named pipe, device or socket, which would block or
never end); a zip's entry count and uncompressed size are checked against
:func:`read_limits` from its central directory before anything is inflated, and each member
is streamed to a temporary file in chunks rather than inflated into memory. Every reading
failure is one :class:`PanelError` line naming the file.

Also the reader contract: :class:`SourceTable` (what a reader returns) and
:class:`FileReader` (what a reader plug-in is; ``alpha_core.data.readers``).
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl


class PanelError(ValueError):
    """A source that cannot become a panel; the message names the problem and the file."""


@dataclass(frozen=True)
class SourceTable:
    """One table as read from a source, before its columns are matched."""

    name: str
    """Labels errors: the file, or ``archive.zip:member``."""
    frame: pl.DataFrame
    """The table as stored (CSV columns as text)."""
    asset: str | None = None
    """The asset of a one-ticker file (its stem), used when the table has no asset column."""


Reader = Callable[[Path], list[SourceTable]]
"""Reads one source path into its tables; errors are :class:`PanelError` naming the file."""

FOLDER = "/"
"""The suffix standing for a folder; every other suffix is a lower-case file extension."""


@dataclass(frozen=True)
class FileReader:
    """A reader plug-in: one file format (entry-point group ``alpha_lab.readers``).

    ``read`` turns a path into its tables; ``write_sample`` writes a canonical panel in this
    format under a folder and returns the path to read, so the conformance suite
    (:func:`alpha_core.data.conformance.check_reader`) can prove the round trip.
    """

    name: str
    suffixes: tuple[str, ...]
    """Lower-case extensions with the dot (``".csv"``), or :data:`FOLDER`."""
    read: Reader
    write_sample: Callable[[pl.DataFrame, Path], Path]
    description: str
    """One line for people (README, docs): what the format is."""


# --------------------------------------------------------------------------- limits
@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one source may make the loader read (see :func:`read_limits`)."""

    max_unzipped_bytes: int
    """Total uncompressed size of the CSV members of a zip."""
    max_members: int
    """Entries of a zip's central directory; CSV files of a folder."""


MAX_UNZIPPED_MB_ENV = "ALPHA_LAB_MAX_UNZIPPED_MB"
MAX_MEMBERS_ENV = "ALPHA_LAB_MAX_ZIP_MEMBERS"
DEFAULT_MAX_UNZIPPED_MB = 1024
DEFAULT_MAX_MEMBERS = 10_000
_CHUNK = 1 << 20


def read_limits() -> ReadLimits:
    """1024 MB unzipped and 10,000 members, unless ``ALPHA_LAB_MAX_UNZIPPED_MB`` or
    ``ALPHA_LAB_MAX_ZIP_MEMBERS`` (positive integers) say otherwise."""

    def env_int(name: str, default: int) -> int:
        text = os.environ.get(name, "").strip()
        return int(text) if text.isdigit() and int(text) > 0 else default

    return ReadLimits(
        env_int(MAX_UNZIPPED_MB_ENV, DEFAULT_MAX_UNZIPPED_MB) * 2**20,
        env_int(MAX_MEMBERS_ENV, DEFAULT_MAX_MEMBERS),
    )


def require_regular(path: Path) -> None:
    """Refuse anything but a regular file (symlinks followed): a pipe or device never ends."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise PanelError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise PanelError(f"{path}: not a regular file (pipes, devices and sockets are not read)")


# --------------------------------------------------------------------------- CSV text
def read_csv(source: Path, name: str) -> pl.DataFrame:
    """A CSV file as text columns; ``name`` labels errors (the file, or a zip member)."""
    try:
        df = pl.read_csv(source, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.NoDataError:
        raise PanelError(f"{name}: file is empty") from None
    except Exception as exc:
        raise PanelError(f"{name}: cannot parse CSV file ({reason(exc)})") from None
    return non_empty(df, name)


def reason(exc: BaseException) -> str:
    """A library exception as one short line (its first line, at most 200 characters)."""
    lines = str(exc).strip().splitlines()
    line = lines[0].strip() if lines else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def non_empty(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """``df``, or :class:`PanelError` when it has no rows."""
    if df.height == 0:
        raise PanelError(f"{name}: file has no rows")
    return df


# --------------------------------------------------------------------------- zips
def _is_csv_member(info: zipfile.ZipInfo) -> bool:
    name = info.filename
    mode = info.external_attr >> 16
    return (
        name.lower().endswith(".csv")
        and not info.is_dir()
        and not name.startswith("__MACOSX/")
        and not Path(name).name.startswith(".")
        and stat.S_IFMT(mode) in (0, stat.S_IFREG)  # no symlink or device entries
    )


def _too_many(path: Path, entries: int, limits: ReadLimits) -> PanelError:
    return PanelError(
        f"{path}: zip holds {entries:,} entries, more than the limit of "
        f"{limits.max_members:,} ({MAX_MEMBERS_ENV})"
    )


def _check_directory_size(path: Path, limits: ReadLimits) -> None:
    """Refuse a zip whose end record announces too many entries, before parsing them all."""
    try:
        with path.open("rb") as fp:
            end = zipfile._EndRecData(fp)  # type: ignore[attr-defined]
        entries = end[zipfile._ECD_ENTRIES_TOTAL] if end else None  # type: ignore[attr-defined]
    except (AttributeError, IndexError, OSError):  # ZipFile's own parsing decides
        return
    if end is None:
        raise PanelError(f"{path}: not a readable zip file (no end of central directory)")
    if entries is not None and entries > limits.max_members:
        raise _too_many(path, entries, limits)


def zip_csv_members(path: Path) -> Iterator[tuple[str, str, Path]]:
    """(member name, file stem, temporary file) for every CSV in the zip, one at a time.

    The limits are checked on the central directory first; each member is then inflated in
    chunks into a temporary file (overwritten by the next member) and never beyond the size
    its directory entry declares. Close the generator to close the zip and its scratch folder.
    """
    limits = read_limits()
    _check_directory_size(path, limits)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise PanelError(f"{path}: not a readable zip file ({reason(exc)})") from None
    with zf, tempfile.TemporaryDirectory(prefix="alpha-lab-zip-") as scratch:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise _too_many(path, len(infos), limits)
        members = sorted((i for i in infos if _is_csv_member(i)), key=lambda i: i.filename)
        if not members:
            raise PanelError(f"{path}: zip contains no CSV files")
        total = sum(i.file_size for i in members)
        if total > limits.max_unzipped_bytes:
            raise PanelError(
                f"{path}: zip inflates to {total / 2**20:,.0f} MB, more than the limit of "
                f"{limits.max_unzipped_bytes / 2**20:,.0f} MB ({MAX_UNZIPPED_MB_ENV})"
            )
        target = Path(scratch) / "member.csv"
        for info in members:
            _inflate(zf, info, target, f"{path}:{info.filename}")
            yield info.filename, Path(info.filename).stem, target


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Stream one member into ``target`` in chunks, at most its declared size."""
    written = 0
    try:
        with zf.open(info) as src, target.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:  # zipfile stops there itself; belt and braces
                    raise PanelError(f"{name}: member is larger than its directory entry says")
                dst.write(chunk)
    except PanelError:
        raise
    except Exception as exc:  # bad CRC, encryption, unsupported compression, disk full ...
        raise PanelError(f"{name}: cannot read this zip member ({reason(exc)})") from None
