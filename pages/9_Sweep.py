"""Sweep: a sweep's trials, the chosen one, and what their number costs (DSR, PBO, reality check).

Sweeps are run with ``alpha sweep`` (docs/scale.md); this page reads their ledgers.
"""

from __future__ import annotations

import streamlit as st

from alpha_core.api import SweepService
from alpha_ui import layout

ICON = ":material/grid_view:"

layout.page(__file__)
st.title("Sweeps")
found = SweepService().list()
if not found:
    st.info("No sweep yet: run `alpha sweep --grid FILE.toml` or `alpha sweep --search N`.")
    st.stop()

names = [s.folder.name for s in found]
chosen = found[names.index(st.selectbox("Sweep", names))]
summary = chosen.summary()
cols = st.columns(4)
cols[0].metric("Trials", summary["n_trials"])
cols[1].metric("Chosen trial (validation)", summary["best_trial"])
for col, key, label in ((cols[2], "dsr", "DSR (all trials)"), (cols[3], "pbo", "PBO (CSCV)")):
    value = summary[key]
    col.metric(label, "n/a" if value is None else f"{value:.1%}")
p_value = summary["reality_check_p"]
st.caption(
    "Reality check (White) of the best trial against the equal-weight benchmark: p = "
    + ("n/a" if p_value is None else f"{p_value:.3f}")
    + ". The chosen trial is the best by validation rank IC; the test never chooses."
)
layout.table(chosen.ledger(), hide_index=True, width="stretch")
