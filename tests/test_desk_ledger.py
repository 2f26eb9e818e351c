"""The ledger: append-only, idempotent for the same inputs, refuses conflicting rewrites
unless forced (and then keeps both), ignores a torn last line and survives kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from alpha_core.desk.book import Book
from alpha_core.desk.ledger import (
    LedgerConflict,
    LedgerError,
    current_books,
    ledger_books,
    ledger_table,
    read_entries,
    record,
)

ROOT = Path(__file__).resolve().parents[1]


def make_book(day: date, sha: str = "a" * 64, data: str = "d" * 16, n: int = 4) -> Book:
    assets = [f"A{i}" for i in range(n)]
    rows = pl.DataFrame(
        {
            "date": [day] * 2,
            "asset": assets[:2],
            "side": ["long", "short"],
            "weight": [1.0, -1.0],
            "prediction": [0.2, -0.1],
            "rank": [0.9, 0.1],
            "sector": ["x", "y"],
        }
    )
    scores = pl.DataFrame({"asset": assets, "prediction": [0.01 * i for i in range(n)]})
    return Book(day, "run", "run/model", sha, data, "cfg", rows, scores)


def test_same_inputs_twice_is_a_no_op(tmp_path):
    path = tmp_path / "ledger.jsonl"
    assert record(path, make_book(date(2025, 4, 1))).status == "appended"
    before = path.read_bytes()
    assert record(path, make_book(date(2025, 4, 1))).status == "unchanged"
    assert path.read_bytes() == before
    assert record(path, make_book(date(2025, 4, 2))).status == "appended"
    assert [e["as_of"] for e in read_entries(path).entries] == ["2025-04-01", "2025-04-02"]


def test_conflicting_book_refused_unless_forced_and_both_kept(tmp_path):
    path = tmp_path / "ledger.jsonl"
    record(path, make_book(date(2025, 4, 1)))
    before = path.read_bytes()
    with pytest.raises(LedgerConflict, match="already holds a different book for 2025-04-01"):
        record(path, make_book(date(2025, 4, 1), data="e" * 16))
    assert path.read_bytes() == before
    forced = record(path, make_book(date(2025, 4, 1), data="e" * 16), force=True)
    assert forced.status == "forced"
    assert path.read_bytes().startswith(before)  # appended, never rewritten
    entries = read_entries(path).entries
    assert [e["data_fingerprint"] for e in entries] == ["d" * 16, "e" * 16]
    assert current_books(entries)[date(2025, 4, 1)]["data_fingerprint"] == "e" * 16
    assert ledger_table(entries)["status"].to_list() == ["appended", "forced"]
    assert ledger_books(entries).height == 2  # the current book of the one date


def test_torn_last_line_is_ignored_and_the_next_line_starts_clean(tmp_path):
    path = tmp_path / "ledger.jsonl"
    record(path, make_book(date(2025, 4, 1)))
    with path.open("ab") as f:
        f.write(b'{"as_of": "2025-04-02", "key": "torn", "bo')  # a crash mid-line
    ledger = read_entries(path)
    assert [e["as_of"] for e in ledger.entries] == ["2025-04-01"] and ledger.torn == 1
    record(path, make_book(date(2025, 4, 2)))
    ledger = read_entries(path)
    assert [e["as_of"] for e in ledger.entries] == ["2025-04-01", "2025-04-02"]
    assert ledger.torn == 1


WRITER = """
import sys
from datetime import date, timedelta
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from test_desk_ledger import make_book
from alpha_core.desk.ledger import record
for k in range(10_000):
    record({path!r}, make_book(date(2000, 1, 1) + timedelta(days=k), n=40_000))
    print(k, flush=True)
"""


@pytest.mark.parametrize("delay", [0.3, 0.45, 0.6])
def test_survives_kill_9_mid_append(tmp_path, delay):
    path = tmp_path / "ledger.jsonl"
    code = WRITER.format(root=str(ROOT), tests=str(ROOT / "tests"), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # one book is in
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ledger = read_entries(path)
    assert ledger.torn <= 1 and len(ledger.entries) >= 1
    days = [e["as_of"] for e in ledger.entries]
    assert days == sorted(set(days))  # whole entries, in order, none twice
    assert all(len(e["scores"]) == 40_000 for e in ledger.entries)
    record(path, make_book(date(2030, 1, 1)))
    after = read_entries(path)
    assert [e["as_of"] for e in after.entries] == [*days, "2030-01-01"]
    assert after.torn == ledger.torn
    assert json.loads(path.read_bytes().splitlines()[-1])["as_of"] == "2030-01-01"


def test_hostile_lines_are_skipped_and_reported_by_line_number(tmp_path):
    path = tmp_path / "ledger.jsonl"
    record(path, make_book(date(2025, 4, 1)))  # line 1
    good = json.loads(path.read_bytes().splitlines()[0])
    hostile = [
        b"{not json",  # 2
        b"[1, 2, 3]",  # 3
        b"42",  # 4
        b'{"as_of": "2025-04-02", "key": "k"}',  # 5: keys missing
        json.dumps({**good, "as_of": 20250402}).encode(),  # 6: wrong type
        json.dumps({**good, "book": [{"date": "2025-04-01", "asset": "A0"}]}).encode(),  # 7
        json.dumps({**good, "scores": {"A0": "high"}}).encode(),  # 8
        b"[" * 100_000 + b"]" * 100_000,  # 9: json.loads raises RecursionError
        b"\xff\xfe not utf-8",  # 10
    ]
    with path.open("ab") as f:
        f.write(b"\n".join(hostile) + b"\n\n")
    record(path, make_book(date(2025, 4, 2)))  # line 12, after a blank line 11
    ledger = read_entries(path)
    assert [e["as_of"] for e in ledger.entries] == ["2025-04-01", "2025-04-02"]
    assert [s.line for s in ledger.skipped] == list(range(2, 11))
    problems = {s.line: s.problem for s in ledger.skipped}
    assert problems[2].startswith("not valid JSON")
    assert (
        problems[3] == "not a JSON object (an array)"
        and problems[4] == "not a JSON object (a number)"
    )
    assert problems[5] == "no model_sha256" and problems[6].startswith("no decision date")
    assert problems[7] == "book row 1: no asset or side"
    assert problems[8] == "a score is not a number" and problems[9] == "nested too deeply"
    text = ledger.skipped_text()
    assert text.startswith("skipped ledger lines: 9 (lines 2, 3, 4, 5, 6, 7, 8, 9, 10): line 2: ")
    # what the desk reads from the entries still works
    assert ledger_books(ledger.entries)["asset"].to_list() == ["A0", "A1", "A0", "A1"]
    assert ledger_table(ledger.entries).height == 2


def test_a_ledger_that_is_not_a_regular_file_is_refused_unopened(tmp_path):
    fifo = tmp_path / "ledger.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(LedgerError, match="not a regular file"):
        read_entries(fifo)
