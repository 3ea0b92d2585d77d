"""The open project's state, without Qt: its settings, the undo stack, and when they are written.

The window (`studio.main_window`) is a view of this state: its widgets report edits, the window
changes the state, and the state tells its observers (plain callables) what changed. Nothing here
imports Qt (tests/test_house_rules.py checks it), so the rules below read and test as plain Python.

Saving: an edit marks the settings dirty. The first edit after a quiet spell is written at once; the
edits that follow within `SAVE_DELAY_S` are coalesced into one write when the window's timer fires
(`ProjectState.due`) — ten quick edits (typing "128", spinning a box) are at most two writes of the
project file instead of ten. `flush()` writes what is pending at once: the window calls it before it
closes, before Train, Save, Save As and before it opens another project, so no edit is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

SAVE_DELAY_S = 0.3
"""How long edits are coalesced before they are written (the window's save timer)."""


class Command(Protocol):
    """One undoable change. `merge_key`: consecutive commands with the same non-None key merge."""

    text: str
    merge_key: Any

    def redo(self) -> None: ...
    def undo(self) -> None: ...
    def merge(self, newer: "Command") -> None: ...


class UndoStack:
    """Undo / redo of `Command`s. `push` runs the command's redo (as Qt's QUndoStack does); a pushed
    command whose `merge_key` equals the top command's merges into it (one undo step). Observers are
    called after every change (the window updates its Undo / Redo actions)."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.index = 0  # commands[:index] are done
        self.observers: list[Callable[[], None]] = []

    def count(self) -> int:
        return len(self.commands)

    def can_undo(self) -> bool:
        return self.index > 0

    def can_redo(self) -> bool:
        return self.index < len(self.commands)

    def undo_text(self) -> str:
        return self.commands[self.index - 1].text if self.can_undo() else ""

    def redo_text(self) -> str:
        return self.commands[self.index].text if self.can_redo() else ""

    def push(self, command: Command) -> None:
        del self.commands[self.index:]  # a new change drops what could be redone
        command.redo()
        top = self.commands[-1] if self.commands else None
        if top is not None and command.merge_key is not None and top.merge_key == command.merge_key:
            top.merge(command)
        else:
            self.commands.append(command)
        self.index = len(self.commands)
        self._changed()

    def undo(self) -> None:
        if self.can_undo():
            self.index -= 1
            self.commands[self.index].undo()
            self._changed()

    def redo(self) -> None:
        if self.can_redo():
            self.commands[self.index].redo()
            self.index += 1
            self._changed()

    def clear(self) -> None:
        self.commands, self.index = [], 0
        self._changed()

    def _changed(self) -> None:
        for observer in list(self.observers):
            observer()


class ProjectState:
    """The open project (`core.store.Project`), its settings (`core.store.ProjectSettings`) as edited,
    the undo stack, and the pending write.

    `on_pending(delay_s)` is called when an edit waits to be written: the window starts a timer of
    ``delay_s`` that calls `due`. `writes` counts the writes of the settings (tests, the status bar)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.project: Any = None
        self.settings: Any = None
        self.undo = UndoStack()
        self.dirty = False
        self.writes = 0
        self.on_pending: Callable[[float], None] | None = None
        self._clock = clock
        self._last_write = float("-inf")

    @property
    def writable(self) -> bool:
        return self.project is not None and self.settings is not None and not self.project.readonly

    def save(self) -> None:
        """An accepted edit: write it now if nothing was written in the last `SAVE_DELAY_S`, else
        once the delay has passed (`due`)."""
        if not self.writable:
            return
        self.dirty = True
        wait = self._last_write + SAVE_DELAY_S - self._clock()
        if wait <= 0:
            self.flush()
        elif self.on_pending is not None:
            self.on_pending(wait)

    def due(self) -> None:
        """The window's timer fired: write what the last edits left pending."""
        self.flush()

    def flush(self) -> bool:
        """Write pending edits now (before closing, training, Save, opening another project).
        Returns whether it wrote."""
        if not self.dirty or not self.writable:
            self.dirty = False
            return False
        self.project.save_settings(self.settings)
        self.dirty = False
        self.writes += 1
        self._last_write = self._clock()
        return True
