"""The one escaping helper: user text shown as text, never as Markdown, HTML or a link.

Streamlit renders Markdown (and a little HTML) in ``st.markdown``, ``st.caption``,
``st.info``/``st.success``/``st.warning``/``st.error``, ``st.toast``, titles, subheaders and
widget labels. A run name, ticker, file name, note, tag, config value or error message placed
there as is could show an image fetched from anywhere (``![x](http://...)``), a live link
(``[a](http://...)``, ``<http://...>``, a bare ``http://...``, ``www.`` or e-mail address),
HTML, LaTeX, colour or icon directives, or break the page's layout (headings, lists, tables).
Every such value goes through :func:`plain` before it is interpolated into a Markdown string.

Backslash escapes alone do not stop bare addresses: Streamlit's Markdown (remark-gfm) finds
``http://``, ``https://``, ``www.`` and ``name@host`` addresses a second time in the text
*after* the escapes are resolved, and links them. So :func:`plain` also puts an invisible
WORD JOINER (U+2060) where those patterns need two characters side by side: after every
``:`` (``http:⁠//``, also ``mailto:``, ``:emoji:`` shortcodes), between ``www`` and ``.``
and before ``@``. It has no width and allows no line break, so the text reads the same.
"""

from __future__ import annotations

import re
import string

JOINER = "\u2060"
"""WORD JOINER: invisible, no width, no line break; splits an address so nothing links it."""
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_UNLINK = re.compile(r"(?<=:)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
"""Where a joiner goes: after ``:``, between ``www`` and ``.``, before ``@``."""


def plain(value: object) -> str:
    """``value`` as text that Streamlit's Markdown shows literally, with no link in it.

    Every ASCII punctuation character is backslash-escaped (CommonMark shows ``\\x`` as
    ``x`` for any punctuation ``x``, which defeats link and image syntax, emphasis,
    ``:colour[...]`` directives and ``$`` maths), line breaks and control characters become
    one space (so no heading, list or table can start), and a :data:`JOINER` breaks every
    bare address (``http://``, ``https://``, ``www.``, ``name@host``) that the Markdown
    renderer would otherwise link. The text reads the same once rendered.
    """
    text = _BREAKS.sub(" ", str(value))
    text = _UNLINK.sub(JOINER, text)
    return _PUNCTUATION.sub(r"\\\1", text)


def shown(markdown: str) -> str:
    """What a reader sees of ``markdown`` made by :func:`plain`: escapes resolved, joiners
    dropped (for tests and for comparing shown text with the original)."""
    return re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", markdown).replace(
        JOINER, ""
    )
