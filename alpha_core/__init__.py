"""Alpha Lab engine: panel -> features -> model -> predictions -> books -> backtest -> report.

Pure Python, no Streamlit. Every run is described by one :class:`alpha_core.config.RunConfig`
and goes through one run service (:mod:`alpha_core.runs.service`).
"""

import contextlib
import os
import stat
import tempfile
from pathlib import Path

# OpenMP threads that spin while waiting collapse when the cores are shared (another
# process, the app, a second run): measured 9-30x slower LightGBM training on a loaded
# 2-core machine (docs/performance.md). Passive waiting changes no result. It must be set
# before LightGBM loads libgomp, so the engine sets it here, on its first import; an
# explicit setting by the user wins. This is the one place it is set.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

APP_NAME = "alpha-lab"


def _usable_dir(path: Path, private: bool = False) -> bool:
    """Create ``path`` (mode 0700) if needed; True when it is a real folder (no symlink) this
    user owns and can write to, and with ``private`` one no one else can write to (a shared
    temporary folder: a compiled-code cache is loaded and run)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)  # absent on Windows
    return (
        stat.S_ISDIR(info.st_mode)
        and (getuid is None or info.st_uid == getuid())
        and not (private and info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
        and os.access(path, os.W_OK | os.X_OK)
    )


def user_cache_dir(*parts: str) -> Path:
    """A writable folder for the engine's caches, outside the installed package.

    ``$XDG_CACHE_HOME/alpha-lab/<parts>``, else ``~/.cache/alpha-lab/<parts>``; when neither
    can be created (a read-only or missing home), a private folder under the system temporary
    folder (``alpha-lab-<uid>``, owned by this user and closed to others, else a fresh one).
    Never the package's own folder, so a read-only install works.
    """
    roots = []
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative value is ignored
        roots.append(Path(xdg))
    with contextlib.suppress(RuntimeError):  # no home directory can be found
        roots.append(Path.home() / ".cache")
    for root in roots:
        if _usable_dir(root / APP_NAME / Path(*parts)):
            return root / APP_NAME / Path(*parts)
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    shared = Path(tempfile.gettempdir()) / f"{APP_NAME}-{user}"
    if _usable_dir(shared, private=True) and _usable_dir(shared / Path(*parts), private=True):
        return shared / Path(*parts)
    return Path(tempfile.mkdtemp(prefix=f"{APP_NAME}-{'-'.join(parts)}-"))


# Numba's ``cache=True`` kernels (features/rolling_kernels.py) would write their compiled
# code into ``__pycache__`` beside the installed source, which fails on a read-only install
# (numba then recompiles every time) and litters the package otherwise. The engine sends
# them to the user's cache folder instead, before numba is imported (numba reads the
# setting then); an explicit NUMBA_CACHE_DIR wins.
if "NUMBA_CACHE_DIR" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = str(user_cache_dir("numba"))

__version__ = "0.1.0"
