"""The window's project file: open, create, Save As, the recent projects, and its lock.

One project, one writer: `ProjectFiles.open` takes the project's lock (`studio.project_lock.ProjectLock`)
and opens the file read-only when another window holds it; `ReadOnlyBanner` says so above the window, with
"Show that window" (same process) and "Try again". What the window shows of an open project is
`studio.main_window.MainWindow.show_project`'s.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from studio.messages import person

if TYPE_CHECKING:
    from studio.main_window import MainWindow

FILE_FILTER = "Adapter Studio (*.adapterstudio)"
RECENT_MAX = 10


class ProjectFiles(QObject):
    """Which project file the window has open, and its lock while the window writes it."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.lock = None  # studio.project_lock.ProjectLock of the open project, when this window writes it
        self.lock_timer = QTimer(self, interval=60_000)  # other hosts see the holder alive (project_lock)
        self.lock_timer.timeout.connect(lambda: self.lock is not None and self.lock.touch())

    def open(self, path: str | Path, *, create: bool = False) -> bool:
        """Open (or with ``create``, create with the default settings) a project file."""
        from core.store import Project, ProjectFileError, ProjectSettings

        from studio.main_window import default_settings_dict
        from studio.project_lock import ProjectLock

        window = self.window
        window.state.flush()  # the open project's pending edits, before it closes
        path = Path(path).absolute()
        same = window.project is not None and window.project.path == path
        lock = self.lock if same and self.lock is not None else ProjectLock(path, owner=window)
        try:
            if not path.exists() and create:
                path.parent.mkdir(parents=True, exist_ok=True)
                lock.acquire()
                project = Project.create(path, ProjectSettings.from_dict(default_settings_dict()))
            else:
                # One project, one writer: without the lock (another window holds it) read-only.
                project = Project.open(path, readonly=not lock.acquire())
        except ProjectFileError as exc:
            if lock is not self.lock:
                lock.release()
            QMessageBox.warning(window, self.tr("Cannot open project"), person(str(exc), "project"))
            return False
        if window.project is not None:
            window.project.close()
        if lock is not self.lock:
            self.release_lock()
            self.lock = lock if lock.held else None
        if self.lock is not None:
            self.lock_timer.start()
        else:
            self.lock_timer.stop()
        if project.readonly and not lock.held and project.readonly_reason == "opened read-only":
            project.readonly_reason = window.readonly_banner.lock_reason(lock)  # said by the label and Ctrl+S too
        window.readonly_banner.show_for(project, lock)
        self.remember(project.path)
        window.show_project(project)
        return True

    def release_lock(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        self.lock_timer.stop()

    def retry_lock(self) -> bool:
        """The banner's "Try again": reopen the project writable when nobody else holds it now."""
        project = self.window.project
        if project is None:
            return False
        self.open(project.path)
        return not self.window.project.readonly

    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, self.tr("New project"), str(Path.home()), FILE_FILTER)
        if path:
            if not path.endswith(".adapterstudio"):
                path += ".adapterstudio"
            self.open(path, create=True)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, self.tr("Open project"), str(Path.home()), FILE_FILTER)
        if path:
            self.open(path)

    def save_now(self) -> None:
        # The project saves itself on every edit; Ctrl+S only says so (and writes once more, at once).
        window = self.window
        if window.project is not None and window.project.readonly:
            window.statusBar().showMessage(self.tr("Read-only: {0}").format(window.project.readonly_reason), 8000)
            return
        window.state.dirty = window.state.writable
        window.flush()
        window.statusBar().showMessage(self.tr("Saved — the project saves itself as you edit."), 5000)

    def save_as(self, path: str | None = None) -> bool:
        """Copy the project's settings into a new project file and continue there (runs stay behind)."""
        from core.store import Project

        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.window, self.tr("Save project as"), str(Path.home()), FILE_FILTER)
            if not path:
                return False
        self.window.flush()
        settings = copy.deepcopy(self.window.settings)
        settings.name = ""
        Project.create(path, settings).close()
        return self.open(path)

    # ---- recent projects (QSettings "recent": newest first, those that still exist) ------------------

    def recent(self) -> list[str]:
        value = self.window.qsettings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if Path(v).exists()]

    def remember(self, path: Path) -> None:
        items = [str(path)] + [p for p in self.recent() if p != str(path)]
        self.window.qsettings.setValue("recent", items[:RECENT_MAX])
        self.window.menus.fill_recent()


class ReadOnlyBanner(QWidget):
    """The bar over a read-only project: who holds it, "Show that window" (same process), "Try again"."""

    def __init__(self, files: ProjectFiles) -> None:
        super().__init__()
        self.other = None  # the window of this process that holds the project
        self.setObjectName("readonly_banner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#readonly_banner { background: #fff4ce; border: 1px solid #e0b400; }"
                           " #readonly_banner QLabel { color: #4a3b00; }")
        self.text = QLabel()
        self.text.setWordWrap(True)  # a long path never widens the window
        self.show_other = QPushButton(self.tr("Show that window"))
        self.retry = QPushButton(self.tr("Try again"))
        self.retry.setToolTip(self.tr("Open the project for editing if no other window has it open any more"))
        self.show_other.clicked.connect(self._show_other)
        self.retry.clicked.connect(files.retry_lock)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.text, 1)
        row.addWidget(self.show_other)
        row.addWidget(self.retry)
        self.hide()

    def lock_reason(self, lock: Any) -> str:
        holder = lock.holder or {}
        if holder.get("owner") is not None:
            return self.tr("another window of Adapter Studio has this project open; only that window can change it.")
        if holder.get("error"):
            return self.tr("the project's lock file cannot be written ({0}).").format(holder["error"])
        since = time.strftime("%H:%M", time.localtime(holder["since"])) if holder.get("since") else "?"
        return self.tr("Adapter Studio (process {0} on {1}, since {2}) has this project open; only that window can "
                       "change it.").format(holder.get("pid", "?"), holder.get("host", "?"), since)

    def show_for(self, project: Any, lock: Any) -> None:
        self.other = (lock.holder or {}).get("owner") if not lock.held else None
        if not project.readonly:
            self.hide()
            return
        self.text.setText(self.tr("Read-only: {0}").format(project.readonly_reason))
        self.show_other.setVisible(self.other is not None)
        self.retry.setVisible(not lock.held)
        self.show()

    def _show_other(self) -> None:
        if self.other is not None:
            self.other.showNormal()
            self.other.raise_()
            self.other.activateWindow()
