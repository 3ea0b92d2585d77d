"""The window's menu bar: File, Edit, View and Help (the Run menu is `studio.training.TrainingController`'s).

Order on screen: File Edit View Run Help — `Menus` adds the first three when the window is built and
`add_help` once the training controller has added Run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

if TYPE_CHECKING:
    from studio.main_window import MainWindow

class Menus(QObject):
    """The menus' actions and what keeps them current (Undo / Redo names, the recent projects)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        files, undo = window.files, window.undo
        bar = window.menuBar()
        file = bar.addMenu(self.tr("&File"))
        self.act_new = file.addAction(self.tr("&New…"), QKeySequence.StandardKey.New, files.new_project)
        self.act_open = file.addAction(self.tr("&Open…"), QKeySequence.StandardKey.Open, files.open_dialog)
        self.act_save = file.addAction(self.tr("&Save"), QKeySequence.StandardKey.Save, files.save_now)
        self.act_save_as = file.addAction(self.tr("Save &As…"), QKeySequence.StandardKey.SaveAs, lambda: files.save_as())
        self.recent_menu = file.addMenu(self.tr("Recent projects"))
        file.addSeparator()
        file.addAction(self.tr("&Quit"), QKeySequence.StandardKey.Quit, window.close)

        edit = bar.addMenu(self.tr("&Edit"))
        self.act_undo = QAction(self.tr("&Undo"), window)
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_undo.triggered.connect(undo.undo)
        self.act_redo = QAction(self.tr("&Redo"), window)
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence.StandardKey.Redo])
        self.act_redo.triggered.connect(undo.redo)
        undo.observers.append(self.undo_changed)
        self.undo_changed()
        edit.addAction(self.act_undo)
        edit.addAction(self.act_redo)

        view = bar.addMenu(self.tr("&View"))
        focus = QAction(self.tr("Focus the tree filter"), window)
        focus.setShortcut(QKeySequence("F"))
        focus.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        focus.triggered.connect(lambda: window.tree.filter.setFocus())
        view.addAction(focus)
        language = view.addMenu(self.tr("Language"))
        current = window.qsettings.value("language", "") or ""
        for code, name in (("", self.tr("System")), ("en", "English"), ("zh_CN", "简体中文")):
            act = language.addAction(name, lambda c=code: self.set_language(c))
            act.setCheckable(True)
            act.setChecked(code == current)
        self.fill_recent()

    def add_help(self) -> None:
        """Help ▸ Documentation (F1: the focused area's section, `studio.help.open_help`) and About."""
        from studio import help as docs

        window = self.window
        menu = window.menuBar().addMenu(self.tr("&Help"))
        self.act_help = menu.addAction(self.tr("&Documentation"), lambda: docs.open_help(window))
        self.act_help.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.act_help.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        window.addAction(self.act_help)
        self.act_about = menu.addAction(self.tr("&About Adapter Studio"), self.show_about)

    def show_about(self) -> Any:
        from studio.help import AboutDialog

        self.about = AboutDialog(self.window)
        self.about.open()  # window-modal, returns at once
        return self.about

    def undo_changed(self) -> None:
        """Edit ▸ Undo / Redo name the step they take, and are greyed when there is none."""
        undo = self.window.undo
        for action, label, can, text in ((self.act_undo, self.tr("&Undo"), undo.can_undo(), undo.undo_text()),
                                         (self.act_redo, self.tr("&Redo"), undo.can_redo(), undo.redo_text())):
            action.setEnabled(can)
            action.setText(f"{label} {text}" if can else label)

    def set_language(self, code: str) -> None:
        self.window.qsettings.setValue("language", code)
        self.window.statusBar().showMessage(self.tr("The language changes the next time Adapter Studio starts."), 8000)

    def fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.window.files.recent()
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.window.files.open(p))
        self.recent_menu.setEnabled(bool(recent))
