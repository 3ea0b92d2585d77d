"""The architecture's rules, checked for real (docs/design.md, "Principles"):

- core never imports Qt (PySide6, shiboken6, pyqtgraph);
- the GUI package never imports torch at module level (torch loads in the worker, or lazily);
- peft is a test-only oracle: no file in core/ or studio/ imports it, and no runtime dependency names it;
- the repository is self-contained: no file cites a design or facts note that is not in it;
- the structure (docs/architecture.md): no import cycle among core's modules; studio uses core.runs, not
  core.cli, and no private name of core; no table of method facts outside core/methods/.

The import rules run in a fresh interpreter that imports every module of the package and then
looks at ``sys.modules``, so an indirect import (studio -> core/__init__ -> torch) is caught too.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6")

# Imports the modules named in argv in order; prints which module first pulled in each forbidden one.
_PROBE = """
import importlib, json, sys, traceback
forbidden = tuple(json.loads(sys.argv[1]))
culprits, errors = {}, {}
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except BaseException:
        errors[name] = traceback.format_exc(limit=-3)
    for loaded in list(sys.modules):
        top = loaded.split(".")[0]
        if top in forbidden and top not in culprits:
            culprits[top] = name
print(json.dumps({"culprits": culprits, "errors": errors}))
"""


def package_modules(package: str) -> list[str]:
    """Every importable module under ROOT/<package>, as dotted names, packages before their children."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "__pycache__" in parts or parts[-1] == "__main__":
            continue  # __main__ runs a program when imported
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def import_in_fresh_interpreter(modules: list[str], forbidden: tuple[str, ...]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(forbidden), *modules],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"import probe crashed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_imports_clean(package: str, forbidden: tuple[str, ...]) -> None:
    modules = package_modules(package)
    assert modules, f"no modules found under {package}/"
    result = import_in_fresh_interpreter(modules, forbidden)
    assert not result["errors"], "modules that fail to import:\n" + "\n".join(
        f"{name}:\n{tb}" for name, tb in result["errors"].items()
    )
    assert not result["culprits"], f"{package}/ must not import these (first importer shown): " + ", ".join(
        f"{bad} (via {name})" for bad, name in result["culprits"].items()
    )


def test_core_never_imports_qt():
    assert_imports_clean("core", QT + ("peft",))


def test_studio_does_not_import_torch_at_module_level():
    assert_imports_clean("studio", ("torch", "peft"))


def peft_imports(path: Path) -> list[int]:
    """Line numbers in ``path`` that import peft (import / from-import / importlib / __import__)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]
        else:
            continue
        if any(name.split(".")[0] == "peft" for name in names):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("package", ["core", "studio"])
def test_no_peft_import_in_source(package):
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / package).rglob("*.py"))
        if (found := peft_imports(path))
    }
    assert not offenders, f"peft is test-only; imported at (file: lines) {offenders}"


def _requirement_name(requirement: str) -> str:
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def test_peft_is_not_a_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_requirement_name(r) for r in project.get("dependencies", [])}
    assert "peft" not in runtime, "peft is a test-only oracle; keep it out of [project].dependencies"
    for extra, requirements in project.get("optional-dependencies", {}).items():
        if extra != "test":
            assert "peft" not in {_requirement_name(r) for r in requirements}, f"peft in extra {extra!r}"


# Notes that lived outside the repository once; spelled in pieces so that this file does not cite them.
OUTSIDE_NOTES = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in ("DESIGN" + ".md", "PEFT-" + "FACTS", "USERS" + ".md", "UI" + ".md")) + r")"
                           r"|(?<![\w.-])" + "sha" + r"red/[\w./-]*")


def test_every_cited_note_is_in_the_repository():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the repository's files are what git lists")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    files = [f for f in listed if f and (ROOT / f).is_file()]
    names = {Path(f).name for f in files}
    missing = []
    for name in files:
        data = (ROOT / name).read_bytes()
        if b"\0" in data:
            continue  # binary
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            for cited in OUTSIDE_NOTES.findall(line):
                if not {cited, cited + ".md"} & names and not (ROOT / cited).exists():
                    missing.append(f"{name}:{number}: {cited}")
    assert not missing, "cites a file that is not in the repository (write what it says into docs/):\n" + "\n".join(missing)


# ---- the structure (docs/architecture.md) ----------------------------------------------------------


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for the imports that run when ``path`` is imported: module level, inside
    ``if``/``try`` blocks too, but not inside functions or classes nor under ``if TYPE_CHECKING:``."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.extend((alias.name, node.lineno) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                for alias in node.names:  # `from core.methods import catalog` imports the module core.methods.catalog
                    sub = f"{base}.{alias.name}"
                    is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").is_file() or (ROOT / Path(*sub.split("."))).is_dir()
                    found.append((sub if is_module else base, node.lineno))
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + [s for h in node.handlers for s in h.body] + node.orelse + node.finalbody)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)).body)
    return found


def import_graph(package: str) -> dict[str, dict[str, int]]:
    """Module -> {module of ``package`` it imports when imported: line}. Importing a module also runs its
    parent packages' ``__init__``, so those are arrows too."""
    graph: dict[str, dict[str, int]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        arrows: dict[str, int] = {}
        for name, line in _top_level_imports(path):
            parts = name.split(".")
            if parts[0] != package:
                continue
            for i in range(1, len(parts) + 1):
                arrows.setdefault(".".join(parts[:i]), line)
        me = _module_of(path)
        arrows.pop(me, None)
        graph[me] = arrows
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle (a list of modules, first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, {}):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in graph:
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def test_no_import_cycle_among_core_modules():
    graph = import_graph("core")
    assert "core.methods.registry" in graph["core.peft_model"], "the graph misses a known arrow; the test reads nothing"
    cycle = find_cycle(graph)
    assert cycle is None, "an import cycle in core/ (module-level imports; arrow: file line):\n" + "\n".join(
        f"  {a} -> {b}  ({a.replace('.', '/')}.py line {graph[a][b]})" for a, b in zip(cycle, cycle[1:]))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}, "c": {"a": 1, "b": 2}}) is None


