"""The model-type conformance suite (as scikit-learn's ``check_estimator``).

:func:`check_model_type` fits a type on a small generated panel and checks the contract:
its declarations (capabilities, parameters declared with ``setting(...)``, presets, flag
names unique across types), fit, predict, save and load (same predictions), the files its
sidecar lists, importance, describe, contributions summing to the prediction (where exact),
determinism for a seed and validation-aware fitting. The paths through the rest of the
engine (walk-forward, ``--select valid``, the desk's book, Explain) are checked by
:func:`alpha_core.desk.model_conformance.check_model_type_end_to_end`, above this stage.
Each check raises AssertionError naming the type and what failed.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.base.settings import settings
from alpha_core.features.library import build_features, model_rows
from alpha_core.models import base

FEATURES = ("mom_5", "mom_20", "vol_20", "gap_pc", "hl_range_pc", "vol_z_20")


def demo_panel(n_assets: int = 16, n_days: int = 260, seed: int = 0) -> pl.DataFrame:
    """A random-walk OHLCV panel whose next return leans on the 5-day momentum (a signal
    any sensible model finds), weekdays from 2020-01-01."""
    rng = np.random.default_rng(seed)
    days, d = [], date(2020, 1, 1)
    while len(days) < n_days:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    frames = []
    for i in range(n_assets):
        r = rng.normal(0, 0.015, n_days)
        for t in range(6, n_days):
            r[t] += 0.15 * r[t - 5 : t].sum() / 5  # momentum to learn
        close = 100 * np.exp(np.cumsum(r))
        open_ = close * np.exp(rng.normal(0, 0.004, n_days))
        frames.append(
            pl.DataFrame(
                {
                    "date": days,
                    "asset": f"A{i:02d}",
                    "open": open_,
                    "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n_days)),
                    "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n_days)),
                    "close": close,
                    "volume": rng.lognormal(12, 0.3, n_days),
                    "sector": ["Tech", "Energy", "Banks", "Health"][i % 4],
                    "asset_class": "equity",
                }
            )
        )
    return pl.concat(frames).sort("asset", "date")


def _rows(panel: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(train, valid, test) rows of the panel's features: 60% / 20% / 20% of its dates."""
    feats = build_features(panel, features=FEATURES)
    dates = feats["date"].unique().sort()
    a, b = dates[int(0.6 * dates.len())], dates[int(0.8 * dates.len())]
    train = base.training_rows(feats, dates[0], a, a, FEATURES)
    valid = base.training_rows(feats, a + timedelta(days=1), b, b, FEATURES)
    test = feats.filter(pl.col("date") > b, model_rows(feats, FEATURES)).sort("date", "asset")
    return train, valid, test


def check_declarations(name: str) -> None:
    cls = base.model_class(name)
    assert cls.model_type == name, f"{name}: model_type is {cls.model_type!r}"
    assert isinstance(cls.capabilities, base.Capabilities), f"{name}: capabilities undeclared"
    if cls.params_class is not None:
        assert dataclasses.is_dataclass(cls.params_class), f"{name}: params_class not a dataclass"
        settings(cls.params_class)  # every field declared with setting(...)
        default = cls.params_class()
        assert base.resolve_params(name, base.params_to_dict(default)) == default, (
            f"{name}: parameters do not survive JSON"
        )
    for preset, p in cls.presets.items():
        assert cls.params_class is None or isinstance(p.params, cls.params_class), (
            f"{name}: preset {preset!r} is not a {cls.params_class}"
        )
        assert p.summary and p.help, f"{name}: preset {preset!r} lacks summary or help"
    base.param_owners()  # no flag shared with another type


def check_model_type(name: str, workdir: Path, seed: int = 3) -> list[str]:
    """Run every unit check on model type ``name`` (files go under ``workdir``); returns
    the names of the checks passed."""
    done = ["declarations"]
    check_declarations(name)
    cls = base.model_class(name)
    train, valid, test = _rows(demo_panel(seed=seed))
    params = base.preset_params(name)
    model = base.fit_model(train, FEATURES, params, seed, model_type=name)
    pred = model.predict(test)
    assert pred.shape == (test.height,) and np.isfinite(pred).all(), f"{name}: bad predictions"
    assert model.features == FEATURES, f"{name}: features {model.features}"
    for key in ("params", "seed", "n_train_rows", "train_start", "train_end", "train_rmse"):
        assert key in model.meta, f"{name}: meta lacks {key!r}"
    json.dumps(model.meta)
    done.append("fit/predict")

    again = base.fit_model(train, FEATURES, params, seed, model_type=name)
    assert np.array_equal(again.predict(test), pred), f"{name}: not deterministic for a seed"
    done.append("determinism")

    folder = Path(workdir) / f"conformance-{name}"
    base.save_model(model, folder, "m")
    files = base.model_files(folder, "m")
    assert files, f"{name}: its sidecar lists no files"
    assert all((folder / f).is_file() for f in files), f"{name}: a listed file is missing"
    base.model_digest(folder, "m")
    loaded = base.load_model(folder, "m")
    assert type(loaded) is cls, f"{name}: loaded as {type(loaded).__name__}"
    assert np.array_equal(loaded.predict(test), pred), f"{name}: predictions change on load"
    assert loaded.features == model.features, f"{name}: features change on load"
    done.append("save/load")

    imp = model.importance()
    assert imp.columns == ["feature", "importance"], f"{name}: importance columns {imp.columns}"
    assert imp["feature"].to_list() == list(FEATURES), f"{name}: importance features"
    values = imp["importance"].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all(), f"{name}: importance not >= 0"
    done.append("importance")

    about = model.describe()
    assert {"contributions_method", "importance_measure"} <= set(about), f"{name}: describe"
    json.dumps(about)
    done.append("describe")

    if cls.capabilities.exact_contributions:
        x = base.feature_matrix(test, FEATURES, dtype=model.input_dtype)
        phi = base.model_contributions(loaded, x, test["date"])
        assert phi.shape == (test.height, len(FEATURES) + 1), f"{name}: contributions shape"
        np.testing.assert_allclose(
            phi.sum(axis=1), pred, rtol=1e-6, atol=1e-9, err_msg=f"{name}: contributions"
        )
        empty = base.model_contributions(loaded, x[:0], test["date"][:0])
        assert empty.shape == (0, len(FEATURES) + 1), f"{name}: zero rows"
        done.append("contributions")

    with_valid = base.fit_model(train, FEATURES, params, seed, model_type=name, valid=valid)
    assert np.isfinite(with_valid.predict(test)).all(), f"{name}: fit with valid rows"
    done.append("validation")
    return done
