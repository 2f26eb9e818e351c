"""alpha sweep: the summary line, statistics from the ledger, and a kill -9 resumed to the
same ledger as an uninterrupted sweep on another backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
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


# ------------------------------------------------------------------ sweep files as untrusted input
BAD_FILES = [
    ("unknown_grid_setting", "[grid]\nbogus = [1, 2]\n", "[grid] bogus: unknown setting 'bogus'"),
    ("unknown_base_setting", "[base]\nbogus = 1\n[grid]\nlong_pct = [0.1]\n",
     "[base] bogus: unknown setting 'bogus'"),
    ("parameter_without_its_block", "[grid]\nnum_leaves = [4, 8]\n",
     "[grid] num_leaves: unknown setting 'num_leaves'; did you mean 'model.num_leaves'?"),
    ("bare_dotted_key", "[grid]\nmodel.learning_rate = [0.05, 0.1]\n",
     '[grid] model.learning_rate: a bare dotted key is a nested TOML table; quote the '
     'setting\'s whole name: "model.learning_rate" = [...]'),
    ("bare_dotted_key_in_base", "[base]\nmodel.max_depth = 3\n[grid]\nlong_pct = [0.1]\n",
     '[base] model.max_depth: a bare dotted key is a nested TOML table'),
    ("grid_is_a_number", "grid = 5\n", "grid: must be a table ([grid] followed by setting = "
     "value lines), got an integer 5"),
    ("no_grid_table", '[base]\nlong_pct = 0.2\n', "has no [grid] table"),
    ("misspelt_table", "[gird]\nlong_pct = [0.1]\n", "gird: unknown table"),
    ("setting_outside_a_table", "long_pct = [0.1]\n[grid]\nshort_pct = [0.1]\n",
     "long_pct: is outside any table"),
    ("empty_grid", "[grid]\n", "[grid]: is empty: a sweep needs at least one setting"),
    ("empty_list", "[grid]\nlong_pct = []\n", "[grid] long_pct: is an empty list"),
    ("not_a_list", "[grid]\nlong_pct = 0.2\n", "[grid] long_pct: must be a list of values"),
    ("value_out_of_range", "[grid]\nlong_pct = [0.1, 0.7]\n",
     "[grid] long_pct[1]: must be in (0, 0.5], got 0.7"),
    ("value_of_the_wrong_type", '[grid]\n"model.num_leaves" = [4, "eight"]\n',
     "[grid] model.num_leaves[1]: must be an integer"),
    ("not_a_choice", '[grid]\nlabel_transform = ["raw", "none"]\n',
     "[grid] label_transform[1]: must be one of"),
    ("not_finite", "[grid]\ncost_bps = [nan]\n", "[grid] cost_bps[0]: must be a finite number"),
    ("repeated_value", "[grid]\nlong_pct = [0.1, 0.1]\n",
     "[grid] long_pct[1]: repeats the value 0.1: a trial would run twice"),
    ("base_value_out_of_range", "[base]\nlong_pct = 2.0\n[grid]\nshort_pct = [0.1]\n",
     "[base] long_pct: must be in (0, 0.5], got 2.0"),
    ("list_in_base", "[base]\nlong_pct = [0.1, 0.2]\n[grid]\nshort_pct = [0.1]\n",
     "[base] long_pct: must be one value for every trial"),
    ("not_a_date", '[base]\ntrain_start = "last year"\n[grid]\nlong_pct = [0.1]\n',
     "[base] train_start: must be a date (YYYY-MM-DD), got 'last year'"),
    ("set_by_the_sweep", '[grid]\nexecutor = ["serial", "process"]\n',
     "[grid] executor: is set by the sweep itself"),
    ("data_varied", '[grid]\ndata = ["demo", "other.csv"]\n',
     "[grid] data: cannot vary between trials"),
    ("bad_syntax", "[grid\nlong_pct = [0.1]\n", "is not valid TOML (Expected ']'"),
]  # fmt: skip


def run_refused(argv: list[str], capsys) -> str:
    """``alpha`` refuses ``argv``: exit code 2 and one line on stderr, which is returned."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("alpha: error: "), err
    return err.removeprefix("alpha: error: ").rstrip("\n")


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_bad_sweep_file_is_one_line_naming_file_key_and_problem(
    files, tmp_path, capsys, name, text, message
):
    grid = tmp_path / f"{name}.toml"
    grid.write_text(text)
    root = tmp_path / "runs"
    line = run_refused(sweep_args((files[0], grid), root), capsys)
    assert line.startswith(f"{grid}: ") and message in line, line
    assert not (tmp_path / "sweeps").exists()  # refused before the sweep folder is made


