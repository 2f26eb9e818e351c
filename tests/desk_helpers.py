"""Shared by the desk tests: a tiny demo run saved in a temporary registry."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from alpha_core.config import ModelParams, RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.runs.service import RunService

CONTINUED = "demo:2025-05-30"
"""The demo continued two months past its end (prefix-stable, so any shorter continuation is
this panel cut at its end date)."""
SHIFTED = "demo:2025-05-30:shift=2025-04-21"


def tiny_config(**changes) -> RunConfig:
    base = RunConfig(
        train_start=date(2021, 1, 4),
        train_end=date(2024, 10, 1),
        test_start=date(2024, 10, 2),
        test_end=date(2025, 3, 27),
        model=ModelParams(n_estimators=30, num_leaves=8, max_depth=4),
        cost_bps=5.0,
        borrow_bps=25.0,
        name="tiny desk",
    )
    return base.replace(**changes)


@pytest.fixture(scope="session")
def demo_panel():
    return load_panel("demo")


@pytest.fixture(scope="session")
def continued_panel():
    return load_panel(CONTINUED)


@pytest.fixture(scope="session")
def desk_registry(tmp_path_factory, demo_panel):
    """A registry with one tiny single-split demo run: ``(service, run_id)``."""
    service = RunService(tmp_path_factory.mktemp("desk_runs"))
    result = service.train_and_save(tiny_config(), demo_panel, explain=False)
    return service, result.run_id


def fresh_copy(service: RunService, run_id: str, root) -> RunService:
    """A registry holding a copy of ``run_id`` (so a test gets its own, empty ledger)."""
    shutil.copytree(service.folder(run_id), root / run_id)
    return RunService(root)
