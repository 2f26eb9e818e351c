"""Background training jobs: a run trains in a thread that outlives page switches and reruns.

The job table is module-level (one per server process), so a job started from the Train page
keeps running while the user looks at other pages; any page can poll it by id. Threads call
the engine only (no Streamlit), then save the run and cache its SHAP explanations.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from alpha_core import explain
from alpha_core.config import RunConfig
from alpha_core.pipeline import run_experiment
from alpha_core.registry import save_run


@dataclass
class Job:
    """One training run in progress (or finished)."""

    id: str
    config: RunConfig
    root: Path
    owner: str
    status: str = "queued"  # queued | running | done | error
    message: str = "queued"
    fraction: float = 0.0
    trees: tuple[int, int] = (0, 0)
    run_id: str | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


_TREES = re.compile(r"(\d+)/(\d+) trees")
_JOBS: dict[str, Job] = {}
_LOCK = threading.Lock()
_FIRST_RUN: dict[str, str] = {}  # registry root -> id of its first-start job


def get(job_id: str | None) -> Job | None:
    if not job_id:
        return None
    with _LOCK:
        return _JOBS.get(job_id)


def start(
    config: RunConfig,
    panel: pl.DataFrame,
    root: Path,
    owner: str,
    feats: pl.DataFrame | None = None,
    data_label: str = "",
    explain_after: bool = True,
) -> Job:
    """Start training ``config`` on ``panel`` in a daemon thread; returns the job at once."""
    job = Job(id=uuid.uuid4().hex[:12], config=config, root=root, owner=owner)

    def on_progress(message: str, fraction: float) -> None:
        job.message = message
        job.fraction = max(0.0, min(1.0, fraction))
        found = _TREES.search(message)
        if found:
            job.trees = (int(found.group(1)), int(found.group(2)))

    def work() -> None:
        job.status = "running"
        try:
            result = run_experiment(config, panel, feats=feats, on_progress=on_progress)
            job.message = "saving the run"
            folder = save_run(result, root, {"data": config.data, "data_label": data_label})
            job.run_id = result.run_id
            if explain_after:
                job.message = "computing SHAP explanations"
                try:
                    from alpha_core.features import build_features

                    f = feats
                    if f is None:
                        f = build_features(
                            panel, label=config.label, features=result.model.features
                        )
                    explain.load_or_compute(folder, result.models or [result.model], f, config)
                except Exception:  # explanations are recomputed on the Explain page
                    traceback.print_exc()
            job.message = "done"
            job.fraction = 1.0
            job.status = "done"
        except Exception as exc:  # shown on the page; the app keeps working
            job.error = f"{type(exc).__name__}: {exc}"
            job.status = "error"
            job.message = "failed"
        finally:
            job.finished = time.time()

    job.thread = threading.Thread(target=work, name=f"alpha-train-{job.id}", daemon=True)
    with _LOCK:
        _JOBS[job.id] = job
    job.thread.start()
    return job


def first_run_job(root: Path) -> Job | None:
    """The first-start job of a registry root, if one was started in this process."""
    with _LOCK:
        job_id = _FIRST_RUN.get(str(root))
        return _JOBS.get(job_id) if job_id else None


def claim_first_run(root: Path) -> bool:
    """True exactly once per registry root and process: the caller starts the first run."""
    with _LOCK:
        if str(root) in _FIRST_RUN:
            return False
        _FIRST_RUN[str(root)] = ""
        return True


def register_first_run(root: Path, job: Job) -> None:
    with _LOCK:
        _FIRST_RUN[str(root)] = job.id


def wait(job: Job, timeout: float = 600.0) -> Job:
    """Block until the job ends (tests and scripts)."""
    if job.thread is not None:
        job.thread.join(timeout)
    return job
