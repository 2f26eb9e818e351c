"""The executor seam: serial, process and Ray backends give bit-identical walk-forward runs;
tasks resume from their results, time out and fail by name."""

from __future__ import annotations

import importlib.util
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
