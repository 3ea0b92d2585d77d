"""Preparing the process while the window opens: the start-up jobs and what keeps them off the GIL.

The window (`studio.main_window`) paints first, then hands these jobs to its `studio.jobs.Runner`:
`import_store` (the project file's module), `load_methods` (the method registry, which imports
torch) and `load_tree` (a model's skeleton). Nothing here is Qt.

The GUI thread runs Python only when it holds the GIL, so a pool thread that holds it long freezes
the window as surely as work on the GUI thread. Two such holds were measured while the window
opens: torch's libraries being dlopened inside `import torch` (~0.2 s, see `preload_torch_libraries`)
and the garbage collector's full collections, which walk every object alive: each import phase
(pandas, torch, transformers, a skeleton) grows the heap by hundreds of thousands of long-lived
objects, and the collections it triggers took 35, 60, 90, 115, 170, 200 ms. So the start-up jobs run
with the collector off and freeze what they built (gc.freeze: later collections skip it; imported
modules and cached skeletons live as long as the process anyway).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def long_lived_heap() -> Iterator[None]:
    """Run a job that builds long-lived objects (imports, cached skeletons) without garbage
    collections, then move everything alive into the collector's permanent generation."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def import_store() -> None:
    """Import `core.store` on a pool thread: sqlite_utils imports pandas and numpy (~0.7 s that froze
    the window just after it appeared)."""
    with long_lived_heap():
        import sqlite_utils

        import core.store  # noqa: F401 - sqlite_utils -> pandas, numpy: ~0.7 s
        # What opening the project imports next on the GUI thread, imported here: getpass pulls in
        # termios, an extension module, and a dlopen on the GUI thread while `load_methods` dlopens
        # torch waits for the loader's lock (a 0.3-0.5 s freeze was measured so).
        import studio.project_lock  # noqa: F401

        # The first Database() loads sqlite_utils' plugins (entry points, importlib.metadata): ~30 ms
        # that would otherwise fall on the GUI thread's first Project.open.
        sqlite_utils.Database(memory=True).close()


def load_methods() -> dict[str, Any]:
    """The method registry ({PeftType value: method module}); imports torch (pool thread)."""
    preload_torch_libraries()
    from studio.jobs import load_methods as registry

    with long_lived_heap():
        return registry()


def load_tree(ref: str) -> Any:
    """`studio.jobs.load_tree` with the collector off: the first imports transformers, and the
    skeleton is cached for the process."""
    preload_torch_libraries()  # the first job to import torch may be this one
    from studio.jobs import load_tree as tree

    with long_lived_heap():
        return tree(ref)


def preload_torch_libraries() -> None:
    """Load torch's largest shared libraries (libc10, libtorch_cpu) without holding the GIL.

    ``import torch`` dlopens them while holding the GIL: ~0.2 s (more on a busy machine) in which
    no Python code runs on any thread, so the window froze although the import runs on a pool
    thread. A ctypes call of libc's ``dlopen`` releases the GIL; the later ``import torch`` finds
    the libraries loaded (by soname) and only links to them. RTLD_LOCAL, as torch loads them itself.
    Linux only; anything unexpected just leaves the work to ``import torch``."""
    import sys

    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return
    import ctypes
    import importlib.util
    import os

    try:
        spec = importlib.util.find_spec("torch")
        folder = Path(next(iter(spec.submodule_search_locations))) / "lib"  # type: ignore[union-attr]
        dlopen = ctypes.CDLL(None).dlopen
    except Exception:  # noqa: BLE001 - no torch, an unusual layout, no dlopen symbol: nothing to do
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    for name in ("libc10.so", "libtorch_cpu.so"):
        if (folder / name).is_file():
            dlopen(os.fsencode(folder / name), os.RTLD_NOW | os.RTLD_LOCAL)
