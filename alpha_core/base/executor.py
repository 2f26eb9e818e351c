"""The executor seam: independent tasks (a walk-forward fold, a sweep trial) run through it.

A :class:`Task` names a top-level function by import path (``"module:function"``), plain
keyword arguments (paths, dates as text, numbers: never frames) and ``out``, the file or
folder the function writes its result to, atomically (:mod:`alpha_core.base.storage`). A task
whose ``out`` already exists is done and is skipped, so a batch interrupted at any point
(even by ``kill -9``) resumes where it stopped. Results travel through files only: the
caller reads ``out`` back, whichever backend ran the task.

Backends (:data:`EXECUTORS`, the ``executor`` run setting and ``--executor``):

* ``serial``: one task after another in this process (no start-up cost);
* ``process``: local worker processes (``concurrent.futures.ProcessPoolExecutor``,
  ``forkserver`` start method), one per core by default;
* ``ray``: a Ray cluster (``pip install "alpha-lab[ray]"``); ``address`` joins a running
  cluster, else a local Ray starts with a bounded number of CPUs.

Threads: each task runs with ``threads`` OpenMP threads (cores / workers), so two LightGBM
fits in two processes do not oversubscribe two cores; ``OMP_WAIT_POLICY`` stays PASSIVE.
LightGBM is deterministic for a seed whatever its thread count (``deterministic=True``), so
every backend gives the same predictions (``tests/test_executor.py``).

Orphans: a worker never outlives the process that started it, even one killed with
``kill -9``. Each ``process`` worker asks Linux to SIGKILL it when its parent dies
(``prctl(PR_SET_PDEATHSIG)``; the parent is the forkserver, which exits when our process does)
and runs a watchdog thread that exits the worker once that process is gone (the fallback
elsewhere). A local Ray started by ``ray.init`` here shares our fate the same way (Ray starts
its raylet and GCS server with ``PR_SET_PDEATHSIG`` on Linux, and a raylet's workers exit with
it); a cluster joined by address keeps its own processes and ends a dead driver's tasks.

Timeouts: a task longer than ``timeout`` seconds is interrupted in its own process (an
alarm signal, checked between LightGBM iterations) and fails with :class:`TaskError`; the
serial backend enforces it only on the main thread.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from alpha_core.base.plugins import load_target

DEFAULT_TIMEOUT = 6 * 3600.0
"""Seconds a task may run before it is interrupted (override per batch)."""
WATCHDOG_SECONDS = 0.5
"""How often a worker checks that the process that started it is still alive."""
PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal a process gets when its parent dies."""
MAX_WORKERS = 256
"""The most worker processes (or local Ray CPUs) one batch may ask for."""
RAY_LOCAL_CPUS = 2
"""CPUs of a local Ray started without an address (bounded: a laptop's Ray stays polite)."""


class TaskError(RuntimeError):
    """A task failed or timed out; the message names it."""


@dataclass(frozen=True)
class Task:
    """One independent unit of work: ``fn(out=out, **kwargs)`` writes its result to ``out``."""

    key: str
    fn: str
    """``"package.module:function"``: imported in the worker (nothing is pickled but this)."""
    kwargs: dict[str, Any]
    out: Path

    @property
    def done(self) -> bool:
        return Path(self.out).exists()


OnDone = Callable[[Task], None]


class Executor(Protocol):
    """Runs tasks; returns once every task's ``out`` exists, else raises TaskError."""

    name: str

    def run(self, tasks: Sequence[Task], on_done: OnDone | None = None) -> None: ...


@contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Raise TimeoutError in this thread after ``seconds`` (main thread only)."""
    usable = seconds and threading.current_thread() is threading.main_thread()
    if not usable or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(_sig: int, _frame: Any) -> None:
        raise TimeoutError(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def run_task(task: Task, timeout: float | None = DEFAULT_TIMEOUT) -> str:
    """Run one task here (any backend's worker calls this); returns its key."""
    if task.done:
        return task.key
    fn = load_target(task.fn)
    try:
        with _alarm(timeout):
            fn(out=Path(task.out), **task.kwargs)
    except Exception as exc:
        raise TaskError(f"task {task.key} failed: {type(exc).__name__}: {exc}") from exc
    if not task.done:
        raise TaskError(f"task {task.key} returned without writing {task.out}")
    return task.key


def worker_env(threads: int) -> dict[str, str]:
    """Thread limits of a worker sharing the machine: LightGBM's OpenMP, polars' pool and
    numba's kernels each get ``threads``, so N workers never run N x cores threads."""
    n = str(threads)
    return {
        "OMP_NUM_THREADS": n,
        "OMP_WAIT_POLICY": "PASSIVE",
        "POLARS_MAX_THREADS": n,
        "NUMBA_NUM_THREADS": n,
    }


def set_threads(threads: int) -> None:
    """Apply :func:`worker_env` in a worker, before LightGBM, polars or numba load."""
    os.environ.update(worker_env(threads))


def _identity(pid: int) -> str | None:
    """``pid``'s start time from ``/proc`` (so a reused pid is not taken for it), ``""``
    without ``/proc``, None when the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if os.path.isdir("/proc/self") else _exists(pid)
    except OSError:
        return _exists(pid)
    state, *rest = stat.rpartition(")")[2].split()
    return None if state in ("Z", "X", "x") else rest[18]  # field 22: the start time


def _exists(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def die_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_owner(owner: int, seconds: float = WATCHDOG_SECONDS) -> threading.Thread:
    """A daemon thread ending this process once ``owner`` (the process that started the
    pool) or this process's parent is gone, whatever this process is doing then."""
    identity, parent = _identity(owner), os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent or identity is None or _identity(owner) != identity:
                os._exit(70)  # nobody is left to read the result
            time.sleep(seconds)

    thread = threading.Thread(target=watch, name="alpha-lab-watchdog", daemon=True)
    thread.start()
    return thread


def init_worker(threads: int, owner: int) -> None:
    """A ``process`` worker's initializer: thread limits, then die with ``owner``."""
    set_threads(threads)
    die_with_parent()
    watch_owner(owner)


def _pending(tasks: Sequence[Task]) -> list[Task]:
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique within a batch")
    return [t for t in tasks if not t.done]


@dataclass
class SerialExecutor:
    """Every task in this process, in order."""

    timeout: float | None = DEFAULT_TIMEOUT
    name: str = "serial"

    def run(self, tasks: Sequence[Task], on_done: OnDone | None = None) -> None:
        for task in _pending(tasks):
            run_task(task, self.timeout)
            if on_done:
                on_done(task)


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass
class ProcessExecutor:
    """Local worker processes (``forkserver``: no fork of a threaded parent)."""

    workers: int = 0
    """0: one per core."""
    timeout: float | None = DEFAULT_TIMEOUT
    name: str = "process"

    def run(self, tasks: Sequence[Task], on_done: OnDone | None = None) -> None:
        pending = _pending(tasks)
        if not pending:
            return
        workers = min(self.workers or cores(), len(pending))
        threads = max(1, cores() // workers)
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=init_worker,
            initargs=(threads, os.getpid()),
        ) as pool:
            futures = {pool.submit(run_task, t, self.timeout): t for t in pending}
            _collect(futures, on_done, pool.shutdown)


def _collect(futures: dict[Any, Task], on_done: OnDone | None, stop: Callable[..., Any]) -> None:
    """Wait for every future; on the first failure cancel the rest and raise it."""
    waiting = set(futures)
    while waiting:
        finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
        for future in finished:
            try:
                future.result()
            except BaseException:
                stop(wait=False, cancel_futures=True)
                raise
            if on_done:
                on_done(futures[future])


@dataclass
class RayExecutor:
    """Tasks as Ray remote functions on a cluster (``address``) or a local Ray."""

    address: str | None = None
    """A running cluster (``ray start --head`` prints it); default ``RAY_ADDRESS``."""
    workers: int = 0
    """CPUs of a local Ray (0: :data:`RAY_LOCAL_CPUS`); ignored with an address."""
    timeout: float | None = DEFAULT_TIMEOUT
    threads: int = 1
    """OpenMP threads per task (and CPUs Ray reserves for it)."""
    name: str = "ray"
    _remote: Any = field(default=None, init=False, repr=False)

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise TaskError('the ray executor needs Ray: pip install "alpha-lab[ray]"') from exc
        if not ray.is_initialized():
            env = {"env_vars": worker_env(self.threads)}
            address = self.address or os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, runtime_env=env, log_to_driver=False)
            else:
                cpus = self.workers or RAY_LOCAL_CPUS
                ray.init(
                    num_cpus=cpus, runtime_env=env, include_dashboard=False, log_to_driver=False
                )
        if self._remote is None:
            self._remote = ray.remote(num_cpus=self.threads, max_retries=0)(run_task)
        return ray

    def run(self, tasks: Sequence[Task], on_done: OnDone | None = None) -> None:
        pending = _pending(tasks)
        if not pending:
            return
        ray = self._connect()
        refs = {self._remote.remote(t, self.timeout): t for t in pending}
        waiting = list(refs)
        while waiting:
            finished, waiting = ray.wait(waiting, num_returns=1)
            for ref in finished:
                try:
                    ray.get(ref)
                except Exception as exc:
                    for other in waiting:
                        ray.cancel(other, force=True)
                    cause = getattr(exc, "cause", None) or exc
                    raise TaskError(str(cause)) from exc
                if on_done:
                    on_done(refs[ref])


EXECUTORS: dict[str, str] = {
    "serial": "one task after another in this process",
    "process": "local worker processes, one per core",
    "ray": "a Ray cluster (--ray-address) or a local Ray; pip install 'alpha-lab[ray]'",
}
"""Backends by name (the ``executor`` setting)."""


def make_executor(
    name: str,
    *,
    workers: int = 0,
    address: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Executor:
    """The backend ``name`` (:data:`EXECUTORS`); ``workers`` in [0, :data:`MAX_WORKERS`]
    (0: one per core), ``timeout`` a positive number of seconds or None."""
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise ValueError(f"workers must be an integer, got {workers!r}")
    if not 0 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be in [0, {MAX_WORKERS}] (0: one per core), got {workers}")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if name == "serial":
        return SerialExecutor(timeout)
    if name == "process":
        return ProcessExecutor(workers, timeout)
    if name == "ray":
        return RayExecutor(address, workers, timeout)
    raise ValueError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
