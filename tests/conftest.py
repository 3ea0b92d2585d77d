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
    _start_bundle_build(config, items)
    _skip_gpu_tests(items)


# --------------------------------------------------------------------------------------------------
# The PyInstaller bundle (tests/packaging) takes ~3 minutes to build, nearly all of it one busy core.
# Much of the suite leaves the second core idle (Python-bound tests, subprocess start-ups), so the build
# starts as soon as the tests are collected, at idle CPU priority (it takes only what the tests leave),
# and the tests that use it run last.


def _start_bundle_build(config, items) -> None:
    users = [item for item in items if "bundle" in getattr(item, "fixturenames", ())]
    if not users or os.environ.get("ADAPTER_STUDIO_BUNDLE"):
        return
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        return  # the bundle fixture skips with the reason
    items[:] = [item for item in items if item not in users] + users
    out = Path(tempfile.mkdtemp(prefix="adapter-studio-bundle-"))
    log = open(out / "build.log", "w")  # noqa: SIM115 (closed at the end of the session)
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath",
               str(out / "dist"), "--workpath", str(out / "work"), str(ROOT / "packaging" / "adapter-studio.spec")]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_idle_priority)
    config.stash[BUILD] = (proc, out, log)


BUILD = pytest.StashKey[tuple]()


def _idle_priority() -> None:
    """Run only on CPU time nobody else wants (SCHED_IDLE where Linux has it; else the lowest nice):
    torch's threads in the tests then keep both cores whenever they are busy."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


@pytest.fixture(scope="session")
def bundle_build(request):
    """(process, folder, log) of the bundle build started at collection, or None."""
    return request.config.stash.get(BUILD, None)


def pytest_unconfigure(config):
    build = config.stash.get(BUILD, None)
    if build is None:
        return
    proc, out, log = build
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(out, ignore_errors=True)


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
