"""The desk's own files as untrusted input: ``lineage.json`` (cycles, bad JSON, wrong shape,
deep nesting, a named pipe), hidden and temporary folders, ``ledger.jsonl`` lines that are
not entries, and a deeply nested ``meta.json``. Each is reported by name for its run only,
exit code 2 with one line where a command cannot go on, and never a hang or a traceback."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    continued_panel,
    demo_panel,
    desk_registry,
)

from alpha_core.base.storage import owner_tag
from alpha_core.cli.main import main
from alpha_core.desk.service import DeskService
from alpha_core.runs.registry import scan_runs

DEEP = b"[" * 100_000 + b"]" * 100_000
"""JSON that ``json.loads`` cannot parse without running out of recursion."""


def registry_of(desk_registry, root: Path, *names: str) -> tuple[Path, str]:
    """A registry under ``root`` with copies of the tiny demo run under ``names`` (and
    under its own id, returned second)."""
    service, run_id = desk_registry
    root.mkdir(parents=True, exist_ok=True)
    for name in (run_id, *names):
        shutil.copytree(service.folder(run_id), root / name)
    return root, run_id


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("alpha: error: "), captured.err
    return err[0]


def alpha_runs(root: Path, monkeypatch, capsys) -> dict[str, str]:
    """``alpha runs`` on ``root``: {folder: "ok" or its DAMAGED problem}."""
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    assert main(["runs"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    out = {}
    for line in captured.out.splitlines():
        if "  DAMAGED: " in line:
            name, problem = line.split("  DAMAGED: ", 1)
            out[name.strip("'")] = problem
        else:
            out[line.split()[0]] = "ok"
    return out


def test_a_lineage_cycle_is_reported_and_never_hangs(tmp_path, desk_registry, monkeypatch, capsys):
    root, healthy = registry_of(desk_registry, tmp_path / "runs", "cycle-a", "cycle-b", "below")
    (root / "cycle-a" / "lineage.json").write_text(json.dumps({"parent": "cycle-b"}))
    (root / "cycle-b" / "lineage.json").write_text(json.dumps({"parent": "cycle-a"}))
    (root / "below" / "lineage.json").write_text(json.dumps({"parent": "cycle-b"}))
    cycle = "lineage cycle: cycle-a -> cycle-b -> cycle-a"

    for run in ("cycle-a", "cycle-b", "below"):
        argv = ["book", "--run", run, "--data", "demo", "--artifacts", str(root), "--no-record"]
        assert main(argv) == 2
        assert cycle in one_error_line(capsys)
    listed = alpha_runs(root, monkeypatch, capsys)
    assert listed == {
        healthy: "ok",
        "cycle-a": cycle,
        "cycle-b": cycle,
        "below": f"its ancestry runs into a {cycle}",
    }
    # the healthy run's lineage and book are untouched
    assert DeskService(root).lineage(healthy) == [healthy]
    argv = ["book", "--run", healthy, "--data", "demo", "--artifacts", str(root), "--no-record"]
    assert main(argv) == 0
    # a run naming itself is a cycle of one
    (root / "below" / "lineage.json").write_text(json.dumps({"parent": "below"}))
    assert scan_runs(root).damaged[0].problem == "lineage cycle: below -> below"


def test_a_malformed_lineage_json_is_reported_for_that_run_only(
    tmp_path, desk_registry, monkeypatch, capsys
):
    bad = {
        "bad-json": (b'{"parent": ', "lineage.json is not valid JSON ("),
        "a-list": (b'["parent"]', "lineage.json is not a JSON object"),
        "no-parent": (b'{"first": "x"}', "lineage.json names no run as its parent (got None)"),
        "hostile-parent": (
            b'{"parent": "../../etc"}',
            "lineage.json names no run as its parent (got '../",
        ),
        "nested": (DEEP, "lineage.json is not valid JSON (nested too deeply)"),
        "fifo": (None, "lineage.json is not a regular file"),
    }
    root, healthy = registry_of(desk_registry, tmp_path / "runs", "child", *bad)
    for run, (data, _) in bad.items():
        if data is None:
            os.mkfifo(root / run / "lineage.json")  # never written: reading it would block
        else:
            (root / run / "lineage.json").write_bytes(data)
    (root / "child" / "lineage.json").write_text(json.dumps({"parent": healthy}))
    # hidden and temporary folders are never read as runs (nor their lineage.json)
    for hidden in (f".tmp-newer.{owner_tag()}.abc123", ".cache"):
        shutil.copytree(root / healthy, root / hidden)
        (root / hidden / "lineage.json").write_text(json.dumps({"parent": healthy}))

    for run, (_, message) in bad.items():
        argv = ["book", "--run", run, "--data", "demo", "--artifacts", str(root), "--no-record"]
        assert main(argv) == 2
        assert f"run {run} is damaged: {message}" in one_error_line(capsys)
    listed = alpha_runs(root, monkeypatch, capsys)
    assert set(listed) == {healthy, "child", *bad}  # no hidden folder listed
    assert listed[healthy] == listed["child"] == "ok"
    for run, (_, message) in bad.items():
        assert message in listed[run], (run, listed[run])
    assert DeskService(root).lineage(healthy) == [healthy, "child"]
    assert DeskService(root).lineage("child") == [healthy, "child"]


def test_hostile_ledger_lines_are_skipped_and_reported_by_alpha_monitor(
    tmp_path, desk_registry, continued_panel, capsys
):
    root, run_id = registry_of(desk_registry, tmp_path / "runs")
    service = DeskService(root)
    for day in continued_panel["date"].unique().sort().tail(3):
        service.book(run_id, continued_panel.filter(pl.col("date") <= day))
    path = service.ledger_path(run_id)
    good = json.loads(path.read_bytes().splitlines()[0])
    with path.open("ab") as f:  # lines 4 .. 9
        f.write(b"{torn\n[1, 2]\n7\n")
        f.write(json.dumps({**good, "n_scored": "many", "as_of": "2025-05-01"}).encode() + b"\n")
        f.write(DEEP + b"\n")
        f.write(json.dumps({k: v for k, v in good.items() if k != "scores"}).encode() + b"\n")

    base = ["monitor", "--run", run_id, "--data", CONTINUED, "--artifacts", str(root)]
    assert main(base) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "skipped ledger lines: 6 (lines 4, 5, 6, 7, 8, 9): line 4: not valid JSON" in (
        captured.out
    )
    assert "line 7: n_scored is not a whole number; line 8: nested too deeply" in captured.out
    assert main([*base, "--json"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out.strip().splitlines()[-1])
    skipped = payload["skipped_ledger_lines"]
    assert skipped["count"] == 6 and skipped["lines"] == [4, 5, 6, 7, 8, 9]
    assert skipped["problems"][1] == {"line": 5, "problem": "not a JSON object (an array)"}
    assert payload["live_days"] == 2  # the three good books still count
    assert "alpha: warning: skipped ledger lines: 6" in captured.err
    # the desk still books, and appends after the hostile lines on a line of its own
    earlier = str(continued_panel["date"].unique().sort()[-4])
    argv = ["book", "--run", run_id, "--data", CONTINUED, "--artifacts", str(root)]
    assert main([*argv, "--as-of", earlier, "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["status"] == "appended"
    read = service.ledger(run_id)
    assert len(read.entries) == 4 and [s.line for s in read.skipped] == [4, 5, 6, 7, 8, 9]


def test_a_deeply_nested_meta_json_is_a_damaged_run_not_a_crash(
    tmp_path, desk_registry, monkeypatch, capsys
):
    root, healthy = registry_of(desk_registry, tmp_path / "runs", "nested", "piped")
    (root / "nested" / "meta.json").write_bytes(DEEP)
    (root / "piped" / "meta.json").unlink()
    os.mkfifo(root / "piped" / "meta.json")
    listed = alpha_runs(root, monkeypatch, capsys)
    assert listed == {
        healthy: "ok",
        "nested": "meta.json is not valid JSON (nested too deeply)",
        "piped": "meta.json is not a regular file",
    }
    for run in ("nested", "piped"):
        argv = ["book", "--run", run, "--data", "demo", "--artifacts", str(root), "--no-record"]
        assert main(argv) == 2
        assert f"run {run} is damaged: meta.json" in one_error_line(capsys)