def _imports_anywhere(path: Path) -> list[tuple[ast.ImportFrom | ast.Import, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node, node.module))
    return out


# The console script (`adapter-studio`) is the one studio file that hands a command line to the CLI.
CONSOLE_SCRIPT = ROOT / "studio" / "app.py"


def test_studio_uses_core_runs_not_the_cli():
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "studio").rglob("*.py")) if path != CONSOLE_SCRIPT
        for node, name in _imports_anywhere(path)
        if name == "core.cli" or name.startswith("core.cli.")
        or (name == "core" and any(alias.name == "cli" for alias in node.names))
    ]
    assert not offenders, f"studio imports core.cli (use core.runs, the use-cases both front ends share): {offenders}"


def test_studio_imports_no_private_name_from_core():
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}: from {name} import {alias.name}"
        for path in sorted((ROOT / "studio").rglob("*.py"))
        for node, name in _imports_anywhere(path)
        if isinstance(node, ast.ImportFrom) and name.split(".")[0] == "core"
        for alias in node.names if alias.name.startswith("_")
    ]
    assert not offenders, "studio imports a private name of core (give it a public name in core):\n" + "\n".join(offenders)


def _method_names() -> set[str]:
    sys.path.insert(0, str(ROOT))
    try:
        from core.methods import catalog
    finally:
        sys.path.remove(str(ROOT))
    return set(catalog.names())


def method_tables(path: Path, methods: set[str]) -> list[str]:
    """Literal collections in ``path`` that list method names (a fact per method kept outside its file):
    a dict keyed by a method name, or a set/list/tuple with two or more of them (also as the end of a
    label, e.g. ``"· LORA"``)."""

    def is_method(node: ast.AST | None) -> bool:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            return False
        words = node.value.replace("·", " ").split()
        return bool(words) and words[-1] in methods

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Dict) and any(is_method(k) for k in node.keys):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: a dict keyed by method names")
        elif isinstance(node, (ast.Set, ast.List, ast.Tuple)) and sum(is_method(e) for e in node.elts) >= 2:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: a collection of method names")
    return found


def test_no_table_of_method_facts_outside_core_methods():
    methods = _method_names()
    assert {"LORA", "IA3"} <= methods
    sample = ROOT / "tests" / "test_house_rules.py"  # this file's own example below must be seen
    assert method_tables(sample, methods), "the table finder finds nothing; the test reads nothing"
    offenders = [
        found
        for package in ("core", "studio")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "__pycache__" not in path.parts and (ROOT / "core" / "methods") not in path.parents
        for found in method_tables(path, methods)
    ]
    assert not offenders, ("method facts belong in the method's own file (its FACTS, read through "
                           "core.methods.catalog):\n" + "\n".join(offenders))


_EXAMPLE_OF_A_TABLE = {"LORA": True, "IA3": True}  # what test_no_table_of_method_facts_outside_core_methods refuses


# The window's state and the start-up jobs are plain Python (docs/architecture.md, "The studio"): the window
# and its widgets are views of studio/project_state.py; studio/startup.py prepares the process.
QT_FREE_STUDIO = ("studio/project_state.py", "studio/startup.py")


def qt_imports(path: Path) -> list[str]:
    """``file:line: module`` for every import of Qt in ``path`` (module level or inside a function)."""
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {name}"
        for node, name in _imports_anywhere(path) if name.split(".")[0] in QT
    ]


def test_project_state_and_startup_import_no_qt():
    offenders = [hit for name in QT_FREE_STUDIO for hit in qt_imports(ROOT / name)]
    assert not offenders, "these studio files must stay Qt-free (the window observes them):\n" + "\n".join(offenders)
    assert qt_imports(ROOT / "studio" / "main_window.py"), "the Qt finder finds nothing in the window: it reads nothing"
