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
from PySide6.QtWidgets import QMainWindow, QSplitter, QTabWidget, QVBoxLayout, QWidget

from core.methods import catalog
from studio import jobs, startup
from studio.commands import SettingsCommand, TargetsCommand
from studio.cost_estimate import CostEstimate
from studio.menus import Menus
from studio.messages import person
from studio.model_bar import ModelBar
from studio.project_files import ProjectFiles, ReadOnlyBanner
from studio.project_state import ProjectState
from studio.widgets.cost_panel import CostPanel
from studio.widgets.data_panel import DataPanel
from studio.widgets.dataclass_form import DataclassForm
from studio.widgets.method_form import MethodForm, label
from studio.widgets.module_tree import ModuleTree

def default_settings_dict() -> dict[str, Any]:
    """The first project: the embedded model with the defaults ``adapter-studio new`` uses (for LoRA,
    r=16 on all linear layers: what tests/core/test_learning.py shows teaching) and the sample dataset.
    One function in core (`core.defaults.new_project_settings`) answers for both."""
    from core.defaults import new_project_settings, sample_dataset

    return new_project_settings(dataset=sample_dataset())


def default_project_path() -> Path:
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    return folder / "My first project.adapterstudio"


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
        self._pending_path = Path(project_path) if project_path else None
        self.read_only = False  # the open project is read-only here (see _set_editable)
        self.files = ProjectFiles(self)  # open, create, Save As, recent projects, the project's lock
        self.estimate = CostEstimate(self)  # the cost panel's counts, coalesced, on the pool thread

        self.undo = self.state.undo
        self._undoable = False  # set once a project's settings are on screen; off while undo applies
        self._click_edit = False  # an experts row ticked: the method edit is its own undo step
        self.setWindowTitle("Adapter Studio")

        self.model_bar = ModelBar(self)  # the model choice and the project's path; part 2 adds Train / Stop
        self.top_bar = self.model_bar.layout
        self.model_box, self.project_label = self.model_bar.model_box, self.model_bar.project_label
        self.browse_folder, self.browse_gguf = self.model_bar.browse_folder, self.model_bar.browse_gguf
        self.browse_hub = self.model_bar.browse_hub

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
        self.readonly_banner = ReadOnlyBanner(self.files)  # one project, one writer (studio/project_lock.py)
        box.addWidget(self.readonly_banner)
        box.addLayout(self.top_bar)
        box.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.menus = Menus(self)  # File Edit View
        from studio.training import TrainingController

        self.training = TrainingController(self)  # part 2: runs dock, Train / Stop, re-attach; the Run menu
        self.menus.add_help()  # after the Run menu: File Edit View Run Help
        self.act_new, self.act_open, self.act_save = self.menus.act_new, self.menus.act_open, self.menus.act_save
        self.act_undo, self.act_redo, self.act_help = self.menus.act_undo, self.menus.act_redo, self.menus.act_help
        self.statusBar().showMessage(self.tr("Starting…"))

        self.tree.targets_edited.connect(self.edit_targets)
        self.tree.parameters_edited.connect(self.edit_parameters)
        self.method_form.config_changed.connect(self._on_config)
        self.method_form.method_changed.connect(self._on_method)
        self.method_form.data_kind_changed.connect(self.data_panel.set_teaches)
        self.method_form.form.error_changed.connect(self._on_form_error)
        self.training_form.values_changed.connect(self._on_training)
        self.data_form.values_changed.connect(self._on_data)
        self.data_panel.preview_requested.connect(self.preview_data)
        self.cost.memory_inputs_changed.connect(self.request_cost)
        self.runner.busy_changed.connect(self.cost.set_busy)
        self._restore_geometry()

    # ---- the state the window shows (studio.project_state) ----------------------------------------

    project = _of_state("project", "The open `core.store.Project` (None before the first one opens).")
    settings = _of_state("settings", "The open project's `core.store.ProjectSettings`, as edited.")

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
        self.files.release_lock()
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
        """Open (or with ``create``, create with the default settings) a project file (`ProjectFiles.open`)."""
        return self.files.open(path, create=create)

    def show_project(self, project: Any) -> None:
        """Show a project `ProjectFiles.open` has just opened: its settings, its model's tree, its runs."""
        self.project = project
        self._set_editable(not project.readonly)
        self.settings = project.settings()
        self._undoable = False
        self.undo.clear()
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
        """The read-only banner's "Try again" (`ProjectFiles.retry_lock`)."""
        return self.files.retry_lock()

    def save_as(self, path: str | None = None) -> bool:
        """Copy the project's settings into a new project file and continue there (`ProjectFiles.save_as`)."""
        return self.files.save_as(path)

    def recent(self) -> list[str]:
        return self.files.recent()

    def show_about(self) -> Any:
        return self.menus.show_about()

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
            self.method_form.set_data_kind(self.settings.data.get("teaches") or "facts")
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

    # ---- model -----------------------------------------------------------------------------------

    def choose_model(self, ref: str) -> None:
        """Switch the project to another model (saved) and load its tree (`ModelBar.choose`)."""
        self.model_bar.choose(ref)

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
            self._fit_suggestions(info)
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
        self.tree.set_method(method, label(method), no_targets_reason=reason, has_layers=self.method_form.uses_layers(method),
                             has_parameters=self.method_form.has_parameters(method))
        if self.settings is not None:
            self.tree.set_parameters(self.settings.method_config.get("target_parameters"))
        if reason is None:
            self.method_form.set_targets(self.targets, self.layers)
        self._update_highlight()

    def _fit_suggestions(self, info: Any) -> None:
        """First values that depend on the model: adaption prompt's ``adapter_layers`` default (every block, up
        to 30) capped at the blocks this model has, as `core.defaults.model_method_defaults` does for `new`."""
        from studio.targets import layer_index

        method = "ADAPTION_PROMPT"
        attn = [n for n in info.names if info.support.get(n, {}).get(method) is None]
        blocks = len({i for n in attn if (i := layer_index(n, None)) is not None})
        default = (catalog.get(method).suggested if catalog.get(method) else {}).get("adapter_layers")
        if blocks and default:
            self.method_form.overrides[method] = {"adapter_layers": min(default, blocks)}
        else:
            self.method_form.overrides.pop(method, None)

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

    def edit_parameters(self, parameters: Any) -> None:
        """An experts row ticked in the tree: ``target_parameters`` through the method form, so the edit is
        validated, saved and undone like one typed into the field (`_on_config` records it)."""
        if self.project is not None and self.project.readonly:  # a click on a check box: put it back
            self.tree.set_parameters(self.settings.method_config.get("target_parameters") if self.settings else None)
            self.statusBar().showMessage(self.tr("Read-only: {0}").format(self.project.readonly_reason), 8000)
            return
        self._click_edit = True  # like a tick of a module: its own undo step, never merged with the next
        try:
            self.method_form.set_parameters(parameters)
        finally:
            self._click_edit = False

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
            command = SettingsCommand(self, section, copy.deepcopy(old), copy.deepcopy(new), keys)
            if self._click_edit:
                command.merge_key = None
            self.undo.push(command)

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
                self.method_form.set_data_kind(values.get("teaches") or "facts")
            self.save()
            self.request_cost()
        finally:
            self._undoable = True

    def _on_config(self, config: dict[str, Any]) -> None:
        if self.settings is None:
            return
        self._record("method", self.settings.method_config, config)
        self.settings.method_config = config
        self.tree.set_parameters(config.get("target_parameters"))
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

    def request_cost(self) -> None:
        """Count the cost of the settings on screen soon (`CostEstimate.request`)."""
        self.estimate.request()


def _scroll(widget: QWidget) -> QWidget:
    from PySide6.QtWidgets import QScrollArea

    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area

