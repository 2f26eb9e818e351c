"""The run registry: runs saved under ``artifacts/runs/<run_id>/`` and read back without code.

A run folder holds ``config.json``, ``metrics.json``, ``meta.json`` (name, timings, data
label), ``model.txt`` + ``model.json`` (model text + JSON sidecar; the last fold's model for
a walk-forward run), ``models/fold_000.txt`` + ``.json`` ... (every fold's model,
walk-forward runs only) and the Parquet tables of :data:`TABLES` and
:data:`OPTIONAL_TABLES`. The run service adds its exports (``predictions.csv``) and the
SHAP cache (``shap_*``). A run is written to a hidden
temporary folder and renamed into place, so a failed save leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.config import RunConfig
from alpha_core.model import load_model, save_model
from alpha_core.result import RunResult
from alpha_core.storage import atomic_dir, write_json

TABLES = ("predictions", "books", "daily")
"""RunResult attributes saved as ``<name>.parquet`` in every run."""
OPTIONAL_TABLES = ("folds", "quantiles", "ic_decay", "candidates")
"""RunResult attributes saved as ``<name>.parquet`` when not None."""
MODELS_DIR = "models"


def fold_stem(index: int) -> str:
    return f"fold_{index:03d}"


_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


def default_root() -> Path:
    """``$ALPHA_LAB_ARTIFACTS`` if set, else ``./artifacts/runs``."""
    env = os.environ.get("ALPHA_LAB_ARTIFACTS")
    return Path(env) if env else Path.cwd() / "artifacts" / "runs"


def new_run_id(config: RunConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    return f"{stamp}-{config.fingerprint()[:6]}"


def save_run(
    result: RunResult, root: Path | None = None, extra_meta: dict[str, Any] | None = None
) -> Path:
    """Persist a run atomically; returns its folder. Sets ``result.run_id``."""
    root = root or default_root()
    run_id = result.run_id or new_run_id(result.config)
    final = root / run_id
    with atomic_dir(final) as tmp:
        write_json(tmp / "config.json", result.config.to_dict())
        write_json(tmp / "metrics.json", result.metrics)
        meta = {
            "run_id": run_id,
            "name": result.config.name or run_id,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "timings": result.timings,
            **(extra_meta or {}),
        }
        write_json(tmp / "meta.json", meta)
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
    result.run_id = run_id
    return final


@dataclass(frozen=True)
class RunInfo:
    """A registry entry as listed: enough to pick a run without loading its tables."""

    run_id: str
    name: str
    created: str
    path: Path
    metrics: dict[str, Any]
    config: dict[str, Any]


def run_dir(run_id: str, root: Path | None = None) -> Path:
    if not _ID_PATTERN.match(run_id):
        raise ValueError(f"invalid run id: {run_id!r}")
    path = (root or default_root()) / run_id
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no run {run_id!r} in {path.parent}")
    return path


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Saved runs, newest first."""
    root = root or default_root()
    if not root.exists():
        return []
    infos = []
    for path in root.iterdir():
        if path.name.startswith(".") or not (path / "meta.json").exists():
            continue
        meta = json.loads((path / "meta.json").read_text())
        infos.append(
            RunInfo(
                run_id=path.name,
                name=meta.get("name", path.name),
                created=meta.get("created", ""),
                path=path,
                metrics=json.loads((path / "metrics.json").read_text()),
                config=json.loads((path / "config.json").read_text()),
            )
        )
    return sorted(infos, key=lambda i: (i.created, i.run_id), reverse=True)


def load_run(run_id: str, root: Path | None = None) -> RunResult:
    """Read a saved run back (JSON, Parquet and LightGBM text only)."""
    path = run_dir(run_id, root)
    config = RunConfig.from_dict(json.loads((path / "config.json").read_text()))
    meta = json.loads((path / "meta.json").read_text())
    tables = {t: pl.read_parquet(path / f"{t}.parquet") for t in TABLES}
    optional = {
        t: pl.read_parquet(path / f"{t}.parquet") if (path / f"{t}.parquet").exists() else None
        for t in OPTIONAL_TABLES
    }
    model = load_model(path)
    folder = path / MODELS_DIR
    n_folds = len(list(folder.glob("fold_*.json"))) if folder.exists() else 0
    models = [load_model(folder, fold_stem(k)) for k in range(n_folds)] or [model]
    return RunResult(
        config=config,
        model=model,
        models=models,
        **optional,
        metrics=json.loads((path / "metrics.json").read_text()),
        timings=meta.get("timings", {}),
        run_id=run_id,
        **tables,
    )


def rename_run(run_id: str, new_name: str, root: Path | None = None) -> None:
    """Change a run's display name (its id and folder stay)."""
    if not new_name.strip():
        raise ValueError("a run name cannot be empty")
    path = run_dir(run_id, root)
    meta = json.loads((path / "meta.json").read_text())
    meta["name"] = new_name.strip()
    write_json(path / "meta.json", meta)


def delete_run(run_id: str, root: Path | None = None) -> None:
    shutil.rmtree(run_dir(run_id, root))
