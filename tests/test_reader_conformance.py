"""Reader plug-ins: every built-in passes the conformance suite; a reader installed through an
entry point only is loaded, offered for upload and held to the same suite."""

from __future__ import annotations

import polars as pl
import pytest
from plugin_helpers import installed

from alpha_core.data import readers
from alpha_core.data.conformance import ReaderConformanceError, check_reader, reference_panel
from alpha_core.data.panel import READERS, load_panel, refresh_readers, upload_types

ALL_CHECKS = [
    "declared",
    "round trip",
    "empty files refused",
    "garbage refused",
    "regular files only",
]


def test_the_builtin_readers_are_discovered_through_their_entry_points():
    from alpha_core.base.plugins import entry_points

    assert entry_points("readers") == readers.BUILTINS  # pyproject declares each one
    assert list(readers.file_readers()) == ["csv", "parquet", "zip", "folder"]
    assert list(READERS) == [".csv", ".txt", ".parquet", ".pq", ".zip", "/"]


@pytest.mark.parametrize("name", list(readers.BUILTINS))
def test_every_builtin_reader_passes_the_conformance_suite(name, tmp_path):
    assert check_reader(name, tmp_path) == ALL_CHECKS


TSV_READER = """
from pathlib import Path

import polars as pl

from alpha_core.data.reading import FileReader, PanelError, SourceTable, non_empty, reason


def read(path: Path) -> list[SourceTable]:
    try:
        frame = pl.read_csv(path, separator="\\t", infer_schema=False)
    except Exception as exc:
        raise PanelError(f"{path}: cannot parse TSV file ({reason(exc)})") from None
    return [SourceTable(str(path), non_empty(frame, str(path)))]


def write_sample(panel: pl.DataFrame, folder: Path) -> Path:
    path = folder / "prices.tsv"
    panel.{sample}.write_csv(path, separator="\\t")
    return path


READER = FileReader("tsv", (".tsv",), read, write_sample, "a tab-separated long file (`.tsv`)")
"""


def _tsv(tmp_path, sample="head(10**9)"):
    source = TSV_READER.replace("{sample}", sample)
    group = {"alpha_lab.readers": {"tsv": "toy_tsv_reader:READER"}}
    return installed(tmp_path / "site", "toy_tsv_reader", source, group, refresh_readers)


def test_a_reader_installed_through_an_entry_point_only_is_loaded_and_offered(tmp_path):
    (tmp_path / "site").mkdir()
    with _tsv(tmp_path):
        assert list(readers.file_readers())[-1] == "tsv"
        assert upload_types() == ["csv", "txt", "parquet", "pq", "zip", "tsv"]
        assert check_reader("tsv", tmp_path / "work") == ALL_CHECKS
        path = tmp_path / "prices.tsv"
        reference_panel().write_csv(path, separator="\t")
        assert load_panel(path).select(reference_panel().columns).equals(reference_panel())
    assert "tsv" not in upload_types() and ".tsv" not in READERS


def test_the_suite_fails_a_reader_that_loses_rows(tmp_path):
    (tmp_path / "site").mkdir()
    with (
        _tsv(tmp_path, sample="head(-1)"),  # its sample drops the last bar
        pytest.raises(ReaderConformanceError) as caught,
    ):
        check_reader("tsv", tmp_path / "work")
    assert str(caught.value).startswith("reader 'tsv', round trip: the sample does not read")


def test_the_suite_names_an_unknown_reader():
    with pytest.raises(ReaderConformanceError, match="no reader plug-in named 'xlsx'"):
        check_reader("xlsx")


def test_the_reference_panel_is_canonical():
    panel = reference_panel()
    assert panel.columns == ["date", "asset", "open", "high", "low", "close", "volume"]
    assert panel.schema["date"] == pl.Date and panel["asset"].n_unique() == 4
    assert panel.group_by("asset").len().sort("asset")["len"].to_list() == [30, 28, 26, 24]
