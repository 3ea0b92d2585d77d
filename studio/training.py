"""Training from the window: Train / Stop / Resume, the runs dock, re-attaching on open, closing mid-run.

`TrainingController` is owned by `studio.main_window.MainWindow` and keeps all of part 2's wiring out
of it: it builds the bottom dock (runs list | run view, playground tab), the Run menu and the
Train / Stop buttons, starts workers through `studio.worker_client.WorkerClient` (the same run
creation as ``adapter-studio train``: `core.cli.prepare_run`), and follows a run that is already
training when a project opens (curves from the project file, then live by polling it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QMessageBox, QPushButton, QSplitter, QTabWidget

from studio.widgets.run_view import RunView
from studio.widgets.runs_list import RunsList
from studio.worker_client import KILL_GRACE_S, STOP_GRACE_S, WorkerClient


class TrainingController(QObject):
    """Part 2 of the window: runs, live training, stop, resume, re-attach."""

    run_started = Signal(int)
    run_ended = Signal(int, str)
    attached = Signal(int)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.client: WorkerClient | None = None
        self.worker_program: Callable[[str, int], list[str]] | None = None
        """Tests: (project path, run id) -> argv of a fake worker. None: the real `core.worker`."""
        self.confirm: Callable[[str, str], str] | None = None
        """Tests: (question id, text) -> answer, instead of a message box."""

        self.view = RunView()
        self.runs = RunsList()
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.runs)
        self.split.addWidget(self.view)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 5)
        self.split.setSizes([380, 900])
        self.tabs = QTabWidget()
        self.tabs.addTab(self.split, self.tr("Runs"))
        from studio.widgets.playground import Playground

        self.playground = Playground()
        self.tabs.addTab(self.playground, self.tr("Playground"))
        from studio.widgets.adaptation import AdaptationView

        self.adaptation = AdaptationView()
        self.tabs.addTab(self.adaptation, self.tr("Where it adapted"))
        self.adaptation.show_button.clicked.connect(lambda: self.show_adaptation())
        self.dock = QDockWidget(self.tr("Runs"), window)
        self.dock.setObjectName("runs_dock")
        self.dock.setWidget(self.tabs)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)

        self.train_button = QPushButton(self.tr("▶ Train"))
        self.train_button.setToolTip(self.tr("Start a training run in a worker process (Ctrl+Enter)"))
        self.stop_button = QPushButton(self.tr("■ Stop"))
        self.stop_button.setToolTip(self.tr("Checkpoint and stop the run (Esc)"))
        self.stop_button.setEnabled(False)
        self.train_button.clicked.connect(lambda: self.train())
        self.stop_button.clicked.connect(lambda: self.stop())
        if hasattr(window, "top_bar"):
            window.top_bar.addWidget(self.train_button)
            window.top_bar.addWidget(self.stop_button)

        menu = window.menuBar().addMenu(self.tr("&Run"))
        self.act_train = menu.addAction(self.tr("&Train"), lambda: self.train())
        self.act_train.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.act_stop = menu.addAction(self.tr("&Stop"), lambda: self.stop())
        self.act_stop.setShortcut(QKeySequence("Esc"))
        self.act_stop.setEnabled(False)
        self.act_resume = menu.addAction(self.tr("&Resume selected run"), self._resume_selected)
        menu.addSeparator()
        self.act_export = menu.addAction(self.tr("&Export…"), self.export_dialog)
        self.act_save_plot = menu.addAction(self.tr("Save &plot…"), self.view._save_dialog)
        window.addAction(self.act_train)
        window.addAction(self.act_stop)

        self.view.resume_requested.connect(lambda run_id: self.train(resume=run_id))
        self.runs.selection_changed.connect(self._on_selection)
        self.runs.resume_requested.connect(lambda run_id: self.train(resume=run_id))
        self._refresh_timer = QTimer(self, interval=2000)
        self._refresh_timer.timeout.connect(self.refresh_runs)

    # ---- project ---------------------------------------------------------------------------------

    @property
    def project(self) -> Any:
        return self.window.project

    def project_opened(self) -> None:
        """A project is on screen: list its runs, show the newest, re-attach to a live one."""
        if self.client is not None:
            self.client.detach()
            self.client = None
        project = self.project
        if project is None:
            return
        if not project.readonly:
            project.mark_interrupted()  # dead "running" runs are written as interrupted (Resume offered)
        self.refresh_runs()
        runs = project.runs()
        if not runs:
            self.view.title.setText(self.tr("No run yet — press Train (Ctrl+Enter)."))
            self._set_running(False)
            return
        live = [r for r in runs if r.alive]
        run = live[-1] if live else runs[-1]
        shown = self.show_run(run.id)
        if live:
            self.client = WorkerClient(project.path, run.id, self)
            self._connect(self.client)
            self.client._after_id = shown  # the rows on screen; polling continues after them
            self.client.attach()
            self._set_running(True)
            self.view.append_log(f"re-attached to run {run.id} (process {run.pid})")
            self.attached.emit(run.id)
        else:
            self._set_running(False)

    def reader(self) -> Any:
        """A short-lived connection for figures that must be current (`studio.worker_client.fresh_reader`)."""
        from studio.worker_client import fresh_reader

        return fresh_reader(self.project.path)

    def show_run(self, run_id: int) -> int:
        """Show a run's recorded curves and log; returns the last metric row id shown."""
        with self.reader() as project:
            run = project.run(run_id)
            rows = project.metrics(run_id)
            self.view.show_run(run, rows)
            for row in project.logs(run_id)[-200:]:
                self.view.append_log(row["message"], row["level"])
        self.runs.select(run_id)
        return max((r["id"] for r in rows), default=0)

    def refresh_runs(self) -> None:
        if self.project is not None:
            with self.reader() as project:
                self.runs.set_runs(project)
                items, models = [], {}
                for run in reversed(project.runs()):
                    for row in reversed(project.checkpoints(run.id)):
                        if Path(row["path"]).is_dir():
                            items.append((f"{run.name or f'run {run.id}'} · step {row['step']} · {run.config.method}", str(row["path"])))
                            models[str(row["path"])] = run.config.model
            self.playground.checkpoint_model = models
            self.playground.set_checkpoints(self.project.settings().model, items)
            current = self.adaptation.checkpoint.currentData()
            self.adaptation.checkpoint.clear()
            for label, path in items:
                if label.endswith(("· LORA", "· ADALORA")):
                    self.adaptation.checkpoint.addItem(label, path)
            i = self.adaptation.checkpoint.findData(current)
            self.adaptation.checkpoint.setCurrentIndex(max(i, 0))
            self.adaptation.show_button.setEnabled(self.adaptation.checkpoint.count() > 0)

    # ---- train / stop ----------------------------------------------------------------------------

    def train(self, resume: int | None = None) -> int | None:
        """Start a new run of the current settings (or resume run `resume`); returns its id."""
        from core.cli import CliError, prepare_run

        if self.client is not None and self.client.running:
            self.window.statusBar().showMessage(self.tr("A run is training; stop it first."), 5000)
            return None
        if self.project is None:
            return None
        try:
            run_id = prepare_run(self.project, resume=resume)
        except (CliError, Exception) as exc:  # noqa: BLE001 - shown, never raised into Qt
            QMessageBox.warning(self.window, self.tr("Cannot train"), str(exc)) if self.confirm is None else None
            self.window.statusBar().showMessage(str(exc), 10000)
            return None
        self.refresh_runs()
        self.show_run(run_id)
        self.view.set_status("running", self.tr("starting the worker…"))
        client = self.client = WorkerClient(self.project.path, run_id, self)
        self._connect(client)
        program = self.worker_program(str(self.project.path), run_id) if self.worker_program else None
        client.start(program)
        self._set_running(True)
        self._refresh_timer.start()
        self.run_started.emit(run_id)
        return run_id

    def _connect(self, client: WorkerClient) -> None:
        client.events.connect(self.view.add_events)
        client.malformed.connect(lambda text: self.view.append_log(f"malformed worker line skipped: {text}", "warning"))
        client.stderr_text.connect(self._on_stderr)
        client.ended.connect(lambda status, reason, c=client: self._on_ended(c, status, reason))

    def _on_stderr(self, text: str) -> None:
        for line in text.rstrip().splitlines()[-50:]:
            self.view.append_log(line, "debug")

    def _on_ended(self, client: WorkerClient, status: str, reason: str) -> None:
        kind = None
        if self.project is not None:
            try:
                with self.reader() as project:
                    run = project.run(client.run_id)
                kind = run.error_kind
                if status == "failed" and not reason:
                    reason = run.error or ""
            except KeyError:
                pass
        if client is self.client:
            self._set_running(False)
            self._refresh_timer.stop()
        if self.view.run_id == client.run_id:
            self.view.set_status(status, reason, kind)
        self.refresh_runs()
        self.window.statusBar().showMessage(f"run {client.run_id}: {status}" + (f" — {reason}" if reason else ""), 15000)
        if status == "completed" and self.adaptation.checkpoint.count():
            self.show_adaptation()  # after a LoRA-family run: colour the tree by where it adapted
        self.run_ended.emit(client.run_id, status)

    def show_adaptation(self, checkpoint: str | None = None) -> None:
        """Compute ‖ΔW‖ / AdaLoRA ranks of a checkpoint (worker thread), draw the heat map, colour the tree."""
        from studio.widgets.adaptation import adaptation_map

        checkpoint = checkpoint or self.adaptation.checkpoint.currentData()
        if not checkpoint:
            return

        def done(data: dict) -> None:
            self.adaptation.set_data(data)
            n = self.adaptation.apply_to_tree(self.window.tree)
            self.window.statusBar().showMessage(self.tr("Coloured {0} tree rows by where the adaptation went.").format(n), 8000)

        def failed(message: str) -> None:
            self.adaptation.caption.setText(message)

        self.window.runner.submit(adaptation_map, checkpoint, on_done=done, on_error=failed)

    def stop(self, confirm: bool = True) -> bool:
        """Stop the running run (after a confirmation): cooperative, then SIGTERM, then SIGKILL."""
        if self.client is None or not self.client.running:
            return False
        if confirm and self._ask("stop", self.tr("Stop run {0}? It writes a checkpoint first; Resume continues it.").format(self.client.run_id)) != "yes":
            return False
        self.view.append_log("stop requested: finishing this step and writing a checkpoint")
        self.view.set_status("running", self.tr("stopping…"))
        self.client.stop()
        return True

    def _resume_selected(self) -> None:
        ids = self.runs.selected_ids()
        if ids:
            self.train(resume=ids[-1])

    def _set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.act_train.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.act_stop.setEnabled(running)

    def _ask(self, question: str, text: str) -> str:
        if self.confirm is not None:
            return self.confirm(question, text)
        if question == "close":
            box = QMessageBox(QMessageBox.Icon.Question, self.tr("A run is training"), text, parent=self.window)
            stop = box.addButton(self.tr("Stop the run"), QMessageBox.ButtonRole.DestructiveRole)
            keep = box.addButton(self.tr("Keep it running in the background"), QMessageBox.ButtonRole.AcceptRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            return "stop" if box.clickedButton() is stop else "keep" if box.clickedButton() is keep else "cancel"
        answer = QMessageBox.question(self.window, self.tr("Stop training"), text)
        return "yes" if answer == QMessageBox.StandardButton.Yes else "no"

    def can_close(self) -> bool:
        """Closing the window: a live run is stopped (and waited for) or left running in the background."""
        client = self.client
        if client is None or not client.running:
            return True
        answer = self._ask("close", self.tr(
            "Run {0} is training. Stop it (a checkpoint is written), or keep it running in the background? "
            "Reopening the project shows it again.").format(client.run_id))
        if answer == "cancel":
            return False
        if answer == "stop":
            loop = QEventLoop()
            client.ended.connect(loop.quit)
            client.stop()
            QTimer.singleShot(int((STOP_GRACE_S + KILL_GRACE_S + 3) * 1000), loop.quit)
            if client.running:
                loop.exec()
        else:
            client.detach()
        self.client = None
        return True

    # ---- runs list -------------------------------------------------------------------------------

    def _on_selection(self, ids: list[int]) -> None:
        if not ids or self.project is None:
            return
        current = ids[-1] if self.view.run_id not in ids else self.view.run_id
        if current != self.view.run_id and not (self.client is not None and self.client.running and self.client.run_id == self.view.run_id):
            self.show_run(current)
        with self.reader() as project:
            others = [(i, project.run(i).name or f"run {i}", project.metrics(i)) for i in ids if i != self.view.run_id]
            self.view.set_overlays(others)
            self.runs.show_diff(project, ids)

    # ---- export ----------------------------------------------------------------------------------

    def export_dialog(self) -> None:
        from studio.widgets.export_dialog import ExportDialog

        run_id = (self.runs.selected_ids() or [self.view.run_id])[-1]
        if run_id is None or self.project is None:
            return
        dialog = ExportDialog(self.project, run_id, self.window)
        dialog.exported.connect(lambda *_: self.refresh_runs())
        dialog.show()
        self.export = dialog
