"""The architecture's rules, checked for real (docs/design.md, "Principles"):

- core never imports Qt (PySide6, shiboken6, pyqtgraph);
- the GUI package never imports torch at module level (torch loads in the worker, or lazily);
- peft is a test-only oracle: no file in core/ or studio/ imports it, and no runtime dependency names it;
- the repository is self-contained: no file cites a design or facts note that is not in it.

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
