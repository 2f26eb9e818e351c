"""``kill -9`` of a process while it fits, saves or deletes a run, then listing and loading:
the registry is consistent (the run is whole or absent), nothing raises, and the next
listing leaves no orphaned temporary or trash folder.

The killed work runs in a subprocess that announces the moment (a line on stdout) and then
holds still, so the kill lands exactly there.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import make_panel, split_config

from alpha_core.cli.main import main as cli_main
from alpha_core.config import ModelParams
from alpha_core.runs.registry import RunNotFoundError, load_run, scan_runs
from alpha_core.runs.service import RunService

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import shutil, sys, time
    from pathlib import Path

    sys.path.insert(0, {tests!r})
    from conftest import make_panel

    from alpha_core.runs import registry
    from alpha_core.config import ModelParams, RunConfig
    from alpha_core.runs.service import RunService

    stage, root = sys.argv[1], Path(sys.argv[2])


    def hold(label):
        print(label, flush=True)
        time.sleep(600)


    def config():
        panel = make_panel(n_assets=10, n_days=160, seed=3)
        dates = panel["date"].unique().sort()
        cfg = RunConfig(
            train_start=dates[0], train_end=dates[109], test_start=dates[110],
            test_end=dates[-1], model=ModelParams(n_estimators=5, num_leaves=4, max_depth=3),
            name="killed",
        )
        return cfg, panel


    if stage == "fit":
        cfg, panel = config()
        RunService(root).train_and_save(
            cfg, panel, explain=False,
            on_progress=lambda event: hold("FIT") if event.stage == "training" else None,
        )
    elif stage == "save":
        cfg, panel = config()
        save_model = registry.save_model

        def slow_save(model, directory, stem="model"):
            save_model(model, directory, stem)
            hold("SAVE")

        registry.save_model = slow_save
        RunService(root).train_and_save(cfg, panel, explain=False)
    elif stage == "delete":
        shutil.rmtree = lambda path, ignore_errors=False: hold("DELETE")
        registry.delete_run(sys.argv[3], root)
    """
)


def kill_at(stage: str, root: Path, *args: str) -> None:
    """Run the child until it announces ``stage``, then SIGKILL it."""
    script = root.parent / "child.py"
    script.write_text(CHILD.format(tests=str(ROOT / "tests")))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, str(script), stage, str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line == stage.upper(), (line, proc.stderr.read() if proc.poll() else "")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def tiny_run(root: Path) -> str:
    panel = make_panel(n_assets=10, n_days=160, seed=3)
    dates = panel["date"].unique().sort()
    config = split_config(dates, 110, model=ModelParams(n_estimators=5, num_leaves=4, max_depth=3))
    return RunService(root).train_and_save(config, panel, explain=False).run_id


def alpha_runs(root: Path, monkeypatch, capsys) -> list[str]:
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    assert cli_main(["runs"]) == 0
    return capsys.readouterr().out.splitlines()


def test_kill_during_fit_leaves_nothing(tmp_path, monkeypatch, capsys):
    root = tmp_path / "runs"
    kill_at("fit", root)
    assert scan_runs(root) == scan_runs(tmp_path / "absent")  # empty: nothing, no damage
    assert alpha_runs(root, monkeypatch, capsys) == []
    assert not root.exists() or list(root.iterdir()) == []


def test_kill_during_save_leaves_no_run_and_no_orphan(tmp_path, monkeypatch, capsys):
    root = tmp_path / "runs"
    kept = tiny_run(root)  # a run saved before: untouched by the killed save
    kill_at("save", root)
    partial = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    assert len(partial) == 1 and (partial[0] / "model.txt").exists()  # killed mid-save
    listing = scan_runs(root)  # the next start: the dead owner's temp folder goes
    assert [i.run_id for i in listing.runs] == [kept] and listing.damaged == []
    assert [p.name for p in root.iterdir()] == [kept]
    assert load_run(kept, root).books.height > 0
    assert [line.split()[0] for line in alpha_runs(root, monkeypatch, capsys)] == [kept]


def test_kill_during_delete_hides_the_run_and_cleans_up(tmp_path, monkeypatch, capsys):
    root = tmp_path / "runs"
    doomed, kept = tiny_run(root), tiny_run(root)
    kill_at("delete", root, doomed)
    aside = [p for p in root.iterdir() if p.name.startswith(".trash-")]
    assert len(aside) == 1 and (aside[0] / "meta.json").exists()  # renamed, not yet removed
    with pytest.raises(RunNotFoundError, match=doomed):
        load_run(doomed, root)
    listing = scan_runs(root)
    assert [i.run_id for i in listing.runs] == [kept] and listing.damaged == []
    assert [p.name for p in root.iterdir()] == [kept]
    assert [line.split()[0] for line in alpha_runs(root, monkeypatch, capsys)] == [kept]
    shutil.rmtree(root)
