"""``alpha``: the headless entry point (same engine functions as the app).

``alpha run`` trains, predicts, forms books, backtests, prints the Performance Summary and
saves the run under ``artifacts/runs/<run_id>/``. A bad flag value prints one line on
stderr, exits with code 2 and writes nothing. ``alpha book``, ``alpha monitor`` and
``alpha retrain`` are the production desk (:mod:`alpha_core.cli.desk`); ``alpha fills`` and
``alpha day`` (:mod:`alpha_core.cli.day`) record the trades made and run the desk's day.

Every run setting has a flag derived from its declaration in :mod:`alpha_core.config` (type,
choices, help, default): ``--long-pct``, ``--cost-bps``, ``--sizing``, ``--n-estimators`` ...
(``alpha run --help`` lists them). Choice values may be spelled with hyphens
(``--sizing inverse-vol``). ``--walk-forward`` also takes N (retrain every N trading days).
``--model-preset fast`` trains cheaper models (useful with many walk-forward folds); model
flags override the preset. Omitted dates and ``--n-trials`` come from
:func:`alpha_core.config.defaults_for_data`, as on the Train page (``--n-trials``: the saved
runs of this run's family, same data and label, plus this one).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alpha_core.api import (
    InsideRunError,
    PanelError,
    Progress,
    RunService,
    StorageError,
    check_outside_runs,
    check_windows,
    default_root,
    load_panel,
    plan_folds,
    scan_runs,
    source_label,
)
from alpha_core.cli import day as day_cli
from alpha_core.cli import desk as desk_cli
from alpha_core.cli import sweep as sweep_cli
from alpha_core.cli.args import (
    Parser,
    add_setting,
    config_from_args,
    fail,
    flag_message,
    preset_help,
    preset_names,
)
from alpha_core.config import (
    ConfigError,
    RunConfig,
    setting_for,
    settings,
    validate_fields,
)
from alpha_core.views import headline, performance_summary, sections_text


def build_parser(config_cls: type[RunConfig] = RunConfig) -> argparse.ArgumentParser:
    parser = Parser(prog="alpha", description="Alpha Lab: daily cross-sectional alpha research.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run = sub.add_parser("run", help="train, predict, backtest and save a run")
    for s in settings(config_cls):
        add_setting(run, s)
    run.add_argument(
        "--model-preset",
        choices=preset_names(),
        default=None,
        help="a preset of the --model-type's parameters (default: its defaults; LightGBM's "
        "are the seed's): " + preset_help(),
    )
    run.add_argument("--artifacts", type=Path, default=None, help="registry folder")
    run.add_argument("--no-save", action="store_true", help="do not write the run")
    run.add_argument(
        "--no-explain", action="store_true", help="save the run without its SHAP cache"
    )
    run.add_argument("--json", action="store_true", help="print metrics as one JSON object")
    run.add_argument(
        "--export-csv", action="store_true", help="also save every prediction as predictions.csv"
    )
    sub.add_parser("runs", help="list saved runs")
    sweep_cli.add_parser(sub)
    add_report_parser(sub)
    desk_cli.add_parsers(sub)
    day_cli.add_parsers(sub)
    return parser


def add_report_parser(sub: Any) -> None:
    """``alpha report RUN_ID [--out FILE]``: a run as one self-contained HTML file."""
    report = sub.add_parser("report", help="write a run's self-contained HTML report")
    report.add_argument("run_id", help="the run (see alpha runs)")
    report.add_argument("--out", type=Path, default=None,
                        help="output file (default: report.html in the run folder)")  # fmt: skip
    report.add_argument("--artifacts", type=Path, default=None, help="registry folder")
    report.add_argument("--text", action="store_true",
                        help="print the headline and the metrics by section instead of "
                        "writing the HTML file")  # fmt: skip


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report (or print it as text); a run that cannot be read is one line on
    stderr (exit 2)."""
    if args.text:
        found = [i for i in scan_runs(args.artifacts).runs if i.run_id == args.run_id]
        if not found:
            return fail(f"cannot report run {args.run_id}: no such readable run")
        print(f"{found[0].name} ({found[0].run_id})\n")
        print(sections_text(found[0].metrics))
        return 0
    try:
        out = RunService(args.artifacts).write_report(args.run_id, args.out)
    except StorageError:
        raise  # one line, exit 2: main()
    except (ValueError, OSError) as exc:
        return fail(f"cannot report run {args.run_id}: {exc}")
    print(out)
    return 0


