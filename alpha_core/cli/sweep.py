"""``alpha sweep``: many configurations of one run as one sweep (docs/scale.md)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.api import (
    DEFAULT_TIMEOUT,
    EXECUTORS,
    MAX_TRIALS,
    MAX_WORKERS,
    SEARCH_SPACE,
    PanelError,
    StorageError,
    SweepFile,
    SweepService,
    SweepSpec,
    TaskError,
    default_root,
    grid_trials,
    load_panel,
    make_executor,
    read_sweep_file,
    search_trials,
)
from alpha_core.cli.args import config_from_args, fail, flag_message, preset_names
from alpha_core.config import ConfigError, replace_paths


def add_parser(sub: Any) -> None:
    sweep = sub.add_parser("sweep", help="run many configurations; trial ledger, DSR, PBO")
    how = sweep.add_mutually_exclusive_group(required=True)
    how.add_argument("--grid", type=Path, help="TOML file: [base] settings, [grid] value lists")
    how.add_argument("--search", type=int, metavar="N", help="N seeded random trials")
    sweep.add_argument("--space", type=Path, help="TOML file: [base], [space] lists (--search)")
    sweep.add_argument("--search-seed", type=int, default=0, help="seed of --search (default 0)")
    sweep.add_argument("--data", default=None, help="data source (default: demo)")
    sweep.add_argument("--model-preset", choices=preset_names(), default="fast")
    sweep.add_argument("--executor", choices=list(EXECUTORS), default="process")
    sweep.add_argument("--ray-address", default=None, help="a running Ray cluster's address")
    sweep.add_argument("--workers", type=int, default=0, help="processes or local Ray CPUs")
    sweep.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds a trial")
    sweep.add_argument("--artifacts", type=Path, default=None, help="registry folder")
    sweep.add_argument("--json", action="store_true", help="print the summary as one JSON line")


def check_flags(args: argparse.Namespace) -> None:
    """The sweep's own numeric flags, before any file or data is read."""
    if args.search is not None and not 1 <= args.search <= MAX_TRIALS:
        raise ConfigError(f"--search must be an integer in [1, {MAX_TRIALS:,}], got {args.search}")
    if args.space is not None and args.search is None:
        raise ConfigError("--space goes with --search N (a --grid file holds its own values)")
    if args.search_seed < 0:
        raise ConfigError(f"--search-seed must be an integer >= 0, got {args.search_seed}")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise ConfigError(f"--timeout must be a number of seconds > 0, got {args.timeout:g}")
    if not 0 <= args.workers <= MAX_WORKERS:
        raise ConfigError(
            f"--workers must be an integer in [0, {MAX_WORKERS}] (0: one per core), got "
            f"{args.workers}"
        )
    if args.ray_address is not None and args.executor != "ray":
        raise ConfigError(f"--ray-address goes with --executor ray, not {args.executor}")


def sweep_file(args: argparse.Namespace) -> SweepFile | None:
    """The ``--grid`` or ``--space`` file, checked (and its grid counted) before any work."""
    if args.grid is not None:
        return read_sweep_file(args.grid, "grid")
    if args.space is not None:
        return read_sweep_file(args.space, "space")
    return None


def data_source(args: argparse.Namespace, found: SweepFile | None) -> str:
    """The one data source of the sweep: ``--data`` or the file's ``[base] data``; both
    given must name the same source, else the sweep would record one and train on the other."""
    in_file = found.base.get("data") if found else None
    if args.data is not None and in_file is not None and not _same_source(args.data, in_file):
        raise ConfigError(
            f"{found.path}: [base] data = {in_file!r} disagrees with --data {args.data!r}; "  # type: ignore[union-attr]
            "give the data source once (or the same one in both)"
        )
    return args.data or in_file or "demo"


def _same_source(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _sweep_spec(
    args: argparse.Namespace, found: SweepFile | None, panel: pl.DataFrame
) -> SweepSpec:
    """The sweep's base config (defaults for the data, the preset, the file's ``[base]``)
    and its trials (the ``[grid]``, or ``--search N`` draws from ``[space]``)."""
    base = config_from_args(args, panel).replace(executor="serial")  # --executor: the trials'
    overrides = {k: v for k, v in (found.base if found else {}).items() if k != "data"}
    base = replace_paths(base, overrides)
    if args.grid:
        trials = grid_trials(found.values)  # type: ignore[union-attr]
    else:
        space = found.values if found else SEARCH_SPACE
        trials = search_trials(args.search, space, args.search_seed)
    return SweepSpec(base, trials)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Every setting, flag and the sweep file are checked (and the grid counted) before
    the data is loaded or a trial runs; each problem is one line and exit code 2."""
    service = SweepService(args.artifacts or default_root())
    try:
        check_flags(args)
        found = sweep_file(args)
        args.data = data_source(args, found)
        metadata = found.base.get("metadata") if found else None
        panel = load_panel(args.data, metadata=metadata)
        spec = _sweep_spec(args, found, panel)
        executor = make_executor(
            args.executor, workers=args.workers, address=args.ray_address, timeout=args.timeout
        )
        result = service.run(spec, panel, executor=executor, on_trial=_print_trial)
        summary = result.summary()
    except StorageError:
        raise  # one line, exit 2: alpha_core.cli.main
    except (ConfigError, PanelError, TaskError, OSError, ValueError, KeyError) as exc:
        return fail(flag_message(exc) if isinstance(exc, ConfigError) else str(exc))
    summary["folder"] = str(result.folder)
    if args.json:
        print(json.dumps(summary, sort_keys=True, default=str))
    else:
        for key, value in summary.items():
            print(f"{key:>20}: {value}")
    return 0


def _print_trial(done: int, total: int) -> None:
    print(f"sweep: {done}/{total} trials in the ledger", file=sys.stderr)
