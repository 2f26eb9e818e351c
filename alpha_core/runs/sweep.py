"""Sweeps: many runs of one config with some settings varied, and what their number costs.

A :class:`SweepSpec` is a base config and the trials' overrides (dotted setting paths, as
``model.num_leaves``): the Cartesian product of a grid (:func:`grid_trials`, a TOML file's
``[grid]`` table, read and checked by :mod:`alpha_core.runs.sweep_file`; both count the
trials before building one and refuse more than ``MAX_TRIALS``) or seeded random draws from
a space (:func:`search_trials`, never building the space). Each trial
is a run of the engine (:meth:`alpha_core.runs.service.RunService.train`) executed as a task of
:mod:`alpha_core.base.executor`; the panel is written once to the sweep folder and every task
reads it. The best trial is **chosen on its validation window** (its ``valid_rank_ic``:
early stopping or ``select = "valid"`` must be on), never on the test.

The sweep folder (``<artifacts>/sweeps/<sweep_id>/``; the id hashes the spec, so running the
same sweep again resumes it): ``sweep.json`` (the spec), ``panel.parquet``, ``trials/NNN/``
(each trial's ``result.json`` and ``daily.parquet``, written atomically by its task) and the
**trial ledger** ``ledger.jsonl``: one line per trial in trial order, appended durably
(flush + fsync) as trials finish. A sweep killed at any point resumes: finished trials are
not rerun, a torn last line is cut, and the ledger ends as an uninterrupted sweep's.

The ledger feeds :func:`summarize`: the deflated Sharpe of the chosen trial with the real
number of trials (and the variance of the trials' Sharpe ratios), the PBO by CSCV over the
trials' net daily returns, and White's reality check of the best trial against the
equal-weight benchmark (:mod:`alpha_core.stats.overfitting`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from alpha_core.base.executor import Executor, SerialExecutor, Task
from alpha_core.base.settings import ConfigError, replace_paths
from alpha_core.base.storage import (
    append_whole,
    atomic_dir,
    full_disk_as,
    write_atomic,
    write_json,
)
from alpha_core.data.panel import load_panel
from alpha_core.models.base import sharing_fits
from alpha_core.research.config import RunConfig
from alpha_core.research.pipeline import check_windows
from alpha_core.research.selection import validation_window, wants_validation
from alpha_core.research.walkforward import plan_folds
from alpha_core.runs.registry import default_root
from alpha_core.runs.service import RunService
from alpha_core.runs.sweep_file import MAX_TRIALS, check_space, count_combinations
from alpha_core.stats import returns as stats
from alpha_core.stats.overfitting import pbo_cscv, reality_check

SPEC_FILE = "sweep.json"
PANEL_FILE = "panel.parquet"
LEDGER_FILE = "ledger.jsonl"
TRIALS_DIR = "trials"
RESULT_FILE = "result.json"
DAILY_FILE = "daily.parquet"
LEDGER_METRICS = ("sharpe", "sharpe_net", "ann_return_net", "max_drawdown", "mean_rank_ic")
"""Metrics of each trial kept in its ledger line (besides the validation score)."""

SEARCH_SPACE: dict[str, list[Any]] = {
    "model.num_leaves": [15, 31, 63],
    "model.learning_rate": [0.05, 0.1],
    "model.min_data_in_leaf": [20, 100],
    "model.feature_fraction": [0.6, 0.8, 1.0],
    "label_transform": ["raw", "rank", "zscore"],
    "long_pct": [0.1, 0.2],
}
"""The default space of ``alpha sweep --search N`` (a TOML ``[space]`` table overrides it)."""


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs: ``base`` with each of ``trials`` (dotted path -> value) applied."""

    base: RunConfig
    trials: tuple[dict[str, Any], ...]
    label: str = ""

    @property
    def sweep_id(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return "sweep-" + hashlib.sha256(blob).hexdigest()[:10]

    def config(self, k: int) -> RunConfig:
        """Trial ``k``'s config: its folds run serially inside the task, and its deflated
        Sharpe counts every trial of the sweep."""
        values = {p: tuple(v) if isinstance(v, list) else v for p, v in self.trials[k].items()}
        config = replace_paths(self.base, values)
        return config.replace(executor="serial", n_trials=len(self.trials), name=f"trial {k}")

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "trials": list(self.trials), "label": self.label}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SweepSpec:
        return cls(RunConfig.from_dict(raw["base"]), tuple(raw["trials"]), raw.get("label", ""))


