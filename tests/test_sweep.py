"""alpha sweep: the summary line, statistics from the ledger, and a kill -9 resumed to the
same ledger as an uninterrupted sweep on another backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import make_panel

from alpha_core.cli.main import main
from alpha_core.stats import returns as stats
from alpha_core.stats.overfitting import pbo_cscv

ROOT = Path(__file__).resolve().parents[1]
GRID = """
[base]
walk_forward = "monthly"
"model.n_estimators" = 20
"model.early_stopping_rounds" = 5
"model.max_depth" = 3

[grid]
"model.num_leaves" = [4, 8, 12]
long_pct = [0.2, 0.3]
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("sweep")
    make_panel(n_assets=12, n_days=320, seed=4).write_parquet(folder / "p.parquet")
    (folder / "grid.toml").write_text(GRID)
    return folder / "p.parquet", folder / "grid.toml"


def sweep_args(files, root: Path, *extra: str) -> list[str]:
    data, grid = files
    return ["sweep", "--grid", str(grid), "--data", str(data), "--artifacts", str(root), *extra]


@pytest.fixture(scope="module")
def serial(files, tmp_path_factory):
    root = tmp_path_factory.mktemp("serial") / "runs"
    assert main(sweep_args(files, root, "--executor", "serial")) == 0
    (folder,) = (root.parent / "sweeps").iterdir()
    return folder


def test_the_summary_line_is_computed_from_the_ledger(files, serial, capsys, tmp_path):
    assert main(sweep_args(files, serial.parent.parent / "runs", "--json")) == 0  # resumed
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ledger = [json.loads(line) for line in (serial / "ledger.jsonl").read_text().splitlines()]
    assert summary["n_trials"] == len(ledger) == 6
    assert [e["trial"] for e in ledger] == list(range(6))
    scores = [e["valid_rank_ic"] for e in ledger]
    assert summary["best_trial"] == int(np.argmax(scores))  # chosen on validation, first on ties
    daily = [pl.read_parquet(serial / "trials" / f"{k:03d}" / "daily.parquet") for k in range(6)]
    net = np.column_stack([d.sort("date")["long_short_net"].to_numpy() for d in daily])
    sharpes = net.mean(axis=0) / net.std(axis=0, ddof=1)
    best = net[:, summary["best_trial"]]
    dsr = stats.deflated_sharpe_ratio(best, 6, float(np.var(sharpes, ddof=1)))
    assert summary["dsr"] == pytest.approx(dsr)
    assert summary["pbo"] == pytest.approx(pbo_cscv(net).pbo)
    assert 0 <= summary["reality_check_p"] <= 1


def test_a_sweep_without_a_validation_window_is_refused(files, tmp_path, capsys):
    grid = tmp_path / "no_valid.toml"
    grid.write_text(GRID.replace('"model.early_stopping_rounds" = 5', ""))
    args = sweep_args((files[0], grid), tmp_path / "runs", "--model-preset", "seed")
    assert main(args) == 2
    assert "chooses its best trial on the validation window" in capsys.readouterr().err


def test_a_sweep_killed_mid_way_resumes_to_the_same_ledger(files, serial, tmp_path):
    root = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "alpha_core.cli.main",
        *sweep_args(files, root, "--executor", "serial"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = root.parent / "sweeps" / serial.name / "ledger.jsonl"
    deadline = time.monotonic() + 600  # a guard against a hang
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.exists() and ledger.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ledger.read_text().count("\n") < 6, "the sweep finished before it was killed"
    assert main(sweep_args(files, root, "--executor", "process", "--workers", "2")) == 0
    assert ledger.read_bytes() == (serial / "ledger.jsonl").read_bytes()


def test_every_value_of_the_default_search_space_is_a_valid_setting():
    from alpha_core.config import FAST_PRESET, RunConfig
    from alpha_core.runs.sweep import SEARCH_SPACE, SweepSpec, check_spec

    base = RunConfig(model=FAST_PRESET)
    trials = [{key: value} for key, values in SEARCH_SPACE.items() for value in values]
    check_spec(SweepSpec(base, trials))  # raises ConfigError naming a bad value
    with pytest.raises(Exception, match="label_transform must be one of"):
        check_spec(SweepSpec(base, [{"label_transform": "none"}]))
