"""The main window: model tree | method, training and data tabs | cost, over one project file.

The window is a view of `studio.project_state.ProjectState` (Qt-free: the project's `ProjectSettings`,
the undo stack, when they are written); the widgets show it and report edits. Every accepted edit is
saved into the project file without asking (no "unsaved changes"): quick edits coalesce into one write
(`ProjectState.save`), and close, Train, Save and opening another project write what is pending.
Heavy work (the project file's import, the registry import, skeletons, counting) goes through
`studio.jobs.Runner`; the first paint happens before any of it starts, and before torch is imported,
and the event loop keeps running while it does (the start-up jobs: studio/startup.py).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.methods import catalog
from studio import jobs, startup
from studio.messages import person
from studio.project_state import ProjectState
from studio.widgets.cost_panel import CostPanel
from studio.widgets.data_panel import DataPanel
from studio.widgets.dataclass_form import DataclassForm
from studio.widgets.method_form import MethodForm, label
from studio.widgets.module_tree import ModuleTree
from studio.widgets.wrap import ElidedLabel

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def default_settings_dict() -> dict[str, Any]:
    """The first project: the embedded model with the defaults ``adapter-studio new`` uses (for LoRA,
    r=16 on all linear layers: what tests/core/test_learning.py shows teaching) and the sample dataset.
    One function in core (`core.defaults.new_project_settings`) answers for both."""
    from core.defaults import new_project_settings, sample_dataset

    return new_project_settings(dataset=sample_dataset())


def default_project_path() -> Path:
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    return folder / "My first project.adapterstudio"


class TargetsCommand:
    """One change of target_modules / layers_to_transform (a `studio.project_state.Command`)."""

    merge_key = None  # every click on the tree is its own undo step

    def __init__(self, window: "MainWindow", old: tuple, new: tuple) -> None:
        self.text = f"targets: {new[0]}"
        self.window, self.old, self.new = window, old, new

    def merge(self, newer: "TargetsCommand") -> None:  # never called: merge_key is None
        self.new = newer.new

    def redo(self) -> None:
        self.window.apply_targets(*self.new)

    def undo(self) -> None:
        self.window.apply_targets(*self.old)


class SettingsCommand:
    """One change of the method, training or data settings (a `studio.project_state.Command`). Pushed
    after the change is already shown, so the first redo does nothing; consecutive edits of the same
    fields of the same section merge (typing 1, 2, 8 into r is one undo step)."""

    def __init__(self, window: "MainWindow", section: str, old: dict, new: dict, keys: set[str]) -> None:
        self.text = f"{section}: {', '.join(sorted(keys))}"
        self.merge_key = (section, frozenset(keys))
        self.window, self.section, self.old, self.new, self.keys = window, section, old, new, keys
        self.first = True

    def merge(self, newer: "SettingsCommand") -> None:
        self.new = newer.new

    def redo(self) -> None:
        if self.first:
            self.first = False
            return
        self.window.apply_section(self.section, self.new)

    def undo(self) -> None:
        self.window.apply_section(self.section, self.old)


def _of_state(name: str, doc: str) -> property:
    """A window attribute that is the state's (`studio.project_state.ProjectState`): read and set there."""
    return property(lambda self: getattr(self.state, name), lambda self, value: setattr(self.state, name, value), doc=doc)


