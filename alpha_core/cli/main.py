"""``alpha``: the headless entry point (same engine functions as the app).

``alpha run`` trains, predicts, forms books, backtests, prints the Performance Summary and
saves the run under ``artifacts/runs/<run_id>/``. A bad flag value prints one line on
stderr, exits with code 2 and writes nothing. ``alpha book``, ``alpha monitor`` and
``alpha retrain`` are the production desk (:mod:`alpha_core.cli.desk`).

Every run setting has a flag derived from its declaration in :mod:`alpha_core.config` (type,
choices, help, default): ``--long-pct``, ``--cost-bps``, ``--sizing``, ``--n-estimators`` ...
(``alpha run --help`` lists them). Choice values may be spelled with hyphens
(``--sizing inverse-vol``). ``--walk-forward`` also takes N (retrain every N trading days).
``--model-preset fast`` trains cheaper models (useful with many walk-forward folds); model
flags override the preset. Omitted dates and ``--n-trials`` come from
:func:`alpha_core.config.defaults_for_data`, as on the Train page.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import polars as pl

from alpha_core.api import (
    DEFAULT_TIMEOUT,
    EXECUTORS,
    SEARCH_SPACE,
    PanelError,
    Progress,
    RunService,
    SweepService,
    SweepSpec,
    TaskError,
    check_windows,
    default_root,
    grid_trials,
    ignore,
    list_runs,
    load_panel,
    make_executor,
    plan_folds,
    read_toml,
    scan_runs,
    search_trials,
    source_label,
)
from alpha_core.cli import desk as desk_cli
from alpha_core.config import (
    WINDOW_FIELDS,
    ConfigError,
    RunConfig,
    Setting,
    defaults_for_data,
    model_type_infos,
    preset_params,
    replace_paths,
    setting_for,
    settings,
    validate_fields,
)
from alpha_core.views import performance_summary


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
    """A walk-forward mode, or a positive integer N (retrain every N trading days)."""
    modes = setting_for(RunConfig, "walk_forward").options() or ()
    if text in modes or (text.isdigit() and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError(
        f"must be one of {', '.join(modes)} or a positive number of trading days, got {text!r}"
    )


def _choice(options: tuple[str, ...]) -> Any:
    """Accept a choice spelled with hyphens for underscores (``inverse-vol``)."""

    def parse(text: str) -> str:
        return text if text in options else text.replace("-", "_")

    return parse


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in text.split(",") if word.strip())


TYPES: dict[type, Any] = {int: int, float: float, str: str, date: _iso_date, tuple: _words}
NUMBERED_CHOICES: dict[str, Any] = {"walk_forward": _walk_forward}
"""Choice settings whose flag also takes a number N (``--walk-forward N``), with its parser."""


METAVARS: dict[type, str] = {int: "N", float: "X", date: "YYYY-MM-DD", tuple: "A,B,..."}


def _help(s: Setting) -> str:
    """The setting's help, its allowed range and its default (``%`` escaped for argparse)."""
    text = s.spec.help or s.spec.label
    if s.numeric:
        text += f"; {s.describe()}"
    if "." in s.path:  # a model type's parameter
        default = "from --model-preset"
    else:
        default = s.default if s.default not in ("", (), None) else "none"
    return f"{text} (default: {default})".replace("%", "%%")


def _add_setting(run: argparse.ArgumentParser, s: Setting) -> None:
    """One flag per setting; default None means "not given" (defaults come later)."""
    kwargs: dict[str, Any] = {"dest": s.path, "default": None, "help": _help(s)}
    if s.kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction if s.default else "store_true"
    else:
        options = s.options() if s.kind is not tuple else None  # a list: checked later
        kwargs["type"] = _choice(options) if options is not None else TYPES[s.kind]
        kwargs["choices"] = options
        kwargs["metavar"] = None if options is not None else METAVARS.get(s.kind, "TEXT")
        if s.path in NUMBERED_CHOICES:
            kwargs.update(type=NUMBERED_CHOICES[s.path], choices=None)
            kwargs["metavar"] = "{" + ",".join((*(options or ()), "N")) + "}"
    run.add_argument(s.flag, **kwargs)


def preset_names() -> list[str]:
    """Every preset name of every model type (``--model-preset``'s choices)."""
    infos = model_type_infos().values()
    return list(dict.fromkeys(name for info in infos for name in info.presets))


def preset_help() -> str:
    return "; ".join(
        f"{name} ({info.name}): {p.help}"
        for info in model_type_infos().values()
        for name, p in info.presets.items()
    ).replace("%", "%%")


