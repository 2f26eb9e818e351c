"""The CLI's flags from the settings' declarations, and the config a command line asks for.

Shared by ``alpha run`` (:mod:`alpha_core.cli.main`) and ``alpha sweep``
(:mod:`alpha_core.cli.sweep`): one flag per declared setting, presets, the run config from the
flags given over the defaults for the data, and one-line errors naming the flag.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any, NoReturn

import polars as pl

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
)


class Parser(argparse.ArgumentParser):
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


def add_setting(run: argparse.ArgumentParser, s: Setting) -> None:
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


def fail(message: str) -> int:
    print(f"alpha: error: {message}", file=sys.stderr)
    return 2
