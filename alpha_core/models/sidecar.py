"""A saved model's files: the JSON sidecar and the checks of the files its type wrote.

On disk a model is ``<stem>.json``, the sidecar (``model_type``, ``features`` and the
model's ``meta``), plus whatever files its type writes beside it. The sidecar records the
size and sha256 of each of them (``files``); :func:`read_model_file` checks them before a
file's bytes reach the model library, so a model file altered or damaged after its save is a
:class:`ModelFileError` for that run, never a crash of the process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alpha_core.base.storage import write_json


class ModelFileError(ValueError):
    """A saved model that cannot be trusted: a file missing, altered, truncated or malformed.

    The message names the file and what is wrong with it.
    """


def sidecar_path(directory: Path, stem: str) -> Path:
    return directory / f"{stem}.json"


def write_sidecar(model: Any, directory: Path, stem: str, files: Sequence[str] = ()) -> Path:
    """``<stem>.json``: the model's type, features and meta (pretty JSON, atomic).

    ``files``: names (in ``directory``) of the files the type wrote, already in place; their
    size and sha256 are recorded under ``files`` and checked by :func:`read_model_file`.
    """
    payload: dict[str, Any] = {
        "model_type": model.model_type,
        "features": list(model.features),
        **model.meta,
    }
    if files:
        payload["files"] = {name: _fingerprint(Path(directory) / name) for name in files}
    return write_json(sidecar_path(directory, stem), payload)


def read_sidecar(directory: Path, stem: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """``(features, meta)`` from ``<stem>.json``; raises FileNotFoundError naming it, and
    :class:`ModelFileError` when it is not a sidecar."""
    path = sidecar_path(directory, stem)
    meta = read_json(path)
    meta.pop("model_type", None)
    meta.pop("files", None)
    features = meta.pop("features", None)
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise ModelFileError(f"{path}: no feature list (not a model sidecar)")
    return tuple(features), meta


def read_model_file(directory: Path, stem: str, name: str) -> bytes:
    """The bytes of the model file ``name`` in ``directory``, checked against its sidecar.

    Raises FileNotFoundError when it is missing and :class:`ModelFileError` when its size
    or sha256 differs from what the sidecar recorded at save. A sidecar without a record of
    the file (saved before checksums existed) lets the bytes through unchecked.
    """
    path = Path(directory) / name
    if not path.is_file():
        raise FileNotFoundError(f"model file missing: {path}")
    data = path.read_bytes()
    recorded = read_json(sidecar_path(Path(directory), stem)).get("files") or {}
    expected = recorded.get(name) if isinstance(recorded, dict) else None
    if isinstance(expected, dict):
        if expected.get("bytes") != len(data):
            raise ModelFileError(
                f"{path}: {len(data):,} bytes where {expected.get('bytes')} were saved "
                "(truncated or altered)"
            )
        if expected.get("sha256") != hashlib.sha256(data).hexdigest():
            raise ModelFileError(f"{path}: checksum mismatch (altered or damaged since saved)")
    return data


def _fingerprint(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def read_json(path: Path) -> dict[str, Any]:
    """A sidecar's JSON object; FileNotFoundError naming a missing one, ModelFileError else."""
    if not path.is_file():
        raise FileNotFoundError(f"model file missing: {path}")
    try:
        payload = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise ModelFileError(f"{path}: not a JSON object (not a model sidecar)")
    return payload


def numbered_stems(directory: Path, prefix: str = "fold_") -> list[str]:
    """Stems ``<prefix>NNN`` of the sidecars in ``directory``, in order: only the sidecars,
    whatever other ``<prefix>NNN.*.json`` files a model type wrote beside them."""
    stems = [p.stem for p in Path(directory).glob(f"{prefix}*.json")]
    return sorted(s for s in stems if s[len(prefix) :].isdigit())
