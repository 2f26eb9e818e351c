"""The Train page's form, one control per RunConfig / ModelParams field.

Fields with a purpose-built control are listed in :data:`CONTROLS`; every other field of the
config dataclasses (including nested dataclasses added later, e.g. costs or sizing) gets a
generic control chosen by its type, in an "Other settings" expander. So a new RunConfig field
appears on the page without touching this file; give it a nicer control by adding one entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from alpha_core import config as cfgmod
from alpha_core.config import LABEL_CONVENTIONS, ModelParams, RunConfig

Control = Callable[[str, str, Any, dict[str, Any]], Any]
"""``control(label, key, default, ctx) -> value``; ``ctx`` has the data span ``lo``/``hi``."""


def _date(label: str, key: str, default: date, ctx: dict[str, Any]) -> date:
    lo, hi = ctx["lo"], ctx["hi"]
    value = min(max(default, lo), hi)
    return st.date_input(label, value=value, min_value=lo, max_value=hi, key=key)


def _pct(label: str, key: str, default: float, ctx: dict[str, Any]) -> float:
    pct = st.slider(label, 1, 50, int(round(default * 100)), step=1, key=key, format="%d%%")
    return pct / 100


def _int(lo: int, hi: int, step: int = 1) -> Control:
    def control(label: str, key: str, default: int, ctx: dict[str, Any]) -> int:
        return int(st.number_input(label, lo, hi, int(default), step=step, key=key))

    return control


def _float(lo: float, hi: float, step: float, fmt: str = "%.3f") -> Control:
    def control(label: str, key: str, default: float, ctx: dict[str, Any]) -> float:
        return float(st.number_input(label, lo, hi, float(default), step=step, format=fmt, key=key))

    return control


def _fraction(label: str, key: str, default: float, ctx: dict[str, Any]) -> float:
    return float(st.slider(label, 0.1, 1.0, float(default), step=0.05, key=key))


def _label(label: str, key: str, default: str, ctx: dict[str, Any]) -> str:
    return st.selectbox(
        label,
        LABEL_CONVENTIONS,
        index=LABEL_CONVENTIONS.index(default),
        key=key,
        help="close_to_close: decide at close t, earn close t -> t+1. "
        "open_to_open: decide at close t, trade at the next open, earn open t+1 -> t+2.",
    )


def _text(label: str, key: str, default: str, ctx: dict[str, Any]) -> str:
    return st.text_input(label, value=default or "", key=key)


def _choice(options_name: str, fallback: tuple[str, ...]) -> Control:
    options = tuple(getattr(cfgmod, options_name, fallback))

    def control(label: str, key: str, default: str, ctx: dict[str, Any]) -> str:
        opts = options if default in options else (*options, default)
        return st.selectbox(label, opts, index=opts.index(default), key=key)

    return control


def _optional_float(lo: float, hi: float, step: float) -> Control:
    """A number where 0 means "none" (stored as None)."""

    def control(label: str, key: str, default: float | None, ctx: dict[str, Any]) -> float | None:
        value = st.number_input(
            f"{label} (0: none)", lo, hi, float(default or 0.0), step=step, format="%.3f", key=key
        )
        return float(value) if value > 0 else None

    return control


def _bool(label: str, key: str, default: bool, ctx: dict[str, Any]) -> bool:
    return st.checkbox(label, value=bool(default), key=key)


# (section, field path, label, control). Paths into nested dataclasses use dots.
CONTROLS: tuple[tuple[str, str, str, Control], ...] = (
    ("Windows", "train_start", "Train start", _date),
    ("Windows", "train_end", "Train end", _date),
    ("Windows", "test_start", "Test start", _date),
    ("Windows", "test_end", "Test end", _date),
    ("Windows", "label", "Label convention", _label),
    ("Model", "model.n_estimators", "Trees", _int(1, 5000, 10)),
    ("Model", "model.learning_rate", "Learning rate", _float(0.001, 1.0, 0.01)),
    ("Model", "model.num_leaves", "Leaves per tree", _int(2, 1024)),
    ("Model", "model.max_depth", "Max depth (-1: none)", _int(-1, 64)),
    ("Model", "model.feature_fraction", "Feature fraction", _fraction),
    ("Model", "model.bagging_fraction", "Bagging fraction", _fraction),
    ("Model", "seed", "Seed", _int(0, 2**31 - 1)),
    ("Model", "label_transform", "Training target", _choice("LABEL_TRANSFORMS", ("raw",))),
    ("Model", "feature_transform", "Feature transform", _choice("FEATURE_TRANSFORMS", ("raw",))),
    ("Model", "model.early_stopping_rounds", "Early stopping rounds (0: off)", _int(0, 1000)),
    ("Model", "model.valid_fraction", "Validation tail fraction", _float(0.0, 0.5, 0.05, "%.2f")),
    (
        "Windows",
        "walk_forward",
        "Walk-forward retraining",
        _choice("WALK_FORWARD_MODES", ("none",)),
    ),
    ("Windows", "retrain_days", "Days per block (walk-forward 'days')", _int(1, 2520)),
    ("Windows", "window", "Training window", _choice("WINDOWS", ("expanding",))),
    ("Windows", "window_days", "Rolling window length (days)", _int(20, 10000, 21)),
    ("Windows", "embargo_days", "Embargo (days)", _int(0, 252)),
    ("Books", "long_pct", "Long percentile (top)", _pct),
    ("Books", "short_pct", "Short percentile (bottom)", _pct),
    ("Books", "sizing", "Sizing within a side", _choice("SIZINGS", ("equal",))),
    ("Books", "name", "Run name", _text),
    (
        "Costs & limits",
        "cost_bps",
        "Trading cost (bps per unit turnover)",
        _float(0.0, 500.0, 1.0, "%.1f"),
    ),
    (
        "Costs & limits",
        "borrow_bps",
        "Borrow fee (bps per year)",
        _float(0.0, 5000.0, 10.0, "%.1f"),
    ),
    ("Costs & limits", "gross_long", "Gross long", _float(0.0, 10.0, 0.1, "%.2f")),
    ("Costs & limits", "gross_short", "Gross short", _float(0.0, 10.0, 0.1, "%.2f")),
    ("Costs & limits", "max_weight", "Max |weight| per asset", _optional_float(0.0, 1.0, 0.01)),
    (
        "Costs & limits",
        "max_sector_weight",
        "Max gross per group",
        _optional_float(0.0, 10.0, 0.05),
    ),
    ("Costs & limits", "limit_group", "Group for limits", _choice("LIMIT_GROUPS", ("sector",))),
    ("Costs & limits", "sector_neutral", "Rank within each group", _bool),
)
SECTIONS = ("Windows", "Model", "Books", "Costs & limits")
SKIPPED = {"data", "metadata", "features"}
"""Set by the Data page (source) or not exposed (feature subset: all features are used)."""


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _has(obj: Any, path: str) -> bool:
    try:
        _get(obj, path)
    except AttributeError:
        return False
    return True


def _generic(label: str, key: str, default: Any) -> Any:
    if isinstance(default, bool):
        return st.checkbox(label, value=default, key=key)
    if isinstance(default, int):
        return int(st.number_input(label, value=default, step=1, key=key))
    if isinstance(default, float):
        return float(st.number_input(label, value=default, format="%.6g", key=key))
    if isinstance(default, date):
        return st.date_input(label, value=default, key=key)
    if isinstance(default, str) or default is None:
        text = st.text_input(label, value=default or "", key=key)
        return text or default
    if isinstance(default, tuple | list):
        text = st.text_input(f"{label} (comma separated)", ", ".join(map(str, default)), key=key)
        return [t.strip() for t in text.split(",") if t.strip()]
    st.caption(f"{label}: {default!r} (not editable here)")
    return default


def _other_fields(obj: Any, prefix: str, handled: set[str]) -> list[tuple[str, Any]]:
    """(path, current value) of every leaf field without a purpose-built control."""
    out: list[tuple[str, Any]] = []
    for f in dataclasses.fields(obj):
        path = f"{prefix}{f.name}"
        if path in handled or path in SKIPPED:
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += _other_fields(value, f"{path}.", handled)
        else:
            out.append((path, value))
    return out


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        tree = tree.setdefault(part, {})
    tree[parts[-1]] = value.isoformat() if isinstance(value, date) else value


def render(base: RunConfig, lo: date, hi: date, key_prefix: str = "cfg") -> dict[str, Any]:
    """Draw every control (inside the caller's form); returns the config as a nested dict.

    ``base`` supplies the defaults; ``data``/``metadata``/``features`` are carried over.
    The dict goes through ``RunConfig.from_dict`` (the caller reports ConfigError).
    """
    ctx = {"lo": lo, "hi": hi}
    values = base.to_dict()
    handled = {path for _, path, _, _ in CONTROLS}
    columns = st.columns(len(SECTIONS))
    for col, section in zip(columns, SECTIONS, strict=True):
        with col:
            st.markdown(f"**{section}**")
            for sec, path, label, control in CONTROLS:
                if sec != section or not _has(base, path):
                    continue
                _set(values, path, control(label, f"{key_prefix}.{path}", _get(base, path), ctx))
    others = _other_fields(base, "", handled)
    if others:
        with st.expander("Other settings"):
            cols = st.columns(3)
            for i, (path, default) in enumerate(others):
                with cols[i % 3]:
                    _set(values, path, _generic(path, f"{key_prefix}.{path}", default))
    return values


def defaults_for(base: RunConfig, lo: date, hi: date) -> RunConfig:
    """``base`` with its four window dates clamped into the data span ``lo .. hi``."""
    clamp = {
        f: min(max(getattr(base, f), lo), hi)
        for f in ("train_start", "train_end", "test_start", "test_end")
    }
    return base.replace(**clamp)


__all__ = ["CONTROLS", "ModelParams", "defaults_for", "render"]
