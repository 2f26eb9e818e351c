"""Train: every run setting, in the form drawn from its declaration (alpha_ui.config_form).

The form starts from the current run's settings when it is on the same data, else from
:func:`alpha_core.config.defaults_for_data` (as the CLI does); ``n_trials`` (for the deflated
Sharpe ratio) is always the number of runs of its family in the registry (same data and label)
plus this one.

Training runs in a background thread (alpha_ui.jobs): switching pages does not abort it; the
finished run is saved to the registry and becomes the current run.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from alpha_core.api import PanelError, check_windows
from alpha_core.config import (
    ConfigError,
    RunConfig,
    block_of,
    defaults_for_data,
    model_type_infos,
)
from alpha_ui import cache, config_form, jobs, layout, session
from alpha_ui.text import plain

ICON = ":material/model_training:"

layout.page(__file__)
st.title("Train a run")
src = session.source()
try:
    panel = session.panel()
except PanelError as exc:
    st.error(f"The dataset cannot be loaded: {plain(exc)}. Choose another on the Data page.")
    st.stop()

lo, hi = panel["date"].min(), panel["date"].max()
st.markdown(f"**Dataset:** {plain(src['label'])} - {lo} .. {hi}")


def _base() -> tuple[RunConfig, str]:
    """The form's starting values and where they come from (said above the form): the
    current run's config on this dataset, else (or after a reset) the defaults for the data."""
    base = RunConfig(data=src["data"], metadata=src.get("metadata"))
    defaults = defaults_for_data(
        panel.get_column("date").unique().sort().to_list(),
        demo=session.is_demo(src),
        saved_runs=cache.family_runs(base),
        base=base,
    )
    origin = "the engine's defaults for this dataset (those alpha run uses)"
    if st.session_state.get(FROM_DEFAULTS):
        return defaults, origin
    run_id = session.current_run_id()
    try:
        cfg = None if run_id is None else cache.load(run_id).config
    except cache.RUN_ERRORS:  # a damaged current run: start from the defaults
        cfg = None
    if cfg is not None and cfg.data == src["data"] and cfg.metadata == src.get("metadata"):
        name = session.run_name(run_id)
        trials = cache.family_runs(cfg) + 1  # the family of the current run's label
        return cfg.replace(name="", n_trials=trials), f"the current run, {name}"
    return defaults, origin


FROM_DEFAULTS = "train_from_defaults"


def _start_over(from_defaults: bool) -> None:
    """Forget the form's edited values and start from the defaults (or the current run)."""
    st.session_state[FROM_DEFAULTS] = from_defaults
    for key in [k for k in st.session_state if str(k).startswith("cfg.")]:
        del st.session_state[key]


@st.fragment(run_every=0.5)
def _progress(job_id: str) -> None:
    job = jobs.get(job_id)
    if job is None:
        return
    if job.active:
        event = job.progress
        text = event.text()
        if event.stage == "training" and event.total:
            text = f"{event.step} / {event.total} trees built ({text})"
        st.progress(job.fraction, text=plain(text))
        st.caption("You can switch pages: training continues in the background.")
    else:
        st.rerun()


job = session.job()
if job is not None and job.active:
    st.info(f"Training **{plain(job.config.name or 'unnamed run')}** ...")
    _progress(job.id)
if st.session_state.get("last_error"):
    failure = session.user_message(st.session_state.pop("last_error"))
    st.error(f"The last training run failed: {plain(failure)}")

base, origin = _base()
TYPES = model_type_infos()
model_type = st.selectbox(
    "Model type",
    list(TYPES),
    index=list(TYPES).index(base.model_type) if base.model_type in TYPES else 0,
    key="train_model_type",
    format_func=lambda name: f"{name}: {TYPES[name].summary}",
    help="a discovered plug-in; the form below shows its parameters",
)
base = base.replace(model_type=model_type)
PRESETS = {f"{name} ({p.summary})": p.params for name, p in TYPES[model_type].presets.items()}


def _apply_preset() -> None:
    """Write the chosen preset's parameters into the form's widgets of the model type."""
    params = PRESETS[st.session_state["model_preset"]]
    block = block_of(model_type)
    for f in dataclasses.fields(params):
        key = f"cfg.{block}.{f.name}"
        if key in st.session_state:
            st.session_state[key] = getattr(params, f.name)


if PRESETS:
    st.selectbox(
        "Model preset (fills the model fields below)",
        list(PRESETS),
        key="model_preset",
        on_change=_apply_preset,
        help="; ".join(f"{name}: {p.help}" for name, p in TYPES[model_type].presets.items()),
    )
f1, f2 = st.columns([4, 1])
f1.caption(
    f"The form starts from {plain(origin)}; your edits are kept until you train or reset. "
    "The number of trials counts every saved run plus this one."
)
if st.session_state.get(FROM_DEFAULTS):
    f2.button("Start from the current run", key="form_from_run", on_click=_start_over,
              args=(False,))  # fmt: skip
else:
    f2.button("Reset to defaults", key="form_reset", on_click=_start_over, args=(True,))
with st.form("train_form", border=True):
    raw = config_form.render(base, lo, hi)
    submitted = st.form_submit_button(
        "Train", type="primary", disabled=job is not None and job.active
    )

if submitted:
    try:
        config = RunConfig.from_dict(raw)
        check_windows(config, panel)
    except (ConfigError, TypeError, ValueError) as exc:
        st.error(f"Cannot train with these settings: {plain(session.user_message(exc))}")
    else:
        session.start_training(config, src["label"])
        st.rerun()

last = st.session_state.get("run_id")
if last and job is None:
    st.caption(
        f"Current run: `{last}`. Its results are on the Performance, Explain and Books pages."
    )