def test_a_sweep_file_that_is_no_utf8_text_a_folder_or_a_fifo_is_refused(files, tmp_path, capsys):
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[grid]\nlabel_transform = ["raw"]\n# caf\xe9\n')
    line = run_refused(sweep_args((files[0], latin), tmp_path / "runs"), capsys)
    assert line == f"{latin}: is not UTF-8 text (byte 0xe9 on line 3)"
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    line = run_refused(sweep_args((files[0], folder), tmp_path / "runs"), capsys)
    assert line == f"{folder}: is a folder; a sweep file is a TOML file"
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # opening it would block until a writer came: it is never opened
    line = run_refused(sweep_args((files[0], fifo), tmp_path / "runs"), capsys)
    assert line == f"{fifo}: is not a regular file; a sweep file is a TOML file"


def test_an_oversized_grid_is_counted_and_refused_without_building_it(files, tmp_path, capsys):
    from alpha_core.runs.sweep import grid_trials
    from alpha_core.runs.sweep_file import MAX_TRIALS, SweepFileError, read_sweep_file

    keys = ["model.num_leaves", "model.min_data_in_leaf", "seed", "embargo_days"]
    keys += ["model.max_depth", "model.n_estimators", "retrain_days", "window_days"]
    lines = [f'"{key}" = {list(range(20, 30))}' for key in keys]  # 10 values each: 10^8 trials
    grid = tmp_path / "huge.toml"
    grid.write_text("[grid]\n" + "\n".join(lines) + "\n")
    tracemalloc.start()
    with pytest.raises(SweepFileError) as info:
        read_sweep_file(grid)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 2**20  # counted, not built (10^8 dicts: tens of GiB)
    assert str(info.value) == (
        f"{grid}: [grid]: makes 100,000,000 trials (10 x 10 x 10 x 10 x 10 x 10 x 10 x 10), "
        f"more than the limit of {MAX_TRIALS:,} (MAX_TRIALS); sweep fewer values, or draw "
        "some with --search N --space FILE"
    )
    line = run_refused(sweep_args((files[0], grid), tmp_path / "runs"), capsys)
    assert "makes 100,000,000 trials" in line
    with pytest.raises(SweepFileError, match="makes 100,000,000 trials"):
        grid_trials({key: list(range(20, 30)) for key in keys})  # the same check in code


