"""Export a run: a merged model (mergeable methods only) or the adapter alone, verified after writing;
or GGUF for llama.cpp / LM Studio (merged, or a LoRA adapter GGUF) and an Ollama folder, checked by
llama.cpp itself (`core.gguf_export.export_checkpoint`).

The export runs on a worker thread (`studio.jobs.Runner`; torch loads there, never on the GUI
thread): `core.runs.export_run` loads the base model and the checkpoint's adapter, `core.export`
writes to a temporary folder, reloads it, compares logits with the adapter model and renames it into
place. The dialog shows the verification result and records the export in the project file.

Which weights: the final (last) checkpoint, a checkpoint by its step, or the best checkpoint by a metric
the run evaluated (eval loss, exact match, contains, token F1, ROUGE-L: those the project file has for
this run's checkpoints). All three are resolved by `core.evaluate.choose_checkpoint`, the function behind
`adapter-studio export --checkpoint STEP|last|best --metric M`; the best one's step and score are shown
(`Project.best_checkpoint`, which `choose_checkpoint` ranks by) and recorded with the export.
"""

from __future__ import annotations

import html

from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import RequestError
from core.evaluate import METRICS, choose_checkpoint
from core.gguf_arch import GGUF_TYPES
from core.methods import catalog
from studio.widgets.dataclass_form import guard_wheel

BEST_METRICS = ("eval_loss", *METRICS)
"""What "best" can rank by: the metrics of ``adapter-studio export --metric`` (lowest eval loss, else highest)."""


METRIC_NAMES = {  # translated in the ExportDialog context (self.tr); the same words as core.evaluate.METRIC_LABELS
    "eval_loss": QT_TRANSLATE_NOOP("ExportDialog", "eval loss"), "exact_match": QT_TRANSLATE_NOOP("ExportDialog", "exact match"),
    "contains": QT_TRANSLATE_NOOP("ExportDialog", "contains"), "f1": QT_TRANSLATE_NOOP("ExportDialog", "token F1"),
    "rouge_l": QT_TRANSLATE_NOOP("ExportDialog", "ROUGE-L"),
}


