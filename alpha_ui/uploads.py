"""Uploaded files, kept so that a run trained on them can be reproduced; server paths allowed.

An upload is stored once under ``<registry>/.uploads/<sha256 prefix>_<safe name>``: the
name a browser sends may be long, non-ASCII or hostile (``../x``, ``.hidden``, control
characters), so only a short ASCII form of it is kept (:func:`safe_name`), and the shown
name is the original one, escaped wherever it is displayed.

The Data page's server-path field reads any path by default (a local install). Setting
``ALPHA_LAB_DATA_ROOTS`` (folders separated by ``os.pathsep``) restricts it to files under
those folders, after resolving symbolic links and ``..`` (:func:`check_server_path`).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

from alpha_core.api import PanelError, write_atomic
from alpha_ui.cache import registry_root

MAX_UPLOAD_MB = 200
"""Must equal ``server.maxUploadSize`` in ``.streamlit/config.toml`` (stated on the Data page)."""
DATA_ROOTS_ENV = "ALPHA_LAB_DATA_ROOTS"
MAX_NAME_CHARS = 80
"""Longest stored file name after the hash prefix (the extension is always kept)."""
_CHUNK = 1 << 20


def uploads_dir() -> Path:
    """Uploads live beside the runs (hidden from the run list)."""
    return registry_root() / ".uploads"


def safe_name(name: str) -> str:
    """A short ASCII file name for an uploaded ``name``: letters, digits, ``._-`` only.

    Accents are dropped (``données.csv`` -> ``donnees.csv``), other characters become
    ``_``, the stem is cut so the whole stays within :data:`MAX_NAME_CHARS`, the lower-case
    extension is kept (the loader picks its reader by it), and the result never starts with
    a dot. A name with nothing usable left becomes ``upload`` + its extension.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    ascii_ = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in ascii_)
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or not ext.isalnum() or len(ext) > 10:
        stem, ext = cleaned, ""
    stem = stem.strip("._-")[: MAX_NAME_CHARS - len(ext) - 1] or "upload"
    return f"{stem}.{ext.lower()}" if ext else stem


def save_upload(name: str, data: bytes | BinaryIO) -> Path:
    """Store uploaded content (bytes or a binary file object, read in chunks) under a
    content-addressed name; returns the path. The same content is stored once."""
    digest = hashlib.sha256()
    for chunk in _chunks(data):
        digest.update(chunk)
    path = uploads_dir() / f"{digest.hexdigest()[:12]}_{safe_name(name)}"
    if not path.exists():
        write_atomic(path, lambda tmp: _copy(data, tmp))
    return path


def user_message(text: str, originals: Mapping[str, str] | None = None) -> str:
    """``text`` (a loader's error) naming the user's files instead of server paths.

    Every stored upload path in ``text`` becomes the name the user uploaded (``originals``:
    stored path -> original name), or, when that is not known (a session restored from a
    link), the stored name without its hash prefix. What lies under the uploads folder is
    never shown with the server's folders.
    """
    for stored, original in (originals or {}).items():
        text = text.replace(stored, original)
    folder = re.escape(str(uploads_dir())) + r"[/\\]"
    return re.sub(folder + r"[0-9a-f]{12}_([A-Za-z0-9._-]+)", lambda m: m.group(1), text)


def _chunks(data: bytes | BinaryIO) -> Iterable[bytes]:
    if isinstance(data, bytes):
        yield data
        return
    data.seek(0)
    while chunk := data.read(_CHUNK):
        yield chunk


def _copy(data: bytes | BinaryIO, target: Path) -> None:
    with target.open("wb") as out:
        for chunk in _chunks(data):
            out.write(chunk)


def data_roots() -> tuple[Path, ...]:
    """The folders the server-path field may read from (empty: no restriction)."""
    raw = os.environ.get(DATA_ROOTS_ENV, "")
    return tuple(Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip())


def check_server_path(text: str) -> str:
    """``text`` as a path the Data page may read; PanelError when ``ALPHA_LAB_DATA_ROOTS``
    is set and the resolved path lies outside every root (uploads are always allowed)."""
    roots = data_roots()
    if not roots:
        return text
    resolved = Path(text).expanduser().resolve()
    allowed = (*roots, uploads_dir().resolve())
    if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
        shown = ", ".join(str(r) for r in roots)
        raise PanelError(
            f"{text}: outside the folders this server reads data from ({shown}; "
            f"set by {DATA_ROOTS_ENV})"
        )
    return text
