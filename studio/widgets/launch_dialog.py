"""Train on several GPUs: how many, the ``accelerate launch`` config (seen, saved), a launch script.

Shown by Train when the machine has two or more GPUs (`studio.training.TrainingController`). The
person picks the number of processes (one per GPU), how they share the work — data parallel (DDP),
sharded (FSDP2) or DeepSpeed ZeRO-2 / ZeRO-3, each with or without the optimizer state offloaded to
CPU memory — and the rendezvous port; the config text (`core.launch.accelerate_config`), the command
and what each choice needs per GPU (`core.estimate.per_gpu_memory` over the Cost panel's estimate,
given as `memory`) follow at once. DeepSpeed is optional: where this Python lacks it the ZeRO choices
are disabled and the dialog shows the command that installs it (`core.launch.deepspeed_available`).
"Save config…" writes the YAML, "Save launch script…" a bash script with the same launch for a
terminal (`core.launch.launch_script`), "Save Slurm script…" the same with ``#SBATCH`` lines
(`core.launch.slurm_script`); Start hands the `core.launch.LaunchSpec` to the controller
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

from core.estimate import PARTS, per_gpu_memory
from core.launch import (
    CHOICES,
    CONFIG_NAME,
    DEFAULT_PORT,
    SCRIPT_NAME,
    Gpu,
    LaunchSpec,
    accelerate_config,
    deepspeed_available,
    deepspeed_install_command,
    launch_available,
    launch_script,
    slurm_script,
    source_tree,
)
from studio.widgets.cost_panel import gib
from studio.widgets.dataclass_form import guard_wheel


class LaunchDialog(QDialog):
    """The multi-GPU launch of one run (a new one when `run_id` is None, else a resume)."""

    launch_requested = Signal(object)
    """A `core.launch.LaunchSpec`: Start was pressed."""
    saved = Signal(str, str)
    """(what, path): "config", "script" or "slurm" was written to path."""

    def __init__(self, project_path: str | os.PathLike[str], gpus: list[Gpu], *, run_id: int | None = None,
                 precision: str = "auto", cpu: bool = False, memory: dict[str, int] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project_path = Path(project_path).absolute()
        self.gpus = list(gpus)
        self.run_id = run_id
        self.precision = precision
        self.memory = memory
        """The Cost panel's training-memory estimate for one process (`core.estimate.training_memory`), or None."""
        self.deepspeed, self.deepspeed_why = deepspeed_available()
        """Whether this Python has DeepSpeed (asked once, without importing it: that would load torch)."""
        self.cpu = cpu
        """Launch on the CPU (one process): for tests and machines without GPUs."""
        self.save_path: str | None = None
        """Tests: the file name the next Save… writes, instead of asking with a file dialog."""
        self.setObjectName("launch_dialog")
        self.setWindowTitle(self.tr("Train on several GPUs") if not cpu else self.tr("Train through accelerate launch"))

        listing = "<br>".join(g.describe() for g in self.gpus) or self.tr("(none found)")
        self.gpu_label = QLabel(listing)
        self.gpu_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.processes = guard_wheel(QSpinBox())
        self.processes.setRange(1, 1 if cpu else max(1, len(self.gpus)))
        self.processes.setValue(self.processes.maximum())
        self.processes.setToolTip(self.tr("Processes, one per GPU: each holds the whole model and trains on its "
                                          "share of every batch (data parallel); gradients are averaged."))
        self.sharding = guard_wheel(QComboBox())
        self.sharding.setObjectName("parallelism")
        labels = self.choice_labels()
        for choice in CHOICES:
            self.sharding.addItem(labels[choice][1], choice)
        self.sharding.setToolTip(self.tr("DDP when the model fits on one GPU (fastest); FSDP2 or DeepSpeed ZeRO-3 for a "
                                         "model too big for one; ZeRO-2 splits only the optimizer state and the "
                                         "gradients; CPU offload keeps the optimizer state in CPU memory (slower steps)."))
        if not self.deepspeed:  # the ZeRO choices stay listed, greyed, with the install command below
            model = self.sharding.model()
            for i, choice in enumerate(CHOICES):
                if choice.startswith("zero"):
                    model.item(i).setEnabled(False)
                    model.item(i).setToolTip(self.tr("DeepSpeed is not installed for this Python"))
        self.deepspeed_note = QLabel(self.tr("DeepSpeed is not installed for this Python, so the ZeRO choices are off. "
                                             "Install it with this command, then open this dialog again:"))
        self.deepspeed_note.setWordWrap(True)
        self.install_command = QLineEdit(deepspeed_install_command())
        self.install_command.setObjectName("deepspeed_install_command")
        self.install_command.setReadOnly(True)
        self.install_command.setToolTip(self.tr("DS_BUILD_OPS=0: DeepSpeed compiles its optional C++/CUDA ops when first "
                                                "used instead of at install; --no-build-isolation: its build uses the "
                                                "torch already installed"))
        for widget in (self.deepspeed_note, self.install_command):
            widget.setVisible(not self.deepspeed)
        self.port = guard_wheel(QSpinBox())
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
        form.addRow("", self.deepspeed_note)
        form.addRow("", self.install_command)
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
        self.memory_view = QLabel()
        self.memory_view.setObjectName("memory_per_gpu")
        self.memory_view.setTextFormat(Qt.TextFormat.RichText)
        self.memory_view.setWordWrap(True)  # the chosen one's parts line never widens the dialog
        self.memory_view.setToolTip(self.tr("Per GPU: the Cost panel's estimate with the parts each choice splits "
                                            "divided among the processes. ZeRO-2 splits the optimizer state and the "
                                            "gradients, ZeRO-3 and FSDP2 the weights too; CPU offload moves the "
                                            "optimizer state to CPU memory. Activations stay per process."))

        self.save_config_button = QPushButton(self.tr("Save config…"))
        self.save_config_button.setToolTip(self.tr("Write this accelerate config as a YAML file"))
        self.save_config_button.clicked.connect(lambda: self.save_config())
        self.save_script_button = QPushButton(self.tr("Save launch script…"))
        self.save_script_button.setToolTip(self.tr("Write a bash script that does this launch, to run in a terminal "
                                                   "or as a cluster job (srun / sbatch; see its comments)"))
        self.save_script_button.clicked.connect(lambda: self.save_script())
        self.save_slurm_button = QPushButton(self.tr("Save Slurm script…"))
        self.save_slurm_button.setToolTip(self.tr("Write the same launch as a Slurm batch script (#SBATCH lines for one "
                                                  "node with these GPUs): sbatch FILE"))
        self.save_slurm_button.clicked.connect(lambda: self.save_slurm())
        saves = QHBoxLayout()
        saves.addWidget(self.save_config_button)
        saves.addWidget(self.save_script_button)
        saves.addWidget(self.save_slurm_button)
        saves.addStretch(1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton(self.tr("Start"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setDefault(True)
        self.buttons.accepted.connect(self._start)
        self.buttons.rejected.connect(self.reject)

        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.memory_view)
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

    def choice_labels(self) -> dict[str, tuple[str, str]]:
        """Each of `core.launch.CHOICES`: (short name, the list's line)."""
        return {
            "ddp": ("DDP", self.tr("Data parallel (DDP): each GPU holds the whole model")),
            "fsdp": ("FSDP2", self.tr("Sharded (FSDP2): the model's weights are split across the GPUs")),
            "zero2": ("ZeRO-2", self.tr("DeepSpeed ZeRO-2: optimizer state and gradients split across the GPUs")),
            "zero2+offload": (self.tr("ZeRO-2 + CPU offload"),
                              self.tr("DeepSpeed ZeRO-2 + CPU offload: the optimizer state in CPU memory")),
            "zero3": ("ZeRO-3", self.tr("DeepSpeed ZeRO-3: weights, gradients and optimizer state split across the GPUs")),
            "zero3+offload": (self.tr("ZeRO-3 + CPU offload"),
                              self.tr("DeepSpeed ZeRO-3 + CPU offload: the optimizer state in CPU memory")),
        }

    def select(self, choice: str) -> None:
        """Pick one of `core.launch.CHOICES` in the Parallelism list."""
        self.sharding.setCurrentIndex(self.sharding.findData(choice))

    def spec(self) -> LaunchSpec:
        """The launch the controls describe."""
        return LaunchSpec.for_gpus(self.processes.value(), self.gpus, self.precision, port=self.port.value(),
                                   use_cpu=self.cpu, sharding=self.sharding.currentData())

    def memory_per_gpu(self, choice: str, num_processes: int | None = None) -> dict[str, int] | None:
        """`core.estimate.per_gpu_memory` of the Cost panel's estimate for `choice` (None without an estimate)."""
        if not self.memory:
            return None
        n = self.processes.value() if num_processes is None else num_processes
        sharding, _, offload = choice.partition("+")
        return per_gpu_memory(self.memory, sharding, n, offload_optimizer=bool(offload))

    def _memory_text(self, spec: LaunchSpec) -> str:
        n = spec.num_processes
        if not self.memory:
            return self.tr("Memory per GPU: no estimate yet (the Cost panel computes it from the model and the batch).")
        if n == 1:
            return self.tr("Memory per GPU (estimate): {0} — one process holds everything.").format(gib(self.memory["total"]))
        whole = self.memory["total"]
        rows = []
        for choice, (name, _) in self.choice_labels().items():
            share = self.memory_per_gpu(choice, n)
            assert share is not None
            saved = whole - share["total"]
            cells = [name, gib(share["total"]), gib(saved) if saved > 0 else "–",
                     gib(share["cpu"]) if share["cpu"] else "–"]
            style = " style='font-weight:bold'" if choice == spec.choice else ""
            off = choice.startswith("zero") and not self.deepspeed
            colour = " style='color:gray'" if off else style
            rows.append(f"<tr{colour}>" + "".join(f"<td>{c}&nbsp;&nbsp;</td>" for c in cells) + "</tr>")
        head = "".join(f"<th align='left'>{h}&nbsp;&nbsp;</th>" for h in (
            self.tr("{0} processes").format(n), self.tr("per GPU"), self.tr("saves per GPU"), self.tr("CPU memory")))
        chosen = self.memory_per_gpu(spec.choice, n)
        assert chosen is not None
        parts = self._part_names()
        detail = " · ".join(f"{parts[k]} {gib(chosen[k])}" for k in PARTS)
        return (self.tr("Memory per GPU (estimate; one process alone: {0}):").format(gib(whole))
                + f"<table cellspacing='0'><tr>{head}</tr>{''.join(rows)}</table>"
                + self.tr("This choice, per GPU: {0}").format(detail))

    def _part_names(self) -> dict[str, str]:
        return {"weights": self.tr("weights"), "adapter": self.tr("adapter"), "gradients": self.tr("gradients"),
                "optimizer": self.tr("optimizer"), "activations": self.tr("activations"), "workspace": self.tr("workspace")}

    def config_text(self) -> str:
        return accelerate_config(self.spec())

    def script_text(self) -> str:
        return launch_script(self.project_path, self.run_id, self.spec(), source_root=source_tree())

    def slurm_text(self) -> str:
        return slurm_script(self.project_path, self.run_id, self.spec(), source_root=source_tree())

    def update_view(self) -> None:
        spec = self.spec()
        self.sharding.setEnabled(spec.num_processes > 1)  # one process: nothing to share or shard
        self.config_view.setPlainText(accelerate_config(spec))
        self.memory_view.setText(self._memory_text(spec))
        self.precision_label.setText(spec.mixed_precision if spec.mixed_precision != "no" else self.tr("none (fp32)"))
        run = str(self.run_id) if self.run_id is not None else "NEW"
        argv = ["python", "-m", "accelerate.commands.launch", "--config_file", "CONFIG", "-m", "core.worker",
                str(self.project_path), "--run", run]
        self.command_view.setText(shlex.join(argv))
        self.command_view.setCursorPosition(0)
        ok, why = launch_available()
        if spec.uses_deepspeed and not self.deepspeed:
            self.note.setText(self.tr("DeepSpeed is not installed for this Python: install it (the command above) "
                                      "or choose DDP or FSDP2."))
            self.start_button.setEnabled(False)
        elif not ok and spec.num_processes > 1:
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

    def save_slurm(self, path: str | None = None) -> str | None:
        """Write the Slurm batch script (executable; asks where unless `path` is given); returns the path written."""
        default = f"launch-run-{self.run_id}.sbatch" if self.run_id is not None else "launch.sbatch"
        path = path or self._ask_path(self.tr("Save Slurm script"), default, self.tr("Slurm batch script (*.sbatch *.sh)"))
        if not path:
            return None
        return self._write(path, self.slurm_text(), "slurm", executable=True)

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

