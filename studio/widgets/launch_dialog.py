"""Train on several GPUs: how many, the ``accelerate launch`` config (seen, saved), a launch script.

Shown by Train when the machine has two or more GPUs (`studio.training.TrainingController`). The
person picks the number of processes (one per GPU), data parallel (DDP) or sharded (FSDP2), and the
rendezvous port; the config text
(`core.launch.accelerate_config`) and the command follow at once. "Save config…" writes the YAML,
"Save launch script…" a bash script with the same launch for a terminal or a Slurm job
(`core.launch.launch_script`), Start hands the `core.launch.LaunchSpec` to the controller
(`launch_requested`), which creates the run, writes the config into its folder and starts
``accelerate launch``. The GPUs are given to the constructor (detected by the controller with
``nvidia-smi`` off the GUI thread), so tests pass the count they need.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.launch import CONFIG_NAME, DEFAULT_PORT, SCRIPT_NAME, Gpu, LaunchSpec, accelerate_config, launch_available, launch_script, source_tree


class LaunchDialog(QDialog):
    """The multi-GPU launch of one run (a new one when `run_id` is None, else a resume)."""

    launch_requested = Signal(object)
    """A `core.launch.LaunchSpec`: Start was pressed."""
    saved = Signal(str, str)
    """(what, path): "config" or "script" was written to path."""

    def __init__(self, project_path: str | os.PathLike[str], gpus: list[Gpu], *, run_id: int | None = None,
                 precision: str = "auto", cpu: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project_path = Path(project_path).absolute()
        self.gpus = list(gpus)
        self.run_id = run_id
        self.precision = precision
        self.cpu = cpu
        """Launch on the CPU (one process): for tests and machines without GPUs."""
        self.save_path: str | None = None
        """Tests: the file name the next Save… writes, instead of asking with a file dialog."""
        self.setObjectName("launch_dialog")
        self.setWindowTitle(self.tr("Train on several GPUs") if not cpu else self.tr("Train through accelerate launch"))

        listing = "<br>".join(g.describe() for g in self.gpus) or self.tr("(none found)")
        self.gpu_label = QLabel(listing)
        self.gpu_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.processes = QSpinBox()
        self.processes.setRange(1, 1 if cpu else max(1, len(self.gpus)))
        self.processes.setValue(self.processes.maximum())
        self.processes.setToolTip(self.tr("Processes, one per GPU: each holds the whole model and trains on its "
                                          "share of every batch (data parallel); gradients are averaged."))
        self.sharding = QComboBox()
        self.sharding.addItem(self.tr("Data parallel (DDP): each GPU holds the whole model"), "ddp")
        self.sharding.addItem(self.tr("Sharded (FSDP2): the model's weights are split across the GPUs"), "fsdp")
        self.sharding.setToolTip(self.tr("DDP when the model fits on one GPU (fastest); FSDP for a model too big for one."))
        self.port = QSpinBox()
        self.port.setRange(1024, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.port.setToolTip(self.tr("The port the processes meet on; two runs at once on one machine need two ports."))
        self.precision_label = QLabel()
        self.precision_label.setToolTip(self.tr("From the Training tab's mixed_precision ('auto': bf16 where every "
                                                "chosen GPU has it, else fp16)."))
        form = QFormLayout()
        form.addRow(self.tr("GPUs found:") if not cpu else self.tr("Device:"), self.gpu_label if not cpu else QLabel(self.tr("CPU (one process)")))
        form.addRow(self.tr("Processes (GPUs):"), self.processes)
        form.addRow(self.tr("Parallelism:"), self.sharding)
        form.addRow(self.tr("Mixed precision:"), self.precision_label)
        form.addRow(self.tr("Port:"), self.port)

        self.config_view = QPlainTextEdit()
        self.config_view.setReadOnly(True)
        self.config_view.setObjectName("accelerate_config")
        font = self.config_view.font()
        font.setFamily("monospace")
        font.setStyleHint(font.StyleHint.Monospace)
        self.config_view.setFont(font)
        self.config_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)  # YAML reads by its lines
        self.config_view.setMinimumSize(620, 280)
        self.command_view = QLineEdit()
        self.command_view.setReadOnly(True)
        self.command_view.setFont(font)
        self.command_view.setToolTip(self.tr("The command Start runs (CONFIG: the config, written beside the run's checkpoints)"))
        self.note = QLabel()
        self.note.setWordWrap(True)

        self.save_config_button = QPushButton(self.tr("Save config…"))
        self.save_config_button.setToolTip(self.tr("Write this accelerate config as a YAML file"))
        self.save_config_button.clicked.connect(lambda: self.save_config())
        self.save_script_button = QPushButton(self.tr("Save launch script…"))
        self.save_script_button.setToolTip(self.tr("Write a bash script that does this launch, to run in a terminal "
                                                   "or as a cluster job (srun / sbatch; see its comments)"))
        self.save_script_button.clicked.connect(lambda: self.save_script())
        saves = QHBoxLayout()
        saves.addWidget(self.save_config_button)
        saves.addWidget(self.save_script_button)
        saves.addStretch(1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton(self.tr("Start"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setDefault(True)
        self.buttons.accepted.connect(self._start)
        self.buttons.rejected.connect(self.reject)

        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(QLabel(self.tr("accelerate config:")))
        box.addWidget(self.config_view, 1)
        box.addWidget(QLabel(self.tr("Command:")))
        box.addWidget(self.command_view)
        box.addWidget(self.note)
        box.addLayout(saves)
        box.addWidget(self.buttons)

        self.processes.valueChanged.connect(lambda *_: self.update_view())
        self.port.valueChanged.connect(lambda *_: self.update_view())
        self.sharding.currentIndexChanged.connect(lambda *_: self.update_view())
        self.update_view()

    # ---- the launch --------------------------------------------------------------------------------

    def spec(self) -> LaunchSpec:
        """The launch the controls describe."""
        return LaunchSpec.for_gpus(self.processes.value(), self.gpus, self.precision, port=self.port.value(),
                                   use_cpu=self.cpu, sharding=self.sharding.currentData())

    def config_text(self) -> str:
        return accelerate_config(self.spec())

    def script_text(self) -> str:
        return launch_script(self.project_path, self.run_id, self.spec(), source_root=source_tree())

    def update_view(self) -> None:
        spec = self.spec()
        self.sharding.setEnabled(spec.num_processes > 1)  # one process: nothing to share or shard
        self.config_view.setPlainText(accelerate_config(spec))
        self.precision_label.setText(spec.mixed_precision if spec.mixed_precision != "no" else self.tr("none (fp32)"))
        run = str(self.run_id) if self.run_id is not None else "NEW"
        argv = ["python", "-m", "accelerate.commands.launch", "--config_file", "CONFIG", "-m", "core.worker",
                str(self.project_path), "--run", run]
        self.command_view.setText(shlex.join(argv))
        self.command_view.setCursorPosition(0)
        ok, why = launch_available()
        if not ok and spec.num_processes > 1:
            self.note.setText(why)
            self.start_button.setEnabled(False)
        elif not ok:
            self.note.setText(self.tr("One process: Start trains with the bundle's own worker (no accelerate launch)."))
            self.start_button.setEnabled(True)
        else:
            what = self.tr("resumes run {0}").format(self.run_id) if self.run_id is not None else self.tr("creates a new run")
            self.note.setText(self.tr("Start {0} and writes the config and a launch script beside its checkpoints "
                                      "({1}, {2}).").format(what, CONFIG_NAME, SCRIPT_NAME))
            self.start_button.setEnabled(True)

    def _start(self) -> None:
        self.launch_requested.emit(self.spec())
        self.accept()

    # ---- saving ------------------------------------------------------------------------------------

    def _ask_path(self, title: str, default: str, filters: str) -> str | None:
        if self.save_path is not None:
            path, self.save_path = self.save_path, None
            return path
        start = str(self.project_path.parent / default)
        path, _ = QFileDialog.getSaveFileName(self, title, start, filters)
        return path or None

    def save_config(self, path: str | None = None) -> str | None:
        """Write the config (asks where unless `path` is given); returns the path written."""
        path = path or self._ask_path(self.tr("Save accelerate config"), CONFIG_NAME, self.tr("YAML (*.yaml *.yml)"))
        if not path:
            return None
        return self._write(path, self.config_text(), "config")

    def save_script(self, path: str | None = None) -> str | None:
        """Write the launch script (executable; asks where unless `path` is given); returns the path written."""
        default = f"launch-run-{self.run_id}.sh" if self.run_id is not None else "launch.sh"
        path = path or self._ask_path(self.tr("Save launch script"), default, self.tr("Shell script (*.sh)"))
        if not path:
            return None
        return self._write(path, self.script_text(), "script", executable=True)

    def _write(self, path: str, text: str, what: str, *, executable: bool = False) -> str | None:
        try:
            Path(path).write_text(text, encoding="utf-8")
            if executable:
                os.chmod(path, 0o755)
        except OSError as exc:
            self.note.setText(self.tr("Could not write {0}: {1}").format(path, exc))
            return None
        self.note.setText(self.tr("Saved {0}").format(path))
        self.saved.emit(what, path)
        return path

