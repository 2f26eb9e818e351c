"""The registry under damage and concurrency: damaged folders are listed apart with their
problem, loading names the damaged file, ids are strict, deletes are atomic, leftovers of
interrupted saves and deletions are cleaned, and a damaged model never reaches LightGBM."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import make_panel, split_config

from alpha_core.base.storage import atomic_dir, clean_orphans, owner_tag, remove_dir
from alpha_core.cli.main import main as cli_main
from alpha_core.config import ModelParams, RunConfig
from alpha_core.models.base import ModelFileError, load_model
from alpha_core.runs import registry
from alpha_core.runs.registry import (
    DamagedRunError,
    RunNotFoundError,
    delete_run,
    is_run_id,
    list_runs,
    load_run,
    rename_run,
    run_dir,
    scan_runs,
)
from alpha_core.runs.service import RunService

TINY = ModelParams(n_estimators=5, num_leaves=4, max_depth=3)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One tiny run saved through the run service (exports included, no SHAP)."""
    panel = make_panel(n_assets=10, n_days=160, seed=3)
    config = split_config(panel["date"].unique().sort(), 110, model=TINY, name="template")
    root = tmp_path_factory.mktemp("template")
    result = RunService(root).train_and_save(
        config, panel, explain=False, exports=("predictions.csv",)
    )
    return root / result.run_id


def copy_run(template: Path, root: Path, run_id: str) -> Path:
    """A copy of the template run under another id (its folder renamed into place)."""
    with atomic_dir(root / run_id) as tmp:
        shutil.copytree(template, tmp, dirs_exist_ok=True)
    return root / run_id


# ----------------------------------------------------------------------------- saving
def test_every_export_is_in_place_and_in_the_manifest_when_the_run_appears(template):
    meta = json.loads((template / "meta.json").read_text())
    files = meta["files"]
    assert "predictions.csv" in files  # the run service's export, written before the rename
    for name, entry in files.items():
        assert (template / name).stat().st_size == entry["bytes"], name
    on_disk = {p.relative_to(template).as_posix() for p in template.rglob("*") if p.is_file()}
    assert on_disk == set(files) | {"meta.json"}
    sidecar = json.loads((template / "model.json").read_text())
    assert sidecar["files"]["model.txt"]["bytes"] == (template / "model.txt").stat().st_size


def test_run_ids_are_strict():
    for bad in (".", "..", "a/b", "a\\b", "../x", "abc\n", "", "a.b", " a", "-a", "a" * 129):
        assert not is_run_id(bad), bad
        with pytest.raises(ValueError, match="invalid run id"):
            run_dir(bad)
        with pytest.raises(ValueError, match="invalid run id"):
            delete_run(bad)
    assert is_run_id("20250101-120000-000001-abcdef")


def test_run_ids_never_repeat_within_a_microsecond(monkeypatch):
    frozen = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen

    monkeypatch.setattr(registry, "datetime", Frozen)
    monkeypatch.setattr(registry, "_last_stamp", frozen.replace(year=2000))
    config = RunConfig()
    ids = [registry.new_run_id(config) for _ in range(3)]
    assert len(set(ids)) == 3
    assert ids[0].startswith("20250102-030405-000006-")
    assert ids[1].startswith("20250102-030405-000007-")


def test_two_saves_of_one_name_never_share_a_temp_folder(tmp_path):
    final = tmp_path / "same"
    with pytest.raises(FileExistsError, match="already exists"), atomic_dir(final) as first:  # noqa: SIM117
        with atomic_dir(final) as second:  # must end (commit) before `first`
            assert first != second
            assert first.name.startswith(f".tmp-same.{owner_tag()}.")
            (first / "a").write_text("first")
            (second / "b").write_text("second")
            # the second save is in place; the first must not merge into or replace it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same"]
    assert sorted(p.name for p in final.iterdir()) == ["b"]


# ----------------------------------------------------------------------------- damage
def damage(folder: Path, how: str) -> str:
    """Damage a run folder; returns the problem the listing (or loading) must name."""
    if how == "no meta":
        (folder / "meta.json").unlink()
        return "meta.json is missing"
    if how == "bad config json":
        (folder / "config.json").write_text('{"seed": 1,')
        return "config.json is not valid JSON"
    if how == "metrics not an object":
        (folder / "metrics.json").write_text("[1, 2]")
        return "metrics.json is not a JSON object"
    if how == "truncated table":
        path = folder / "predictions.parquet"
        path.write_bytes(path.read_bytes()[:100])
        return "predictions.parquet has 100 bytes"
    if how == "truncated model":
        path = folder / "model.txt"
        path.write_bytes(path.read_bytes()[:-500])
        return "model.txt has"
    if how == "missing export":
        (folder / "predictions.csv").unlink()
        return "predictions.csv is missing"
    raise AssertionError(how)


