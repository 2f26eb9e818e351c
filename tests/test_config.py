"""One declaration per run setting: validation, the CLI parser and the Train form all follow it.

A toy setting added to a subclass of RunConfig in one place reaches validation, ``alpha run``,
the Train form and the saved config.json; the form's bounds are validation's for every numeric
setting; every setting has a flag and (unless hidden) a control; choices may be computed late.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from alpha_core.cli.main import build_parser, config_from_args, flag_message, main
from alpha_core.config import (
    FAST_PRESET,
    HIDDEN,
    MODEL_PRESETS,
    SEED_PRESET,
    ConfigError,
    ModelParams,
    RunConfig,
    Setting,
    block_of,
    blocks,
    default_windows,
    defaults_for_data,
    get_path,
    replace_paths,
    setting,
    settings,
    validate_fields,
)
from alpha_ui.config_form import resolution

LO, HI = date(2000, 1, 3), date(2025, 3, 31)


def toy_class() -> type[RunConfig]:
    """RunConfig plus ONE setting, declared in one place."""
    return dataclasses.make_dataclass(
        "ToyConfig",
        [("toy_level", int, setting(3, label="Toy level", lo=1, hi=9, section="Books"))],
        bases=(RunConfig,),
        frozen=True,
    )


def form_script(base, lo, hi):  # noqa: ANN001 (run as a script: no annotations)
    """A tiny page: the Train form of ``base`` in a form; the submitted dict in the session."""
    import streamlit as st

    from alpha_ui import config_form

    with st.form("f"):
        st.session_state["raw"] = config_form.render(base, lo, hi)
        st.form_submit_button("Submit")


def form(base: RunConfig) -> AppTest:
    at = AppTest.from_function(form_script, args=(base, LO, HI), default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def widgets(at: AppTest) -> dict[str, Any]:
    kinds = (
        "number_input",
        "slider",
        "selectbox",
        "multiselect",
        "checkbox",
        "text_input",
        "date_input",
    )
    return {w.key: w for kind in kinds for w in getattr(at, kind)}


def submit(at: AppTest) -> dict[str, Any]:
    next(b for b in at.button if b.label == "Submit").click().run()
    assert not at.exception
    return at.session_state["raw"]


def accepted(s: Setting, value: Any, cls: type[RunConfig] = RunConfig) -> bool:
    """Whether validation accepts ``value`` for setting ``s`` (the rest at defaults)."""
    try:
        validate_fields(replace_paths(cls(), {s.path: value}))
    except ConfigError as exc:
        assert exc.field == s.path
        return False
    return True


# ----------------------------------------------------------- one setting, one place
def test_toy_setting_reaches_validation_cli_form_and_saved_config(capsys):
    toy = toy_class()
    # (a) validation: out of bounds is refused, naming the field
    with pytest.raises(ConfigError, match=r"toy_level must be an integer in \[1, 9\], got 0") as e:
        toy(toy_level=0).validate()
    assert e.value.field == "toy_level"
    toy(toy_level=9).validate()
    # (b) the CLI: the flag parses into the config; a bad value names the flag, exit 2
    args = build_parser(toy).parse_args(["run", "--toy-level", "7", "--long-pct", "0.1"])
    config = config_from_args(args, None, config_cls=toy)
    assert (config.toy_level, config.long_pct) == (7, 0.1)
    assert main(["run", "--toy-level", "10"], config_cls=toy) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["alpha: error: --toy-level must be an integer in [1, 9], got 10"]
    # (c) the Train form: a control with its label and bounds; the submitted dict has it
    at = form(toy())
    control = widgets(at)["cfg.toy_level"]
    assert (control.label, control.value, control.min, control.max) == ("Toy level", 3, 1, 9)
    control.set_value(8)
    raw = submit(at)
    assert raw["toy_level"] == 8
    assert toy.from_dict(raw) == toy(toy_level=8)
    # (d) what a saved run's config.json holds round-trips
    saved = json.loads(toy(toy_level=5).to_json())
    assert saved["toy_level"] == 5
    assert toy.from_dict(saved) == toy(toy_level=5)


def test_choices_may_be_computed_when_used():
    """A setting's choices may come from a registry filled later (e.g. model types)."""
    flavours = ["plain"]
    cls = dataclasses.make_dataclass(
        "Flavoured",
        [
            (
                "flavour",
                str,
                setting("plain", label="Flavour", choices=lambda: flavours, section="Model"),
            )
        ],  # fmt: skip
        bases=(RunConfig,),
        frozen=True,
    )
    with pytest.raises(ConfigError, match="flavour must be one of"):
        cls(flavour="spicy").validate()
    flavours.append("spicy")
    cls(flavour="spicy").validate()
    args = build_parser(cls).parse_args(["run", "--flavour", "spicy"])
    assert config_from_args(args, None, config_cls=cls).flavour == "spicy"
    at = form(cls())
    assert widgets(at)["cfg.flavour"].options == ["plain", "spicy"]


