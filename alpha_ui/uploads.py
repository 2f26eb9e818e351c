"""Uploaded files, kept so that a run trained on them can be reproduced."""

from __future__ import annotations

import hashlib
from pathlib import Path

from alpha_core.storage import write_atomic
from alpha_ui.cache import registry_root

MAX_UPLOAD_MB = 200
"""Must equal ``server.maxUploadSize`` in ``.streamlit/config.toml`` (stated on the Data page)."""


def uploads_dir() -> Path:
    """Uploads live beside the runs (hidden from the run list)."""
    return registry_root() / ".uploads"


def save_upload(name: str, data: bytes) -> Path:
    """Store uploaded bytes under a content-addressed name; returns the path."""
    digest = hashlib.sha256(data).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)
    path = uploads_dir() / f"{digest}_{safe}"
    if not path.exists():
        write_atomic(path, data)
    return path
