"""Caches go to the user's cache folder, never into the installed package.

Numba's ``cache=True`` kernels (``alpha_core/features/rolling_kernels.py``) write compiled code
to ``NUMBA_CACHE_DIR``, which ``alpha_core/__init__.py`` sets, before numba is imported, to
``$XDG_CACHE_HOME/alpha-lab/numba`` (else ``~/.cache/alpha-lab/numba``, else a private
temporary folder); an explicit ``NUMBA_CACHE_DIR`` is kept.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import alpha_core
from alpha_core import user_cache_dir

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "alpha_core"
NUMBA_FILES = ("*.nbi", "*.nbc")

KERNELS = """
import os, sys
import numpy as np
import alpha_core
from alpha_core.features import rolling_kernels as k
y = np.arange(40.0) % 7
starts = np.array([0, 20, 40], dtype=np.int64)
k.rolling_regression(y, starts, 5, 1e-12)
k.rolling_arg_extreme(y, starts, 5, True)
import numba
print(numba.core.config.CACHE_DIR)
"""


def numba_files(folder: Path) -> dict[Path, int]:
    """Numba cache files under ``folder`` with their modification times."""
    return {p: p.stat().st_mtime_ns for pattern in NUMBA_FILES for p in folder.rglob(pattern)}


def run_python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("first", ["", "import numba\n"], ids=["alpha_core first", "numba first"])
def test_numba_kernels_cache_in_the_user_cache_folder_not_the_package(tmp_path, first):
    before = numba_files(PACKAGE)
    xdg = tmp_path / "xdg"
    used = run_python(first + KERNELS, XDG_CACHE_HOME=str(xdg))
    assert Path(used) == xdg / "alpha-lab" / "numba"
    written = numba_files(xdg)
    assert {p.suffix for p in written} == {".nbi", ".nbc"}
    assert any("rolling_kernels" in p.name for p in written)
    assert numba_files(PACKAGE) == before  # nothing new or rewritten inside alpha_core/
    # a second process loads the compiled kernels instead of compiling them again
    run_python(first + KERNELS, XDG_CACHE_HOME=str(xdg))
    assert numba_files(xdg) == written


def test_an_explicit_numba_cache_dir_is_kept(tmp_path):
    mine = tmp_path / "mine"
    used = run_python(KERNELS, NUMBA_CACHE_DIR=str(mine), XDG_CACHE_HOME=str(tmp_path / "x"))
    assert Path(used) == mine and numba_files(mine)
    assert not (tmp_path / "x").exists()


def test_the_engine_sets_the_folder_on_import():
    assert os.environ["NUMBA_CACHE_DIR"]
    assert not Path(os.environ["NUMBA_CACHE_DIR"]).resolve().is_relative_to(PACKAGE)
    assert alpha_core.APP_NAME == "alpha-lab"


@pytest.fixture
def no_home(tmp_path, monkeypatch):
    """Neither $XDG_CACHE_HOME nor ~/.cache can be created (both lie under a file); the
    system temporary folder is ``tmp_path / "tmp"``."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "xdg"))
    monkeypatch.setenv("HOME", str(blocker / "home"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path / "tmp"


def test_xdg_cache_home_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir("numba") == tmp_path / "xdg" / "alpha-lab" / "numba"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec ignores it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_dir("numba") == tmp_path / "home" / ".cache" / "alpha-lab" / "numba"
    assert not (Path.cwd() / "relative").exists()


def test_an_unusable_cache_home_falls_back_to_a_private_temporary_folder(no_home):
    got = user_cache_dir("numba")
    assert got == no_home / f"alpha-lab-{os.getuid()}" / "numba"
    assert stat.S_IMODE(got.stat().st_mode) == 0o700
    assert stat.S_IMODE(got.parent.stat().st_mode) == 0o700
    assert user_cache_dir("numba") == got  # reused by the next process


def test_a_shared_temporary_folder_others_can_write_to_is_not_used(no_home):
    open_to_all = no_home / f"alpha-lab-{os.getuid()}"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    got = user_cache_dir("numba")
    assert got.parent == no_home and got.name.startswith("alpha-lab-numba-")
    assert stat.S_IMODE(got.stat().st_mode) == 0o700  # a fresh folder of its own
    assert not list(open_to_all.iterdir())
