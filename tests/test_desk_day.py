"""``alpha day``: one idempotent command for a scheduler (issue 19). Twice for one date writes
the same files and one ledger line; a refused pre-trade check exits 2 and calls the alert
command; an alert (drift) exits 3 with the orders written; a failing alert command exits 4."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import json
import shlex

import pytest
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    SHIFTED,
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
)

from alpha_core.cli.day import EXIT
from alpha_core.cli.main import main
from alpha_core.desk.service import DeskService


@pytest.fixture
def desk(tmp_path, desk_registry):
    service = fresh_copy(*desk_registry, tmp_path / "runs")
    return DeskService(service.root), desk_registry[1]


def alert_cmd(tmp_path) -> str:
    """A shell command writing its stdin and $ALPHA_ALERT_LEVEL to files in tmp_path."""
    text, level = shlex.quote(str(tmp_path / "alert.txt")), shlex.quote(str(tmp_path / "level"))
    return f'cat > {text}; printf %s "$ALPHA_ALERT_LEVEL" > {level}'


def day_argv(service, run_id, tmp_path, data=CONTINUED, *extra):
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("asset,quantity\n")
    return ["day", "--run", run_id, "--data", data, "--artifacts", str(service.root),
            "--holdings", str(holdings), "--capital", "100000", "--out", str(tmp_path / "out"),
            *extra]  # fmt: skip


def files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_alpha_day_twice_writes_the_same_files_and_one_ledger_line(tmp_path, desk, capsys):
    service, run_id = desk
    argv = day_argv(service, run_id, tmp_path, CONTINUED, "--alert-cmd", alert_cmd(tmp_path),
                    "--assume-fills", "--json")  # fmt: skip
    assert main(argv) == EXIT["ok"] == 0
    first = last_json(capsys)
    written = files(tmp_path / "out")
    day = first["as_of"]
    assert set(written) == {f"book_{day}.csv", f"orders_{day}.csv",
                            f"orders_summary_{day}.json", f"monitor_{day}.json"}  # fmt: skip
    assert first["status"] == "appended" and first["execution"].endswith("(label close_to_close)")
    summary = json.loads(written[f"orders_summary_{day}.json"])
    assert summary["execution"] == first["execution"] and "status" not in summary
    assert main(argv) == 0
    second = last_json(capsys)
    assert second["status"] == "unchanged" and files(tmp_path / "out") == written
    assert len(service.ledger(run_id).entries) == 1
    assert not (tmp_path / "alert.txt").exists()  # nothing to alert


def test_a_refused_pre_trade_check_exits_2_and_calls_the_alert_command(tmp_path, desk, capsys):
    service, run_id = desk
    (service.root / "KILL").write_text("halted: broker outage\n")
    argv = day_argv(service, run_id, tmp_path, CONTINUED, "--alert-cmd", alert_cmd(tmp_path))
    assert main(argv) == EXIT["refused"] == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("alpha: error: refused: pre-trade checks refused the orders")
    alert = (tmp_path / "alert.txt").read_text()
    assert alert.startswith(f"alpha day: run {run_id}, decision date ")
    assert "kill_switch" in alert and "halted: broker outage" in alert
    assert (tmp_path / "level").read_text() == "refused"
    assert files(tmp_path / "out") == {}  # nothing written
    assert not service.ledger_path(run_id).exists()


def test_exit_codes_bad_input_alert_and_a_failing_alert_command(tmp_path, desk, capsys):
    service, run_id = desk
    bad = tmp_path / "bad.csv"
    bad.write_text("asset,quantity\nQNTX,nan\n")
    argv = day_argv(service, run_id, tmp_path, CONTINUED)
    argv[argv.index("--holdings") + 1] = str(bad)
    assert main(argv) == 2
    assert "column 'quantity'" in capsys.readouterr().err
    assert files(tmp_path / "out") == {} and not service.ledger_path(run_id).exists()
    # a planted regime shift: the volatility features drift; the orders are written (exit 3)
    shifted = day_argv(service, run_id, tmp_path, SHIFTED, "--alert-cmd", alert_cmd(tmp_path))
    assert main(shifted) == EXIT["alert"] == 3
    assert (tmp_path / "level").read_text() == "alert"
    assert "feature drift: " in (tmp_path / "alert.txt").read_text()
    assert any(name.startswith("orders_") for name in files(tmp_path / "out"))
    # the same day with an alert command that fails: exit 4, the ledger unchanged
    capsys.readouterr()
    failing = day_argv(service, run_id, tmp_path, SHIFTED, "--alert-cmd", "exit 7")
    assert main(failing) == EXIT["alert_failed"] == 4
    assert "the alert command exited with code 7" in capsys.readouterr().err
    assert len(service.ledger(run_id).entries) == 1
