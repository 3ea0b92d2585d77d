"""Test-wide settings. Markers, timeout and test paths live in pyproject.toml."""

import os

# Before anything imports Qt: with no platform and no DISPLAY, Qt aborts the whole run (exit 134).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach the network: models and datasets come from local files or the pip cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: build only when a selected test needs it
def pytest_collection_modifyitems(config, items):
    _plan_bundle_build(config, items)
    _skip_gpu_tests(items)


# --------------------------------------------------------------------------------------------------
# The PyInstaller bundle (tests/packaging) takes ~3 minutes to build, nearly all of it one busy core.
# The studio's tests leave the second core mostly idle (Qt, subprocess start-ups, tiny models that torch
# runs on one thread), so the build starts with the first of them, at idle CPU priority, and the tests
# that use the bundle run last. Not earlier: beside the core tests' two-thread torch work it cost them
# far more than it saved (a 13 s test took 116 s).


class BundleBuild:
    """The bundle's PyInstaller run in the background: `start` (once), then `wait` for the executable."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.out = Path(tempfile.mkdtemp(prefix="adapter-studio-bundle-"))
        self.log = self.out / "build.log"

    def start(self) -> None:
        if self.proc is not None:
            return
        command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath",
                   str(self.out / "dist"), "--workpath", str(self.out / "work"),
                   str(ROOT / "packaging" / "adapter-studio.spec")]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=_idle_priority)

    def wait(self, timeout: float) -> Path:
        """The built executable; fails the test with the end of PyInstaller's log if the build failed."""
        self.start()
        code = self.proc.wait(timeout=timeout)
        assert code == 0, self.log.read_text(errors="replace")[-5000:]
        return self.out / "dist" / "adapter-studio" / "adapter-studio"

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.out, ignore_errors=True)


BUILD = pytest.StashKey[BundleBuild]()


def _plan_bundle_build(config, items) -> None:
    users = [item for item in items if "bundle" in getattr(item, "fixturenames", ())]
    if not users or os.environ.get("ADAPTER_STUDIO_BUNDLE"):
        return
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        return  # the bundle fixture skips with the reason
    items[:] = [item for item in items if item not in users] + users
    config.stash[BUILD] = BundleBuild()


def pytest_runtest_setup(item):
    build = item.config.stash.get(BUILD, None)
    if build is not None and "studio" in Path(str(item.path)).parent.parts:
        build.start()


def _idle_priority() -> None:
    """Run only on CPU time nobody else wants (SCHED_IDLE where Linux has it; else the lowest nice)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


@pytest.fixture(scope="session")
def bundle_build(request) -> BundleBuild | None:
    """The background bundle build (see `BundleBuild`), or None when the bundle is given or can't be built."""
    return request.config.stash.get(BUILD, None)


def pytest_unconfigure(config):
    build = config.stash.get(BUILD, None)
    if build is not None:
        build.close()


def _skip_gpu_tests(items) -> None:
    """Skip `gpu`-marked tests when no CUDA device is there (torch is imported only if any exist)."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in gpu_items:
            item.add_marker(skip)