class MainWindow(QMainWindow):
    """The studio's window over one project file."""

    model_ready = Signal()
    methods_ready = Signal()
    cost_ready = Signal()
    preview_ready = Signal()
    first_paint = Signal()

    def __init__(self, project_path: str | Path | None = None, *, qsettings: QSettings | None = None) -> None:
        super().__init__()
        self.qsettings = qsettings or QSettings()
        self.runner = jobs.Runner(self)
        self.state = ProjectState()  # the project, its settings, undo, the pending write (no Qt)
        self._save_timer = QTimer(self, singleShot=True)  # coalesced edits are written when it fires
        self._save_timer.timeout.connect(self.state.due)
        self.state.on_pending = lambda delay_s: self._save_timer.start(max(1, int(delay_s * 1000)))
        self.registry: dict[str, Any] = {}
        self.model_info = None
        self.targets: Any = None
        self.layers: Any = None
        self._painted = False
        self._closed = False
        self.persist_geometry = True
        self.started = time.perf_counter()
        self._cost_running = False
        self._cost_dirty = False
        self._pending_path = Path(project_path) if project_path else None
        self.read_only = False  # the open project is read-only here (see _set_editable)
        self.lock = None  # studio.project_lock.ProjectLock of the open project, when this window writes it
        self._lock_timer = QTimer(self, interval=60_000)  # other hosts see the holder alive (project_lock)
        self._lock_timer.timeout.connect(lambda: self.lock is not None and self.lock.touch())

        self.undo = self.state.undo
        self._undoable = False  # set once a project's settings are on screen; off while undo applies
        self.setWindowTitle("Adapter Studio")

        # top bar: the model choice
        self.model_box = QComboBox()
        self.model_box.setEditable(True)
        self.model_box.setMinimumWidth(260)
        from core.models import BUILTINS

        for name, text in BUILTINS.items():
            self.model_box.addItem(name)
            self.model_box.setItemData(self.model_box.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.model_box.setToolTip(self.tr("A built-in name, a model folder, a .gguf file or a cached hub id"))
        bar = QHBoxLayout()
        bar.addWidget(QLabel(self.tr("Model:")))
        bar.addWidget(self.model_box)
        self.browse_folder = QPushButton(self.tr("Folder…"))
        self.browse_folder.setToolTip(self.tr("Open a Hugging Face model folder (config.json + *.safetensors)"))
        self.browse_gguf = QPushButton(self.tr(".gguf…"))
        self.browse_gguf.setToolTip(self.tr("Open a .gguf model file"))
        bar.addWidget(self.browse_folder)
        bar.addWidget(self.browse_gguf)
        self.browse_hub = QPushButton(self.tr("Hub…"))
        self.browse_hub.setToolTip(self.tr("Find a model on the Hugging Face Hub or in the gallery: look at it, then download it"))
        bar.addWidget(self.browse_hub)
        self.project_label = ElidedLabel()  # a long path elides in the middle instead of widening the window
        bar.addStretch(1)
        bar.addWidget(self.project_label)
        self.top_bar = bar  # part 2 adds Train / Stop here

        self.tree = ModuleTree()
        self.method_form = MethodForm()
        self.training_form = DataclassForm()
        self.data_panel = DataPanel(runner=self.runner)
        self.data_form = self.data_panel.form
        self.tabs = QTabWidget()
        self.tabs.addTab(self.method_form, self.tr("Method"))
        self.tabs.addTab(_scroll(self.training_form), self.tr("Training"))
        self.tabs.addTab(self.data_panel, self.tr("Data"))
        self.cost = CostPanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.cost)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([560, 380, 300])

        central = QWidget()
        box = QVBoxLayout(central)
        self.readonly_banner = _ReadOnlyBanner(self)  # one project, one writer (studio/project_lock.py)
        box.addWidget(self.readonly_banner)
        box.addLayout(bar)
        box.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self._menus()
        from studio.training import TrainingController

        self.training = TrainingController(self)  # part 2: runs dock, Train / Stop, re-attach
        self._help_menu()  # after the Run menu: File Edit View Run Help
        self.statusBar().showMessage(self.tr("Starting…"))

        self.tree.targets_edited.connect(self.edit_targets)
        self.method_form.config_changed.connect(self._on_config)
        self.method_form.method_changed.connect(self._on_method)
        self.method_form.form.error_changed.connect(self._on_form_error)
        self.training_form.values_changed.connect(self._on_training)
        self.data_form.values_changed.connect(self._on_data)
        self.data_panel.preview_requested.connect(self.preview_data)
        self.cost.memory_inputs_changed.connect(self.request_cost)
        self.model_box.activated.connect(self._on_model_box)
        self.browse_folder.clicked.connect(self._browse_folder)
        self.browse_gguf.clicked.connect(self._browse_gguf)
        self.browse_hub.clicked.connect(self.open_hub)
        self.model_box.lineEdit().returnPressed.connect(self._on_model_box)
        self.runner.busy_changed.connect(self.cost.set_busy)
        self._cost_timer = QTimer(self, singleShot=True, interval=60)
        self._cost_timer.timeout.connect(self._start_cost)
        self._restore_geometry()

    # ---- menus -----------------------------------------------------------------------------------

    def _menus(self) -> None:
        file = self.menuBar().addMenu(self.tr("&File"))
        self.act_new = file.addAction(self.tr("&New…"), QKeySequence.StandardKey.New, self.new_project)
        self.act_open = file.addAction(self.tr("&Open…"), QKeySequence.StandardKey.Open, self.open_dialog)
        self.act_save = file.addAction(self.tr("&Save"), QKeySequence.StandardKey.Save, self._save_now)
        self.act_save_as = file.addAction(self.tr("Save &As…"), QKeySequence.StandardKey.SaveAs, lambda: self.save_as())
        self.recent_menu = file.addMenu(self.tr("Recent projects"))
        file.addSeparator()
        file.addAction(self.tr("&Quit"), QKeySequence.StandardKey.Quit, self.close)
        edit = self.menuBar().addMenu(self.tr("&Edit"))
        self.act_undo = QAction(self.tr("&Undo"), self)
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_undo.triggered.connect(self.undo.undo)
        self.act_redo = QAction(self.tr("&Redo"), self)
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence.StandardKey.Redo])
        self.act_redo.triggered.connect(self.undo.redo)
        self.undo.observers.append(self._undo_changed)
        self._undo_changed()
        edit.addAction(self.act_undo)
        edit.addAction(self.act_redo)
        view = self.menuBar().addMenu(self.tr("&View"))
        focus = QAction(self.tr("Focus the tree filter"), self)
        focus.setShortcut(QKeySequence("F"))
        focus.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        focus.triggered.connect(lambda: self.tree.filter.setFocus())
        view.addAction(focus)
        language = view.addMenu(self.tr("Language"))
        current = self.qsettings.value("language", "") or ""
        for code, name in (("", self.tr("System")), ("en", "English"), ("zh_CN", "简体中文")):
            act = language.addAction(name, lambda c=code: self._set_language(c))
            act.setCheckable(True)
            act.setChecked(code == current)
        self._fill_recent()

    def _undo_changed(self) -> None:
        """Edit ▸ Undo / Redo name the step they take, and are greyed when there is none."""
        for action, label, can, text in ((self.act_undo, self.tr("&Undo"), self.undo.can_undo(), self.undo.undo_text()),
                                         (self.act_redo, self.tr("&Redo"), self.undo.can_redo(), self.undo.redo_text())):
            action.setEnabled(can)
            action.setText(f"{label} {text}" if can else label)

    # ---- the state the window shows (studio.project_state) ----------------------------------------

    project = _of_state("project", "The open `core.store.Project` (None before the first one opens).")
    settings = _of_state("settings", "The open project's `core.store.ProjectSettings`, as edited.")

    def _help_menu(self) -> None:
        from studio import help as docs

        menu = self.menuBar().addMenu(self.tr("&Help"))
        self.act_help = menu.addAction(self.tr("&Documentation"), lambda: docs.open_help(self))
        self.act_help.setShortcut(QKeySequence.StandardKey.HelpContents)  # F1: the focused area's section
        self.act_help.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addAction(self.act_help)
        self.act_about = menu.addAction(self.tr("&About Adapter Studio"), self.show_about)

    def show_about(self) -> Any:
        from studio.help import AboutDialog

        self.about = AboutDialog(self)
        self.about.open()  # window-modal, returns at once
        return self.about

    def _set_language(self, code: str) -> None:
        self.qsettings.setValue("language", code)
        self.statusBar().showMessage(self.tr("The language changes the next time Adapter Studio starts."), 8000)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent():
            self.recent_menu.addAction(path, lambda p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(self.recent()))

    def recent(self) -> list[str]:
        value = self.qsettings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if Path(v).exists()]

    def _remember(self, path: Path) -> None:
        items = [str(path)] + [p for p in self.recent() if p != str(path)]
        self.qsettings.setValue("recent", items[:10])
        self._fill_recent()

    # ---- geometry --------------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry = self.qsettings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 780)
        state = self.qsettings.value("splitter")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.splitter.restoreState(state)
        docks = self.qsettings.value("window_state")  # the runs dock's height (and whether it floats)
        if not (isinstance(docks, QByteArray) and not docks.isEmpty() and self.restoreState(docks)):
            # First launch: the tree and the forms above get the larger share; the runs below ~40 %.
            self.resizeDocks([self.training.dock], [int(self.height() * 0.4)], Qt.Orientation.Vertical)

    def save_geometry(self) -> None:
        if not self.persist_geometry:
            return
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("splitter", self.splitter.saveState())
        self.qsettings.setValue("window_state", self.saveState())
        self.qsettings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self.training.can_close():  # a live run: stop it, or keep it running in the background
            event.ignore()
            return
        self.save_geometry()
        self._closed = True
        self.runner.wait(30000)
        self._save_timer.stop()
        if self.project is not None:
            self.state.flush()  # an edit of the last moments is written, not lost
            self.project.close()
            self.project = None
        self._release_lock()
        super().closeEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_paint_s = time.perf_counter() - self.started
            self.first_paint.emit()
            # Start the work only after the window is on screen.
            QTimer.singleShot(0, self._start)

    def _start(self) -> None:
        path = self._pending_path or default_project_path()
        self._pending_path = None
        # core.store imports sqlite_utils, which imports pandas and numpy: ~0.7 s that froze the
        # window just after it appeared. The import runs on the pool thread (first, before the method
        # registry's torch import), and the project opens on the GUI thread once it is in.
        self.runner.submit(startup.import_store, on_done=lambda _: self._open_first(path), on_error=lambda _: self._open_first(path))

    def _open_first(self, path: Path) -> None:
        if self._closed:  # closed before the import finished: create nothing
            return
        self.open_project(path, create=True)
        # The method registry imports torch: started once the project is open, so the GUI thread's
        # work of opening it does not share the GIL (and the dynamic loader) with torch's import.
        self.runner.submit(startup.load_methods, on_done=self._on_methods, on_error=self._on_methods_error)

    # ---- project ---------------------------------------------------------------------------------

    def open_project(self, path: str | Path, *, create: bool = False) -> bool:
        """Open (or with ``create``, create with the default settings) a project file."""
        from core.store import Project, ProjectFileError, ProjectSettings

        from studio.project_lock import ProjectLock

        self.state.flush()  # the open project's pending edits, before it closes
        path = Path(path).absolute()
        same = self.project is not None and self.project.path == path
        lock = self.lock if same and self.lock is not None else ProjectLock(path, owner=self)
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
            QMessageBox.warning(self, self.tr("Cannot open project"), person(str(exc), "project"))
            return False
        if self.project is not None:
            self.project.close()
        if lock is not self.lock:
            self._release_lock()
            self.lock = lock if lock.held else None
        if self.lock is not None:
            self._lock_timer.start()
        else:
            self._lock_timer.stop()
        self.project = project
        if project.readonly and not lock.held and project.readonly_reason == "opened read-only":
            project.readonly_reason = self.readonly_banner.lock_reason(lock)  # said by the label and Ctrl+S too
        self.readonly_banner.show_for(project, lock)
        self._set_editable(not project.readonly)
        self.settings = project.settings()
        self._undoable = False
        self.undo.clear()
        self._remember(project.path)
        self.setWindowTitle(f"{self.settings.name or project.path.stem} — Adapter Studio")
        ro = f" (read-only: {project.readonly_reason})" if project.readonly else ""
        self.project_label.setText(str(project.path) + ro)
        if ro:
            self.statusBar().showMessage(self.tr("Read-only: {0}").format(project.readonly_reason))
        cfg = self.settings.method_config
        self.targets = cfg.get("target_modules")
        self.layers = cfg.get("layers_to_transform")
        if isinstance(self.layers, int):
            self.layers = [self.layers]
        self.model_box.setCurrentText(self.settings.model)
        self._show_settings()
        self._undoable = bool(self.registry)
        self.load_model(self.settings.model)
        self.training.project_opened()
        return True

    def _release_lock(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        self._lock_timer.stop()

    def _set_editable(self, editable: bool) -> None:
        """A read-only project (another window writes it, or a newer format): nothing can be edited here."""
        self.read_only = not editable
        for widget in (self.model_box, self.browse_folder, self.browse_gguf, self.method_form, self.training_form,
                       self.data_panel, self.tree.targets_edit, self.tree.layers_all, self.tree.layer_from,
                       self.tree.layer_to):
            widget.setEnabled(editable)
        self.training.train_button.setEnabled(editable and not (self.training.client and self.training.client.running))
        self.training.act_train.setEnabled(self.training.train_button.isEnabled())

    def retry_lock(self) -> bool:
        """The banner's "Try again": reopen the project writable when nobody else holds it now."""
        if self.project is None:
            return False
        self.open_project(self.project.path)
        return not self.project.readonly

    def _show_settings(self) -> None:
        if self.registry and self.settings is not None:
            self.method_form.set_config(self.settings.method_config)
            self._on_method(self.method_form.method, save=False)
            if self.registry.get("training") is not None:
                self.training_form.set_class(self.registry["training"], self.settings.training)
                # Saved with every field (defaults filled), so later edits record only what changed.
                self.settings.training = self.training_form.validate() or self.settings.training
            self.data_panel.set_values(self.registry["data"], self.settings.data)
            self.settings.data = self.data_form.validate() or self.settings.data
            self.save()
            t = self.settings.training
            self.cost.set_memory_inputs(t.get("batch_size") or 8, (self.settings.data or {}).get("max_length") or 512)
        self.tree.set_targets(self.targets, self.layers)

    def save(self) -> None:
        """Every accepted edit calls this: the settings are written into the project file now, or with
        the edits that follow within `studio.project_state.SAVE_DELAY_S` (`ProjectState.save`)."""
        self.state.save()

    def flush(self) -> None:
        """Write pending edits now (Train, Export and the launch dialog read the project file)."""
        self._save_timer.stop()
        self.state.flush()

    def _save_now(self) -> None:
        # The project saves itself on every edit; Ctrl+S only says so (and writes once more, at once).
        if self.project is not None and self.project.readonly:
            self.statusBar().showMessage(self.tr("Read-only: {0}").format(self.project.readonly_reason), 8000)
            return
        self.state.dirty = self.state.writable
        self.flush()
        self.statusBar().showMessage(self.tr("Saved — the project saves itself as you edit."), 5000)

    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.tr("New project"), str(Path.home()), "Adapter Studio (*.adapterstudio)")
        if path:
            if not path.endswith(".adapterstudio"):
                path += ".adapterstudio"
            self.open_project(path, create=True)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Open project"), str(Path.home()), "Adapter Studio (*.adapterstudio)")
        if path:
            self.open_project(path)

    def save_as(self, path: str | None = None) -> bool:
        """Copy the project's settings into a new project file and continue there (runs stay behind)."""
        from core.store import Project

        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, self.tr("Save project as"), str(Path.home()), "Adapter Studio (*.adapterstudio)")
            if not path:
                return False
        self.flush()
        settings = copy.deepcopy(self.settings)
        settings.name = ""
        Project.create(path, settings).close()
        return self.open_project(path)

    # ---- model -----------------------------------------------------------------------------------

    def _on_model_box(self, *_: Any) -> None:
        ref = self.model_box.currentText().strip()
        if ref and self.settings is not None and ref != self.settings.model:
            self.settings.model = ref
            self.save()
            self.load_model(ref)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.tr("Model folder"))
        if path:
            self.choose_model(path)

    def _browse_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Model file"), "", "GGUF (*.gguf)")
        if path:
            self.choose_model(path)

    def open_hub(self) -> Any:
        """The Hub dialog (studio/widgets/hub_dialog.py); "Use this model" switches the project to the id."""
        from studio.widgets.hub_dialog import HubDialog

        dialog = HubDialog(self, cost_inputs=self._hub_cost_inputs)
        dialog.model_chosen.connect(self.choose_model)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _hub_cost_inputs(self) -> tuple | None:
        """(method module, method config, memory inputs) of the current settings, for the Hub dialog's estimate."""
        config = self.method_form.current_config() if self.registry else None
        if config is None or self.settings is None:
            return None
        training = self.settings.training or {}
        memory = {**self.cost.memory_inputs(), "gradient_checkpointing": bool(training.get("gradient_checkpointing")),
                  "device": training.get("device") or "auto", **_quantized_base(training)}
        return self.registry["methods"][config["peft_type"]], config, memory

    def choose_model(self, ref: str) -> None:
        """Switch the project to another model (saved) and load its tree."""
        self.model_box.setCurrentText(ref)
        self._on_model_box()

    def load_model(self, ref: str) -> None:
        self.tree.set_loading(True, self.tr("Building the skeleton of {0}…").format(ref))
        self.statusBar().showMessage(self.tr("Loading {0}…").format(ref))
        self.model_info = None

        def done(info: Any) -> None:
            if self.settings is None or info.ref != self.settings.model:
                return  # a newer choice is on its way
            self.model_info = info
            self.tree.set_loading(False)
            self.tree.set_model(info)
            self.tree.set_targets(self.targets, self.layers)
            if self.method_form.method:
                self._on_method(self.method_form.method)
            self.statusBar().showMessage(self.tr("{0}: {1:,} parameters").format(ref, info.node.total_params), 5000)
            self.model_ready.emit()
            self.request_cost()

        def failed(message: str) -> None:
            self.tree.set_error(message)
            self.statusBar().showMessage(person(message, "model"))
            self.model_ready.emit()

        self.runner.submit(startup.load_tree, ref, on_done=done, on_error=failed)

    # ---- methods and targets ---------------------------------------------------------------------

    def _on_methods(self, registry: dict[str, Any]) -> None:
        from core.args import TrainingArguments  # torch-free: the forms' classes are read here, on the GUI thread
        from core.data import DataConfig

        self.registry = {**registry, "training": TrainingArguments, "data": DataConfig}
        self.method_form.set_registry(registry["methods"])
        self._show_settings()
        self._undoable = True
        self.methods_ready.emit()
        self.request_cost()

    def _on_methods_error(self, message: str) -> None:
        self.method_form.about.setText(self.tr("The methods could not be loaded: {0}").format(message))
        self.methods_ready.emit()

    def _on_method(self, method: str, save: bool = True) -> None:
        reason = None if self.method_form.uses_targets(method) else catalog.no_targets_reason(method)
        self.tree.set_method(method, label(method), no_targets_reason=reason, has_layers=self.method_form.uses_layers(method))
        if reason is None:
            self.method_form.set_targets(self.targets, self.layers)
        self._update_highlight()

    def _update_highlight(self) -> None:
        """Adaption prompt: tint the attention modules of the top ``adapter_layers`` blocks."""
        info = self.model_info
        method = self.method_form.method
        if info is None or method != "ADAPTION_PROMPT" or self.settings is None:
            self.tree.set_highlight(set())
            return
        from studio.targets import layer_index

        count = self.settings.method_config.get("adapter_layers") or 0
        if self.settings.method_config.get("peft_type") != method:
            count = self.method_form.suggested(method).get("adapter_layers", 0)
        attn = [n for n in info.names if info.support.get(n, {}).get(method) is None]
        indices = sorted({i for n in attn if (i := layer_index(n, None)) is not None})
        top = set(indices[-count:]) if count else set()
        lit = {n for n in attn if layer_index(n, None) in top}
        self.tree.set_highlight(lit, self.tr("adaption prompt adapts this attention module"))

    def edit_targets(self, targets: Any, layers: Any) -> None:
        """A target change from the tree or its text field: undoable."""
        old = (self.targets, self.layers)
        if self.project is not None and self.project.readonly:  # a click on a check box: put it back
            self.tree.set_targets(*old)
            self.statusBar().showMessage(self.tr("Read-only: {0}").format(self.project.readonly_reason), 8000)
            return
        if (targets, layers) != old:
            self.undo.push(TargetsCommand(self, old, (targets, layers)))

    def apply_targets(self, targets: Any, layers: Any) -> None:
        self.targets, self.layers = targets, layers
        self.tree.set_targets(targets, layers)
        if self.registry and self.method_form.method and self.method_form.uses_targets():
            self.method_form.set_targets(targets, layers)
        elif self.settings is not None:
            self.settings.method_config["target_modules"] = targets
            self.settings.method_config["layers_to_transform"] = layers
            self.save()

    def _record(self, section: str, old: dict, new: dict) -> None:
        keys = {k for k in set(old) | set(new) if old.get(k) != new.get(k)} - {"target_modules", "layers_to_transform", "layers_pattern"}
        if self._undoable and keys:
            self.undo.push(SettingsCommand(self, section, copy.deepcopy(old), copy.deepcopy(new), keys))

    def apply_section(self, section: str, values: dict[str, Any]) -> None:
        """Show and save ``values`` for "method", "training" or "data" (undo / redo)."""
        if self.settings is None:
            return
        self._undoable = False
        try:
            values = copy.deepcopy(values)
            if section == "method":
                if self.method_form.uses_targets(values.get("peft_type")):
                    values["target_modules"], values["layers_to_transform"] = self.targets, self.layers
                self.settings.method_config = values
                self.method_form.set_config(values)
                self._on_method(self.method_form.method)
            elif section == "training":
                self.settings.training = values
                self.training_form.set_class(self.training_form.cls, values)
            else:
                self.settings.data = values
                self.data_panel.set_values(self.data_form.cls, values)
            self.save()
            self.request_cost()
        finally:
            self._undoable = True

    def _on_config(self, config: dict[str, Any]) -> None:
        if self.settings is None:
            return
        self._record("method", self.settings.method_config, config)
        self.settings.method_config = config
        self.save()
        if config.get("peft_type") == "ADAPTION_PROMPT":
            self._update_highlight()
        self.request_cost()

    def _on_form_error(self, message: str) -> None:
        if message:
            self.cost.set_error(message)

    def _on_training(self, values: dict[str, Any]) -> None:
        if self.settings is not None:
            self._record("training", self.settings.training, values)
            self.settings.training = values
            self.method_form.overrides["ADALORA"] = {"total_step": values.get("max_steps") or 60}
            self.save()
            self.cost.set_memory_inputs(batch_size=values.get("batch_size"))
            self.request_cost()

    def _on_data(self, values: dict[str, Any]) -> None:
        if self.settings is not None:
            self._record("data", self.settings.data, values)
            self.settings.data = values
            self.save()
            self.cost.set_memory_inputs(seq_len=values.get("max_length"))
            self.request_cost()

    def preview_data(self) -> None:
        """Preview the dataset on a worker thread; errors appear in the data tab."""
        if self.settings is None:
            return
        data = self.data_form.validate()
        if data is None:
            self.data_panel.show_error(self.data_form.error)
            self.preview_ready.emit()
            return
        self.data_panel.set_busy(True)

        def done(result: dict[str, Any]) -> None:
            self.data_panel.set_busy(False)
            self.data_panel.show_preview(result)
            self.preview_ready.emit()

        def failed(message: str) -> None:
            self.data_panel.set_busy(False)
            self.data_panel.show_error(message)
            self.preview_ready.emit()

        self.runner.submit(jobs.preview_data, self.settings.model, data, on_done=done, on_error=failed)

    # ---- cost ------------------------------------------------------------------------------------

    def request_cost(self) -> None:
        self._cost_timer.start()

    def _start_cost(self) -> None:
        if self.model_info is None or not self.registry or self.settings is None:
            return
        if self._cost_running:
            self._cost_dirty = True
            return
        built = self.method_form.built()  # the config the form's validation built: not built again
        if built is None:
            self.cost.set_error(self.method_form.form.error)
            return
        method = self.registry["methods"][built.to_dict()["peft_type"]]
        self._cost_running, self._cost_dirty = True, False

        def finish() -> None:
            self._cost_running = False
            if self._cost_dirty:
                self._start_cost()
            else:
                self.cost_ready.emit()

        def done(result: dict[str, Any]) -> None:
            self.cost.set_result(result)
            finish()

        def failed(message: str) -> None:
            self.cost.set_error(message)
            finish()

        training = (self.settings.training if self.settings is not None else None) or {}
        memory = {**self.cost.memory_inputs(), "gradient_checkpointing": bool(training.get("gradient_checkpointing")),
                  "device": training.get("device") or "auto", **_quantized_base(training)}  # the Training tab's choices change the estimate too
        # A copy for the pool thread: get_peft_model may fill in the config it is given.
        self.runner.submit(jobs.count_cost, self.model_info.ref, method, copy.deepcopy(built), memory, on_done=done, on_error=failed)


class _ReadOnlyBanner(QWidget):
    """The bar over a read-only project: who holds it, "Show that window" (same process), "Try again"."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__()
        self.window = window
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
        self.retry.clicked.connect(window.retry_lock)
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


def _scroll(widget: QWidget) -> QWidget:
    from PySide6.QtWidgets import QScrollArea

    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


def _quantized_base(training: dict) -> dict:
    """The Training tab's base precision as `core.estimate.cost` keywords: an 8-bit / 4-bit base is counted
    as bitsandbytes holds it (a float base_precision leaves the cost panel's dtype in charge)."""
    precision = training.get("base_precision") or "float32"
    if precision not in ("8bit", "4bit"):
        return {}
    return {"base_precision": precision, "double_quant": bool(training.get("double_quant", True))}
