"""Reader plug-ins: one module per file format, found through entry points.

A reader is a :class:`~alpha_core.data.reading.FileReader` named in the ``alpha_lab.readers``
entry-point group (``pyproject.toml``); the engine's own are listed in :data:`BUILTINS` too,
for a checkout that was never installed. :data:`alpha_core.data.panel.READERS` maps every
suffix to its reader; each must pass :func:`alpha_core.data.conformance.check_reader`.
"""

from __future__ import annotations

from functools import cache

from alpha_core.base.plugins import discover
from alpha_core.data.reading import FileReader

BUILTINS = {
    "csv": "alpha_core.data.readers.long_csv:READER",
    "parquet": "alpha_core.data.readers.long_parquet:READER",
    "zip": "alpha_core.data.readers.csv_zip:READER",
    "folder": "alpha_core.data.readers.csv_folder:READER",
}
"""The engine's readers, in the order their formats are offered (``pyproject.toml`` too)."""


@cache
def file_readers() -> dict[str, FileReader]:
    """Every discovered reader by name: the built-ins first, then installed ones by name
    (cached; :func:`clear_cache` forgets them)."""
    found = discover("readers", builtins=BUILTINS)
    readers = {}
    for name, plugin in found.items():
        if not isinstance(plugin.obj, FileReader):
            raise TypeError(f"reader {name!r} ({plugin.target}) is not a FileReader")
        readers[name] = plugin.obj
    return readers


def clear_cache() -> None:
    """Forget the discovered readers (after installing one in a running process)."""
    file_readers.cache_clear()


def format_list() -> str:
    """The Markdown list of the file formats, one line per reader (the README shows it)."""
    return "\n".join(f"- {reader.description}" for reader in file_readers().values())
