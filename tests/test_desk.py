"""The desk scores new bars with a saved run: train/serve parity, no lookahead, refusals,
the lookback slice, lineage and retraining."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import hashlib
import shutil
from datetime import date

import numpy as np
import polars as pl
import pytest
from conftest import make_panel
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    continued_panel,
    demo_panel,
    desk_registry,
    tiny_config,
)
from polars.testing import assert_frame_equal

from alpha_core.data.panel import panel_fingerprint
from alpha_core.desk.book import DeskError, DeskSettings, decision_slice, lookback_bars
from alpha_core.desk.service import DeskService, retrain_due
from alpha_core.features.library import FEATURE_NAMES
from alpha_core.portfolio.books import BOOK_COLUMNS
from alpha_core.runs.service import RunService


def assert_same_book(mine: pl.DataFrame, theirs: pl.DataFrame) -> None:
    """Same names, sides, predictions and ranks exactly; weights to 1e-12 (the run's own
    tie order among equal ranks changes the summation order of the caps)."""
    a = mine.select(BOOK_COLUMNS).sort("asset")
    b = theirs.select(BOOK_COLUMNS).sort("asset")
    assert_frame_equal(a.drop("weight"), b.drop("weight"), check_exact=True)
    np.testing.assert_allclose(a["weight"].to_numpy(), b["weight"].to_numpy(), atol=1e-12, rtol=0)


def test_parity_every_test_date_walk_forward_rank_features_capped(tmp_path, demo_panel):
    """For every date of the test window, the book from the saved models equals the run's."""
    service = RunService(tmp_path)
    config = tiny_config(
        test_start=date(2025, 1, 2),
        walk_forward="monthly",
        feature_transform="rank",
        sizing="inverse_vol",
        max_weight=0.08,
        sector_neutral=True,
    )
    result = service.train_and_save(config, demo_panel, explain=False)
    assert len(result.models) == 3
    dates = result.books["date"].unique().sort().to_list()
    assert len(dates) == 61
    used = set()
    for day in dates:
        book = DeskService(service.root).book(result.run_id, demo_panel, as_of=day, record=False)
        assert_same_book(book.rows, result.books.filter(pl.col("date") == day))
        used.add(book.model)
    assert used == {f"{result.run_id}/fold_{k:03d}" for k in range(3)}


def test_book_facts_checksum_fingerprint_and_config(desk_registry, continued_panel):
    service, run_id = desk_registry
    book = DeskService(service.root).book(run_id, continued_panel, record=False)
    assert book.as_of == date(2025, 5, 30)
    model_file = service.folder(run_id) / "model.txt"
    assert book.model_sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert book.config_hash == DeskService(service.root).run_config(run_id).fingerprint()
    window = decision_slice(continued_panel, book.as_of, lookback_bars(FEATURE_NAMES))
    assert book.data_fingerprint == panel_fingerprint(window)
    rows = book.rows
    assert rows.columns[:7] == ["date", "asset", "side", "weight", "prediction", "rank", "sector"]
    assert book.n_long == int((rows["side"] == "long").sum()) > 0
    assert rows.filter(pl.col("side") == "long")["weight"].sum() == pytest.approx(1.0)
    assert rows.filter(pl.col("side") == "short")["weight"].sum() == pytest.approx(-1.0)
    scored = continued_panel.filter(pl.col("date") == book.as_of).height
    assert book.scores.height == scored and not book.dropped and not book.new


def test_no_lookahead_bars_after_the_date_altered_or_removed(desk_registry, continued_panel):
    service, run_id = desk_registry
    day = date(2025, 4, 15)
    base = DeskService(service.root).book(run_id, continued_panel, as_of=day, record=False)
    later = pl.col("date") > day
    rng = np.random.default_rng(0)
    noise = pl.Series(rng.uniform(0.5, 2.0, continued_panel.height))
    altered = continued_panel.with_columns(
        pl.when(later).then(pl.col(c) * noise).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close", "volume")
    ).with_columns(pl.when(later).then(pl.lit("New sector")).otherwise("sector").alias("sector"))
    for panel in (altered, continued_panel.filter(~later)):
        book = DeskService(service.root).book(run_id, panel, as_of=day, record=False)
        assert_frame_equal(book.rows, base.rows, check_exact=True)
        assert book.data_fingerprint == base.data_fingerprint