LISTED_DAMAGE = (
    "no meta",
    "bad config json",
    "metrics not an object",
    "truncated table",
    "truncated model",
    "missing export",
)


def test_listing_reports_each_damaged_folder_and_keeps_the_rest(template, tmp_path):
    healthy = copy_run(template, tmp_path, "healthy")
    expected = {}
    for k, how in enumerate(LISTED_DAMAGE):
        run_id = f"damaged-{k}"
        expected[run_id] = damage(copy_run(template, tmp_path, run_id), how)
    (tmp_path / "not a run").mkdir()  # a foreign folder
    (tmp_path / "notes.txt").write_text("a stray file is not a run")

    listing = scan_runs(tmp_path)
    assert [i.run_id for i in listing.runs] == [healthy.name]
    problems = {d.run_id: d.problem for d in listing.damaged}
    assert set(problems) == {*expected, "not a run"}
    for run_id, problem in expected.items():
        assert problem in problems[run_id], (run_id, problems[run_id])
    assert "not a run folder" in problems["not a run"]
    for run_id in expected:  # loading any of them: one clear error naming the run
        with pytest.raises((DamagedRunError, RunNotFoundError), match=run_id):
            load_run(run_id, tmp_path)
    load_run(healthy.name, tmp_path)  # the healthy run still loads


@pytest.mark.parametrize("name", ["model.txt", "predictions.parquet", "config.json"])
def test_a_byte_altered_after_saving_is_a_checksum_error_naming_the_file(template, tmp_path, name):
    folder = copy_run(template, tmp_path, "altered")
    path = folder / name
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    if name.endswith(".json"):  # alter a digit, so the file still parses
        middle = next(i for i in range(middle, len(data)) if chr(data[i]).isdigit())
    data[middle] = ord("7") if data[middle] != ord("7") else ord("8")  # same size
    path.write_bytes(bytes(data))
    assert [i.run_id for i in list_runs(tmp_path)] == ["altered"]  # sizes match: listed
    with pytest.raises(DamagedRunError, match=f"{name}.*checksum mismatch"):
        load_run("altered", tmp_path)


def test_models_saved_before_checksums_load_after_a_structure_check(template, tmp_path):
    folder = copy_run(template, tmp_path, "legacy")
    sidecar = json.loads((folder / "model.json").read_text())
    del sidecar["files"]
    (folder / "model.json").write_text(json.dumps(sidecar))
    meta = json.loads((folder / "meta.json").read_text())
    del meta["files"]
    (folder / "meta.json").write_text(json.dumps(meta))
    assert load_run("legacy", tmp_path).model.booster.num_trees() == TINY.n_estimators
    text = (folder / "model.txt").read_text()
    broken = {
        "split_feature=": "split_feature=999 ",  # a feature index LightGBM would read past
        "left_child=": "left_child=77 ",
        "end of trees": "end of tree",
        "tree_sizes=": "tree_sizes=1 ",
    }
    for marker, replacement in broken.items():
        (folder / "model.txt").write_text(text.replace(marker, replacement, 1))
        with pytest.raises(ModelFileError, match="not a valid LightGBM model"):
            load_model(folder)
        with pytest.raises(DamagedRunError, match="legacy is damaged.*model.txt"):
            load_run("legacy", tmp_path)


