"""Data: choose the demo universe, a file path, or upload a file (with optional metadata).

Every loader failure is shown as one line naming the problem (never a traceback); the
server-path field obeys ``ALPHA_LAB_DATA_ROOTS`` (alpha_ui.uploads.check_server_path).
"""

from __future__ import annotations

import logging

import streamlit as st

from alpha_core.api import PanelError, load_panel, upload_types
from alpha_ui import cache, layout, session, uploads
from alpha_ui.text import plain

LOG = logging.getLogger(__name__)

ICON = ":material/folder_open:"

layout.page(__file__)
st.title("Data")
current = session.source()
st.markdown(f"**In use:** {plain(current['label'])}")
if st.session_state.get("data_flash"):
    st.success(plain(st.session_state.pop("data_flash")))

st.markdown(
    "Long format: one row per asset and date with columns `date`, `asset` (or `ticker`/`symbol`), "
    "`close` and optionally `open, high, low, volume, adj close, sector, asset_class`. "
    "A zip may hold per-ticker CSVs (Yahoo style, asset = file name) or one long CSV. "
    "The optional metadata file maps `asset` to `sector` and/or `asset_class`."
)
st.caption(f"Upload size limit: {uploads.MAX_UPLOAD_MB} MB per file.")
if uploads.data_roots():
    st.caption(
        "Server paths are limited to: "
        + ", ".join(plain(root) for root in uploads.data_roots())
        + f" (`{uploads.DATA_ROOTS_ENV}`)."
    )

kind = st.radio(
    "Source",
    ["Demo universe (simulated)", "File path on the server", "Upload a file"],
    horizontal=True,
    key="data_kind",
)

data_path: str | None = None
meta_path: str | None = None
shown_name: str | None = None
meta_name: str | None = None
if kind.startswith("Demo"):
    data_path = "demo"
    st.caption(
        "89 fictional assets in five classes, 2000-01-03 .. 2025-03-31, with a weak planted "
        "signal. Simulated: not market data."
    )
elif kind.startswith("File"):
    data_path = (
        st.text_input(
            "Path (CSV, Parquet, folder of CSVs or zip)",
            key="data_path",
            placeholder="/data/prices.parquet",
        ).strip()
        or None
    )
    meta_path = st.text_input("Metadata path (optional)", key="meta_path").strip() or None
else:
    up = st.file_uploader(
        f"Prices: CSV, Parquet or zip of CSVs (max {uploads.MAX_UPLOAD_MB} MB)",
        type=upload_types(),
        key="data_upload",
    )
    meta_up = st.file_uploader(
        "Metadata CSV (optional): asset, sector, asset_class", type=["csv"], key="meta_upload"
    )
    if up is not None:
        data_path = str(uploads.save_upload(up.name, up))
        session.note_upload(data_path, up.name)
        shown_name = f"{up.name} (uploaded)"
    if meta_up is not None:
        meta_path = str(uploads.save_upload(meta_up.name, meta_up))
        session.note_upload(meta_path, meta_up.name)
        meta_name = meta_up.name

if st.button("Use this dataset", type="primary", disabled=data_path is None, key="use_data"):
    try:
        if data_path == "demo":
            panel = cache.load_source_panel("demo")
            new = dict(session.DEMO_SOURCE)
        else:
            if kind.startswith("File"):
                uploads.check_server_path(data_path)
                if meta_path:
                    uploads.check_server_path(meta_path)
            # Load uncached first so a broken file never enters the cache.
            panel = load_panel(data_path, metadata=meta_path)
            panel = cache.load_source_panel(data_path, meta_path)
            label = shown_name or data_path.split("/")[-1]
            if meta_path:
                label += f" + {meta_name or meta_path.split('/')[-1]}"
            new = {"data": data_path, "metadata": meta_path, "label": label}
    except PanelError as exc:
        st.error(f"This file cannot be used: {plain(session.user_message(exc))}")
    except Exception as exc:  # anything else the loader did not anticipate: logged, not shown
        LOG.exception("loading %r failed", data_path)
        st.error(
            f"This file cannot be used: it could not be read as a price table "
            f"({plain(type(exc).__name__)}; the server log has the details)."
        )
    else:
        st.session_state["source"] = new
        st.session_state["data_flash"] = (
            f"Loaded {panel['asset'].n_unique():,} assets, {panel.height:,} rows, "
            f"{panel['date'].min()} .. {panel['date'].max()}. Train a run on it on the Train page."
        )
        st.rerun()

try:
    pnl = session.panel()
    st.subheader("Preview")
    layout.table(pnl.head(200), hide_index=True)
except PanelError as exc:
    st.error(f"The dataset in use cannot be loaded: {plain(exc)}")
