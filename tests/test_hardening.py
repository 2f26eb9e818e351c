"""Issue 20, hardening: no data loss on delete, runs checked whole before the desk trusts
them, and every writer handling a full disk (exit 2, one line, the previous state intact).

All on tiny demo runs copied into ``tmp_path`` (``desk_helpers``)."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import make_panel
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
)

from alpha_core.base import storage
from alpha_core.base.storage import StorageError
from alpha_core.cli.main import main
from alpha_core.desk import ledger as ledger_mod
from alpha_core.desk.service import LINEAGE_FILE, DeskService
from alpha_core.features.library import sector_codes
from alpha_core.models.base import load_model
from alpha_core.runs import registry, sweep
from alpha_core.runs.registry import DamagedRunError, DeleteRefused, load_run, save_run
from alpha_core.runs.service import CODES_FILE


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("alpha: error: "), err
    return err[0]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones too) with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def set_lineage(root: Path, run_id: str, payload: dict) -> None:
    """Give a copied run a ``lineage.json`` in its manifest, as a retraining saves it."""
    folder = root / run_id
    raw = json.dumps(payload, indent=2, sort_keys=True).encode()
    (folder / LINEAGE_FILE).write_bytes(raw)
    meta = json.loads((folder / "meta.json").read_bytes())
    meta["files"][LINEAGE_FILE] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))


# ============================================================================ 1. no data loss
class TestNoDataLoss:
    def test_deleting_the_first_run_hands_its_ledger_to_the_retrained_child(
        self, tmp_path, desk_registry, continued_panel
    ):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        first = desk_registry[1]
        desk = DeskService(service.root)
        for day in (date(2025, 3, 28), date(2025, 3, 31)):
            assert desk.book(first, continued_panel, as_of=day).status == "appended"
        child = desk.retrain(first, continued_panel).run_id
        assert desk.lineage(child) == [first, child]
        before = (service.folder(first) / "ledger.jsonl").read_bytes()

        service.delete(first)

        assert not (service.root / first).exists()
        assert (service.root / child / "ledger.jsonl").read_bytes() == before  # every byte
        assert not (service.root / child / LINEAGE_FILE).exists()
        service.verify(child)  # its manifest was updated with it: not damaged
        assert [r.run_id for r in service.list()] == [child]
        assert desk.lineage(child) == [child]
        assert desk.ledger_path(child) == service.root / child / "ledger.jsonl"
        assert len(desk.ledger(child).entries) == 2
        # the child can be booked again, onto the same ledger
        assert desk.book(child, continued_panel, as_of=date(2025, 5, 29)).status == "appended"
        after = (service.root / child / "ledger.jsonl").read_bytes()
        assert after.startswith(before) and len(desk.ledger(child).entries) == 3

    def test_lineage_files_follow_a_deleted_run_and_a_ledger_with_no_heir_is_refused(
        self, tmp_path, desk_registry
    ):
        """Three copies chained first <- middle <- last (lineage files only): deleting the
        middle re-points the last to the first; deleting the first then promotes the last."""
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        first = desk_registry[1]
        root = service.root
        for rid in ("middle", "last"):
            shutil.copytree(root / first, root / rid)
        set_lineage(root, "middle", {"parent": first, "first": first})
        set_lineage(root, "last", {"parent": "middle", "first": first})
        ledger = root / first / "ledger.jsonl"
        ledger.write_bytes(b'{"as_of": "2025-03-28", "key": "k"}\n')
        before = ledger.read_bytes()

        service.delete("middle")
        lineage = json.loads((root / "last" / LINEAGE_FILE).read_bytes())
        assert lineage["parent"] == first
        service.verify("last")
        assert DeskService(root).lineage("last") == [first, "last"]

        service.delete(first)
        assert (root / "last" / "ledger.jsonl").read_bytes() == before
        assert not (root / "last" / LINEAGE_FILE).exists()
        service.verify("last")

        # the last run now holds the ledger and has no child to take it: refused, kept
        with pytest.raises(DeleteRefused, match="holds its lineage's ledger"):
            service.delete("last")
        assert (root / "last" / "ledger.jsonl").read_bytes() == before
        service.verify("last")

    def test_a_full_disk_while_moving_the_ledger_deletes_nothing(
        self, tmp_path, desk_registry, monkeypatch
    ):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        first, root = desk_registry[1], service.root
        shutil.copytree(root / first, root / "child")
        set_lineage(root, "child", {"parent": first, "first": first})
        (root / first / "ledger.jsonl").write_bytes(b'{"as_of": "2025-03-28", "key": "k"}\n')
        state = tree(root)
        monkeypatch.setattr(os, "replace", enospc)
        with pytest.raises(StorageError, match="disk full"):
            service.delete(first)
        monkeypatch.undo()
        assert tree(root) == state

    def test_a_desk_waiting_on_a_ledger_that_moves_is_told_to_book_again(
        self, tmp_path, monkeypatch
    ):
        from test_desk_ledger import make_book

        path, moved = tmp_path / "ledger.jsonl", tmp_path / "heir.jsonl"
        ledger_mod.record(path, make_book(date(2025, 4, 1)))
        before = path.read_bytes()
        real_flock = ledger_mod.fcntl.flock

        def move_while_waiting(fd, op):  # the registry moves it while this desk waits
            if op == ledger_mod.fcntl.LOCK_EX and path.exists():
                os.replace(path, moved)
            return real_flock(fd, op)

        monkeypatch.setattr(ledger_mod.fcntl, "flock", move_while_waiting)
        with pytest.raises(ledger_mod.LedgerMoved, match="book again"):
            ledger_mod.record(path, make_book(date(2025, 4, 2)))
        monkeypatch.undo()
        assert moved.read_bytes() == before and not path.exists()

    def test_no_command_writes_inside_a_run_folder(self, tmp_path, desk_registry, capsys):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        run_id = desk_registry[1]
        folder = service.folder(run_id)
        state = tree(folder)
        art = ["--artifacts", str(service.root)]
        for out in (folder / "metrics.json", folder / "models" / "r.html", folder / "x.html"):
            assert main(["report", run_id, "--out", str(out), *art]) == 2
            assert "only the run registry writes there" in one_error_line(capsys)
        # through a symlink to the run folder too
        (tmp_path / "link").symlink_to(folder)
        assert main(["report", run_id, "--out", str(tmp_path / "link" / "config.json"), *art]) == 2
        one_error_line(capsys)
        argv = ["book", "--run", run_id, "--data", CONTINUED, *art, "--out", str(folder)]
        assert main(argv) == 2
        assert "--out" in one_error_line(capsys)
        argv = ["retrain", "--run", run_id, "--data", CONTINUED, "--artifacts", str(folder)]
        assert main(argv) == 2
        assert "--artifacts" in one_error_line(capsys)
        assert tree(folder) == state  # not a byte written, no ledger
        # the default report is written through the registry, outside the manifest
        assert main(["report", run_id, *art]) == 0
        assert (folder / "report.html").is_file()
        service.verify(run_id)


# ===================================================================== 2. check before trusting
class TestCheckBeforeTrusting:
    def _book(self, root: Path, run_id: str) -> list[str]:
        return ["book", "--run", run_id, "--data", CONTINUED, "--artifacts", str(root),
                "--as-of", "2025-03-31", "--no-record"]  # fmt: skip

    def test_an_edited_config_is_refused_with_the_registrys_reason(
        self, tmp_path, desk_registry, capsys
    ):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        run_id = desk_registry[1]
        path = service.folder(run_id) / "config.json"
        config = json.loads(path.read_bytes())
        config["long_pct"] = 0.3
        path.write_text(json.dumps(config, indent=2, sort_keys=True))
        assert main(self._book(service.root, run_id)) == 2
        line = one_error_line(capsys)
        assert f"run {run_id} is damaged: config.json: checksum mismatch" in line
        for action in ("monitor", "retrain"):
            argv = [action, "--run", run_id, "--data", CONTINUED, "--artifacts", str(service.root)]
            assert main(argv) == 2
            assert "config.json: checksum mismatch" in one_error_line(capsys)

    def test_a_missing_table_is_refused(self, tmp_path, desk_registry, capsys):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        run_id = desk_registry[1]
        (service.folder(run_id) / "predictions.parquet").unlink()
        assert main(self._book(service.root, run_id)) == 2
        assert f"run {run_id} is damaged: predictions.parquet is missing" in one_error_line(capsys)

    def test_a_re_signed_model_is_refused_because_the_manifest_disagrees(
        self, tmp_path, desk_registry, continued_panel, capsys
    ):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        run_id = desk_registry[1]
        folder = service.folder(run_id)
        text = (folder / "model.txt").read_text()
        at = text.index("leaf_value=")
        end = text.index("\n", at) - 1  # the last digit of the first tree's leaf values
        digit = "1" if text[end] != "1" else "2"
        altered = (text[:end] + digit + text[end + 1 :]).encode()  # a valid model, changed
        (folder / "model.txt").write_bytes(altered)
        sidecar = json.loads((folder / "model.json").read_bytes())
        sidecar["files"]["model.txt"] = {
            "bytes": len(altered),
            "sha256": hashlib.sha256(altered).hexdigest(),
        }
        (folder / "model.json").write_text(json.dumps(sidecar, indent=2, sort_keys=True))
        load_model(folder)  # the sidecar alone is satisfied: the model is consistently re-signed
        assert main(self._book(service.root, run_id)) == 2
        line = one_error_line(capsys)
        assert f"run {run_id} is damaged: model." in line and "checksum mismatch" in line
        desk = DeskService(service.root)
        with pytest.raises(DamagedRunError, match="checksum mismatch"):
            desk.monitor(run_id, continued_panel)
        with pytest.raises(DamagedRunError, match="checksum mismatch"):
            desk.retrain_plan(run_id, continued_panel)
        with pytest.raises(DamagedRunError, match="checksum mismatch"):
            load_run(run_id, service.root)

    def test_the_book_is_the_same_from_the_last_250_days_as_from_the_whole_file(
        self, tmp_path, desk_registry, continued_panel
    ):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        run_id = desk_registry[1]
        codes = service.codes(run_id)["sector_id"]  # saved with the run, in its manifest
        assert CODES_FILE in service.meta(run_id)["files"]
        desk = DeskService(service.root)
        for as_of in (date(2025, 3, 27), date(2025, 4, 30)):  # in and after the test window
            dates = continued_panel["date"].unique().sort()
            kept = dates.filter(dates <= as_of)[-250:]
            short = continued_panel.filter(pl.col("date").is_in(kept.implode()))
            # the sectors of the short file are numbered differently: the test bites
            assert dict(sector_codes(short).iter_rows()) != codes
            full = desk.book(run_id, continued_panel, as_of=as_of, record=False)
            cut = desk.book(run_id, short, as_of=as_of, record=False)
            assert cut.rows["asset"].to_list() == full.rows["asset"].to_list()
            assert cut.rows["side"].to_list() == full.rows["side"].to_list()
            for column in ("weight", "prediction"):
                gap = (cut.rows[column] - full.rows[column]).abs().max()
                assert gap <= 1e-12, (as_of, column, gap)
            assert cut.scores.equals(full.scores)


# ============================================================================ 3. a full disk
class TestFullDisk:
    def test_a_registry_save_leaves_nothing(self, tmp_path, desk_registry, monkeypatch):
        service, run_id = desk_registry
        result = load_run(run_id, service.root)
        result.run_id = ""
        root = tmp_path / "runs"
        root.mkdir()
        monkeypatch.setattr(pathlib.Path, "write_text", enospc)
        with pytest.raises(StorageError) as caught:
            save_run(result, root)
        monkeypatch.undo()
        assert str(caught.value).startswith(f"cannot write {root}/") and str(caught.value).endswith(
            ": disk full"
        )
        assert list(root.iterdir()) == []  # no partial run folder, no temporary one

    def test_alpha_run_on_a_full_disk_exits_2_and_leaves_no_run(
        self, tmp_path, monkeypatch, capsys
    ):
        data = tmp_path / "panel.parquet"
        make_panel(n_assets=10, n_days=200, seed=4).write_parquet(data)
        root = tmp_path / "runs"
        root.mkdir()
        monkeypatch.setattr(pathlib.Path, "write_text", enospc)
        argv = ["run", "--data", str(data), "--train-start", "2020-01-01", "--train-end",
                "2020-06-30", "--test-start", "2020-07-01", "--test-end", "2020-09-30",
                "--n-estimators", "5", "--num-leaves", "4", "--artifacts", str(root),
                "--no-explain", "--json"]  # fmt: skip
        assert main(argv) == 2
        monkeypatch.undo()
        line = one_error_line(capsys)
        assert line.startswith(f"alpha: error: cannot write {root}/") and line.endswith(
            ": disk full"
        )
        assert list(root.iterdir()) == []

    def test_a_parquet_writer_finding_the_disk_full_leaves_no_run(
        self, tmp_path, desk_registry, monkeypatch
    ):
        """polars wraps the OS error in its own type: still a full disk, still nothing."""
        service, run_id = desk_registry
        result = load_run(run_id, service.root)
        result.run_id = ""
        root = tmp_path / "runs"

        def full(*_args, **_kwargs):
            raise pl.exceptions.ComputeError(
                "parquet: underlying IO error: No space left on device (os error 28)"
            )

        monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
        with pytest.raises(StorageError, match="disk full"):
            save_run(result, root)
        monkeypatch.undo()
        assert list(root.iterdir()) == []
        assert not storage.is_full_disk(pl.exceptions.ComputeError("no such column (os error"))

    def test_a_ledger_append_is_undone(
        self, tmp_path, desk_registry, continued_panel, monkeypatch, capsys
    ):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        run_id = desk_registry[1]
        DeskService(service.root).book(run_id, continued_panel, as_of=date(2025, 3, 28))
        path = service.folder(run_id) / "ledger.jsonl"
        before = path.read_bytes()
        real_write = os.write
        calls = []

        def half_then_full(fd, data):  # writes part of the line, then the disk is full
            calls.append(len(data))
            if len(calls) == 1:
                return real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "write", half_then_full)
        argv = ["book", "--run", run_id, "--data", CONTINUED, "--artifacts", str(service.root),
                "--as-of", "2025-03-31"]  # fmt: skip
        assert main(argv) == 2
        monkeypatch.undo()
        assert one_error_line(capsys) == f"alpha: error: cannot write {path}: disk full"
        assert len(calls) == 2 and path.read_bytes() == before

    def test_the_orders_file_keeps_its_previous_version(
        self, tmp_path, desk_registry, monkeypatch, capsys
    ):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        run_id = desk_registry[1]
        holdings = tmp_path / "holdings.csv"
        holdings.write_text("asset,quantity\nQNTX,100\n")
        out = tmp_path / "out"
        out.mkdir()
        orders = out / "orders_2025-03-31.csv"
        orders.write_bytes(b"the previous orders\n")
        real_replace = os.replace

        def full_for_orders(src, dst, *args, **kwargs):
            if Path(dst).name.startswith("orders_"):
                enospc()
            return real_replace(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "replace", full_for_orders)
        argv = ["book", "--run", run_id, "--data", CONTINUED, "--artifacts", str(service.root),
                "--as-of", "2025-03-31", "--holdings", str(holdings), "--capital", "100000",
                "--out", str(out), "--no-record"]  # fmt: skip
        assert main(argv) == 2
        monkeypatch.undo()
        assert one_error_line(capsys) == f"alpha: error: cannot write {orders}: disk full"
        assert orders.read_bytes() == b"the previous orders\n"
        assert sorted(p.name for p in out.iterdir()) == ["book_2025-03-31.csv", orders.name]

    def test_the_report_and_the_notes_keep_their_previous_version(
        self, tmp_path, desk_registry, monkeypatch, capsys
    ):
        service = fresh_copy(*desk_registry, tmp_path / "runs")
        run_id = desk_registry[1]
        out = tmp_path / "report.html"
        out.write_bytes(b"old report")
        service.set_notes(run_id, "a note", ["tag"])
        run_state = tree(service.folder(run_id))
        monkeypatch.setattr(pathlib.Path, "write_text", enospc)
        argv = ["report", run_id, "--out", str(out), "--artifacts", str(service.root)]
        assert main(argv) == 2
        assert one_error_line(capsys) == f"alpha: error: cannot write {out}: disk full"
        assert main(["report", run_id, "--artifacts", str(service.root)]) == 2
        default = service.folder(run_id) / "report.html"
        assert one_error_line(capsys) == f"alpha: error: cannot write {default}: disk full"
        with pytest.raises(StorageError, match="notes.json: disk full"):
            service.set_notes(run_id, "another note", [])
        monkeypatch.undo()
        assert out.read_bytes() == b"old report" and list(tmp_path.glob(".*tmp")) == []
        assert tree(service.folder(run_id)) == run_state
        assert service.notes(run_id)["note"] == "a note"

    def test_appends_to_the_sweep_ledger_are_all_or_nothing(self, tmp_path, monkeypatch):
        path = tmp_path / "ledger.jsonl"
        sweep._append(path, {"trial": 0})
        before = path.read_bytes()
        real_write = os.write

        def partial(fd, data):
            real_write(fd, data[:3])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "write", partial)
        with pytest.raises(StorageError, match=f"cannot write {path}: disk full"):
            sweep._append(path, {"trial": 1})
        monkeypatch.undo()
        assert path.read_bytes() == before
        assert storage.is_full_disk(OSError(errno.ENOSPC, "x"))


def test_the_registry_and_the_desk_name_the_same_files():
    assert registry.LEDGER_FILE == ledger_mod.LEDGER_FILE
    assert registry.LINEAGE_FILE == LINEAGE_FILE