def build_parser(config_cls: type[RunConfig] = RunConfig) -> argparse.ArgumentParser:
    parser = _Parser(prog="alpha", description="Alpha Lab: daily cross-sectional alpha research.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="train, predict, backtest and save a run")
    for s in settings(config_cls):
        _add_setting(run, s)
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
    _add_sweep_parser(sub)
    add_report_parser(sub)
    desk_cli.add_parsers(sub)
    return parser


def _add_sweep_parser(sub: Any) -> None:
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


def add_report_parser(sub: Any) -> None:
    """``alpha report RUN_ID [--out FILE]``: a run as one self-contained HTML file."""
    report = sub.add_parser("report", help="write a run's self-contained HTML report")
    report.add_argument("run_id", help="the run (see alpha runs)")
    report.add_argument("--out", type=Path, default=None,
                        help="output file (default: report.html in the run folder)")  # fmt: skip
    report.add_argument("--artifacts", type=Path, default=None, help="registry folder")


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report; a run that cannot be read is one line on stderr (exit 2)."""
    try:
        out = RunService(args.artifacts).write_report(args.run_id, args.out)
    except (ValueError, OSError) as exc:
        return _fail(f"cannot report run {args.run_id}: {exc}")
    print(out)
    return 0


def given_settings(args: argparse.Namespace, config_cls: type[RunConfig]) -> dict[str, Any]:
    """``{path: value}`` of the setting flags on the command line (``--walk-forward N``
    becomes walk_forward "days" with retrain_days N)."""
    given = {
        s.path: getattr(args, s.path)
        for s in settings(config_cls)
        if getattr(args, s.path, None) is not None
    }
    walk_forward = given.get("walk_forward", "")
    if walk_forward.isdigit():
        given.update(walk_forward="days", retrain_days=int(walk_forward))
    return given


def config_from_args(
    args: argparse.Namespace,
    panel: pl.DataFrame | None,
    saved_runs: int = 0,
    config_cls: type[RunConfig] = RunConfig,
) -> RunConfig:
    """The run config: the flags given, over the preset and the defaults for this data.

    Without a panel, omitted dates are the seed's; with one, they come from
    :func:`~alpha_core.config.defaults_for_data` (which also sets ``n_trials``).
    """
    given = given_settings(args, config_cls)
    model_type = given.get("model_type", config_cls().model_type)
    try:
        preset = preset_params(model_type, getattr(args, "model_preset", None))
    except ValueError as exc:
        raise ConfigError(str(exc), field="model_type") from None
    base = config_cls(model_type=model_type).with_params(preset)
    if panel is None:
        base = base.replace(n_trials=saved_runs + 1)
    else:
        demo = given.get("data", base.data) == "demo"
        base = defaults_for_data(
            panel.get_column("date").unique().sort().to_list(),
            demo=demo,
            saved_runs=saved_runs,
            base=base,
            strict=not demo and any(f not in given for f in WINDOW_FIELDS),
        )
    return replace_paths(base, given)


def flag_message(exc: Exception, config_cls: type[RunConfig] = RunConfig) -> str:
    """The error as the CLI user should read it: a field's problem is told with its flag."""
    if isinstance(exc, ConfigError) and exc.field and exc.problem:
        return f"{setting_for(config_cls, exc.field).flag} {exc.problem}"
    return str(exc)


def _fail(message: str) -> int:
    print(f"alpha: error: {message}", file=sys.stderr)
    return 2


def cmd_run(args: argparse.Namespace, config_cls: type[RunConfig] = RunConfig) -> int:
    root = args.artifacts or default_root()
    try:
        draft = _precheck(args, config_cls)
        panel = load_panel(draft.data, metadata=draft.metadata)
        config = config_from_args(args, panel, len(list_runs(root)), config_cls)
        check_windows(config, panel, contract=False)  # the run applies it before any work
        plan_folds(config, panel.get_column("date").unique().sort().to_list())
    except (ConfigError, PanelError) as exc:
        return _fail(flag_message(exc, config_cls))
    service = RunService(root)
    progress = ignore if args.json else _print_progress
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
        return _fail(flag_message(exc, config_cls))
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
        sharpe = info.metrics.get("sharpe")
        shown = f"{sharpe:.2f}" if isinstance(sharpe, int | float) else "n/a"
        print(f"{info.run_id}  {info.name:<30} sharpe={shown}")
    for bad in listing.damaged:  # listed, never raised: one damaged folder hides nothing
        print(f"{bad.run_id!r}  DAMAGED: {bad.problem}")
    return 0


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
    except (ConfigError, PanelError, TaskError, OSError, ValueError, KeyError) as exc:
        return _fail(flag_message(exc) if isinstance(exc, ConfigError) else str(exc))
    summary["folder"] = str(found.folder)
    if args.json:
        print(json.dumps(summary, sort_keys=True, default=str))
    else:
        for key, value in summary.items():
            print(f"{key:>20}: {value}")
    return 0


def _print_trial(done: int, total: int) -> None:
    print(f"sweep: {done}/{total} trials in the ledger", file=sys.stderr)


def main(argv: list[str] | None = None, config_cls: type[RunConfig] = RunConfig) -> int:
    args = build_parser(config_cls).parse_args(argv)
    if args.command == "run":
        return cmd_run(args, config_cls)
    if args.command == "sweep":
        return cmd_sweep(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command in desk_cli.COMMANDS:
        return desk_cli.COMMANDS[args.command](args)
    return cmd_runs(args)


if __name__ == "__main__":
    sys.exit(main())
