"""Install a toy distribution with entry points for one test: a module and a ``*.dist-info``
folder put on ``sys.path``, removed (and every discovery cache cleared) afterwards."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def installed(
    root: Path,
    module: str,
    source: str,
    entry_points: dict[str, dict[str, str]],
    refresh: Callable[[], object],
) -> Iterator[None]:
    """``module`` (``source``) offering ``entry_points`` (group -> name -> target), found
    by ``importlib.metadata`` only; ``refresh`` clears the discovery cache on entry and exit."""
    dist = f"toy_{module}"
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = []
    for group, targets in entry_points.items():
        lines += [f"[{group}]", *(f"{name} = {target}" for name, target in targets.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        refresh()
        yield
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(module, None)
        importlib.invalidate_caches()
        refresh()
