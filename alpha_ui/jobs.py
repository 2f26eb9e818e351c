"""Background training jobs: a run trains in a thread that outlives page switches and reruns.

The job table belongs to a :class:`JobBoard`, one per server process (:data:`BOARD`), so a
job started from the Train page keeps running while the user looks at other pages; any page
can poll it by id. A job calls the run service only (no Streamlit) and keeps the last
structured progress event it received.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from alpha_core.api import Cancelled, Progress, RetrainPlan, RunService
from alpha_core.config import RunConfig


@dataclass
class Job:
    """One training run in progress (or finished)."""

    id: str
    config: RunConfig
    root: Path
    owner: str
    status: str = "queued"  # queued | running | explaining | done | error | cancelled
    progress: Progress = field(default_factory=lambda: Progress("queued"))
    run_id: str | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    thread: threading.Thread | None = None
    trees: tuple[int, int] = (0, 0)
    """(built, total) trees of the latest training event."""
    cancel_requested: bool = False
    saved_at: float | None = None
    """When the run was saved (it is shown from then on; SHAP follows)."""

    @property
    def active(self) -> bool:
        """Still working: training, saving or computing the run's SHAP cache."""
        return self.status in ("queued", "running", "explaining")

    @property
    def training(self) -> bool:
        """Before the run is saved (the only phase a cancel applies to)."""
        return self.status in ("queued", "running")

    def elapsed(self, now: float | None = None) -> float:
        """Seconds since the job started (until it finished)."""
        end = self.finished if self.finished is not None else (now or time.time())
        return max(0.0, end - self.started)

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left to the save, extrapolated from the fraction done (None: too early)."""
        if not self.training or self.fraction < 0.02:
            return None
        return self.elapsed(now) * (1.0 - self.fraction) / self.fraction

    def cancel(self) -> None:
        """Ask the job to stop: its next progress event raises :class:`Cancelled`; nothing
        is saved. No effect once the run is saved."""
        self.cancel_requested = True

    @property
    def message(self) -> str:
        return self.progress.text()

    @property
    def fraction(self) -> float:
        return max(0.0, min(1.0, self.progress.fraction))

    def report(self, event: Progress) -> None:
        """The job's progress callback (raises :class:`Cancelled` after :meth:`cancel`)."""
        if self.cancel_requested and self.training:
            raise Cancelled("training cancelled")
        self.progress = event
        if event.stage == "training":
            self.trees = (event.step, event.total)


class JobBoard:
    """The jobs of one server process, and which job trains each registry's first run."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._first_run: dict[str, str] = {}  # registry root -> id of its first-start job
        self._lock = threading.Lock()

    def get(self, job_id: str | None) -> Job | None:
        if not job_id:
            return None
        with self._lock:
            return self._jobs.get(job_id)

    def start(
        self,
        config: RunConfig,
        panel: pl.DataFrame,
        root: Path,
        owner: str,
        data_label: str = "",
        explain_after: bool = True,
        lineage: RetrainPlan | None = None,
    ) -> Job:
        """Start training ``config`` on ``panel`` in a daemon thread; returns the job at once."""
        job = Job(id=uuid.uuid4().hex[:12], config=config, root=root, owner=owner)

        def work() -> None:
            job.status = "running"
            service = RunService(root)
            try:
                result = service.train_and_save(
                    config,
                    panel,
                    data_label=data_label,
                    explain=False,
                    on_progress=job.report,
                    lineage=lineage,
                )
                job.run_id = result.run_id  # saved: shown from now on
                job.saved_at = time.time()
                if explain_after:
                    job.status = "explaining"
                    job.progress = Progress("explaining", 1.0, message="computing SHAP values")
                    service.explain(result)
                job.status = "done"
                job.progress = Progress("done", 1.0)
            except Cancelled:
                job.status = "cancelled"
                job.progress = Progress("cancelled", job.fraction, message="cancelled")
            except Exception as exc:  # shown on the page; the app keeps working
                job.error = f"{type(exc).__name__}: {exc}"
                job.status = "error"
                job.progress = Progress("failed", job.fraction, message="failed")
            finally:
                job.finished = time.time()

        job.thread = threading.Thread(target=work, name=f"alpha-train-{job.id}", daemon=True)
        with self._lock:
            self._jobs[job.id] = job
        job.thread.start()
        return job

    def first_run_job(self, root: Path) -> Job | None:
        """The first-start job of a registry root, if one was started in this process."""
        with self._lock:
            job_id = self._first_run.get(str(root))
            return self._jobs.get(job_id) if job_id else None

    def claim_first_run(self, root: Path) -> bool:
        """True exactly once per registry root and process: the caller starts the first run."""
        with self._lock:
            if str(root) in self._first_run:
                return False
            self._first_run[str(root)] = ""
            return True

    def register_first_run(self, root: Path, job: Job) -> None:
        with self._lock:
            self._first_run[str(root)] = job.id


BOARD = JobBoard()
"""The server process's jobs (Streamlit runs every session in one process)."""
get = BOARD.get
start = BOARD.start
first_run_job = BOARD.first_run_job
claim_first_run = BOARD.claim_first_run
register_first_run = BOARD.register_first_run


def wait(job: Job, timeout: float = 600.0) -> Job:
    """Block until the job ends (tests and scripts)."""
    if job.thread is not None:
        job.thread.join(timeout)
    return job