def cmd_run(args: argparse.Namespace, config_cls: type[RunConfig] = RunConfig) -> int:
    root = args.artifacts or default_root()
    try:
        draft = _precheck(args, config_cls)
        panel = load_panel(draft.data, metadata=draft.metadata)
        family = RunService(root).family_runs(config_from_args(args, panel, 0, config_cls), panel)
        config = config_from_args(args, panel, family, config_cls)
        check_windows(config, panel, contract=False)  # the run applies it before any work
        plan_folds(config, panel.get_column("date").unique().sort().to_list())
    except (ConfigError, PanelError) as exc:
        return fail(flag_message(exc, config_cls))
    service = RunService(root)
    shown: list[Progress] = []  # the last progress line printed (an error starts a new line)

    def progress(event: Progress) -> None:
        if not args.json:
            shown[:] = [event]
            _print_progress(event)

    try:
        if args.no_save:
            result = service.train(config, panel, on_progress=progress)
        else:
            result = service.train_and_save(
                config,
                panel,
                explain=not args.no_explain,
                on_progress=progress,
                exports=("predictions.csv",) if args.export_csv else (),
            )
    except (ConfigError, PanelError) as exc:  # e.g. bad bars, no training rows: nothing written
        if shown and shown[0].fraction < 1:
            print(file=sys.stderr)  # end the progress line, so the error is a line of its own
        return fail(flag_message(exc, config_cls))
    infeasible = result.metrics.get("limit_infeasible_days") or 0
    if infeasible:
        print(
            f"alpha: warning: position limits could not hold the target gross on {infeasible} "
            "day(s); those sides are under-invested (see limit_infeasible_days)",
            file=sys.stderr,
        )
    tied = result.metrics.get("tied_days") or 0
    if tied:
        print(
            f"alpha: warning: on {tied} test day(s) more than half of the predictions are tied "
            "(a model with too few trees): tied assets share one rank, so the books take or "
            "leave them as a block (see tied_days)",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps({"run_id": result.run_id, **result.metrics}, sort_keys=True))
    else:
        print("\n" + "\n".join(headline(result.metrics).lines()))
        print("\n" + performance_summary(result.metrics, source_label(config.data)))
        if result.run_id:
            print(f"\nSaved run {result.run_id} in {service.root}")
    return 0


def _precheck(args: argparse.Namespace, config_cls: type[RunConfig]) -> RunConfig:
    """Flag checks that need no data, so obvious mistakes fail before loading anything.

    Returns the draft config (the seed's dates where none were given).
    """
    draft = config_from_args(args, None, config_cls=config_cls)
    validate_fields(draft)
    draft.model.validate()
    pairs = [("train_start", "train_end"), ("train_end", "test_start"), ("test_start", "test_end")]
    for a, b in pairs:
        va, vb = getattr(args, a), getattr(args, b)
        if va and vb and va > vb:
            flag_a, flag_b = setting_for(config_cls, a).flag, setting_for(config_cls, b).flag
            raise ConfigError(f"{flag_a} {va} is after {flag_b} {vb}")
    return draft


def _print_progress(event: Progress) -> None:
    end = "" if event.fraction < 1 else "\n"
    print(f"\r[{event.fraction:5.0%}] {event.text():<40}", end=end, file=sys.stderr)


def cmd_runs(_args: argparse.Namespace) -> int:
    listing = scan_runs()
    for info in listing.runs:
        print(f"{info.run_id}  {info.name:<30} {listing_figures(info.metrics)}")
    for bad in listing.damaged:  # listed, never raised: one damaged folder hides nothing
        print(f"{bad.run_id!r}  DAMAGED: {bad.problem}")
    return 0


def listing_figures(metrics: dict[str, Any]) -> str:
    """A run's figures in ``alpha runs``: the net Sharpe first (gross beside) when the run
    models costs, else the gross Sharpe said to be so; the DSR with its trial count; the
    break-even cost (or "loses before costs")."""
    top = headline(metrics)
    sharpe, dsr, even = (top.figure(k) for k in ("sharpe", "dsr", "break_even_bps"))
    first = (
        f"net_sharpe={sharpe.value} gross_sharpe={sharpe.gross}"
        if top.costs
        else f"sharpe={sharpe.value} (no costs modelled: gross)"
    )
    bps = " bps" if even.value[-1:].isdigit() else ""
    return f"{first}  dsr={dsr.value} ({dsr.note})  break_even={even.value}{bps}"


def main(argv: list[str] | None = None, config_cls: type[RunConfig] = RunConfig) -> int:
    args = build_parser(config_cls).parse_args(argv)
    artifacts = getattr(args, "artifacts", None)
    if artifacts is not None and args.command != "runs":
        try:  # a registry inside a run folder (or the default registry's) writes into it
            check_outside_runs(artifacts / "_")
        except InsideRunError as exc:
            return fail(
                f"--artifacts {artifacts} is inside the run folder {exc.folder}: only the run "
                "registry writes there"
            )
    try:
        return _dispatch(args, config_cls)
    except StorageError as exc:  # any writer, any command: nothing half-written stays
        return fail(str(exc))


def _dispatch(args: argparse.Namespace, config_cls: type[RunConfig]) -> int:
    if args.command == "run":
        return cmd_run(args, config_cls)
    if args.command == "sweep":
        return sweep_cli.cmd_sweep(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command in desk_cli.COMMANDS:
        return desk_cli.COMMANDS[args.command](args)
    if args.command in day_cli.COMMANDS:
        return day_cli.COMMANDS[args.command](args)
    return cmd_runs(args)


if __name__ == "__main__":
    sys.exit(main())