def grid_trials(grid: dict[str, list[Any]]) -> tuple[dict[str, Any], ...]:
    """Every combination of the grid's values, in the order of its keys. The grid is
    checked first (:func:`~alpha_core.runs.sweep_file.check_space`: known settings, valid
    values, at most :data:`MAX_TRIALS` combinations counted before one is built)."""
    space = check_space(grid, "grid")
    keys = list(space)
    return tuple(
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*space.values())
    )


def search_trials(n: int, space: dict[str, list[Any]], seed: int = 0) -> tuple[dict, ...]:
    """``n`` distinct random draws from ``space`` (seeded; fewer if the space is smaller).

    The draws are indices into the space's combinations (in :func:`grid_trials` order),
    decoded one by one, so a space of any size is never built; they are the very draws of
    ``random.Random(seed).sample`` over the built grid (that depends on its length only)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TRIALS:
        raise ConfigError(f"--search must be an integer in [1, {MAX_TRIALS:,}], got {n!r}")
    checked = check_space(space, "space", limit=None)
    lists = list(checked.values())
    total = count_combinations(checked)
    picks = random.Random(seed).sample(range(total), min(n, total))
    return tuple(dict(zip(checked, _combination(lists, k), strict=True)) for k in picks)


def _combination(lists: list[list[Any]], index: int) -> list[Any]:
    """The ``index``-th element of ``itertools.product(*lists)`` (the last list fastest)."""
    out = []
    for values in reversed(lists):
        index, k = divmod(index, len(values))
        out.append(values[k])
    return out[::-1]


def check_spec(spec: SweepSpec) -> None:
    """Refuse a sweep whose trials cannot be chosen on a validation window."""
    if not spec.trials:
        raise ConfigError("a sweep needs at least one trial")
    for k in range(len(spec.trials)):
        config = spec.config(k)
        config.validate()
        if config.select != "valid" and config.model.early_stopping_rounds == 0:
            raise ConfigError(
                f"trial {k}: a sweep chooses its best trial on the validation window; give "
                "--model-preset fast (early stopping) or --select valid"
            )


WINDOW_SETTINGS = (
    "train_start",
    "train_end",
    "test_start",
    "test_end",
    "valid_start",
    "valid_end",
    "walk_forward",
    "retrain_days",
    "window",
    "window_days",
    "embargo_days",
)
"""The settings a trial's folds and validation window depend on (checked once per value)."""


def check_on_data(spec: SweepSpec, panel: pl.DataFrame) -> None:
    """Refuse, before any trial runs, a sweep whose trials cannot run on ``panel``: the first
    trial through the data contract and its windows (as ``alpha run`` checks a run), and
    every trial's folds and validation window (once per distinct window settings)."""
    check_windows(spec.config(0), panel)
    dates = panel.get_column("date").unique().sort().to_list()
    seen: set[tuple[Any, ...]] = set()
    for k in range(len(spec.trials)):
        config = spec.config(k)
        validated = wants_validation(config)
        key = (*(getattr(config, name) for name in WINDOW_SETTINGS), validated)
        if key in seen:
            continue
        seen.add(key)
        try:
            for name in ("train_start", "train_end", "test_start", "test_end"):
                if not dates[0] <= getattr(config, name) <= dates[-1]:
                    raise ConfigError(
                        f"{name} {getattr(config, name)} is outside the data's span "
                        f"{dates[0]} .. {dates[-1]}"
                    )
            plan_folds(config, dates)
            if validated:
                validation_window(config, dates)
        except ConfigError as exc:
            settings = _describe({"settings": spec.trials[k]})
            raise ConfigError(f"trial {k} ({settings}): {exc}") from None


# ------------------------------------------------------------------------ the trial task
def trial_task(out: Path, panel: str, config: dict[str, Any]) -> None:
    """One trial as a task: train the config on the sweep's panel, write ``out/``."""

    run_config = RunConfig.from_dict(config)
    # kept from trial to trial in this process: the trials fit the same rows (same bins)
    with sharing_fits(run_config.model_type, keep=True):
        result = RunService().train(run_config, pl.read_parquet(panel))
    metrics = {k: _plain(v) for k, v in result.metrics.items()}
    daily = result.daily.select("date", "long_short_net", "benchmark")
    with atomic_dir(out) as tmp:
        daily.write_parquet(tmp / DAILY_FILE)
        (tmp / RESULT_FILE).write_text(json.dumps({"metrics": metrics}, sort_keys=True))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