# ------------------------------------------------------------- derived, not listed
def in_form(s: Setting, model_type: str) -> bool:
    """Shown in the Train form: not hidden, not the model type (chosen above the form), and
    of the parameter blocks only the model type's."""
    head = s.path.partition(".")[0]
    in_block = head not in blocks() or head == block_of(model_type)
    return s.spec.section != HIDDEN and s.path != "model_type" and in_block


@pytest.mark.parametrize("model_type", list(blocks().values()))
def test_form_bounds_are_validation_bounds_for_every_numeric_setting(model_type):
    at = form(RunConfig(model_type=model_type))
    shown = widgets(at)
    numeric = [s for s in settings(RunConfig) if s.numeric and in_form(s, model_type)]
    assert len(numeric) > 15
    for s in numeric:
        w = shown[f"cfg.{s.path}"]
        scale = 100 if s.spec.widget == "percent" else 1
        cast = int if s.kind is int else float  # the proto stores bounds as floats
        assert isinstance(w.value, int if scale == 100 else s.kind), s.path
        lo = None if w.min is None else cast(w.min) if scale == 1 else w.min / scale
        hi = None if w.max is None else cast(w.max) if scale == 1 else w.max / scale
        step = resolution(s)
        if s.spec.lo is None:
            assert lo is None, s.path
        elif s.optional:  # the open lower bound is the widget's "none"
            assert lo == s.spec.lo and not accepted(s, lo) and accepted(s, None), s.path
            assert accepted(s, round(lo + step, 10)), s.path
        else:
            assert accepted(s, lo) and not accepted(s, round(lo - step, 10)), s.path
        if s.spec.hi is None:
            assert hi is None, s.path
        else:
            assert accepted(s, hi) and not accepted(s, round(hi + step, 10)), s.path


def other_value(s: Setting) -> Any:
    """A valid value of ``s`` other than its default (the default when it is the only one)."""
    options = s.options()
    if s.kind is tuple:  # a list: a subset of its options when it has some
        return tuple(options[:2]) if options else ("ret_1", "vol_20")
    if options is not None:
        return next((o for o in options if o != s.default), s.default)
    if s.kind is bool:
        return not s.default
    if s.kind is date:
        return (s.default or date(2010, 1, 4)) + timedelta(days=1)
    if s.kind is str:
        return "elsewhere"
    lo, hi = s.spec.lo, s.spec.hi
    candidates = [c for c in (lo, hi) if c is not None] + [(s.default or 0) + 1]
    if lo is not None and hi is not None:
        candidates.insert(0, (lo + hi) / 2)
    return next(c for c in candidates if c != s.default and s.problem(c) is None)


def test_every_setting_has_a_flag_that_parses_into_the_config():
    for s in settings(RunConfig):
        value = other_value(s)
        if s.kind is bool:
            argv = [s.flag] if value else [f"--no-{s.flag[2:]}"]
        elif s.kind is tuple:
            argv = [s.flag, ",".join(value)]
        else:
            argv = [s.flag, str(value)]
        config = config_from_args(build_parser().parse_args(["run", *argv]), None)
        assert get_path(config, s.path) == value, s.path


