"""``alpha``: the headless entry point (same engine functions as the app).

``alpha run`` trains, predicts, forms books, backtests, prints the Performance Summary and
saves the run under ``artifacts/runs/<run_id>/``. A bad flag value prints one line on
stderr, exits with code 2 and writes nothing.

Research flags map one to one onto :class:`~alpha_core.config.RunConfig` fields:
``--walk-forward {none,monthly,quarterly,N}`` (N: retrain every N trading days),
``--window {expanding,rolling}``, ``--window-days``, ``--embargo-days``,
``--label-transform {raw,demean,rank}``, ``--feature-transform {raw,rank}``, ``--cost-bps``,
``--borrow-bps`` (per year), ``--sizing {equal,rank,score,inverse-vol}``, ``--gross-long``,
``--gross-short``, ``--max-weight``, ``--max-sector-weight``, ``--limit-group``,
``--sector-neutral`` and ``--n-trials`` (runs compared, for the deflated Sharpe ratio).
``--model-preset fast`` trains cheaper models (useful with many walk-forward folds).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date
from pathlib import Path
from typing import NoReturn

import polars as pl

from alpha_core.config import (
    FAST_PRESET,
    FEATURE_TRANSFORMS,
    LABEL_TRANSFORMS,
    LIMIT_GROUPS,
    WINDOWS,
    ConfigError,
    ModelParams,
    RunConfig,
)
from alpha_core.data import PanelError, load_panel
from alpha_core.pipeline import check_windows, default_windows
from alpha_core.progress import Progress, ignore
from alpha_core.registry import default_root, list_runs
from alpha_core.report import performance_summary
from alpha_core.runs import RunService, source_label
from alpha_core.walkforward import plan_folds

DATE_FLAGS = ("train_start", "train_end", "test_start", "test_end")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2, as argparse itself uses)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"alpha: error: {message}\n")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _walk_forward(text: str) -> str:
    """none, monthly, quarterly, or a positive integer N (retrain every N trading days)."""
    if text in ("none", "monthly", "quarterly"):
        return text
    if text.isdigit() and int(text) >= 1:
        return text
    raise argparse.ArgumentTypeError(
        f"must be none, monthly, quarterly or a positive number of trading days, got {text!r}"
    )


def _research_args(run: argparse.ArgumentParser) -> None:
    base = RunConfig()
    run.add_argument(
        "--walk-forward",
        type=_walk_forward,
        default="none",
        help="retrain schedule: none, monthly, quarterly or N (every N trading days)",
    )
    run.add_argument("--window", choices=WINDOWS, default=base.window)
    run.add_argument("--window-days", type=int, default=base.window_days)
    run.add_argument("--embargo-days", type=int, default=base.embargo_days)
    run.add_argument("--label-transform", choices=LABEL_TRANSFORMS, default=base.label_transform)
    run.add_argument(
        "--feature-transform", choices=FEATURE_TRANSFORMS, default=base.feature_transform
    )
    run.add_argument("--cost-bps", type=float, default=base.cost_bps)
    run.add_argument("--borrow-bps", type=float, default=base.borrow_bps, help="per year")
    run.add_argument(
        "--sizing", choices=["equal", "rank", "score", "inverse-vol"], default=base.sizing
    )
    run.add_argument("--gross-long", type=float, default=base.gross_long)
    run.add_argument("--gross-short", type=float, default=base.gross_short)
    run.add_argument("--max-weight", type=float, default=None)
    run.add_argument("--max-sector-weight", type=float, default=None)
    run.add_argument("--limit-group", choices=LIMIT_GROUPS, default=base.limit_group)
    run.add_argument("--sector-neutral", action="store_true", help="rank within each sector")
    run.add_argument("--n-trials", type=int, default=base.n_trials, help="runs compared (DSR)")


def research_fields(args: argparse.Namespace) -> dict[str, object]:
    """The RunConfig fields of the walk-forward, transform, cost and sizing flags."""
    wf = args.walk_forward
    days = wf.isdigit()
    return {
        "walk_forward": "days" if days else wf,
        "retrain_days": int(wf) if days else RunConfig.retrain_days,
        "window": args.window,
        "window_days": args.window_days,
        "embargo_days": args.embargo_days,
        "label_transform": args.label_transform,
        "feature_transform": args.feature_transform,
        "cost_bps": args.cost_bps,
        "borrow_bps": args.borrow_bps,
        "sizing": args.sizing.replace("-", "_"),
        "gross_long": args.gross_long,
        "gross_short": args.gross_short,
        "max_weight": args.max_weight,
        "max_sector_weight": args.max_sector_weight,
        "limit_group": args.limit_group,
        "sector_neutral": args.sector_neutral,
        "n_trials": args.n_trials,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alpha", description="Alpha Lab: daily cross-sectional alpha research.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="train, predict, backtest and save a run")
    run.add_argument("--data", default="demo", help="'demo' or a path (CSV, Parquet, folder, zip)")
    run.add_argument("--metadata", default=None, help="CSV mapping asset to sector/asset_class")
    for flag in DATE_FLAGS:
        run.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=_iso_date, default=None)
    run.add_argument("--label", choices=["close_to_close", "open_to_open"], default=None)
    run.add_argument("--long-pct", type=float, default=0.2)
    run.add_argument("--short-pct", type=float, default=0.2)
    run.add_argument("--seed", type=int, default=42)
    run.add_argument(
        "--model-preset",
        choices=["seed", "fast"],
        default="seed",
        help="seed: the founding document's LightGBM (500 trees); fast: fewer, coarser trees "
        "with early stopping on a purged validation tail (cheaper walk-forward folds)",
    )
    run.add_argument("--n-estimators", type=int, default=None, help="overrides the preset")
    run.add_argument("--learning-rate", type=float, default=None, help="overrides the preset")
    run.add_argument("--num-leaves", type=int, default=None, help="overrides the preset")
    run.add_argument("--max-depth", type=int, default=None, help="overrides the preset")
    run.add_argument("--shuffle-labels", action="store_true", help="no-signal control run")
    _research_args(run)
    run.add_argument("--name", default="", help="display name of the run")
    run.add_argument("--artifacts", type=Path, default=None, help="registry folder")
    run.add_argument("--no-save", action="store_true", help="do not write the run")
    run.add_argument(
        "--no-explain", action="store_true", help="save the run without its SHAP cache"
    )
    run.add_argument("--json", action="store_true", help="print metrics as one JSON object")
    sub.add_parser("runs", help="list saved runs")
    return parser


def config_from_args(args: argparse.Namespace, panel: pl.DataFrame | None) -> RunConfig:
    """Build the run config; omitted dates default to the seed's (demo) or the data's span."""
    base = RunConfig()
    dates = {f: getattr(args, f) for f in DATE_FLAGS}
    if args.data != "demo" and panel is not None and any(v is None for v in dates.values()):
        defaults = default_windows(panel)
    else:
        defaults = {f: getattr(base, f) for f in DATE_FLAGS}
    preset = FAST_PRESET if getattr(args, "model_preset", "seed") == "fast" else ModelParams()
    overrides = {
        name: getattr(args, name)
        for name in ("n_estimators", "learning_rate", "num_leaves", "max_depth")
        if getattr(args, name) is not None
    }
    model = dataclasses.replace(preset, **overrides)
    return RunConfig(
        data=str(args.data),
        metadata=args.metadata,
        **{f: dates[f] or defaults[f] for f in DATE_FLAGS},
        label=args.label or base.label,
        model=model,
        long_pct=args.long_pct,
        short_pct=args.short_pct,
        seed=args.seed,
        shuffle_labels=args.shuffle_labels,
        name=args.name,
        **research_fields(args),  # type: ignore[arg-type]
    )


def _fail(message: str) -> int:
    print(f"alpha: error: {message}", file=sys.stderr)
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    try:
        _precheck(args)
        panel = load_panel(args.data, metadata=args.metadata)
        config = config_from_args(args, panel)
        check_windows(config, panel)
        plan_folds(config, panel.get_column("date").unique().sort().to_list())
    except (ConfigError, PanelError) as exc:
        return _fail(str(exc))
    service = RunService(args.artifacts or default_root())
    progress = ignore if args.json else _print_progress
    try:
        if args.no_save:
            result = service.train(config, panel, on_progress=progress)
        else:
            result = service.train_and_save(
                config, panel, explain=not args.no_explain, on_progress=progress
            )
    except ConfigError as exc:  # e.g. a fold without training rows; nothing was written
        return _fail(str(exc))
    infeasible = result.metrics.get("limit_infeasible_days") or 0
    if infeasible:
        print(
            f"alpha: warning: position limits could not hold the target gross on {infeasible} "
            "day(s); those sides are under-invested (see limit_infeasible_days)",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps({"run_id": result.run_id, **result.metrics}, sort_keys=True))
    else:
        print("\n" + performance_summary(result.metrics, source_label(args.data)))
        if result.run_id:
            print(f"\nSaved run {result.run_id} in {service.root}")
    return 0


def _precheck(args: argparse.Namespace) -> None:
    """Flag checks that need no data, so obvious mistakes fail before loading anything."""
    books = {"long_pct": args.long_pct, "short_pct": args.short_pct}
    try:
        RunConfig(**books, **research_fields(args)).validate_research()  # type: ignore[arg-type]
    except ConfigError as exc:  # name the flag, not the config field
        message = str(exc)
        name = message.split()[0]
        raise ConfigError(f"--{name.replace('_', '-')}{message[len(name) :]}") from None
    pairs = [("train_start", "train_end"), ("train_end", "test_start"), ("test_start", "test_end")]
    for a, b in pairs:
        va, vb = getattr(args, a), getattr(args, b)
        if va and vb and va > vb:
            raise ConfigError(f"--{a.replace('_', '-')} {va} is after --{b.replace('_', '-')} {vb}")


def _print_progress(event: Progress) -> None:
    end = "" if event.fraction < 1 else "\n"
    print(f"\r[{event.fraction:5.0%}] {event.text():<40}", end=end, file=sys.stderr)


def cmd_runs(_args: argparse.Namespace) -> int:
    for info in list_runs():
        sharpe = info.metrics.get("sharpe")
        shown = "n/a" if sharpe is None else f"{sharpe:.2f}"
        print(f"{info.run_id}  {info.name:<30} sharpe={shown}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    return cmd_runs(args)


if __name__ == "__main__":
    sys.exit(main())
