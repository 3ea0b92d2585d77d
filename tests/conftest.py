"""Test-wide settings. Markers, timeout and test paths live in pyproject.toml."""

import os

# Before anything imports Qt: with no platform and no DISPLAY, Qt aborts the whole run (exit 134).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach the network: models and datasets come from local files or the pip cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Under pytest-xdist (./run.sh test runs one worker a core, `-n auto`; xdist sets this before conftests
# load): one torch/OpenMP thread a worker, for the worker and the processes its tests start. Two workers of
# two OpenMP threads each on two cores spin at each other's barriers; one thread a worker keeps every core
# busy without that.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import contextlib  # noqa: E402
import fcntl  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_ENV = "ADAPTER_STUDIO_TEST_SHARED"
"""A folder the xdist controller makes for its workers (they inherit the variable): lock files and the bundle."""


def _starts_workers(config) -> bool:
    """True in the process that starts xdist workers (not in a worker, not in a run without them)."""
    return not hasattr(config, "workerinput") and bool(config.getoption("numprocesses", None))


def pytest_configure(config):
    if _starts_workers(config):
        os.environ[SHARED_ENV] = tempfile.mkdtemp(prefix="adapter-studio-tests-")  # the controller, before workers start


def pytest_unconfigure(config):
    build = config.stash.get(BUILD, None)
    if build is not None:
        build.close()
    if _starts_workers(config) and SHARED_ENV in os.environ:
        shutil.rmtree(os.environ.pop(SHARED_ENV), ignore_errors=True)  # the controller, after its workers


def _shared() -> Path | None:
    """The workers' shared folder (`SHARED_ENV`); None in a run without xdist workers."""
    folder = os.environ.get(SHARED_ENV)
    return Path(folder) if folder and WORKERS > 1 else None


@contextlib.contextmanager
def one_at_a_time(name: str):
    """Within: no other xdist worker is within ``one_at_a_time(name)`` (an exclusive lock on a file in the
    shared folder; the kernel drops it if a worker dies). Without workers, nothing to wait for."""
    shared = _shared()
    if shared is None:
        yield
        return
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """``@pytest.mark.one_at_a_time(name)``: set-up, test and tear-down under `one_at_a_time` ``name``: tests that
    start several training processes (two at once on two cores would time out), or an X server (``xvfb-run
    -a`` races for a free display number)."""
    marker = item.get_closest_marker("one_at_a_time")
    if marker is None:
        return (yield)
    with one_at_a_time(marker.args[0]):
        return (yield)


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: build only when a selected test needs it
def pytest_collection_modifyitems(config, items):
    _plan_bundle_build(config, items)
    _skip_gpu_tests(items)
    _order_for_workers(items)


def _order_for_workers(items) -> None:
    """Under xdist, each worker is handed a test or two at a time as it finishes (`--dist loadgroup`, with no
    test in an xdist group), in this order: the first test that needs the bundle, whose worker builds it (~5
    minutes of one core) while the others go on; the long tests (`slow`), so that they spread over the workers
    from the start instead of one worker ending the run alone; the rest; last, the other tests that need the
    bundle, built by then (dispatched early, a second one waited on the first's build with its core idle:
    measured, 5 minutes of one core)."""
    if WORKERS <= 1:
        return
    bundle = _bundle_users(items)
    rest = sorted((item for item in items if item not in bundle), key=lambda item: item.get_closest_marker("slow") is None)
    items[:] = bundle[:1] + rest + bundle[1:]


# --------------------------------------------------------------------------------------------------
# The PyInstaller bundle (tests/packaging) takes ~3 minutes to build, nearly all of it one busy core.
# In one process, the studio's tests leave the second core mostly idle (Qt, subprocess start-ups, tiny
# models that torch runs on one thread), so the build starts with the first of them, at idle CPU
# priority, and the tests that use the bundle run last. Not earlier: beside the core tests' two-thread
# torch work it cost them far more than it saved (a 13 s test took 116 s).
# Under xdist every core has a worker: the first worker whose test needs the bundle (the first test
# dispatched: `_order_for_workers`) builds it into the shared folder, at normal priority (that worker has
# nothing else to do meanwhile), holding `one_at_a_time("bundle")`; a worker that needs it meanwhile
# waits for that build instead of making its own (two builds at once cost a core for ~5 minutes,
# measured).


class BundleBuild:
    """The bundle's PyInstaller run: `start` (once, in the background), then `wait` for the executable.
    ``shared``: the run's one build, in the xdist workers' shared folder, whoever starts it."""

    def __init__(self, shared: Path | None = None) -> None:
        self.proc: subprocess.Popen | None = None
        self.shared = shared is not None
        self.out = shared / "bundle" if shared is not None else Path(tempfile.mkdtemp(prefix="adapter-studio-bundle-"))
        self.out.mkdir(exist_ok=True)
        self.log = self.out / "build.log"

    def start(self, idle: bool = True) -> None:
        if self.proc is not None:
            return
        command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath",
                   str(self.out / "dist"), "--workpath", str(self.out / "work"),
                   str(ROOT / "packaging" / "adapter-studio.spec")]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=_idle_priority if idle else None)

    def wait(self, timeout: float) -> Path:
        """The built executable; fails the test with the end of PyInstaller's log if the build failed."""
        if self.shared:
            with one_at_a_time("bundle"):
                code_file = self.out / "exit-code"  # written by the worker that built it, read by the others
                if not code_file.exists():
                    self.start(idle=False)
                    code_file.write_text(str(self.proc.wait(timeout=timeout)))
                code = int(code_file.read_text())
        else:
            self.start()
            code = self.proc.wait(timeout=timeout)
        assert code == 0, self.log.read_text(errors="replace")[-5000:]
        return self.out / "dist" / "adapter-studio" / "adapter-studio"

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.shared:
            shutil.rmtree(self.out, ignore_errors=True)  # the shared folder goes with the controller


BUILD = pytest.StashKey[BundleBuild]()


def _bundle_users(items) -> list:
    return [item for item in items if "bundle" in getattr(item, "fixturenames", ())]


def _plan_bundle_build(config, items) -> None:
    users = _bundle_users(items)
    if not users or os.environ.get("ADAPTER_STUDIO_BUNDLE"):
        return
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        return  # the bundle fixture skips with the reason
    if WORKERS == 1:  # with workers, `_order_for_workers` places them
        items[:] = [item for item in items if item not in users] + users
    config.stash[BUILD] = BundleBuild(_shared())


def pytest_runtest_setup(item):
    build = item.config.stash.get(BUILD, None)
    if build is not None and not build.shared and "studio" in Path(str(item.path)).parent.parts:
        build.start()


def _idle_priority() -> None:
    """Run only on CPU time nobody else wants (SCHED_IDLE where Linux has it; else the lowest nice)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


@pytest.fixture(scope="session")
def bundle_build(request) -> BundleBuild | None:
    """The bundle build (see `BundleBuild`), or None when the bundle is given or can't be built."""
    return request.config.stash.get(BUILD, None)


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
