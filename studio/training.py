"""Training from the window: Train / Stop / Resume, the runs dock, re-attaching on open, closing mid-run.

`TrainingController` is owned by `studio.main_window.MainWindow` and keeps all of part 2's wiring out
of it: it builds the bottom dock (runs list | run view, playground tab), the Run menu and the
Train / Stop buttons, starts workers through `studio.worker_client.WorkerClient` (the same run
creation as ``adapter-studio train``: `core.runs.prepare_run`), and follows a run that is already
training when a project opens (curves from the project file, then live by polling it).

Several GPUs: the controller asks ``nvidia-smi`` once per process, off the GUI thread
(`core.launch.detect_gpus`); with two or more, Train opens `studio.widgets.launch_dialog.LaunchDialog`
and Start launches the worker through ``accelerate launch`` with the config shown there, written
into the run's folder and logged with the run. With one or none, Train starts the worker directly.

Pause / Continue (Ctrl+P): `WorkerClient.pause` / `continue_`; the button follows the worker's
`Paused` / `Continued` answers, and the run view and the runs list show the run as paused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QMessageBox, QPushButton, QSplitter, QTabWidget, QWidget

from core import protocol
from core.methods import catalog
from core.launch import CONFIG_NAME, SCRIPT_NAME, Gpu, LaunchSpec
from studio.messages import person
from studio.widgets.run_view import RunView, run_paused, status_label
from studio.widgets.runs_list import RunsList
from studio.worker_client import KILL_GRACE_S, STOP_GRACE_S, WorkerClient

_GPUS: list[Gpu] | None = None
"""The GPUs `core.launch.detect_gpus` found, asked once per process (nvidia-smi takes up to seconds)."""


class TrainingController(QObject):
    """Part 2 of the window: runs, live training, stop, resume, re-attach."""

    run_started = Signal(int)
    run_ended = Signal(int, str)
    attached = Signal(int)
    gpus_known = Signal(int)
    """The GPU count, once detected."""
    launch_dialog_shown = Signal(object)
    """The `LaunchDialog` Train just opened (tests drive it)."""
    pause_changed = Signal(bool)
    """The live run paused (True) or went on (False), as the worker answered."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.client: WorkerClient | None = None
        self.worker_program: Callable[[str, int], list[str]] | None = None
        """Tests: (project path, run id) -> argv of a fake worker. None: the real `core.worker`."""
        self.confirm: Callable[[str, str], str] | None = None
        """Tests: (question id, text) -> answer, instead of a message box."""
        self.gpus: list[Gpu] | None = _GPUS
        """The GPUs a worker may use; None until detected (tests assign a list)."""
        self.launch_on_cpu = False
        """Tests: the launch dialog launches ``accelerate launch`` on the CPU (one process)."""
        self.launch_dialog: Any = None
        self._train_when_gpus_known: tuple[int | None] | None = None

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
        from studio.widgets.ab_view import ABView
        from studio.widgets.samples_view import SamplesView

        self.samples = SamplesView()  # the selected run's answers per evaluation step (docs/evaluation.md)
        # In scroll areas: a tab page's minimum height is the dock's, and the A/B page's (~565 px) made the
        # first-launch window 1,060 px tall, past a 1,000 px screen (tests/studio/test_newcomer_scenario.py).
        self.tabs.addTab(_scrolled(self.samples), self.tr("Samples"))
        self.ab = ABView(runner=window.runner if hasattr(window, "runner") else None)
        self.tabs.addTab(_scrolled(self.ab), self.tr("Blind A/B"))
        self.ab.finished.connect(lambda _: self.refresh_runs())
        self.runs.metric_changed.connect(lambda: self.refresh_runs())
        self.dock = QDockWidget(self.tr("Runs"), window)
        self.dock.setObjectName("runs_dock")
        self.dock.setWidget(self.tabs)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)

        self.train_button = QPushButton(self.tr("▶ Train"))
        self.train_button.setToolTip(self.tr("Start a training run in a worker process (Ctrl+Enter)"))
        self.stop_button = QPushButton(self.tr("■ Stop"))
        self.stop_button.setToolTip(self.tr("Checkpoint and stop the run (Esc)"))
        self.stop_button.setEnabled(False)
        self.pause_button = QPushButton(self.tr("‖ Pause"))
        self.pause_button.setObjectName("pause_button")
        self.pause_button.setEnabled(False)
        self.train_button.clicked.connect(lambda: self.train())
        self.stop_button.clicked.connect(lambda: self.stop())
        self.pause_button.clicked.connect(lambda: self.toggle_pause())
        if hasattr(window, "top_bar"):
            window.top_bar.addWidget(self.train_button)
            window.top_bar.addWidget(self.pause_button)
            window.top_bar.addWidget(self.stop_button)

        menu = window.menuBar().addMenu(self.tr("&Run"))
        self.act_train = menu.addAction(self.tr("&Train"), lambda: self.train())
        self.act_train.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.act_stop = menu.addAction(self.tr("&Stop"), lambda: self.stop())
        self.act_stop.setShortcut(QKeySequence("Esc"))
        self.act_stop.setEnabled(False)
        self.act_pause = menu.addAction(self.tr("&Pause"), lambda: self.toggle_pause())
        self.act_pause.setShortcut(QKeySequence("Ctrl+P"))
        self.act_pause.setEnabled(False)
        self.act_resume = menu.addAction(self.tr("&Resume selected run"), self._resume_selected)
        self.act_resume.setEnabled(False)  # until a resumable run is selected
        self.refusal = ""
        """Why the last Train / Resume did not start (tests read it; the person sees a message)."""
        menu.addSeparator()
        self.act_export = menu.addAction(self.tr("&Export…"), self.export_dialog)
        self.act_combine = menu.addAction(self.tr("&Combine runs…"), lambda: self.combine_dialog())
        self.act_combine.setToolTip(self.tr("Make one adapter from finished runs, each with a weight, and save it as a new run"))
        self.act_save_plot = menu.addAction(self.tr("Save &plot…"), self.view._save_dialog)
        window.addAction(self.act_train)
        window.addAction(self.act_stop)
        window.addAction(self.act_pause)
        self._update_pause()

        self.view.resume_requested.connect(lambda run_id: self.train(resume=run_id))
        self.runs.selection_changed.connect(self._on_selection)
        self.runs.resume_requested.connect(lambda run_id: self.train(resume=run_id))
        self.runs.combine_requested.connect(lambda ids: self.combine_dialog(ids))
        self.runs.can_resume = self.resume_refusal  # the context menu greys Resume for a run that cannot
        self._refresh_timer = QTimer(self, interval=2000)
        self._refresh_timer.timeout.connect(self.refresh_runs)
        self.detect_gpus()

    # ---- GPUs ------------------------------------------------------------------------------------

    def detect_gpus(self) -> None:
        """Find the GPUs (once per process): ``nvidia-smi`` on a pool thread; none at once without it."""
        global _GPUS
        if self.gpus is not None:
            return
        import shutil

        if shutil.which("nvidia-smi") is None:  # no NVIDIA driver: nothing to ask, nothing to wait for
            self.gpus = _GPUS = []
            return
        from core.launch import detect_gpus
        from studio.jobs import Runner

        self._gpu_runner = Runner(self)  # not the window's runner: its busy bar means "computing the cost"
        self._gpu_runner.submit(detect_gpus, on_done=self._on_gpus, on_error=lambda _message: self._on_gpus([]))

    def _on_gpus(self, gpus: list[Gpu]) -> None:
        global _GPUS
        if self.gpus is None:
            self.gpus = _GPUS = list(gpus)
        self.gpus_known.emit(len(self.gpus))
        if self._train_when_gpus_known is not None:
            (resume,), self._train_when_gpus_known = self._train_when_gpus_known, None
            self.train(resume=resume)

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
        self.view.reset()  # nothing of the previous project stays on screen (File ▸ New, Open)
        self.adaptation.reset()
        self.refresh_runs()
        runs = project.runs()
        if not runs:
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
            self.view.has_checkpoint = project.last_checkpoint(run_id) is not None  # Resume only from one
            self.view.show_run(run, rows)
            for row in project.logs(run_id)[-200:]:
                self.view.append_log(row["message"], row["level"])
        self.runs.select(run_id)
        return max((r["id"] for r in rows), default=0)

    def refresh_runs(self) -> None:
        if self.project is not None:
            with self.reader() as project:
                self.runs.set_runs(project)
                self.samples.set_run(project, self.samples.run_id if self.samples.run_id is not None else self.view.run_id)
                self.ab.set_project(project)
                items, models, low_rank = [], {}, set()
                prefer = None  # the playground shows the newest finished run's last checkpoint
                for run in reversed(project.runs()):
                    for row in reversed(project.checkpoints(run.id)):
                        if Path(row["path"]).is_dir():
                            if prefer is None and not run.alive:
                                prefer = str(row["path"])
                            items.append((f"{run.name or f'run {run.id}'} · step {row['step']} · {run.config.method}", str(row["path"])))
                            models[str(row["path"])] = run.config.model
                            if (facts := catalog.get(run.config.method)) and facts.low_rank:
                                low_rank.add(str(row["path"]))
            self.playground.checkpoint_model = models
            self.playground.set_checkpoints(self.project.settings().model, items, prefer=prefer)
            current = self.adaptation.checkpoint.currentData()
            self.adaptation.checkpoint.clear()
            for label, path in items:
                if path in low_rank:  # the Adaptation tab draws low-rank updates (B A) only
                    self.adaptation.checkpoint.addItem(label, path)
            i = self.adaptation.checkpoint.findData(current)
            self.adaptation.checkpoint.setCurrentIndex(max(i, 0))
            self.adaptation.show_button.setEnabled(self.adaptation.checkpoint.count() > 0)
            self._update_resume()

    # ---- train / stop ----------------------------------------------------------------------------

    def train(self, resume: int | None = None, launch: LaunchSpec | None = None) -> int | None:
        """Start a new run of the current settings (or resume run `resume`); returns its id.

        With two or more GPUs (and no `launch` given) it opens the launch dialog instead and returns
        None; the dialog's Start calls back with the chosen `launch` (``accelerate launch``)."""
        from core.runs import prepare_run

        if self.client is not None and self.client.running:
            self.window.statusBar().showMessage(self.tr("A run is training; stop it first."), 5000)
            return None
        if self.project is None:
            return None
        if self.project.readonly:
            self.window.statusBar().showMessage(self.tr("Read-only: {0}").format(self.project.readonly_reason), 8000)
            return None
        self.window.flush()  # the run snapshots the project file's settings: the last edit included
        why = self.resume_refusal(resume) if resume is not None else self.problems()
        if why:
            return self._refuse(why)
        if launch is None:
            if self.gpus is None:  # nvidia-smi has not answered yet: train when it has
                self._train_when_gpus_known = (resume,)
                self.window.statusBar().showMessage(self.tr("Looking for GPUs…"), 5000)
                return None
            if len(self.gpus) >= 2:
                self.open_launch_dialog(resume)
                return None
        try:
            run_id = prepare_run(self.project, resume=resume)
        except Exception as exc:  # noqa: BLE001 - a CliError or anything else: shown, never raised into Qt
            if self.confirm is None:
                QMessageBox.warning(self.window, self.tr("Cannot train"), person(str(exc), getattr(exc, "kind", None)))
            self.window.statusBar().showMessage(person(str(exc), getattr(exc, "kind", None)), 10000)
            return None
        self.refresh_runs()
        self.show_run(run_id)
        self.view.set_status("running", self.tr("starting the worker…"))
        client = self.client = WorkerClient(self.project.path, run_id, self)
        self._connect(client)
        program = self.worker_program(str(self.project.path), run_id) if self.worker_program else None
        if launch is not None:
            argv = self._launch_argv(run_id, launch)  # config + script into the run's folder, logged
            if program is None and argv is not None:
                program, client.launched = argv, True
        client.start(program)
        self._set_running(True)
        self._refresh_timer.start()
        self.run_started.emit(run_id)
        return run_id

    def problems(self) -> str:
        """What the window already shows as wrong with the settings (the model, the targets, a form,
        the data), one line each; "" when nothing is. Train refuses these before creating a run: a
        worker would only fail on them and leave a failed run behind."""
        w = self.window
        lines: list[str] = []
        settings = getattr(w, "settings", None)
        tree = getattr(w, "tree", None)
        if tree is not None and tree.error:
            lines.append(self.tr("Model: {0}").format(person(tree.error, "model")))
        elif settings is not None:
            from studio.widgets.module_tree import ARCHITECTURE_ONLY

            if settings.model in ARCHITECTURE_ONLY:
                lines.append(self.tr("Model: the built-in {0} is only an architecture (no weights); open a folder "
                                     "of the real model to train it.").format(settings.model))
        if tree is not None and tree.problems:
            lines.append(self.tr("Targets: {0}").format("; ".join(tree.problems)))
        method_form = getattr(w, "method_form", None)
        for what, form in ((self.tr("Method"), method_form.form if method_form is not None else None),
                           (self.tr("Training"), getattr(w, "training_form", None))):
            if form is not None and form.error:
                lines.append(f"{what}: {person(form.error, 'config')}")
        panel = getattr(w, "data_panel", None)
        if panel is not None:
            if panel.mapping_error:
                lines.append(self.tr("Data: {0}").format(person(panel.mapping_error, "data")))
            elif panel.error.isVisibleTo(panel) and panel.error.text():
                lines.append(self.tr("Data: {0} (Preview again once it is fixed.)").format(panel.error.text()))
        return "\n".join(lines)

    def resume_refusal(self, run_id: int) -> str:
        """Why run ``run_id`` cannot be resumed from this window ("" when it can)."""
        try:
            with self.reader() as project:
                run = project.run(run_id)
                checkpoint = project.last_checkpoint(run_id)
        except KeyError:
            return self.tr("There is no run {0}.").format(run_id)
        if run.status == "completed":
            return self.tr("Run {0} is complete: there is nothing to resume. Train starts a new run with the "
                           "current settings (raise max_steps in the Training tab to train longer).").format(run_id)
        if run.alive:
            return self.tr("Run {0} is training already.").format(run_id)
        if checkpoint is None:
            return self.tr("Run {0} has no checkpoint to resume from; fix what it reports and press Train for a "
                           "new run.").format(run_id)
        return ""

    def _refuse(self, why: str) -> None:
        """Say why Train (or Resume) does not start: a message box, the status bar, `refusal`."""
        self.refusal = why
        if self.confirm is None:
            QMessageBox.warning(self.window, self.tr("Cannot train"), why)
        self.window.statusBar().showMessage(why.replace("\n", " · "), 15000)
        return None

    # ---- several GPUs ----------------------------------------------------------------------------

    def open_launch_dialog(self, resume: int | None = None) -> Any:
        """The multi-GPU launch dialog for a new run (or `resume`); Start trains with its launch."""
        from studio.widgets.launch_dialog import LaunchDialog

        self.window.flush()  # the dialog and the run read the project file's settings
        precision = str((self.project.settings().training or {}).get("mixed_precision", "auto"))
        if resume is not None:
            try:
                with self.reader() as project:
                    precision = str(project.run(resume).config.training.get("mixed_precision", precision))
            except KeyError:
                pass
        memory = (self.window.cost.result or {}).get("memory")  # the Cost panel's estimate: split per GPU there
        dialog = LaunchDialog(self.project.path, self.gpus or [], run_id=resume, precision=precision,
                              cpu=self.launch_on_cpu, memory=memory, parent=self.window)
        dialog.launch_requested.connect(lambda spec, r=resume: self.train(resume=r, launch=spec))
        dialog.saved.connect(lambda what, path: self.window.statusBar().showMessage(
            self.tr("Saved the {0}: {1}").format({"script": self.tr("launch script"), "slurm": self.tr("Slurm script")}.get(
                what, self.tr("accelerate config")), path), 8000))
        self.launch_dialog = dialog
        dialog.open()  # window-modal, returns at once: the GUI thread never waits in a nested loop
        self.launch_dialog_shown.emit(dialog)
        return dialog

    def _launch_argv(self, run_id: int, spec: LaunchSpec) -> list[str] | None:
        """Write the launch's config and script into the run's folder, log it with the run, return the
        ``accelerate launch`` argv (None where this program cannot launch it: the plain worker then)."""
        from core.launch import accelerate_config, launch_available, launch_command, launch_script, source_tree

        ok, why = launch_available()
        if not ok:
            self.view.append_log(why, "warning")
            return None
        with self.reader() as project:
            folder = project.run(run_id).checkpoint_dir
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / CONFIG_NAME
        text = accelerate_config(spec)
        config.write_text(text, encoding="utf-8")
        script = folder / SCRIPT_NAME
        script.write_text(launch_script(self.project.path, run_id, spec, source_root=source_tree()), encoding="utf-8")
        script.chmod(0o755)
        argv = launch_command(self.project.path, run_id, config)
        n = spec.num_processes
        message = (f"accelerate launch: {n} process{'es' if n != 1 else ''}"
                   + (" on the CPU" if spec.use_cpu else f", gpu_ids {spec.gpu_ids}") + f", mixed precision {spec.mixed_precision}"
                   + f"; config {config}; the same launch as a script: {script}\n{text}")
        try:  # recorded with the run (its log in the project file), like the worker's own lines
            self.project.add_log(run_id, message.rstrip())
        except Exception as exc:  # noqa: BLE001 - bookkeeping never stops a launch
            self.view.append_log(f"could not record the launch in the project file: {exc}", "warning")
        self.view.append_log(message.rstrip())
        return argv

    # ---- pause / continue ------------------------------------------------------------------------

    def toggle_pause(self) -> bool:
        """Pause the live run after its current step, or let a paused one go on."""
        client = self.client
        if client is None or not client.running or not client.can_pause:
            return False
        if client.paused:
            sent = client.continue_()
            if sent:
                self.view.append_log("continue requested")
        else:
            sent = client.pause()
            if sent:
                self.view.append_log("pause requested: the worker pauses after its current step")
        self._update_pause()
        return sent

    def _on_events(self, client: WorkerClient, batch: list) -> None:
        """The buttons and the runs list follow the worker's Paused / Continued answers; the runs
        list's steps and loss follow the same batch the progress bar does (it lagged at 3/300 while
        the bar said 10/300, and a re-attached row froze: the list only refreshed every 2 s)."""
        if client is not self.client:
            return
        last = None
        for ev in batch:
            if isinstance(ev, protocol.Started):
                self.runs.set_progress(client.run_id, ev.start_step, ev.total_steps)
            elif isinstance(ev, protocol.Step):
                last = ev
            if isinstance(ev, (protocol.Paused, protocol.Continued)):
                paused = isinstance(ev, protocol.Paused)
                self.runs.set_paused(client.run_id, paused)
                self._update_pause()
                self.pause_changed.emit(paused)
        if last is not None:
            self.runs.set_progress(client.run_id, last.step, self.view.total_steps, last.loss)

    def _update_pause(self) -> None:
        """The Pause / Continue button's text, tooltip and state from the live client."""
        client = self.client
        live = client is not None and client.running
        paused = live and client.paused
        pending = live and client.pause_requested is not None
        if paused:
            text = self.tr("▶ Continuing…") if pending else self.tr("▶ Continue")
            tip = self.tr("The run is paused (its memory and place are kept); go on training (Ctrl+P)")
        else:
            text = self.tr("‖ Pausing…") if pending else self.tr("‖ Pause")
            tip = self.tr("Pause the run after its current step, keeping its memory and place; Continue goes on (Ctrl+P)")
        can = live and client.can_pause and not pending
        self.pause_button.setText(text)
        self.pause_button.setToolTip(tip)
        self.pause_button.setEnabled(can)
        self.act_pause.setText(self.tr("&Continue") if paused else self.tr("&Pause"))
        self.act_pause.setEnabled(can)

    def _connect(self, client: WorkerClient) -> None:
        client.events.connect(self.view.add_events)
        client.events.connect(lambda batch, c=client: self._on_events(c, batch))
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
                    checkpoint = project.last_checkpoint(client.run_id)
                kind = run.error_kind
                if status == "failed" and not reason:
                    reason = run.error or ""
                if self.view.run_id == client.run_id:
                    self.view.has_checkpoint = checkpoint is not None  # Resume only from a checkpoint
                    self.view.set_detail(run.error_detail or "")
            except KeyError:
                pass
        self.runs.set_paused(client.run_id, False)
        if client is self.client:
            self._set_running(False)
            self._refresh_timer.stop()
        if self.view.run_id == client.run_id:
            self.view.set_status(status, reason, kind)
        self.refresh_runs()
        self.window.statusBar().showMessage(self.tr("run {0}: {1}").format(client.run_id, status_label(status))
                                            + (f" — {person(reason, kind)}" if reason else ""), 15000)
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
        else:
            self.window.statusBar().showMessage(self.tr("Select a stopped, failed or interrupted run in the runs list first."), 8000)

    def _update_resume(self, ids: list[int] | None = None) -> None:
        """Run ▸ Resume selected run: enabled only for a run that can be resumed; the reason on hover."""
        ids = self.runs.selected_ids() if ids is None else ids
        why = self.tr("Select a stopped, failed or interrupted run in the runs list first.")
        if ids and self.client is not None and self.client.running and ids[-1] == self.client.run_id:
            why = self.tr("Run {0} is training already.").format(ids[-1])  # no file read every 2 s while it trains
        elif ids and self.project is not None:
            why = self.resume_refusal(ids[-1])
        self.act_resume.setEnabled(not why)
        self.act_resume.setToolTip(why or self.tr("Resume the selected run from its last checkpoint"))
        self.act_resume.setStatusTip(why)

    def _set_running(self, running: bool) -> None:
        writable = self.project is None or not self.project.readonly  # a read-only window trains nothing
        self.train_button.setEnabled(not running and writable)
        self.act_train.setEnabled(not running and writable)
        self.stop_button.setEnabled(running)
        self.act_stop.setEnabled(running)
        self._update_pause()

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
        paused = client.paused or client.pause_requested is True
        text = self.tr(
            "Run {0} is training. Stop it (a checkpoint is written), or keep it running in the background? "
            "Reopening the project shows it again.").format(client.run_id)
        if paused:
            text += " " + self.tr("It is paused: kept in the background it stays paused until you reopen the "
                                  "project and continue it.")
        answer = self._ask("close", text)
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
        self._update_resume(ids)
        if not ids or self.project is None:
            return
        current = ids[-1] if self.view.run_id not in ids else self.view.run_id
        if current != self.view.run_id and not (self.client is not None and self.client.running and self.client.run_id == self.view.run_id):
            self.show_run(current)
        with self.reader() as project:
            others = [(i, project.run(i).name or f"run {i}", project.metrics(i)) for i in ids if i != self.view.run_id]
            self.view.set_overlays(others)
            self.runs.show_diff(project, ids)
            self.samples.set_run(project, current)

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

    # ---- combine -----------------------------------------------------------------------------------

    def combine_dialog(self, selected: list[int] | None = None) -> Any:
        """The Combine runs dialog (`studio.widgets.combine_dialog`), the runs list's selection ticked; its preview
        plays in the playground, its saved run appears in the runs list, selected."""
        from studio.widgets.combine_dialog import CombineDialog

        if self.project is None:
            return None
        ids = self.runs.selected_ids() if selected is None else selected
        dialog = CombineDialog(self.project, ids, self.window)
        dialog.preview_ready.connect(self._show_preview)
        dialog.saved.connect(self._combined)
        dialog.finished.connect(lambda _result: self.playground.clear_preview())
        dialog.show()  # not modal: the playground stays usable beside it
        self.combine = dialog
        return dialog

    def _show_preview(self, label: str, path: str, model: str) -> None:
        self.playground.set_preview(label, path, model)
        self.tabs.setCurrentWidget(self.playground)
        self.dock.show()

    def _combined(self, run_id: int) -> None:
        self.playground.clear_preview()
        self.refresh_runs()
        self.show_run(run_id)
        self.window.statusBar().showMessage(self.tr("Saved the combination as run {0}.").format(run_id), 8000)


def _scrolled(widget: QWidget) -> QWidget:
    """``widget`` in a frameless scroll area that resizes it: it scrolls instead of setting a minimum height."""
    from PySide6.QtWidgets import QFrame, QScrollArea

    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area
