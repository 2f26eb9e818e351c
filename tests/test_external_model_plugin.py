"""A model type from a package outside Alpha Lab, through the public mechanism only.

``tests/fixtures/toy_model_plugin`` is a distribution of its own (``alpha-lab-toy-model``)
whose ``pyproject.toml`` declares ``toy = "toy_model_plugin:ToyModel"`` in the
``alpha_lab.model_types`` entry-point group. It is installed into a temporary folder, as
``pip install --target`` lays it out (the package plus a ``*.dist-info`` with its metadata and
entry points, written from its ``pyproject.toml``: no network and no ``wheel`` needed), and the
real environment is never touched. The run settings are composed from the discovered types when
they are imported, so everything runs in subprocesses whose ``PYTHONPATH`` holds that folder:
the conformance suite, ``alpha run`` (its ``--toy-shrink`` flag, ``--select valid``,
``--model-preset``), ``alpha book``, the Train form and Explain. Without the folder on the path
the type is offered nowhere, so the test fails if discovery breaks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import polars as pl
import pytest
from conftest import make_panel

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "tests" / "fixtures" / "toy_model_plugin"
PACKAGE = "toy_model_plugin"
GROUP = "alpha_lab.model_types"
TIMEOUT = 600
ALPHA = "import sys; from alpha_core.cli.main import main; sys.exit(main(sys.argv[1:]))"
"""``alpha`` itself (the console script's target), run by this interpreter."""


# ----------------------------------------------------------------------------- installing
def _record_line(root: Path, path: Path) -> str:
    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path.relative_to(root).as_posix()},sha256={digest},{len(data)}"


