"""CLI: bad research flags exit 2 with one line and write nothing; --json carries the new
gross/net metrics; a walk-forward run saves every fold's model."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import make_panel

from alpha_core.cli.main import build_parser, config_from_args, main
from alpha_core.config import FAST_PRESET, ModelParams


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "panel.parquet"
    make_panel(n_assets=10, n_days=200, seed=4).write_parquet(path)
    return path


def dates_args(data_file) -> list[str]:
    return [
        "--data",
        str(data_file),
        "--train-start",
        "2020-01-01",
        "--train-end",
        "2020-06-30",
        "--test-start",
        "2020-07-01",
        "--test-end",
        "2020-09-30",
        "--n-estimators",
        "5",
        "--num-leaves",
        "4",
    ]


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--walk-forward", "weekly"], "--walk-forward"),
        (["--walk-forward", "0"], "--walk-forward"),
        (["--window", "sliding"], "--window"),
        (["--window-days", "5"], "--window-days must be an integer >= 20"),
        (["--embargo-days", "-1"], "--embargo-days must be an integer >= 0"),
        (["--label-transform", "robust"], "--label-transform"),  # zscore is valid (issue 9)
        (["--feature-transform", "demean"], "--feature-transform"),
        (["--cost-bps", "-3"], "--cost-bps must be in [0, 10000]"),
        (["--cost-bps", "abc"], "--cost-bps: invalid float value"),
        (["--borrow-bps", "-1"], "--borrow-bps must be in"),
        (["--sizing", "kelly"], "--sizing"),
        (["--gross-long", "0"], "--gross-long must be in (0, 10]"),
        (["--gross-short", "-1"], "--gross-short must be in (0, 10]"),
        (["--max-weight", "0"], "--max-weight must be in (0, 10]"),
        (["--max-sector-weight", "-0.2"], "--max-sector-weight must be in"),
        (["--n-trials", "0"], "--n-trials must be an integer >= 1"),
    ],
)
def test_bad_values_exit_2_with_one_line_and_write_nothing(
    data_file, tmp_path, capsys, flags, message
):
    artifacts = tmp_path / "runs"
    artifacts.mkdir()
    code = run_cli(["run", *dates_args(data_file), "--artifacts", str(artifacts), *flags])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("alpha: error:")
    assert message in lines[0]
    assert captured.out == ""
    assert list(artifacts.iterdir()) == []


def test_walk_forward_json_run(data_file, tmp_path, capsys):
    artifacts = tmp_path / "runs"
    code = run_cli(
        [
            "run",
            *dates_args(data_file),
            "--artifacts",
            str(artifacts),
            "--json",
            "--walk-forward",
            "21",
            "--embargo-days",
            "2",
            "--cost-bps",
            "5",
            "--borrow-bps",
            "40",
            "--sizing",
            "inverse-vol",
            "--max-weight",
            "0.6",
            "--label-transform",
            "demean",
            "--feature-transform",
            "rank",
            "--n-trials",
            "4",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    metrics = json.loads(captured.out)
    for key in (
        "run_id",
        "sharpe",
        "sharpe_net",
        "sharpe_ci_low",
        "sharpe_ci_high",
        "sharpe_boot_ci_low",
        "sharpe_net_ci_low",
        "psr",
        "psr_net",
        "dsr",
        "dsr_net",
        "min_trl",
        "total_return_net",
        "cagr",
        "sortino",
        "calmar",
        "turnover_mean",
        "hit_rate",
        "alpha",
        "beta",
        "quantile_spread",
        "ic_decay_1",
        "ic_decay_20",
        "capped_days",
        "limit_infeasible_days",
        "n_folds",
    ):
        assert key in metrics, key
    assert metrics["n_trials"] == 4
    assert metrics["n_folds"] == 4  # 66 business days in Q3 2020: 21 + 21 + 21 + 3
    folder = artifacts / metrics["run_id"]
    config = json.loads((folder / "config.json").read_text())
    assert config["walk_forward"] == "days"
    assert config["retrain_days"] == 21
    assert config["sizing"] == "inverse_vol"
    assert sorted(p.name for p in (folder / "models").glob("*.txt")) == [
        f"fold_{k:03d}.txt" for k in range(metrics["n_folds"])
    ]
    assert (folder / "ic_decay.parquet").exists()


def test_model_preset_with_overrides_and_walk_forward_days():
    args = build_parser().parse_args(
        ["run", "--model-preset", "fast", "--n-estimators", "7", "--walk-forward", "10"]
    )
    config = config_from_args(args, None)
    assert config.model == dataclasses.replace(FAST_PRESET, n_estimators=7)
    assert (config.walk_forward, config.retrain_days) == ("days", 10)
    seed = config_from_args(build_parser().parse_args(["run"]), None)
    assert seed.model == ModelParams()
    assert seed.walk_forward == "none"


def test_embargo_leaving_no_training_data_fails_before_training(data_file, tmp_path, capsys):
    artifacts = tmp_path / "runs"
    argv = ["run", *dates_args(data_file), "--artifacts", str(artifacts)]
    argv[argv.index("--train-end") + 1] = "2020-01-01"
    argv[argv.index("--test-start") + 1] = "2020-01-02"
    code = run_cli([*argv, "--embargo-days", "30"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1
    assert "embargo" in captured.err
    assert not artifacts.exists() or list(artifacts.iterdir()) == []


def test_choice_values_take_hyphens_or_underscores():
    for spelling in ("inverse-vol", "inverse_vol"):
        args = build_parser().parse_args(["run", "--sizing", spelling])
        assert config_from_args(args, None).sizing == "inverse_vol"


def test_model_flag_errors_name_the_flag_before_loading_data(tmp_path, capsys):
    missing = tmp_path / "no-such-file.parquet"  # never read: the flag check comes first
    code = run_cli(["run", "--data", str(missing), "--num-leaves", "1"])
    assert code == 2
    assert capsys.readouterr().err == "alpha: error: --num-leaves must be an integer >= 2, got 1\n"


def test_n_trials_counts_the_saved_runs(data_file, tmp_path, capsys):
    """As on the Train page: the runs already in the registry plus this one."""
    artifacts = tmp_path / "runs"
    argv = ["run", *dates_args(data_file), "--artifacts", str(artifacts), "--json"]
    trials = []
    for _ in range(2):
        assert run_cli(argv) == 0
        trials.append(json.loads(capsys.readouterr().out)["n_trials"])
    assert trials == [1, 2]
