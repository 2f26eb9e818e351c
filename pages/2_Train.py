"""Train: windows, label convention, model parameters, percentiles and run name.

``n_trials`` (for the deflated Sharpe ratio) defaults to the number of runs in the registry
plus this one.

Training runs in a background thread (alpha_ui.jobs): switching pages does not abort it; the
finished run is saved to the registry and becomes the current run.
"""

from __future__ import annotations

import contextlib
import dataclasses

import streamlit as st

from alpha_core import config as cfgmod
from alpha_core.config import ConfigError, RunConfig
from alpha_core.data import PanelError
from alpha_core.pipeline import check_windows, default_windows
from alpha_ui import config_form, jobs, state

state.page("Train", ":material/model_training:")
st.title("Train a run")
src = state.source()
try:
    panel = state.panel()
except PanelError as exc:
    st.error(f"The dataset cannot be loaded: {exc}. Choose another on the Data page.")
    st.stop()

lo, hi = panel["date"].min(), panel["date"].max()
st.markdown(f"**Dataset:** {src['label']} - {lo} .. {hi}")


def _base() -> RunConfig:
    """Defaults: the current run's config on this dataset, else the seed's (demo) or data span."""
    run_id = state.current_run_id()
    trials = {"n_trials": len(state.runs()) + 1}
    if run_id is not None:
        cfg = state.load(run_id).config
        if cfg.data == src["data"] and cfg.metadata == src.get("metadata"):
            return cfg.replace(name="", **trials)
    base = RunConfig(data=src["data"], metadata=src.get("metadata"), **trials)
    if not state.is_demo(src):
        with contextlib.suppress(ConfigError):
            base = base.replace(**default_windows(panel))
    return config_form.defaults_for(base, lo, hi)


@st.fragment(run_every=0.5)
def _progress(job_id: str) -> None:
    job = jobs.get(job_id)
    if job is None:
        return
    if job.active:
        done, total = job.trees
        text = f"{done} / {total} trees built" if total else job.message
        st.progress(job.fraction, text=f"{text} ({job.message})")
        st.caption("You can switch pages: training continues in the background.")
    else:
        st.rerun()


job = jobs.get(st.session_state.get("job_id"))
if job is not None and job.active:
    st.info(f"Training **{job.config.name or 'unnamed run'}** ...")
    _progress(job.id)
if st.session_state.get("last_error"):
    st.error(f"The last training run failed: {st.session_state.pop('last_error')}")

PRESETS = {
    name: getattr(cfgmod, attr)
    for name, attr in (
        ("seed (500 trees)", "SEED_PRESET"),
        ("fast (early stopping)", "FAST_PRESET"),
    )
    if hasattr(cfgmod, attr)
}


def _apply_preset() -> None:
    """Write the chosen preset's model parameters into the form's widgets."""
    params = PRESETS[st.session_state["model_preset"]]
    for f in dataclasses.fields(params):
        key = f"cfg.model.{f.name}"
        if key in st.session_state:
            st.session_state[key] = getattr(params, f.name)


if PRESETS:
    st.selectbox(
        "Model preset (fills the model fields below)",
        list(PRESETS),
        key="model_preset",
        on_change=_apply_preset,
    )

with st.form("train_form", border=True):
    raw = config_form.render(_base(), lo, hi)
    submitted = st.form_submit_button(
        "Train", type="primary", disabled=job is not None and job.active
    )

if submitted:
    try:
        config = RunConfig.from_dict(raw)
        check_windows(config, panel)
    except (ConfigError, TypeError, ValueError) as exc:
        st.error(f"Cannot train with these settings: {exc}")
    else:
        state.start_training(config, src["label"])
        st.rerun()

last = st.session_state.get("run_id")
if last and job is None:
    st.caption(
        f"Current run: `{last}`. Its results are on the Performance, Explain and Books pages."
    )
