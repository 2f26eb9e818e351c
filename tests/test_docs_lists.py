"""Every list of data formats and feature sets a person reads is its registry's: the README's
and docs/features.md's generated blocks, and the Data page's upload types in the README."""

from __future__ import annotations

import re
from pathlib import Path

from alpha_core.data.panel import upload_types
from alpha_core.data.readers import file_readers, format_list
from alpha_core.features.library import FEATURE_SETS
from alpha_core.features.sets import set_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FEATURES_DOC = (ROOT / "docs" / "features.md").read_text()


def block(text: str, name: str) -> str:
    """The lines between ``<!-- NAME: generated ... -->`` and ``<!-- end of NAME -->``,
    without their indentation."""
    found = re.search(
        rf"<!-- {name}: generated[^\n]*-->\n(.*?)\n[ ]*<!-- end of {name} -->", text, re.S
    )
    assert found, f"no generated block of {name}"
    return "\n".join(line.strip() for line in found.group(1).splitlines())


def test_the_readmes_data_formats_are_the_readers():
    assert block(README, "data formats") == format_list()
    assert format_list().count("\n") + 1 == len(file_readers())  # one line per reader


def test_the_feature_sets_listed_are_the_registrys():
    assert block(README, "feature sets") == set_table()
    assert block(FEATURES_DOC, "feature sets") == set_table()
    listed = re.findall(r"^- `([^`]+)`:", set_table(), re.M)
    assert listed == list(FEATURE_SETS)


def test_the_readmes_data_page_line_names_every_upload_type():
    (line,) = [p for p in README.split("\n\n") if "**Data**" in p]
    kinds = {"csv": "CSV", "txt": "CSV", "parquet": "Parquet", "pq": "Parquet", "zip": "zip"}
    for suffix in upload_types():
        assert kinds.get(suffix, suffix) in line, suffix
