"""The import rules of the engine, checked on the source (no module is imported).

The stage packages of ``alpha_core`` sit on floors; a module may import its own package and
the floors below, never above (``FLOORS``). No module imports by string (``importlib``,
``__import__``) except plug-in discovery (``alpha_core/base/plugins.py``). There is no
import cycle between modules. Front ends (``app.py``, ``pages/``, ``alpha_ui/`` and the CLI)
reach the engine only through its public face: ``alpha_core.api``, ``alpha_core.views`` and
``alpha_core.config``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "alpha_core"

FLOORS = (
    ("base",),
    ("stats",),
    ("data",),
    ("features",),
    ("models",),
    ("signals",),
    ("portfolio",),
    ("evaluation",),
    ("research",),
    ("runs",),
    ("desk",),
    ("api", "views", "config"),
    ("cli",),
)
"""Lowest first. ``api``, ``views`` and ``config`` are the facades (modules at the top of
``alpha_core``); the CLI is a front end and sits above them."""

FACADES = ("alpha_core.api", "alpha_core.views", "alpha_core.config", "alpha_core")
STRING_IMPORT_ALLOWED = {"alpha_core.base.plugins"}
FLOOR_OF = {part: i for i, parts in enumerate(FLOORS) for part in parts}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def imports_of(path: Path, name: str) -> list[tuple[str, int, bool]]:
    """``(imported module or name, line, at module level)`` for every alpha_core import."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] == "alpha_core":
                for alias in node.names:
                    out.append((f"{base}.{alias.name}", node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "alpha_core":
                    out.append((alias.name, node.lineno, id(node) in top))
    return out


def resolve(target: str, modules: dict[str, Path]) -> str:
    """The module an import reaches: ``a.b.c`` is module ``a.b.c`` or name ``c`` of ``a.b``."""
    return target if target in modules else target.rpartition(".")[0]


def floor(module: str) -> int | None:
    parts = module.split(".")
    return FLOOR_OF.get(parts[1]) if len(parts) > 1 else None


def test_every_engine_package_has_a_floor():
    packages = {p.name for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    facades = {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}
    assert packages | facades == set(FLOOR_OF)


def test_imports_only_go_down():
    modules = engine_modules()
    upward = []
    for name, path in modules.items():
        mine = floor(name)
        for target, line, _ in imports_of(path, name):
            theirs = floor(resolve(target, modules))
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "imports against the floors:\n" + "\n".join(upward)


def test_no_import_cycle_between_modules():
    modules = engine_modules()
    graph = {
        name: {resolve(t, modules) for t, _, _ in imports_of(path, name)} & set(modules)
        for name, path in modules.items()
    }
    for name in graph:  # a package's __init__ is not an edge to its own modules
        graph[name].discard(name)
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node)


def test_no_string_imports_outside_plugin_discovery():
    found = []
    for name, path in engine_modules().items():
        if name in STRING_IMPORT_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in ("import_module", "__import__"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                if "importlib" in names or (
                    node.__class__ is ast.ImportFrom and node.module == "importlib"
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports importlib")
    assert not found, "string imports outside alpha_core/base/plugins.py:\n" + "\n".join(found)


def front_end_files() -> list[Path]:
    return [
        ROOT / "app.py",
        *sorted((ROOT / "pages").glob("*.py")),
        *sorted((ROOT / "alpha_ui").glob("*.py")),
        *sorted((CORE / "cli").glob("*.py")),
    ]


@pytest.mark.parametrize("path", front_end_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_front_ends_use_only_the_public_face(path):
    name = module_name(path)
    wrong = []
    for target, line, _ in imports_of(path, name):
        module = target.rpartition(".")[0]
        own_cli = name.startswith("alpha_core.cli") and target.startswith("alpha_core.cli")
        if module not in FACADES and not own_cli:
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
        if module == "alpha_core" and target not in FACADES:
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "front ends import only alpha_core.api/views/config:\n" + "\n".join(wrong)


def test_the_rule_test_catches_an_upward_import(tmp_path, monkeypatch):
    """The checks above are not vacuous: an upward import planted in a copy is found."""
    planted = tmp_path / "alpha_core" / "data"
    planted.mkdir(parents=True)
    (planted / "__init__.py").write_text("")
    bad = planted / "x.py"
    bad.write_text("from alpha_core.research.pipeline import run_experiment\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    ((target, _, _),) = imports_of(bad, "alpha_core.data.x")
    assert floor("alpha_core.data.x") < floor(
        resolve(target, {"alpha_core.research.pipeline": bad})
    )


def test_the_public_face_does_not_load_what_only_some_commands_need():
    """cvxpy (about 1.3 s to import), scipy.signal (0.6 s) and scipy.stats (0.4 s) load when
    an optimised run builds its problem, a risk model is estimated or a tear sheet is drawn,
    not for every command: ``alpha book`` stays within its 2 s (bench/bench_desk.py)."""
    heavy = ("cvxpy", "scipy.signal", "scipy.stats")
    code = "import sys, alpha_core.api, alpha_core.cli.main; "
    code += f"print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