def test_search_draws_from_a_huge_space_without_building_it():
    """``--search N`` over a space of 10^9 combinations: N draws, decoded one by one, the
    very draws ``random.sample`` makes over the built grid (the default space, checked)."""
    import itertools
    import random

    from alpha_core.runs.sweep import SEARCH_SPACE, search_trials

    space = {"model.num_leaves": list(range(2, 1002)), "seed": list(range(1000))}
    space["model.min_data_in_leaf"] = list(range(1, 1001))
    tracemalloc.start()
    drawn = search_trials(25, space, seed=3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 2**20 and len({str(d) for d in drawn}) == 25  # 10^9 points never built
    combos = itertools.product(*SEARCH_SPACE.values())
    grid = [dict(zip(SEARCH_SPACE, c, strict=True)) for c in combos]
    for seed in range(3):
        assert search_trials(40, SEARCH_SPACE, seed) == tuple(random.Random(seed).sample(grid, 40))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--search", "0"], "--search must be an integer in [1, 10,000], got 0"),
        (["--search", "20000"], "--search must be an integer in [1, 10,000], got 20000"),
        (["--search", "3", "--timeout", "0"], "--timeout must be a number of seconds > 0, got 0"),
        (
            ["--search", "3", "--timeout", "inf"],
            "--timeout must be a number of seconds > 0, got inf",
        ),  # noqa: E501
        (
            ["--search", "3", "--workers", "-1"],
            "--workers must be an integer in [0, 256] (0: one per core), got -1",
        ),
        (["--search", "3", "--search-seed", "-1"], "--search-seed must be an integer >= 0, got -1"),
        (
            ["--search", "3", "--ray-address", "h:1"],
            "--ray-address goes with --executor ray, not process",
        ),
    ],
)
def test_bad_sweep_flags_are_refused_before_any_work(files, tmp_path, capsys, flags, message):
    argv = ["sweep", "--data", str(files[0]), "--artifacts", str(tmp_path / "runs"), *flags]
    assert run_refused(argv, capsys) == message
    assert not (tmp_path / "sweeps").exists()


def test_a_sweep_files_data_must_agree_with_data_flag(files, tmp_path, capsys):
    data, _ = files
    other = tmp_path / "other.parquet"
    make_panel(n_assets=12, n_days=320, seed=9).write_parquet(other)
    grid = tmp_path / "grid.toml"
    grid.write_text(f'[base]\ndata = "{other}"\n' + GRID.replace("[base]\n", ""))
    line = run_refused(sweep_args((data, grid), tmp_path / "runs"), capsys)
    assert line == (
        f"{grid}: [base] data = {str(other)!r} disagrees with --data {str(data)!r}; give the "
        "data source once (or the same one in both)"
    )
    assert not (tmp_path / "sweeps").exists()


def test_a_trial_that_cannot_run_on_the_data_is_refused_before_any_trial(files, tmp_path, capsys):
    """Every trial's folds are planned on the data first: the second trial's embargo leaves
    no training date, so nothing runs and no sweep folder is made."""
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.replace("long_pct = [0.2, 0.3]", "embargo_days = [0, 300]"))
    line = run_refused(sweep_args((files[0], grid), tmp_path / "runs"), capsys)
    assert line.startswith("trial 1 (model.num_leaves=4, embargo_days=300): fold 0: no trading ")
    assert line.endswith("once the embargo of 300 days is left out"), line
    assert not (tmp_path / "sweeps").exists()


def test_a_sweep_files_metadata_is_applied_to_the_panel_it_records(tmp_path, capsys):
    """``[base] metadata`` is recorded in sweep.json and is what the panel was loaded with
    (the trials' sector data), so the record and the data agree."""
    panel = make_panel(n_assets=12, n_days=320, seed=4).drop("sector")
    data = tmp_path / "no_sector.parquet"
    panel.write_parquet(data)
    meta = tmp_path / "sectors.csv"
    assets = sorted(panel["asset"].unique())
    pl.DataFrame({"asset": assets, "sector": ["X", "Y", "Z"] * 4}).write_csv(meta)
    grid = tmp_path / "grid.toml"
    grid.write_text(f'[base]\nmetadata = "{meta}"\n' + GRID.replace("[base]\n", ""))
    grid.write_text(grid.read_text().replace("[4, 8, 12]", "[4]").replace("[0.2, 0.3]", "[0.2]"))
    root = tmp_path / "runs"
    assert main(sweep_args((data, grid), root, "--executor", "serial", "--json")) == 0
    (folder,) = (tmp_path / "sweeps").iterdir()
    assert json.loads((folder / "sweep.json").read_text())["base"]["metadata"] == str(meta)
    assert sorted(pl.read_parquet(folder / "panel.parquet")["sector"].unique()) == ["X", "Y", "Z"]
