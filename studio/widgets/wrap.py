"""Labels that hold messages of any length without widening the window.

A QLabel asks its layout for the width of its longest unbreakable run of text. A message that
names a long path or hub id (``/home/…/a-folder-without/config.json``) is one such run, and a
label without word wrap is the whole message: a model folder without a model made the window
2,880 px wide. `message_label` wraps; `breakable` lets the wrap break inside paths and ids.
"""

from __future__ import annotations

import re

from PySide6.QtWidgets import QLabel, QSizePolicy

ZWSP = "\u200b"
_RUN = re.compile(r"\S{31,}")  # a run of text no wrap can break, longer than ~30 characters
_AFTER = re.compile(r"([/\\_.,:;=|-])(?=\S)")
_CHUNK = re.compile(r"[^/\\_.,:;=|\s-]{24}(?=\S)")


def breakable(text: str) -> str:
    """``text`` with zero-width spaces inside its long unbreakable runs (paths, hub ids): after each
    separator, and every 24 characters of a run without one. Short words stay as they are."""

    def split(m: re.Match) -> str:
        run = _AFTER.sub(lambda s: s.group(1) + ZWSP, m.group(0))
        return _CHUNK.sub(lambda s: s.group(0) + ZWSP, run)

    return _RUN.sub(split, text)


def plain(text: str) -> str:
    """The text without the break hints (what the person reads, copies and what tests compare)."""
    return text.replace(ZWSP, "")


def make_wrapping(label: QLabel) -> QLabel:
    """Wrap ``label`` and let it shrink below its text's width (long lines wrap instead)."""
    label.setWordWrap(True)
    label.setMinimumWidth(1)
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
    label.setSizePolicy(policy)
    return label


class ElidedLabel(QLabel):
    """One line that elides in the middle when too narrow (a project path: its start and its file
    name stay readable); the full text on hover and from `text()`."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        return self._full

    def sizeHint(self):  # noqa: N802 - the full text when there is room
        hint = super().sizeHint()
        hint.setWidth(self.fontMetrics().horizontalAdvance(self._full) + 4)
        return hint

    def minimumSizeHint(self):  # noqa: N802 - may shrink to a few characters
        hint = super().minimumSizeHint()
        hint.setWidth(min(hint.width(), 60))
        return hint

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        from PySide6.QtCore import Qt

        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, max(self.width() - 4, 20))
        QLabel.setText(self, shown)