@pytest.mark.parametrize("model_type", list(blocks().values()))
def test_every_shown_setting_has_a_form_control_and_the_form_returns_its_config(model_type):
    base = RunConfig(model=FAST_PRESET, long_pct=0.15, max_weight=0.05, sizing="inverse_vol")
    base = base.replace(model_type=model_type)
    at = form(base)
    shown = widgets(at)
    for s in settings(RunConfig):
        assert (f"cfg.{s.path}" in shown) == in_form(s, model_type), s.path
    # the feature subset is a multiselect of the registered features (issue 9)
    assert {s.path for s in settings(RunConfig) if s.spec.section == HIDDEN} == {"data", "metadata"}
    assert RunConfig.from_dict(submit(at)) == base


def test_field_of_a_nested_setting_names_the_cli_flag():
    with pytest.raises(ConfigError) as e:
        RunConfig(model=ModelParams(learning_rate=0.0)).validate()
    assert e.value.field == "model.learning_rate"
    assert str(e.value) == "model.learning_rate must be in (0, 1], got 0.0"
    assert flag_message(e.value) == "--learning-rate must be in (0, 1], got 0.0"
    assert flag_message(ConfigError("unknown config keys: x")) == "unknown config keys: x"


def test_presets_are_the_engine_ones():
    assert MODEL_PRESETS["seed"].params == SEED_PRESET == ModelParams()
    assert MODEL_PRESETS["fast"].params == FAST_PRESET
    for name, preset in MODEL_PRESETS.items():
        args = build_parser().parse_args(["run", "--model-preset", name])
        assert config_from_args(args, None).model == preset.params


# ---------------------------------------------------------- defaults for a dataset
def business_days(start: date, n: int) -> list[date]:
    days = [start + timedelta(days=i) for i in range(n * 2)]
    return [d for d in days if d.weekday() < 5][:n]


def test_defaults_for_data_demo_other_and_short_data():
    demo_dates = business_days(LO, 6600)
    demo = defaults_for_data(demo_dates, demo=True, saved_runs=0)
    assert demo == RunConfig()  # the seed's windows, n_trials 1: the demo run is unchanged
    dates = business_days(date(2020, 1, 1), 400)
    other = defaults_for_data(dates, demo=False, saved_runs=3)
    assert (other.train_start, other.train_end) == (dates[0], dates[-128])
    assert (other.test_start, other.test_end) == (dates[-126], dates[-1])
    assert other.n_trials == 4
    short = business_days(date(2024, 1, 1), 100)
    clamped = defaults_for_data(short, demo=False, saved_runs=0)
    assert clamped.train_start == short[0] and clamped.test_end == short[-1]
    with pytest.raises(ConfigError, match="the data has 100 trading dates"):
        defaults_for_data(short, demo=False, saved_runs=0, strict=True)
    with pytest.raises(ConfigError, match="the data has 100 trading dates"):
        default_windows(short)


def test_cli_uses_the_defaults_for_the_data(tmp_path):
    import polars as pl

    dates = business_days(date(2020, 1, 1), 400)
    panel = pl.DataFrame({"date": dates[::-1] + dates, "asset": ["A"] * 400 + ["B"] * 400})
    args = build_parser().parse_args(["run", "--data", str(tmp_path / "p.parquet")])
    config = config_from_args(args, panel, saved_runs=2)
    expected = defaults_for_data(
        dates, demo=False, saved_runs=2, base=RunConfig(data=str(tmp_path / "p.parquet"))
    )
    assert config == expected
    assert config.n_trials == 3
    given = build_parser().parse_args(["run", "--data", "x.csv", "--n-trials", "9"])
    assert config_from_args(given, panel, saved_runs=2).n_trials == 9
