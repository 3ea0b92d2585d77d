"""PySide6 6.12 on Python 3.11 drops a reference to None/True/False per call; studio guards them."""

from __future__ import annotations

import sys

import studio  # noqa: F401  (importing studio applies the guard)


def test_many_qt_calls_do_not_use_up_none(qapp):
    from PySide6.QtWidgets import QTreeWidgetItem

    item = QTreeWidgetItem(["a"])
    before = sys.getrefcount(None)
    for _ in range(50_000):
        item.setText(0, "x")  # returns None (without a new reference on this binding)
    assert sys.getrefcount(None) > 1_000_000  # far from the abort, whatever the binding does
    if sys.version_info < (3, 12):
        assert before > 1 << 39
