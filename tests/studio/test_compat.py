"""The Qt binding must not leak references to None/True/False.

PySide6 6.12.0 on Python 3.11 returns None from its C++ calls without adding a reference: every
``item.setText(...)`` takes one away for good and, after enough clicks, the interpreter aborts with
"Fatal Python error: none_dealloc". pyproject.toml excludes that release; this test catches any binding
with the same fault.
"""

from __future__ import annotations

import sys


def test_qt_calls_keep_none_alive(qapp):
    from PySide6.QtWidgets import QTreeWidgetItem

    item = QTreeWidgetItem(["a"])
    before = sys.getrefcount(None)
    for _ in range(2_000):
        item.setText(0, "x")  # returns None
    # Other code may hold a few more or fewer references meanwhile; a leak would show as ~2,000 fewer.
    assert sys.getrefcount(None) > before - 100