# ------------------------------------------------------------------------ the ledger
def read_ledger(path: Path) -> list[dict[str, Any]]:
    """The ledger's complete lines (a torn last line, from a kill mid-write, is left out)."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline is torn or empty
    return [json.loads(line) for line in complete if line]


def _repair(path: Path) -> None:
    """Cut a torn last line so appends continue after the last complete one."""
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)


def _append(path: Path, entry: dict[str, Any]) -> None:
    """Append one line durably (the ledger, like the desk's, is an append-only log)."""
    data = (json.dumps(entry, sort_keys=True) + "\n").encode()
    with full_disk_as(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        append_whole(fd, path, data)  # a full disk leaves the ledger as it was
    finally:
        os.close(fd)


def ledger_entry(spec: SweepSpec, k: int, folder: Path) -> dict[str, Any]:
    metrics = json.loads((folder / RESULT_FILE).read_text())["metrics"]
    return {
        "trial": k,
        "settings": spec.trials[k],
        "fingerprint": spec.config(k).fingerprint(),
        "valid_rank_ic": metrics.get("valid_rank_ic"),
        **{name: metrics.get(name) for name in LEDGER_METRICS},
    }


# ------------------------------------------------------------------------ running
@dataclass
class Sweep:
    """A sweep's folder: run it (resuming), read its ledger and its statistics."""

    folder: Path
    spec: SweepSpec | None = None
    _summary: dict[str, Any] | None = field(default=None, init=False, repr=False)

    @property
    def ledger_path(self) -> Path:
        return self.folder / LEDGER_FILE

    def load_spec(self) -> SweepSpec:
        if self.spec is None:
            self.spec = SweepSpec.from_dict(json.loads((self.folder / SPEC_FILE).read_text()))
        return self.spec

    def trial_dir(self, k: int) -> Path:
        return self.folder / TRIALS_DIR / f"{k:03d}"

    def prepare(self, panel: pl.DataFrame) -> None:
        """Write the spec and the panel once (kept on resume)."""
        spec = self.load_spec()
        if not (self.folder / SPEC_FILE).exists():
            write_json(self.folder / SPEC_FILE, spec.to_dict())
        if not (self.folder / PANEL_FILE).exists():
            write_atomic(self.folder / PANEL_FILE, panel.write_parquet)

    def run(self, executor: Executor, on_trial: Callable[[int, int], None] | None = None) -> None:
        """Run the trials not finished yet and bring the ledger up to date, in trial order."""
        spec = self.load_spec()
        _repair(self.ledger_path)
        tasks = [
            Task(
                key=f"trial_{k:03d}",
                fn="alpha_core.runs.sweep:trial_task",
                kwargs={"panel": str(self.folder / PANEL_FILE), "config": spec.config(k).to_dict()},
                out=self.trial_dir(k),
            )
            for k in range(len(spec.trials))
        ]
        self._catch_up()

        def done(_task: Task) -> None:
            n = self._catch_up()
            if on_trial:
                on_trial(n, len(tasks))

        # trials run in this process share binned Datasets until the sweep ends
        with sharing_fits(spec.base.model_type):
            executor.run(tasks, on_done=done)
        self._catch_up()

    def _catch_up(self) -> int:
        """Append the finished trials that follow the ledger's last line; its length."""
        spec = self.load_spec()
        n = len(read_ledger(self.ledger_path))
        while n < len(spec.trials) and (self.trial_dir(n) / RESULT_FILE).exists():
            _append(self.ledger_path, ledger_entry(spec, n, self.trial_dir(n)))
            n += 1
        return n

    # -------------------------------------------------------------------- reading
    def ledger(self) -> pl.DataFrame:
        rows = read_ledger(self.ledger_path)
        if not rows:
            return pl.DataFrame()
        flat = [
            {**{k: v for k, v in r.items() if k != "settings"}, "settings": _describe(r)}
            for r in rows
        ]
        return pl.DataFrame(flat, infer_schema_length=None)

    def returns(self) -> tuple[np.ndarray, np.ndarray]:
        """Net daily returns (dates x trials) of the ledger's trials, and the benchmark."""
        n = len(read_ledger(self.ledger_path))
        frames = [pl.read_parquet(self.trial_dir(k) / DAILY_FILE) for k in range(n)]
        dates = frames[0].select("date")
        for f in frames[1:]:
            dates = dates.join(f.select("date"), on="date")
        aligned = [dates.join(f, on="date", how="left").sort("date") for f in frames]
        net = np.column_stack([f["long_short_net"].to_numpy() for f in aligned])
        return net, aligned[0]["benchmark"].to_numpy()

    def summary(self) -> dict[str, Any]:
        if self._summary is None:
            self._summary = summarize(read_ledger(self.ledger_path), *self.returns())
            self._summary["sweep_id"] = self.folder.name
        return self._summary


def _describe(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in entry["settings"].items())


def summarize(entries: list[dict[str, Any]], net: np.ndarray, benchmark: np.ndarray) -> dict:
    """The sweep's statistics: chosen trial (best validation rank IC), its DSR with the real
    number of trials, PBO by CSCV, and the reality-check p-value against the benchmark."""
    if not entries:
        raise ValueError("the sweep has no finished trial")
    scores = [e.get("valid_rank_ic") for e in entries]
    ranked = [
        (s if s is not None else -math.inf, -e["trial"])
        for s, e in zip(scores, entries, strict=True)
    ]
    best = entries[ranked.index(max(ranked))]["trial"]
    n = net.shape[1]
    sharpes = [stats.sharpe_ratio(net[:, k], periods=1) for k in range(n)]
    finite = [s for s in sharpes if math.isfinite(s)]
    variance = float(np.var(finite, ddof=1)) if len(finite) > 1 else None
    excess = net - benchmark[:, None]
    return {
        "n_trials": n,
        "best_trial": int(best),
        "best_settings": entries[best]["settings"],
        "best_valid_rank_ic": scores[best],
        "best_sharpe_net": entries[best].get("sharpe_net"),
        "dsr": _finite(stats.deflated_sharpe_ratio(net[:, best], n, variance)),
        "pbo": _finite(pbo_cscv(net).pbo),
        "reality_check_p": _finite(reality_check(excess)),
    }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def sweeps_root(runs_root: Path) -> Path:
    """Sweeps live beside the run registry: ``<artifacts>/sweeps``."""
    return Path(runs_root).parent / "sweeps"


class SweepService:
    """Sweeps kept beside the runs of one registry folder (``<runs root>/../sweeps``)."""

    def __init__(self, runs_root: Path | None = None) -> None:
        self.runs_root = Path(runs_root) if runs_root is not None else default_root()
        self.root = sweeps_root(self.runs_root)

    def run(
        self,
        spec: SweepSpec,
        panel: pl.DataFrame | None = None,
        *,
        executor: Executor | None = None,
        on_trial: Callable[[int, int], None] | None = None,
    ) -> Sweep:
        """Run (or resume) a sweep in ``<artifacts>/sweeps/<sweep_id>``; its ledger and
        statistics are then :meth:`alpha_core.runs.Sweep.summary`."""
        check_spec(spec)
        found = Sweep(self.root / spec.sweep_id, spec)
        if panel is None and not (found.folder / PANEL_FILE).exists():
            panel = load_panel(spec.base.data, metadata=spec.base.metadata)
        if panel is not None:
            check_on_data(spec, panel)  # before the sweep folder is made
            found.prepare(panel)
        found.run(executor or SerialExecutor(), on_trial)
        return found

    def list(self) -> list[Sweep]:
        """Sweeps with a ledger, newest first."""
        root = self.root
        found = [Sweep(p.parent) for p in root.glob(f"*/{LEDGER_FILE}")]
        return sorted(found, key=lambda s: s.ledger_path.stat().st_mtime, reverse=True)

    def load(self, sweep_id: str) -> Sweep:
        folder = self.root / sweep_id
        if not (folder / SPEC_FILE).exists():
            raise FileNotFoundError(f"no sweep {sweep_id!r} in {self.root}")
        return Sweep(folder)
