"""The one escaping helper: user text shown as text, never as Markdown or HTML.

Streamlit renders Markdown (and a little HTML) in ``st.markdown``, ``st.caption``,
``st.info``/``st.success``/``st.warning``/``st.error``, ``st.toast``, titles, subheaders and
widget labels. A run name, ticker, file name, config value or error message placed there
as is could show an image fetched from anywhere (``![x](http://...)``), a live link
(``[a](http://...)``, a bare ``http://...`` or ``www.`` address), HTML, LaTeX, colour or
icon directives, or break the page's layout (headings, lists, tables). Every such value
goes through :func:`plain` before it is interpolated into a Markdown string.
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def plain(value: object) -> str:
    """``value`` as text that Streamlit's Markdown shows literally.

    Every ASCII punctuation character is backslash-escaped (CommonMark shows ``\\x`` as
    ``x`` for any punctuation ``x``, which also defeats autolinks, emphasis, ``:colour[...]``
    directives and ``$`` maths), and line breaks and control characters become one space
    (so no heading, list or table can start). The text reads the same once rendered.
    """
    text = _BREAKS.sub(" ", str(value))
    return _PUNCTUATION.sub(r"\\\1", text)
