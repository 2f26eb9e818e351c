"""The Train page's form, drawn from the run settings' declarations (alpha_core.base.settings).

One control per setting of the config class, in the column of its ``section`` (``advanced``
ones under "More"), with its label, help, bounds, choices and widget hint. There is no table
of controls here: a new setting declared in :mod:`alpha_core.config` appears on the page by
itself. The widget's bounds are the validation bounds; an open end is moved inwards by the
widget's resolution (:func:`widget_bounds`), and an optional number uses its open lower bound
to mean None ("0: none"). A list setting with choices (the feature subset) is a multiselect;
an optional date may be left empty (None: its default).

Another page may ask the form to start from changed settings (:func:`request`: e.g. the
Explain page's "train with a per-date z-scored label"); the next :func:`render` applies them
once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import streamlit as st

from alpha_core.config import (
    SECTIONS,
    RunConfig,
    Setting,
    block_of,
    blocks,
    get_path,
    replace_paths,
    settings,
)

PENDING = "cfg_pending_changes"
"""Session key of the settings another page asked the form to start from."""


def request(changes: dict[str, Any]) -> None:
    """Ask the Train form to start from its base config with ``changes`` ({path: value})."""
    st.session_state[PENDING] = dict(changes)


def resolution(s: Setting) -> float:
    """Smallest change the setting's widget can make."""
    if s.kind is int:
        return 1
    if s.spec.widget in ("percent", "slider"):
        return s.spec.step or 0.01
    match = re.search(r"\.(\d+)f", s.spec.fmt or "")
    return 10.0 ** -int(match.group(1)) if match else (s.spec.step or 0.001)


def widget_bounds(s: Setting) -> tuple[float | None, float | None]:
    """(min, max) of a numeric setting's widget, None where unbounded.

    A closed end is the validation bound; an open end is one resolution inside it, except
    an optional setting's open lower end, which the widget shows as "none".
    """
    lo, hi, closed = s.spec.lo, s.spec.hi, s.spec.closed
    step = resolution(s)
    if lo is not None and closed in ("right", "neither") and not s.optional:
        lo = lo + step
    if hi is not None and closed in ("left", "neither"):
        hi = hi - step
    return lo, hi


def _number(s: Setting, label: str, key: str, value: float | None, help: str | None) -> Any:
    lo, hi = widget_bounds(s)
    cast = int if s.kind is int else float
    if s.optional:
        if lo is None:
            raise TypeError(f"{s.path}: an optional number needs a lower bound to mean none")
        label = f"{label} ({lo:g}: none)"
        value = lo if value is None else value
    if lo is not None:
        value = max(value, lo)
    if hi is not None:
        value = min(value, hi)
    if s.spec.widget == "percent":
        pct = st.slider(
            label,
            round(lo * 100),
            round(hi * 100),
            round(value * 100),
            step=round(resolution(s) * 100),
            format="%d%%",
            key=key,
            help=help,
        )
        return pct / 100
    bounds = {"min_value": None if lo is None else cast(lo)}
    bounds["max_value"] = None if hi is None else cast(hi)
    step = cast(s.spec.step or resolution(s))
    if s.spec.widget == "slider":
        out = st.slider(label, value=cast(value), step=step, key=key, help=help, **bounds)
    else:
        fmt = s.spec.fmt if s.kind is float else None
        out = st.number_input(
            label, value=cast(value), step=step, format=fmt, key=key, help=help, **bounds
        )
    out = cast(out)
    return None if s.optional and out <= s.spec.lo else out  # type: ignore[operator]


def control(s: Setting, value: Any, key: str, lo: date = date.min, hi: date = date.max) -> Any:
    """Draw the setting's widget with ``value`` preselected; returns the chosen value.

    ``lo``/``hi`` are the data's first and last dates (the range of date settings).
    """
    label, help = s.spec.label, s.spec.help or None
    options = s.options()
    if options is not None and s.kind is not tuple:
        index = options.index(value) if value in options else 0
        return st.selectbox(label, options, index=index, key=key, help=help)
    if options is not None and s.kind is tuple:
        chosen = [v for v in value if v in options]
        return tuple(st.multiselect(label, options, default=chosen, key=key, help=help))
    if s.kind is date:
        if value is not None:
            value = min(max(value, lo), hi)
        elif not s.optional:
            value = lo
        return st.date_input(label, value=value, min_value=lo, max_value=hi, key=key, help=help)
    if s.kind is bool:
        return st.checkbox(label, value=bool(value), key=key, help=help)
    if s.numeric:
        return _number(s, label, key, value, help)
    if s.kind is tuple:
        text = st.text_input(f"{label} (comma separated)", ", ".join(value), key=key, help=help)
        return tuple(t.strip() for t in text.split(",") if t.strip())
    text = st.text_input(label, value=value or "", key=key, help=help)
    return None if s.optional and not text else text


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        tree = tree.setdefault(part, {})
    if isinstance(value, date):
        value = value.isoformat()
    tree[parts[-1]] = list(value) if isinstance(value, tuple) else value


def render(base: RunConfig, lo: date, hi: date, key_prefix: str = "cfg") -> dict[str, Any]:
    """Draw every shown setting of ``type(base)`` (inside the caller's form).

    ``base`` supplies the values; hidden settings (data source, feature subset) are carried
    over. Returns the config as a nested dict for ``from_dict`` (the caller reports a
    ConfigError). Widget keys are ``<key_prefix>.<path>``, e.g. ``cfg.model.n_estimators``.
    """
    pending = st.session_state.pop(PENDING, None)
    if pending:
        base = replace_paths(base, pending)
        for path in pending:  # the widgets show the requested value, not a remembered one
            st.session_state.pop(f"{key_prefix}.{path}", None)
    values = base.to_dict()
    shown = [s for s in settings(type(base)) if s.spec.section in SECTIONS and _in_form(s, base)]
    for column, section in zip(st.columns(len(SECTIONS)), SECTIONS, strict=True):
        with column:
            st.markdown(f"**{section}**")
            mine = [s for s in shown if s.spec.section == section]
            for s in (s for s in mine if not s.spec.advanced):
                _set(values, s.path, _draw(s, base, key_prefix, lo, hi))
            more = [s for s in mine if s.spec.advanced]
            if more:
                with st.expander("More"):
                    for s in more:
                        _set(values, s.path, _draw(s, base, key_prefix, lo, hi))
    return values


def _in_form(s: Setting, base: RunConfig) -> bool:
    """The model type is chosen above the form (so its parameters can follow); of the
    parameter blocks only the chosen type's is drawn."""
    if s.path == "model_type":
        return False
    head = s.path.partition(".")[0]
    return head not in blocks() or head == block_of(base.model_type)


def _draw(s: Setting, base: RunConfig, key_prefix: str, lo: date, hi: date) -> Any:
    return control(s, get_path(base, s.path), f"{key_prefix}.{s.path}", lo, hi)


__all__ = ["PENDING", "control", "render", "request", "resolution", "widget_bounds"]
