"""``alpha sweep``: many configurations of one run as one sweep (docs/scale.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.api import (
    DEFAULT_TIMEOUT,
    EXECUTORS,
    SEARCH_SPACE,
    PanelError,
    StorageError,
    SweepService,
    SweepSpec,
    TaskError,
    default_root,
    grid_trials,
    load_panel,
    make_executor,
    read_toml,
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


def _sweep_spec(args: argparse.Namespace, panel: pl.DataFrame) -> SweepSpec:
    """The sweep's base config (defaults for the data, the preset, the file's ``[base]``)
    and its trials (the ``[grid]``, or ``--search N`` draws from ``[space]``)."""
    raw = read_toml(args.grid or args.space) if (args.grid or args.space) else {}
    base = config_from_args(args, panel).replace(executor="serial")  # --executor: the trials'
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.get("base", {}).items()}
    base = replace_paths(base, overrides)
    if args.grid:
        trials = grid_trials(raw.get("grid", {}))
    else:
        trials = search_trials(args.search, raw.get("space", SEARCH_SPACE), args.search_seed)
    return SweepSpec(base, trials)


def cmd_sweep(args: argparse.Namespace) -> int:
    service = SweepService(args.artifacts or default_root())
    try:
        raw = read_toml(args.grid or args.space) if (args.grid or args.space) else {}
        data = args.data or raw.get("base", {}).get("data", "demo")
        args.data = data
        panel = load_panel(data)
        spec = _sweep_spec(args, panel)
        executor = make_executor(
            args.executor, workers=args.workers, address=args.ray_address, timeout=args.timeout
        )
        found = service.run(spec, panel, executor=executor, on_trial=_print_trial)
        summary = found.summary()
    except StorageError:
        raise  # one line, exit 2: alpha_core.cli.main
    except (ConfigError, PanelError, TaskError, OSError, ValueError, KeyError) as exc:
        return fail(flag_message(exc) if isinstance(exc, ConfigError) else str(exc))
    summary["folder"] = str(found.folder)
    if args.json:
        print(json.dumps(summary, sort_keys=True, default=str))
    else:
        for key, value in summary.items():
            print(f"{key:>20}: {value}")
    return 0


def _print_trial(done: int, total: int) -> None:
    print(f"sweep: {done}/{total} trials in the ledger", file=sys.stderr)