def metric_label(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def evaluated_metrics(project: Any, run_id: int) -> list[str]:
    """The `BEST_METRICS` that the project file has a value of at one of the run's checkpoints on disk."""
    steps = {row["step"] for row in project.checkpoints(run_id) if Path(row["path"]).is_dir()}
    rows = [row for row in project.eval_scores(run_id) if row["step"] in steps]
    return [m for m in BEST_METRICS if any(row.get(m) is not None for row in rows)]



def why_not_mergeable(method: str) -> str:
    return (f"{method} adds virtual tokens or attention prefixes, not weight updates, so it cannot be merged "
            "into the model's weights. Export the adapter (PEFT's layout) and load it on the base model.")


def default_export_folder(project_path: Path, run_id: int) -> Path:
    """Where an export goes unless the person picks another folder: beside the project file, or,
    when that lies in a hidden folder (the default project lives in the app's data folder,
    ``~/.local/share/…``), in ``~/Documents/Adapter Studio exports`` (the home folder without a
    Documents folder), where a person finds it."""
    name = f"{project_path.stem}-run{run_id}-export"
    parent = Path(project_path).expanduser().absolute().parent
    home = Path.home()
    try:
        inside = parent.relative_to(home).parts
    except ValueError:
        inside = None
    hidden = any(part.startswith(".") for part in (inside if inside is not None else parent.parts))
    if not hidden:
        return parent / name
    documents = home / "Documents"
    return (documents if documents.is_dir() else home) / "Adapter Studio exports" / name


def _export_job(model_ref: str, checkpoint: str, dest: str, kind: str, training: dict[str, Any]) -> dict[str, Any]:
    from core.runs import export_run

    # The run's training settings carry its base precision: a run trained on a 4-bit base is checked and
    # merged against that base, as `adapter-studio export` does.
    result = export_run(model_ref, Path(checkpoint), Path(dest), merged=kind == "merged", training=training,
                        serving=kind == "serving-adapter")
    servers: list[str] = []
    if kind == "serving-adapter":  # what the copy is for: which servers load it as written (vLLM, TGI / LoRAX)
        from core.serving import check_folder

        servers = [verdict.line() for verdict in check_folder(result.path)[1:]]
    return {"path": result.path, "kind": result.kind, "max_abs_diff": result.max_abs_diff,
            "bytes": result.bytes, "files": len(result.files), "checkpoint": checkpoint, "servers": servers}


def _gguf_job(model_ref: str, checkpoint: str, dest: str, target: str, gguf_type: str, ollama_name: str,
              ollama_adapter: bool, progress: Any) -> dict[str, Any]:
    from core.gguf_export import export_checkpoint

    result = export_checkpoint(model_ref, Path(checkpoint), Path(dest), target=target, gguf_type=gguf_type,
                               ollama_name=ollama_name or None, ollama_adapter=ollama_adapter, progress=progress)
    first = result.results[0]
    return {"path": result.path, "kind": result.kind, "max_abs_diff": first.max_abs_diff, "bytes": first.bytes,
            "detail": result.detail, "message": result.message, "checkpoint": checkpoint}


GGUF_TARGETS = ("gguf", "gguf-adapter", "ollama")


class ExportDialog(QDialog):
    """Merged vs adapter vs GGUF / adapter GGUF / Ollama, checkpoint, folder, progress, verification result."""

    exported = Signal(dict)
    failed = Signal(str)
    _progress = Signal(float, str)  # from the export's thread (queued to the GUI thread)

    def __init__(self, project: Any, run_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from studio.jobs import Runner

        self.project = project
        self.run_id = run_id
        self.runner = Runner(self)
        run = project.run(run_id)
        self.model_ref = run.config.model
        self.method = run.config.method
        self.training = run.config.training or {}
        self.setWindowTitle(self.tr("Export run {0}").format(run_id))

        self.merged = QRadioButton(self.tr("Merged model (a plain Hugging Face model folder)"))
        self.adapter = QRadioButton(self.tr("Adapter only (PEFT's layout: adapter_config.json + safetensors)"))
        self.gguf = QRadioButton(self.tr("GGUF for llama.cpp / LM Studio (merged; checked in llama.cpp)"))
        self.gguf_adapter = QRadioButton(self.tr("LoRA adapter GGUF (llama.cpp --lora; checked on its base)"))
        self.ollama = QRadioButton(self.tr("Ollama folder (GGUF + Modelfile)"))
        self.serving = QRadioButton(self.tr("Serving-compatible adapter (one rank, scales baked in: vLLM, TGI / LoRAX)"))
        self.serving.setToolTip(self.tr("A LoRA adapter copy that servers applying one alpha / r to every module "
                                        "compute exactly as the original (rsLoRA, rank and alpha patterns folded "
                                        "into the weights); checked by reloading it."))
        group = QButtonGroup(self)
        for button in (self.merged, self.adapter, self.gguf, self.gguf_adapter, self.ollama, self.serving):
            group.addButton(button)
        self.gguf_type = QComboBox()
        self.gguf_type.addItems(list(GGUF_TYPES))
        self.gguf_type.setCurrentText("f16")
        self.ollama_name = QLineEdit()
        self.ollama_name.setPlaceholderText(self.tr("name for ollama create (optional)"))
        self.why = QLabel()
        self.why.setWordWrap(True)
        if catalog.facts(self.method).mergeable:
            self.merged.setChecked(True)
            self.why.hide()
        else:
            for button in (self.merged, self.gguf, self.ollama):
                button.setEnabled(False)
            self.adapter.setChecked(True)
            self.why.setText(why_not_mergeable(self.method))
        if catalog.key(self.method) != "LORA":
            self.gguf_adapter.setEnabled(False)  # llama.cpp loads LoRA adapters only
            self.serving.setEnabled(False)  # servers load LoRA adapters only
        # Which weights: data "last", "best" or a step (int), each resolved by core.evaluate.choose_checkpoint.
        self.run = run
        self.checkpoint = QComboBox()
        on_disk = [row for row in project.checkpoints(run_id) if Path(row["path"]).is_dir()]
        self.metrics = evaluated_metrics(project, run_id) if on_disk else []
        if on_disk:
            last = on_disk[-1]
            final = run.status == "completed" and last["step"] >= run.step
            if run.config.combined is not None:  # a combination of runs (core.combine): one adapter, no training step
                self.checkpoint.addItem(self.tr("The combined adapter"), "last")
            else:
                self.checkpoint.addItem(
                    (self.tr("Final weights — step {0}") if final else self.tr("Last checkpoint — step {0}")).format(last["step"]),
                    "last")
            self.checkpoint.addItem(self.tr("Best by a metric the run evaluated"), "best")
            if not self.metrics:
                item = self.checkpoint.model().item(1)
                item.setEnabled(False)
                item.setToolTip(self.tr("No checkpoint of this run was evaluated (eval_steps with checkpoints at the same steps)."))
            for row in reversed(on_disk):
                self.checkpoint.addItem(self.tr("step {0} — {1}").format(row["step"], Path(row["path"]).name), row["step"])
        self.best_by = QComboBox()
        for metric in self.metrics:
            name = self.tr(metric_label(metric))
            self.best_by.addItem((self.tr("{0} (lowest)") if metric == "eval_loss" else self.tr("{0} (highest)")).format(name), metric)
        self.best_by.setToolTip(self.tr("What \"best\" ranks by: the run's checkpoints with this metric in the project file"))
        self.best = QLabel()
        self.best.setWordWrap(True)
        self.best.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.checkpoint.currentIndexChanged.connect(self._update_best)
        self.best_by.currentIndexChanged.connect(self._update_best)
        self.folder = QLineEdit(str(default_export_folder(project.path, run_id)))
        self.folder.setMinimumWidth(self.folder.fontMetrics().horizontalAdvance(self.folder.text()[:90]) + 16)  # in full
        self.folder.setToolTip(self.folder.text())
        self.folder.textChanged.connect(self.folder.setToolTip)
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.folder, 1)
        where.addWidget(browse)
        form = QFormLayout()
        form.addRow(self.tr("Checkpoint"), self.checkpoint)
        form.addRow(self.tr("Best by"), self.best_by)
        form.addRow("", self.best)
        form.addRow(self.tr("Folder"), where)
        form.addRow(self.tr("GGUF type"), self.gguf_type)
        form.addRow(self.tr("Ollama name"), self.ollama_name)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.hide()
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton(self.tr("Export"), QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        if not self.checkpoint.count():
            self.export_button.setEnabled(False)
            self.result.setText(self.tr("This run has no checkpoint yet; train (or resume) it first."))
        box = QVBoxLayout(self)
        box.addWidget(self.merged)
        box.addWidget(self.adapter)
        box.addWidget(self.gguf)
        box.addWidget(self.gguf_adapter)
        box.addWidget(self.ollama)
        box.addWidget(self.serving)
        box.addWidget(self.why)
        box.addLayout(form)
        box.addWidget(self.progress)
        box.addWidget(self.result)
        box.addWidget(self.buttons)
        self._progress.connect(self._on_progress)
        for widget in (self.checkpoint, self.best_by, self.gguf_type):
            guard_wheel(widget)  # the wheel over an unfocused choice does not change it
        self._update_best()
        self.resize(620, 420)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.tr("Export to folder"), str(Path(self.folder.text()).parent))
        if path:
            self.folder.setText(path)

    def _update_best(self, *_: Any) -> None:
        """Enable "Best by" for the best choice only, and say which step is best and its score."""
        best = self.checkpoint.currentData() == "best"
        self.best_by.setEnabled(best)
        if not best:
            self.best.hide()
            return
        metric = self.best_by.currentData()
        row = self.project.best_checkpoint(self.run_id, metric) if metric else None
        if row is None:
            self.best.setText(self.tr("No checkpoint of this run was evaluated."))
        else:
            self.best.setText(self.tr("Best by {0}: step {1} ({2}), score {3}").format(
                self.tr(metric_label(metric)), row["step"], Path(row["path"]).name, _score(metric, row["value"])))
        self.best.show()

    def choice(self) -> tuple[Path, dict[str, Any]]:
        """The checkpoint folder the choice names (`core.evaluate.choose_checkpoint`, as the CLI's
        ``--checkpoint``), and what to record about it. `RequestError` when it cannot be resolved."""
        which = self.checkpoint.currentData()
        if which is None:
            raise RequestError("this run has no checkpoint yet; train (or resume) it first.")
        metric = self.best_by.currentData() or "eval_loss"
        path = choose_checkpoint(self.project, self.run, which, metric)
        step = next((r["step"] for r in self.project.checkpoints(self.run_id) if Path(r["path"]) == path), None)
        record: dict[str, Any] = {"checkpoint_step": step, "chosen": "step" if isinstance(which, int) else which}
        if which == "best":
            row = self.project.best_checkpoint(self.run_id, metric)
            record.update(metric=metric, score=row["value"] if row else None)
        return path, record

    @property
    def kind(self) -> str:
        for kind, button in (("gguf", self.gguf), ("gguf-adapter", self.gguf_adapter), ("ollama", self.ollama),
                             ("merged", self.merged), ("serving-adapter", self.serving)):
            if button.isChecked():
                return kind
        return "adapter"

    def destination(self) -> Path:
        """The folder for merged / adapter / Ollama; beside it ``<folder>-<type>.gguf`` or ``<folder>-lora.gguf``."""
        folder = Path(self.folder.text()).expanduser().absolute()
        if self.kind == "gguf":
            return folder.with_name(f"{folder.name}-{self.gguf_type.currentText()}.gguf")
        if self.kind == "gguf-adapter":
            return folder.with_name(f"{folder.name}-lora.gguf")
        return folder

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setRange(0, 100)
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(f"%p% · {message}")

    def start(self) -> None:
        """Export on a worker thread."""
        try:
            path, self.chosen = self.choice()
        except RequestError as exc:
            self.result.setText(f"<span style='color:#d62728'>{exc}</span>")
            return
        checkpoint = str(path)
        dest = self.destination()
        if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
            self.result.setText(f"<span style='color:#d62728'>{dest} exists and is not empty; choose a new folder.</span>")
            return
        if self.kind in GGUF_TARGETS:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.export_button.setEnabled(False)
            self.progress.setRange(0, 0)
            self.progress.show()
            self.result.setText(self.tr("Writing {0}, then checking it in llama.cpp against our model…").format(dest.name))
            self.runner.submit(_gguf_job, self.model_ref, checkpoint, str(dest), self.kind, self.gguf_type.currentText(),
                               self.ollama_name.text().strip(), False, self._progress.emit,
                               on_done=self._done_gguf, on_error=self._failed)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)  # ~/Documents/Adapter Studio exports the first time
        self.export_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy
        self.progress.show()
        what = {"merged": self.tr("a merged model"), "serving-adapter": self.tr("a serving-compatible adapter")}.get(
            self.kind, self.tr("the adapter"))
        self.result.setText(self.tr("Writing {0}, then reloading it and comparing logits with the adapter model…").format(what))
        self.runner.submit(_export_job, self.model_ref, checkpoint, str(dest), self.kind,
                           dict(self.training), on_done=self._done, on_error=self._failed)

    def _done(self, info: dict[str, Any]) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        detail = {"max_abs_diff": info["max_abs_diff"], "bytes": info["bytes"], "files": info["files"], **self.chosen}
        if not self.project.readonly:
            self.project.add_export(self.run_id, info["kind"], info["path"], checkpoint=info["checkpoint"],
                                    verified=True, detail=detail)
        self.result.setText(
            f"<b style='color:#2ca02c'>✓ Verified</b>: {self._from()}{info['kind']} written to {info['path']} "
            f"({info['bytes'] / 2**20:.1f} MiB). Reloaded and compared with the adapter model: largest logit "
            f"difference {info['max_abs_diff']:.2e}." + "".join(f"<br>{html.escape(line)}" for line in info["servers"]))
        self.export_button.setEnabled(True)
        self.info = info
        self.exported.emit(info)

    def _done_gguf(self, info: dict[str, Any]) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        if not self.project.readonly:
            self.project.add_export(self.run_id, info["kind"], info["path"], checkpoint=info["checkpoint"],
                                    verified=True, detail={**info["detail"], **self.chosen})
        # escaped: a tokenizer warning quotes special tokens such as <s>, which rich text would read as markup
        self.result.setText("<b style='color:#2ca02c'>✓ Verified</b>: " + self._from()
                            + html.escape(info["message"], quote=False).replace("\n", "<br>"))
        self.export_button.setEnabled(True)
        self.info = info
        self.exported.emit(info)

    def _from(self) -> str:
        """The result line's opening, e.g. ``from checkpoint-10 (best eval loss 1.2345): ``."""
        chosen = getattr(self, "chosen", {})
        step = chosen.get("checkpoint_step")
        if step is None:
            return ""
        metric = chosen.get("metric")
        why = f" (best {metric_label(metric)} {_score(metric, chosen['score'])})" if metric else ""
        return f"from checkpoint-{step}{why}: "

    def _failed(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.hide()
        self.result.setText(f"<b style='color:#d62728'>✗ Export failed</b>: {message}")
        self.export_button.setEnabled(True)
        self.failed.emit(message)


def _score(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if metric == "eval_loss" else f"{value:.3f}"
