"""The window's undo steps (`studio.project_state.Command`s on `ProjectState.undo`): a change of targets
from the tree, and a change of the method, training or data settings from a form.

Each applies its values back through the window (`MainWindow.apply_targets`, `MainWindow.apply_section`),
which shows and saves them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.main_window import MainWindow


class TargetsCommand:
    """One change of target_modules / layers_to_transform."""

    merge_key = None  # every click on the tree is its own undo step

    def __init__(self, window: MainWindow, old: tuple, new: tuple) -> None:
        self.text = f"targets: {new[0]}"
        self.window, self.old, self.new = window, old, new

    def merge(self, newer: TargetsCommand) -> None:  # never called: merge_key is None
        self.new = newer.new

    def redo(self) -> None:
        self.window.apply_targets(*self.new)

    def undo(self) -> None:
        self.window.apply_targets(*self.old)


class SettingsCommand:
    """One change of the method, training or data settings. Pushed after the change is already shown, so
    the first redo does nothing; consecutive edits of the same fields of the same section merge (typing
    1, 2, 8 into r is one undo step)."""

    def __init__(self, window: MainWindow, section: str, old: dict, new: dict, keys: set[str]) -> None:
        self.text = f"{section}: {', '.join(sorted(keys))}"
        self.merge_key = (section, frozenset(keys))
        self.window, self.section, self.old, self.new, self.keys = window, section, old, new, keys
        self.first = True

    def merge(self, newer: SettingsCommand) -> None:
        self.new = newer.new

    def redo(self) -> None:
        if self.first:
            self.first = False
            return
        self.window.apply_section(self.section, self.new)

    def undo(self) -> None:
        self.window.apply_section(self.section, self.old)
