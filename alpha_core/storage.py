"""Writing files so that a reader never sees half of one: the one atomic-write helper.

Every file the engine or the app persists (a run's tables and models, the SHAP cache, the
demo cache, an upload, a renamed run's metadata) is first written to a hidden temporary
name beside its target and then moved into place with ``os.replace``, which is atomic on
one filesystem. A failure leaves the old file (or nothing) and removes the temporary one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Writer = Callable[[Path], Any]
"""Writes the content to the temporary path it is given (e.g. ``frame.write_parquet``)."""


def write_atomic(path: Path, content: str | bytes | Writer) -> Path:
    """Write ``content`` (text, bytes, or a writer callable) to ``path`` atomically."""
    path = Path(path)
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


def write_json(path: Path, payload: Any) -> Path:
    """Pretty, key-sorted JSON written atomically (dates and paths as strings)."""
    return write_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str))


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a hidden temporary folder that becomes ``final`` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
