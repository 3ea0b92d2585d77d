"""What the bundle holds of each distribution it packages: every run-time data file.

Used by packaging/adapter-studio.spec (to collect them) and tests/packaging/test_packaging.py (to check
the built bundle has them). A library may read any file of its package at run time (kernels reads its
dependency table through importlib.resources; transformers its chat templates; PySide6 its
translations), and PyInstaller follows imports, not file reads: a package without a hook of its own
arrives in the bundle without its data, and the user meets "FileNotFoundError" instead of the app.

A data file here is every file a distribution's RECORD lists inside one of its importable top-level
packages that is not code (Python sources and bytecode go into the archive, extension modules and
shared libraries are binaries) and not in EXCLUDE.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata as md
import re
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent

# Never read at run time, so never bundled (the same patterns PyInstaller's own torch hook leaves out):
# C/C++ headers and sources and static libraries (for compiling extensions against a package, e.g.
# torch/include, ~10k headers), CMake files (torch/share/cmake), and type stubs for type checkers.
EXCLUDE = ("*.h", "*.hpp", "*.cuh", "*.cpp", "*.lib", "*.cmake", "*.pyi")

# Modules the spec leaves out of the bundle (not needed at run time; each one is build time and megabytes
# saved). Their files, data included, stay out too.
EXCLUDED_MODULES = [
    "tkinter", "_tkinter", "matplotlib", "IPython", "jupyter", "notebook", "ipykernel", "pytest",
    "pytestqt", "peft", "torchvision", "torchaudio", "tensorboard", "tensorflow", "jax", "flax",
    "onnx", "onnxruntime", "sklearn", "scipy", "cv2", "PIL.ImageTk", "OpenGL", "pyqtgraph.opengl",
    "pyqtgraph.examples", "pyqtgraph.jupyter", "PyQt5", "PyQt6", "PySide2",
    "torch.utils.tensorboard",  # (not torch.testing._internal: torch.utils.checkpoint imports it)
    "PyInstaller",
]

_CODE_SUFFIXES = {".py", ".pyc", ".pyo", ".so", ".pyd", ".dll", ".dylib"}
_LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s#;]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def app_lock() -> Path | None:
    """The app lock that matches the torch build installed here (requirements/app-linux-{cpu,cuda}.txt:
    cuda when torch's metadata requires nvidia packages), or None where there is none (not Linux)."""
    import platform
    import sys

    if not (sys.platform == "linux" and platform.machine() == "x86_64"):
        return None
    try:
        reqs = md.requires("torch") or []
    except md.PackageNotFoundError:
        reqs = []
    variant = "cuda" if any(r.startswith(("nvidia-", "cuda-")) for r in reqs) else "cpu"
    return ROOT / "requirements" / f"app-linux-{variant}.txt"


def locked(lock: Path) -> dict[str, str]:
    """{canonical name: version} of a lock file's `name==version` lines."""
    pins = {}
    for line in lock.read_text().splitlines():
        m = _LOCK_LINE.match(line.strip())
        if m:
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def top_levels(dist: md.Distribution) -> set[str]:
    """The importable top-level names a distribution installs (packages and single modules)."""
    names = set()
    for f in dist.files or ():
        first = f.parts[0]
        if first == ".." or first.endswith((".dist-info", ".data", ".egg-info")) or first == "__pycache__":
            continue
        if len(f.parts) > 1:
            names.add(first)
        elif f.suffix in _CODE_SUFFIXES:
            names.add(first.split(".")[0])
    return names


def is_code(path: PurePosixPath) -> bool:
    return path.suffix in _CODE_SUFFIXES or ".so." in path.name  # libfoo.so.1 is a shared library


def excluded(path: PurePosixPath) -> bool:
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in EXCLUDE)


def in_excluded_module(path: PurePosixPath) -> bool:
    dotted = ".".join(path.parts[:-1])
    return any(dotted == m or dotted.startswith(m + ".") for m in EXCLUDED_MODULES)


def data_files(dist: md.Distribution) -> list[tuple[PurePosixPath, Path]]:
    """(path inside the bundle's _internal, installed file) for every data file of a distribution's packages."""
    tops = top_levels(dist)
    out = []
    for f in dist.files or ():
        rel = PurePosixPath(f.as_posix())
        if len(rel.parts) < 2 or rel.parts[0] not in tops or "__pycache__" in rel.parts:
            continue
        if is_code(rel) or excluded(rel) or in_excluded_module(rel):
            continue
        out.append((rel, Path(f.locate())))
    return out


def distributions(names: set[str]) -> dict[str, md.Distribution]:
    """The installed distributions among `names` (canonical), by canonical name."""
    out = {}
    for dist in md.distributions():
        name = canonical(dist.metadata["Name"] or "")
        if name in names and name not in out:
            out[name] = dist
    return out
