"""The executor seam: serial, process and Ray backends give bit-identical walk-forward runs;
tasks resume from their results, time out and fail by name."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import make_panel, split_config

from alpha_core.base.executor import (
    ProcessExecutor,
    RayExecutor,
    SerialExecutor,
    Task,
    TaskError,
    make_executor,
    run_task,
)
from alpha_core.config import ModelParams, RunConfig
from alpha_core.research.pipeline import run_experiment

TINY = ModelParams(n_estimators=8, num_leaves=4, max_depth=3, min_data_in_leaf=5)
HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return make_panel(n_assets=10, n_days=200, seed=5)


@pytest.fixture(scope="module")
def config(panel) -> RunConfig:
    return split_config(panel["date"].unique().sort(), 110, model=TINY, walk_forward="monthly")


@pytest.fixture(scope="module")
def serial(panel, config):
    return run_experiment(config, panel)


def _same_run(a, b) -> None:
    assert a.predictions.equals(b.predictions)
    assert a.folds.drop("seconds").equals(b.folds.drop("seconds"))
    assert [m.booster.model_to_string() for m in a.models] == [
        m.booster.model_to_string() for m in b.models
    ]
    assert {k: v for k, v in a.metrics.items() if "seconds" not in k} == {
        k: v for k, v in b.metrics.items() if "seconds" not in k
    }


def test_the_process_backend_makes_the_serial_run_bit_for_bit(panel, config, serial):
    assert serial.folds.height >= 3
    _same_run(serial, run_experiment(config.replace(executor="process"), panel))


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'alpha-lab[ray]')")
def test_a_local_ray_of_two_cpus_makes_the_serial_run_bit_for_bit(panel, config, serial):
    import ray

    try:
        _same_run(serial, run_experiment(config.replace(executor="ray"), panel))
        assert ray.cluster_resources()["CPU"] == 2
    finally:
        ray.shutdown()


def write_marker(out: Path, text: str, sleep: float = 0.0) -> None:
    """A test task: write ``text`` to ``out`` (after sleeping)."""
    time.sleep(sleep)
    out.write_text(text)


def fail(out: Path) -> None:
    raise ValueError("no luck")


def _tasks(folder: Path, n: int, sleep: float = 0.0) -> list[Task]:
    return [
        Task(
            f"t{i}",
            "test_executor:write_marker",
            {"text": str(i), "sleep": sleep},
            folder / f"t{i}",
        )
        for i in range(n)
    ]


def test_a_task_whose_result_exists_is_not_run_again(tmp_path):
    tasks = _tasks(tmp_path, 3)
    tasks[1].out.write_text("kept")
    ran = []
    SerialExecutor().run(tasks, on_done=lambda t: ran.append(t.key))
    assert ran == ["t0", "t2"]
    assert [t.out.read_text() for t in tasks] == ["0", "kept", "2"]


def test_processes_run_every_task_and_report_each_once(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    tasks = _tasks(tmp_path, 4)
    done = []
    ProcessExecutor(workers=2).run(tasks, on_done=lambda t: done.append(t.key))
    assert sorted(done) == ["t0", "t1", "t2", "t3"]
    assert [t.out.read_text() for t in tasks] == ["0", "1", "2", "3"]


def test_a_slow_task_times_out_by_name(tmp_path):
    task = _tasks(tmp_path, 1, sleep=5.0)[0]
    with pytest.raises(TaskError, match="task t0 failed: TimeoutError: timed out after 0.3 s"):
        run_task(task, timeout=0.3)  # the 5 s task would have written its output
    assert not task.out.exists()


def test_a_failing_task_is_named_and_nothing_is_written(tmp_path):
    task = Task("bad", "test_executor:fail", {}, tmp_path / "bad")
    with pytest.raises(TaskError, match="task bad failed: ValueError: no luck"):
        SerialExecutor().run([task])


def test_the_backends_are_named_and_an_unknown_one_refused():
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert isinstance(make_executor("process", workers=2), ProcessExecutor)
    assert isinstance(make_executor("ray", address="10.0.0.1:6379"), RayExecutor)
    with pytest.raises(ValueError, match="unknown executor 'gpu'"):
        make_executor("gpu")


def write_pid(out: Path, sleep: float) -> None:
    """A test task: write this worker's pid beside ``out``, then outlive any test."""
    pid_file = out.with_suffix(".pid")
    pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
    pid_file.with_suffix(".tmp").rename(pid_file)  # whole or absent for the poller
    time.sleep(sleep)
    out.write_text("done")


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (a dead worker nobody reaped is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X", "x")


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _kill_parent_and_wait_for_workers(tmp_path: Path, executor: str) -> None:
    """Run two 600 s tasks on ``executor`` in a child process, ``kill -9`` the child once
    both tasks have started, and fail unless their worker processes are gone within 60 s."""
    script = (
        "import sys; from pathlib import Path\n"
        "from alpha_core.base.executor import Task\n"
        f"from alpha_core.base.executor import {executor}\n"
        "folder = Path(sys.argv[1])\n"
        "tasks = [Task(f't{i}', 'test_executor:write_pid', {'sleep': 600.0}, folder / f't{i}')"
        " for i in range(2)]\n"
        f"{executor}(workers=2).run(tasks)\n"
    )
    tests = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests.parent), str(tests)])}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_files = [tmp_path / "t0.pid", tmp_path / "t1.pid"]
    try:
        started = _wait_for(lambda: all(p.exists() for p in pid_files), 120)
        assert started, "the workers never started their tasks"
        pids = [int(p.read_text()) for p in pid_files]
        assert all(_running(pid) for pid in pids)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    gone = _wait_for(lambda: not any(_running(pid) for pid in pids), 60)
    for pid in pids:  # never leave a 600 s sleeper behind, whatever the verdict
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
    assert gone, f"worker processes {pids} outlived their parent killed with SIGKILL"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_process_workers_die_with_a_parent_killed_by_sigkill(tmp_path):
    _kill_parent_and_wait_for_workers(tmp_path, "ProcessExecutor")


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'alpha-lab[ray]')")
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_local_ray_workers_die_with_a_driver_killed_by_sigkill(tmp_path):
    """A local Ray started by the driver shares its fate (Ray's own PR_SET_PDEATHSIG)."""
    _kill_parent_and_wait_for_workers(tmp_path, "RayExecutor")
