"""CSV files a spreadsheet opens as data, never as formulas: the one CSV writer.

A spreadsheet (Excel, LibreOffice Calc, Google Sheets) evaluates a CSV cell that starts with
``=``, ``+``, ``-`` or ``@`` as a formula, and one that starts with a tab or a carriage
return can be one too, so a ticker, run name or note such as ``=HYPERLINK("http://x","y")``
would run in the reader's spreadsheet ("CSV injection"). As OWASP recommends, every text
cell that starts with one of :data:`FORMULA_STARTS` (NUL too, after OWASP's ASVS 1.2.10) is
written with a single quote ``'`` in front, which the spreadsheet reads as "this is text".
Only text columns (and the header) are touched: numbers stay numbers, so a short book's
negative weights are written as ``-0.05``.

Every CSV the project writes (the books and orders exports, the CLI's ``--out`` files,
``predictions.csv``, the app's download buttons) is made by :func:`csv_text`,
:func:`csv_writer` or :func:`write_csv_safe`; ``tests/test_csv_safety.py`` checks that no
other module calls ``write_csv`` (the readers' round-trip samples excepted).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from alpha_core.base.storage import Writer, write_atomic

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
"""First characters that make a spreadsheet read a cell as a formula."""
QUOTE = "'"
_TEXT = (pl.String, pl.Categorical, pl.Enum)


def neutralise_cell(value: str) -> str:
    """``value`` with a ``'`` in front when it starts with one of :data:`FORMULA_STARTS`."""
    return QUOTE + value if value.startswith(FORMULA_STARTS) else value


def neutralise_csv(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell (and column name) that a spreadsheet would evaluate
    prefixed by ``'``; numeric, date and boolean columns are returned as they are."""
    pattern = "^[" + "".join(_class_char(c) for c in FORMULA_STARTS) + "]"
    texts = [name for name, dtype in frame.schema.items() if isinstance(dtype, _TEXT)]
    out = frame.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(pattern))
        .then(pl.lit(QUOTE) + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name in texts
    )
    renamed = {name: neutralise_cell(name) for name in out.columns if neutralise_cell(name) != name}
    return out.rename(renamed) if renamed else out


def _class_char(char: str) -> str:
    """``char`` as it is written inside a regex character class."""
    return {"-": r"\-", "\t": r"\t", "\r": r"\r", "\0": r"\x00"}.get(char, char)


def csv_text(frame: pl.DataFrame) -> str:
    """``frame`` as CSV text, its cells neutralised (:func:`neutralise_csv`)."""
    return neutralise_csv(frame).write_csv()


def csv_writer(frame: pl.DataFrame) -> Writer:
    """A writer (for :func:`~alpha_core.base.storage.write_atomic`) of ``frame`` as a
    neutralised CSV file, written straight to the path without a copy as text."""
    safe = neutralise_csv(frame)
    return lambda path: safe.write_csv(path)


def write_csv_safe(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` as a neutralised CSV file, atomically."""
    return write_atomic(Path(path), csv_writer(frame))
