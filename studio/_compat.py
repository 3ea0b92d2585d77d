"""Work-arounds for the Qt binding we run on.

PySide6 6.12.0 (the ``cp310-abi3`` wheel) returns ``None`` / ``True`` / ``False`` from its C++ calls
without adding a reference. On Python ≥ 3.12 that is harmless (PEP 683 made them immortal); on
Python 3.11 every such call — ``item.setText(...)``, ``painter.drawRect(...)``, ``signal.emit(...)`` —
takes one reference away for good, and after enough clicks the interpreter aborts with
"Fatal Python error: none_dealloc" (measured here: 200 ``QTreeWidgetItem.setText`` calls lower
``sys.getrefcount(None)`` by 200; a loop of them on a bare interpreter aborts). `guard_singletons`
gives the three a reference count no session can use up — what 3.12's immortality does.
"""

from __future__ import annotations

import sys

_done = False


def guard_singletons() -> bool:
    """On Python < 3.12, add 2**40 references to None, True and False (once). Returns whether it did."""
    global _done
    if _done or sys.version_info >= (3, 12):
        return False
    import ctypes

    for obj in (None, True, False):
        # ob_refcnt is the first field of every PyObject (a Py_ssize_t).
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    _done = True
    return True