def install(target: Path) -> Path:
    """Install the fixture distribution into ``target`` as ``pip install --target`` would:
    its package, and ``<name>-<version>.dist-info`` (METADATA, entry_points.txt, RECORD)
    written from its ``pyproject.toml``. Returns ``target`` (a folder for ``PYTHONPATH``)."""
    project = tomllib.loads((DIST / "pyproject.toml").read_text())["project"]
    shutil.copytree(
        DIST / PACKAGE, target / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    info = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
        *(f"Requires-Dist: {req}" for req in project.get("dependencies", ())),
    ]
    (info / "METADATA").write_text("\n".join(metadata) + "\n")
    lines = []
    for group, targets in project["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in targets.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    (info / "top_level.txt").write_text(PACKAGE + "\n")
    (info / "INSTALLER").write_text("alpha-lab-tests\n")
    files = sorted(p for p in target.rglob("*") if p.is_file())
    record = [_record_line(target, p) for p in files] + [f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")
    return target


def python(
    code: str, *args: str, site: Path | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``code`` run by this interpreter in a fresh process, with ``site`` (the installed toy
    distribution) on its ``PYTHONPATH`` when given; the project root is always on it."""
    paths = [str(site)] if site is not None else []
    full = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join([*paths, str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return proc.stdout


def last_json(stdout: str) -> dict:
    """The JSON object a command printed last."""
    return json.loads(stdout.strip().splitlines()[-1])


def alpha(*args: str, site: Path | None) -> subprocess.CompletedProcess:
    return python(ALPHA, *args, site=site)


def sidecars(folder: Path) -> list[Path]:
    """A saved run's model sidecars: ``model.json`` and any walk-forward fold's."""
    found = [folder / "model.json"] if (folder / "model.json").is_file() else []
    found += sorted((folder / "models").glob("fold_[0-9][0-9][0-9].json"))
    assert found, f"no model sidecar in {folder}"
    return found


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy distribution installed in a temporary folder, a CSV panel, a registry and one
    ``alpha run --model-type toy --toy-shrink 0.5`` saved in it (with its SHAP cache)."""
    tmp = tmp_path_factory.mktemp("toy_plugin")
    site = install(tmp / "site")
    prices = tmp / "prices.csv"
    make_panel(n_assets=10, n_days=260, seed=11).write_csv(prices)
    root = tmp / "runs"
    run = ["run", "--data", str(prices), "--artifacts", str(root), "--json"]
    metrics = last_json(ok(alpha(*run, "--model-type", "toy", "--toy-shrink", "0.5", site=site)))
    (folder,) = [p for p in root.iterdir() if not p.name.startswith(".")]
    return {
        "site": site,
        "prices": prices,
        "root": root,
        "run": run,
        "folder": folder,
        "metrics": metrics,
    }


# ----------------------------------------------------------------------------- discovery
OFFERED = """
import contextlib, dataclasses, io, json
from importlib import metadata
from alpha_core.cli.main import main
from alpha_core.config import RunConfig, model_type_infos

help_text = io.StringIO()
with contextlib.redirect_stdout(help_text), contextlib.suppress(SystemExit):
    main(["run", "--help"])
print(json.dumps({
    "types": list(model_type_infos()),
    "block": "toy" in {f.name for f in dataclasses.fields(RunConfig)},
    "flag": "--toy-shrink" in help_text.getvalue(),
    "dists": [
        ep.dist.name for ep in metadata.entry_points(group="alpha_lab.model_types")
        if ep.name == "toy"
    ],
}))
"""


def test_the_toy_type_is_offered_only_when_its_distribution_is_installed(toy):
    absent = last_json(ok(python(OFFERED, site=None)))
    assert "toy" not in absent["types"] and not absent["block"] and not absent["flag"]
    assert absent["dists"] == []
    refused = alpha(*toy["run"], "--model-type", "toy", "--no-save", site=None)
    assert refused.returncode != 0 and "toy" in refused.stderr

    present = last_json(ok(python(OFFERED, site=toy["site"])))
    assert present["types"][:3] == ["lightgbm", "linear", "ensemble"]
    assert "toy" in present["types"] and present["block"] and present["flag"]
    assert present["dists"] == ["alpha-lab-toy-model"]  # found through its distribution


def test_the_toy_type_passes_the_conformance_suite(toy, tmp_path):
    code = """
    import json, sys
    from pathlib import Path
    from alpha_core.desk.model_conformance import check_model_type_end_to_end
    from alpha_core.models.conformance import check_model_type

    work = Path(sys.argv[1])
    unit = check_model_type("toy", work / "unit")
    whole = check_model_type_end_to_end("toy", work / "whole")
    print(json.dumps({"unit": unit, "whole": whole}))
    """
    done = last_json(ok(python(code, str(tmp_path), site=toy["site"])))
    assert {"declarations", "fit/predict", "determinism", "save/load", "contributions"} <= set(
        done["unit"]
    )
    assert set(done["unit"]) <= set(done["whole"])
    assert {"walk-forward", "explain", "select valid", "desk book"} <= set(done["whole"])


# ----------------------------------------------------------------------------- the CLI
def test_alpha_run_trains_and_saves_the_toy_type_with_its_flag(toy):
    folder = toy["folder"]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "toy" and config["toy"] == {"toy_shrink": 0.5}
    assert not {"linear", "ensemble"} & set(config)  # other types' blocks stay out
    for path in sidecars(folder):
        sidecar = json.loads(path.read_text())
        assert sidecar["model_type"] == "toy" and sidecar["params"] == {"toy_shrink": 0.5}
        assert list(sidecar["files"]) == [f"{path.stem}.toy.json"]
    assert (folder / "shap_meta.json").is_file()  # the run's explain step ran
    assert toy["metrics"]["run_id"] == folder.name


def test_alpha_run_select_valid_compares_the_toy_presets(toy, tmp_path):
    dates = pl.read_csv(toy["prices"], try_parse_dates=True)["date"].unique().sort()
    run = ["run", "--data", str(toy["prices"]), "--artifacts", str(tmp_path), "--json"]
    run += ["--train-start", str(dates[0]), "--train-end", str(dates[229])]
    run += ["--test-start", str(dates[232]), "--test-end", str(dates[-1])]
    out = last_json(
        ok(
            alpha(
                *run, "--model-type", "toy", "--select", "valid", "--no-explain", site=toy["site"]
            )
        )
    )
    (folder,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    table = pl.read_parquet(folder / "candidates.parquet")
    assert {"toy_light", "toy_heavy"} <= set(table["candidate"].to_list())
    assert out["chosen_candidate"] in table["candidate"].to_list()
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "toy" and config["select"] == "valid"
    chosen = table.filter(pl.col("chosen")).row(0, named=True)
    shrink = {"toy_light": 0.1, "toy_heavy": 10.0}[chosen["candidate"]]
    # the chosen preset's parameters are what the run trained, and its flags spell them
    assert f"--model-type toy --toy-shrink {shrink}" in chosen["flags"]
    for path in sidecars(folder):
        assert json.loads(path.read_text())["params"] == {"toy_shrink": shrink}


def test_alpha_run_model_preset_takes_a_toy_preset(toy, tmp_path):
    run = ["run", "--data", str(toy["prices"]), "--artifacts", str(tmp_path), "--json"]
    ok(alpha(*run, "--model-type", "toy", "--model-preset", "toy_heavy", "--no-explain",
             site=toy["site"]))  # fmt: skip
    refused = alpha(*run, "--model-type", "toy", "--toy-shrink", "-1", site=toy["site"])
    assert refused.returncode == 2 and "--toy-shrink must be >= 0" in refused.stderr
    (folder,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "toy" and config["toy"] == {"toy_shrink": 10.0}
    for path in sidecars(folder):
        assert json.loads(path.read_text())["params"] == {"toy_shrink": 10.0}


# ----------------------------------------------------------------------------- the desk
def test_alpha_book_books_from_the_toy_run(toy):
    run_id = toy["folder"].name
    args = ["book", "--run", run_id, "--data", str(toy["prices"]), "--artifacts"]
    out = last_json(ok(alpha(*args, str(toy["root"]), "--json", "--no-record", site=toy["site"])))
    assert out["book"] and out["n_long"] > 0 and out["n_short"] > 0
    assert {row["asset"] for row in out["book"]} <= {f"A{i:02d}" for i in range(10)}


# ----------------------------------------------------------------------------- the Train form
TRAIN_FORM = """
import json, sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.switch_page("pages/2_Train.py")
at.run()
assert not at.exception, [e.value for e in at.exception]
choice = at.selectbox(key="train_model_type")
values = [o.split(":", 1)[0] for o in choice.options]
keys = [w.key for w in at.number_input]
shown = {"types": values, "before": "cfg.toy.toy_shrink" in keys,
         "lightgbm": "cfg.model.learning_rate" in keys}
if "toy" in values:
    choice.select("toy").run()
    assert not at.exception, [e.value for e in at.exception]
    shrink = at.number_input(key="cfg.toy.toy_shrink")
    shown.update(after=True, value=shrink.value, label=shrink.label)
print(json.dumps(shown))
"""


@pytest.mark.parametrize("installed", [False, True], ids=["without", "with"])
def test_the_train_form_offers_the_toy_type_and_its_parameter(toy, tmp_path, installed):
    env = {"ALPHA_LAB_ARTIFACTS": str(tmp_path), "ALPHA_LAB_NO_FIRST_RUN": "1"}
    site = toy["site"] if installed else None
    shown = last_json(ok(python(TRAIN_FORM, str(ROOT / "app.py"), site=site, env=env)))
    assert shown["types"][:3] == ["lightgbm", "linear", "ensemble"]
    assert shown["lightgbm"] and not shown["before"]  # LightGBM first: its controls, no toy's
    if not installed:
        assert "toy" not in shown["types"] and "after" not in shown
        return
    assert "toy" in shown["types"]
    assert shown["after"] and shown["value"] == 1.0 and shown["label"] == "Shrinkage (toy)"


# ----------------------------------------------------------------------------- Explain
EXPLAIN = """
import json, sys
import numpy as np
import polars as pl
from alpha_core.evaluation import explain
from alpha_core.runs.service import RunService
from alpha_core.signals.predictions import PREDICTION

service = RunService(sys.argv[1])
run = service.load(sys.argv[2])
cached = service.cached_explanations(run.run_id)
assert cached is not None, "alpha run wrote no SHAP cache"
fresh = explain.compute(run.models, service.features(run.config), run.config)
out = {"model_type": fresh.meta["model_type"], "rows": run.predictions.height}
for name, exp in (("cached", cached), ("fresh", fresh)):
    shap = [c for c in exp.test.columns if c.startswith("shap__")]
    total = exp.test.select(pl.sum_horizontal(*shap) + pl.col("expected_value")).to_series()
    np.testing.assert_allclose(total.to_numpy(), exp.test[PREDICTION].to_numpy(), rtol=1e-9)
    joined = exp.test.join(
        run.predictions.select("date", "asset", pl.col(PREDICTION).alias("run")),
        on=["date", "asset"],
    )
    np.testing.assert_allclose(
        joined[PREDICTION].to_numpy(), joined["run"].to_numpy(), rtol=1e-6, atol=1e-9
    )
    out[name] = joined.height
    out[name + "_features"] = len(shap)
print(json.dumps(out))
"""


def test_explain_contributions_of_the_toy_run_sum_to_its_predictions(toy):
    out = last_json(ok(python(EXPLAIN, str(toy["root"]), toy["folder"].name, site=toy["site"])))
    assert out["model_type"] == "toy"
    assert out["cached"] == out["fresh"] == out["rows"] > 0
    assert out["fresh_features"] == out["cached_features"] > 0
