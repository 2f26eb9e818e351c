"""A model type through the whole engine: the end-to-end half of the conformance suite.

:func:`check_model_type_end_to_end` runs the unit suite
(:func:`alpha_core.models.conformance.check_model_type`), then on its generated panel: a
monthly walk-forward run trained, saved, loaded (same predictions) and explained (each test
row's contributions sum to its prediction, where exact); a ``--select valid`` run; and the
desk's book from the saved run. It lives here, above the stages it drives (research, runs,
desk), so the models stage imports nothing above itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.desk import book as desk
from alpha_core.models import base
from alpha_core.models.conformance import FEATURES, check_model_type, demo_panel
from alpha_core.research.config import RunConfig
from alpha_core.runs.service import RunService
from alpha_core.signals.predictions import PREDICTION


def conformance_config(model_type: str, panel: pl.DataFrame, **changes: object) -> RunConfig:
    """A run of ``model_type`` on :func:`demo_panel`: 180 training dates, then the test."""
    dates = panel["date"].unique().sort()
    return RunConfig(
        data="conformance",
        train_start=dates[0],
        train_end=dates[179],
        test_start=dates[181],
        test_end=dates[-1],
        model_type=model_type,
        features=FEATURES,
        n_trials=1,
    ).replace(**changes)


def check_model_type_end_to_end(name: str, root: Path) -> list[str]:
    """The unit suite, then walk-forward, Explain, ``--select valid`` and the desk's book
    for model type ``name`` (runs saved under ``root``); returns the checks passed."""
    done = check_model_type(name, Path(root))
    cls = base.model_class(name)
    panel = demo_panel(n_assets=40)
    service = RunService(Path(root) / "runs")

    run = service.train_and_save(
        conformance_config(name, panel, walk_forward="monthly"), panel, explain=False
    )
    assert len(run.models) > 1, f"{name}: walk-forward trained {len(run.models)} model(s)"
    loaded = service.load(run.run_id)
    assert loaded.models[0].model_type == name, f"{name}: saved as {loaded.models[0].model_type}"
    assert loaded.predictions.equals(run.predictions), f"{name}: predictions change on load"
    done.append("walk-forward")

    if cls.capabilities.exact_contributions:
        exp = service.explain(run)
        joined = exp.test.join(
            run.predictions.select("date", "asset", pl.col(PREDICTION).alias("run")),
            on=["date", "asset"],
        )
        assert joined.height == run.predictions.height, f"{name}: Explain misses test rows"
        np.testing.assert_allclose(
            joined[PREDICTION].to_numpy(), joined["run"].to_numpy(), rtol=1e-6, atol=1e-9
        )
        assert exp.sample.height > 0 and exp.meta["model_type"] == name
        done.append("explain")

    dates = panel["date"].unique().sort()
    select = conformance_config(name, panel, select="valid", valid_start=dates[140])
    chosen = service.train_and_save(select, panel)
    assert chosen.candidates is not None and chosen.candidates.height >= 1
    assert chosen.metrics["chosen_candidate"] in chosen.candidates["candidate"].to_list()
    done.append("select valid")

    folder = service.folder(run.run_id)
    models = desk.saved_models(folder, run.run_id)
    book = desk.make_book(loaded.config, models, panel, run_id=run.run_id)
    assert book.rows.height > 0, f"{name}: an empty book"
    assert book.model_sha256 == base.model_digest(models[-1].folder, models[-1].stem)
    done.append("desk book")
    return done