def test_a_damaged_sidecar_is_a_model_file_error(template, tmp_path):
    folder = copy_run(template, tmp_path, "sidecar")
    (folder / "model.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="model.json: not valid JSON"):
        load_model(folder)


def test_alpha_runs_lists_damaged_folders_as_damaged(template, tmp_path, monkeypatch, capsys):
    copy_run(template, tmp_path, "fine")
    damage(copy_run(template, tmp_path, "broken"), "bad config json")
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path))
    assert cli_main(["runs"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fine  template")
    assert out[1].startswith("'broken'  DAMAGED: config.json is not valid JSON (")
    assert len(out) == 2


def test_rename_and_delete_of_a_damaged_run(template, tmp_path):
    folder = copy_run(template, tmp_path, "half")
    damage(folder, "truncated table")
    rename_run("half", "still renamable", tmp_path)  # meta.json is intact
    (folder / "meta.json").write_text("{")
    with pytest.raises(DamagedRunError, match="meta.json is not valid JSON"):
        rename_run("half", "again", tmp_path)
    delete_run("half", tmp_path)
    assert not folder.exists() and scan_runs(tmp_path).damaged == []
    with pytest.raises(RunNotFoundError):
        delete_run("half", tmp_path)


# ----------------------------------------------------------------------------- leftovers
def test_leftovers_of_killed_saves_and_deletes_are_cleaned(tmp_path):
    dead = 2**22 + 12345  # above the default pid_max: never a live process
    with pytest.raises(ProcessLookupError):
        os.kill(dead, 0)
    stale_tmp = tmp_path / f".tmp-run-a.{owner_tag(dead)}.x1"
    live_tmp = tmp_path / f".tmp-run-b.{owner_tag()}.x2"
    old_tmp = tmp_path / f".tmp-run-c.{owner_tag()}.x3"
    elsewhere = tmp_path / f".tmp-run-e.0badc0de-{dead}.x5"  # another machine's live save?
    trash = tmp_path / f".trash-run-d.{owner_tag()}.x4"
    stale_file = tmp_path / ".meta.json.abc.tmp"
    for folder in (stale_tmp, live_tmp, old_tmp, trash, elsewhere):
        folder.mkdir()
        (folder / "model.txt").write_text("partial")
    stale_file.write_text("partial")
    old = time.time() - 7 * 3600
    os.utime(old_tmp, (old, old))
    os.utime(stale_file, (old, old))
    (tmp_path / ".uploads").mkdir()  # other hidden folders are not touched
    listing = scan_runs(tmp_path)  # listing cleans
    assert listing.runs == [] and listing.damaged == []
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted([".uploads", live_tmp.name, elsewhere.name])
    removed = clean_orphans(tmp_path, max_age=0)  # too old even if its owner looks alive
    assert sorted(removed) == sorted([live_tmp, elsewhere])


def test_delete_renames_aside_before_removing(tmp_path, monkeypatch, template):
    folder = copy_run(template, tmp_path, "going")
    original = shutil.rmtree
    seen = []

    def spy(path, ignore_errors=False):
        seen.append((Path(path).name, folder.exists(), Path(path).is_dir()))
        original(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(shutil, "rmtree", spy)
    remove_dir(folder)
    assert len(seen) == 1
    name, run_still_there, aside_is_whole = seen[0]
    assert name.startswith(f".trash-going.{owner_tag()}.")
    assert not run_still_there and aside_is_whole
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- concurrency
def test_listing_and_loading_while_another_thread_deletes(template, tmp_path):
    """1,000 listings while a thread keeps adding and deleting runs: never an exception,
    never a run reported damaged, a run being deleted loads whole or is not found."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        alive: list[str] = []
        k = 0
        try:
            while not stop.is_set():  # ids are never reused: a deleted run stays deleted
                alive.append(copy_run(template, tmp_path, f"churn-{k:05d}").name)
                k += 1
                if len(alive) > 3:
                    delete_run(alive.pop(0), tmp_path)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    worker = threading.Thread(target=churn)
    worker.start()
    seen_runs = loaded = gone = 0
    try:
        deadline = time.time() + 600  # an empty folder lists in microseconds: start with runs
        while len(list_runs(tmp_path)) < 3 and not errors and time.time() < deadline:
            time.sleep(0.01)
        for i in range(1000):
            listing = scan_runs(tmp_path)
            assert listing.damaged == [], listing.damaged
            seen_runs += len(listing.runs)
            if i % 50 == 0 and listing.runs:
                try:
                    assert load_run(listing.runs[0].run_id, tmp_path).books.height > 0
                    loaded += 1
                except RunNotFoundError:
                    gone += 1
    finally:
        stop.set()
        worker.join()
    assert not errors, errors
    assert seen_runs > 0 and loaded + gone > 0, (seen_runs, loaded, gone)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers


def test_scan_of_a_missing_root_is_empty(tmp_path):
    assert scan_runs(tmp_path / "absent") == registry.Listing()


def test_loading_a_deleted_run_is_not_found(template, tmp_path):
    copy_run(template, tmp_path, "gone")
    delete_run("gone", tmp_path)
    with pytest.raises(RunNotFoundError, match="no run 'gone'"):
        load_run("gone", tmp_path)