def test_decision_slice_is_each_assets_last_bars(tmp_path):
    """Gaps and late listings: the slice is the naive per-asset tail of the bars up to d."""
    panel = make_panel(n_assets=6, n_days=120, seed=3, stagger=15)
    rng = np.random.default_rng(1)
    panel = panel.filter(pl.Series(rng.uniform(size=panel.height) > 0.2))  # random gaps
    day = panel["date"].unique().sort()[-5]
    got = decision_slice(panel, day, 21)
    live = panel.filter(pl.col("date") == day)["asset"]
    naive = pl.concat(
        panel.filter(pl.col("asset") == a, pl.col("date") <= day).sort("date").tail(21)
        for a in live.to_list()
    )
    assert_frame_equal(got.sort("asset", "date"), naive.sort("asset", "date"))


def test_refuses_a_date_before_the_models_training_end(desk_registry, demo_panel):
    service, run_id = desk_registry
    with pytest.raises(DeskError, match="on or before the training end 2024-09-30") as err:
        DeskService(service.root).book(run_id, demo_panel, as_of=date(2024, 9, 2), record=False)
    assert err.value.reason == "before_training_end"


def test_refuses_stale_or_partial_data(desk_registry, continued_panel):
    service, run_id = desk_registry
    last = continued_panel["date"].max()
    assets = continued_panel["asset"].unique().sort().to_list()
    partial = continued_panel.filter(
        (pl.col("date") < last) | pl.col("asset").is_in(assets[: len(assets) // 2])
    )
    with pytest.raises(DeskError, match="looks stale or partial") as err:
        DeskService(service.root).book(run_id, partial, record=False)
    assert err.value.reason == "stale_data"
    with pytest.raises(DeskError, match="4 business days before 2025-06-05"):
        DeskService(service.root).book(
            run_id, continued_panel, today=date(2025, 6, 5), record=False
        )
    fresh = DeskService(service.root).book(
        run_id, continued_panel, today=date(2025, 6, 2), record=False
    )
    assert fresh.as_of == last
    with pytest.raises(DeskError, match="no bars on 2025-05-31"):
        DeskService(service.root).book(
            run_id, continued_panel, as_of=date(2025, 5, 31), record=False
        )


def test_refuses_features_it_cannot_compute(desk_registry, continued_panel):
    service, run_id = desk_registry
    no_volume = continued_panel.with_columns(pl.lit(None, dtype=pl.Float64).alias("volume"))
    with pytest.raises(DeskError, match=r"\['vol_z_20'\] cannot be computed") as err:
        DeskService(service.root).book(run_id, no_volume, record=False)
    assert err.value.reason == "feature_unavailable"
    with pytest.raises(DeskError, match="cannot build: \\['no_such'\\]"):
        lookback_bars(("ln_ret_1", "no_such"))


def test_universe_change_reported_or_refused(desk_registry, continued_panel):
    service, run_id = desk_registry
    assets = continued_panel["asset"].unique().sort().to_list()
    renamed = continued_panel.filter(pl.col("asset") != assets[0]).with_columns(
        pl.col("asset").replace(assets[1], "NEWCO")
    )
    book = DeskService(service.root).book(run_id, renamed, record=False)
    assert book.dropped == sorted([assets[0], assets[1]]) and book.new == ["NEWCO"]
    few = continued_panel.filter(pl.col("asset").is_in(assets[:30]))
    kept = few.filter(pl.col("date") == few["date"].max()).height
    universe = continued_panel.filter(pl.col("date") == date(2025, 3, 27)).height
    with pytest.raises(DeskError, match=f"only {kept} of the run's {universe} assets") as err:
        DeskService(service.root).book(run_id, few, record=False)
    assert err.value.reason == "universe_changed"
    with pytest.raises(DeskError, match="cannot fill the long side at 20%"):
        DeskService(service.root).book(
            run_id, continued_panel.filter(pl.col("asset").is_in(assets[:4])), record=False,
            settings=DeskSettings(min_overlap=0.0),
        )  # fmt: skip


def test_unscorable_new_listing_is_reported(desk_registry, continued_panel):
    service, run_id = desk_registry
    last = continued_panel["date"].max()
    young = continued_panel.filter(pl.col("asset") == "QNTX", pl.col("date") > date(2025, 5, 20))
    panel = pl.concat([continued_panel, young.with_columns(pl.lit("YUNG").alias("asset"))])
    book = DeskService(service.root).book(
        run_id, panel.sort("asset", "date"), as_of=last, record=False
    )
    assert book.unscorable == ["YUNG"] and "YUNG" not in book.rows["asset"].to_list()


def test_retrain_makes_a_child_the_desk_then_uses(tmp_path, desk_registry, continued_panel):
    service, run_id = desk_registry
    root = tmp_path / "runs"
    shutil.copytree(service.folder(run_id), root / run_id)
    local = RunService(root)
    early = continued_panel.filter(pl.col("date") <= date(2025, 3, 28))
    assert DeskService(local.root).retrain(run_id, early, every="monthly") is None
    child = DeskService(local.root).retrain(run_id, continued_panel, every="monthly")
    assert child is not None
    cfg = child.config  # every label known at 05-30: the last one ends 05-29
    assert (cfg.train_start, cfg.train_end) == (date(2021, 1, 4), date(2025, 5, 28))
    assert (cfg.test_start, cfg.test_end) == (date(2025, 5, 30), date(2025, 5, 30))
    assert DeskService(local.root).lineage(run_id) == [run_id, child.run_id]
    assert DeskService(local.root).lineage(child.run_id) == [run_id, child.run_id]
    book = DeskService(local.root).book(run_id, continued_panel, record=False)
    assert book.model == f"{child.run_id}/model"
    assert_same_book(book.rows, child.books.filter(pl.col("date") == book.as_of))
    for day in (date(2025, 3, 27), date(2025, 5, 29)):  # before the child was trained
        early = DeskService(local.root).book(run_id, continued_panel, as_of=day, record=False)
        assert early.model == f"{run_id}/model"
    assert (
        DeskService(local.root).ledger_path(child.run_id) == local.folder(run_id) / "ledger.jsonl"
    )


def test_a_retraining_job_saves_its_lineage_with_the_child(
    tmp_path, desk_registry, continued_panel
):
    """The app's background retraining: the child serves the lineage as soon as it is saved,
    whether or not anyone looks at the Desk page again."""
    from alpha_ui import jobs

    service, run_id = desk_registry
    root = tmp_path / "runs"
    shutil.copytree(service.folder(run_id), root / run_id)
    local = RunService(root)
    plan = DeskService(local.root).retrain_plan(run_id, continued_panel)
    job = jobs.wait(
        jobs.start(plan.config, plan.panel, root, "test", explain_after=False, lineage=plan)
    )
    assert job.status == "done", job.error
    assert DeskService(local.root).lineage(run_id) == [run_id, job.run_id]
    assert (
        DeskService(local.root).book(run_id, continued_panel, record=False).model
        == f"{job.run_id}/model"
    )


def test_retrain_due():
    assert retrain_due(date(2025, 3, 27), date(2025, 3, 28), None)
    assert not retrain_due(date(2025, 3, 27), date(2025, 3, 31), "monthly")
    assert retrain_due(date(2025, 3, 27), date(2025, 4, 1), "monthly")
    assert not retrain_due(date(2025, 4, 2), date(2025, 6, 30), "quarterly")
    assert retrain_due(date(2025, 6, 30), date(2025, 7, 1), "quarterly")
    with pytest.raises(ValueError, match="every must be one of monthly, quarterly"):
        retrain_due(date(2025, 1, 1), date(2025, 2, 1), "weekly")
