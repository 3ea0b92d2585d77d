"""Export a run: a merged model (mergeable methods only) or the adapter alone, verified after writing.

The export runs on a worker thread (`studio.jobs.Runner`; torch loads there, never on the GUI
thread): `core.runs.export_run` loads the base model and the checkpoint's adapter, `core.export`
writes to a temporary folder, reloads it, compares logits with the adapter model and renames it into
place. The dialog shows the verification result and records the export in the project file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
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

from core.methods import catalog



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


def _export_job(model_ref: str, checkpoint: str, dest: str, merged: bool) -> dict[str, Any]:
    from core.runs import export_run

    result = export_run(model_ref, Path(checkpoint), Path(dest), merged=merged)
    return {"path": result.path, "kind": result.kind, "max_abs_diff": result.max_abs_diff,
            "bytes": result.bytes, "files": len(result.files), "checkpoint": checkpoint}


class ExportDialog(QDialog):
    """Merged vs adapter, checkpoint, folder, progress, verification result."""

    exported = Signal(dict)
    failed = Signal(str)

    def __init__(self, project: Any, run_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from studio.jobs import Runner

        self.project = project
        self.run_id = run_id
        self.runner = Runner(self)
        run = project.run(run_id)
        self.model_ref = run.config.model
        self.method = run.config.method
        self.setWindowTitle(self.tr("Export run {0}").format(run_id))

        self.merged = QRadioButton(self.tr("Merged model (a plain Hugging Face model folder)"))
        self.adapter = QRadioButton(self.tr("Adapter only (PEFT's layout: adapter_config.json + safetensors)"))
        group = QButtonGroup(self)
        group.addButton(self.merged)
        group.addButton(self.adapter)
        self.why = QLabel()
        self.why.setWordWrap(True)
        if catalog.facts(self.method).mergeable:
            self.merged.setChecked(True)
            self.why.hide()
        else:
            self.merged.setEnabled(False)
            self.adapter.setChecked(True)
            self.why.setText(why_not_mergeable(self.method))
        self.checkpoint = QComboBox()
        for row in reversed(project.checkpoints(run_id)):
            if Path(row["path"]).is_dir():
                self.checkpoint.addItem(f"step {row['step']} — {Path(row['path']).name}", str(row["path"]))
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
        form.addRow(self.tr("Folder"), where)
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
        box.addWidget(self.why)
        box.addLayout(form)
        box.addWidget(self.progress)
        box.addWidget(self.result)
        box.addWidget(self.buttons)
        self.resize(620, 280)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.tr("Export to folder"), str(Path(self.folder.text()).parent))
        if path:
            self.folder.setText(path)

    @property
    def kind(self) -> str:
        return "merged" if self.merged.isChecked() else "adapter"

    def start(self) -> None:
        """Export on a worker thread."""
        checkpoint = self.checkpoint.currentData()
        if not checkpoint:
            return
        dest = Path(self.folder.text()).expanduser().absolute()
        if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
            self.result.setText(f"<span style='color:#d62728'>{dest} exists and is not empty; choose a new folder.</span>")
            return
        dest.parent.mkdir(parents=True, exist_ok=True)  # ~/Documents/Adapter Studio exports the first time
        self.export_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy
        self.progress.show()
        what = self.tr("a merged model") if self.kind == "merged" else self.tr("the adapter")
        self.result.setText(self.tr("Writing {0}, then reloading it and comparing logits with the adapter model…").format(what))
        self.runner.submit(_export_job, self.model_ref, checkpoint, str(dest), self.kind == "merged",
                           on_done=self._done, on_error=self._failed)

    def _done(self, info: dict[str, Any]) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        detail = {"max_abs_diff": info["max_abs_diff"], "bytes": info["bytes"], "files": info["files"]}
        if not self.project.readonly:
            self.project.add_export(self.run_id, info["kind"], info["path"], checkpoint=info["checkpoint"],
                                    verified=True, detail=detail)
        self.result.setText(
            f"<b style='color:#2ca02c'>✓ Verified</b>: {info['kind']} written to {info['path']} "
            f"({info['bytes'] / 2**20:.1f} MiB). Reloaded and compared with the adapter model: largest logit "
            f"difference {info['max_abs_diff']:.2e}.")
        self.export_button.setEnabled(True)
        self.info = info
        self.exported.emit(info)

    def _failed(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.hide()
        self.result.setText(f"<b style='color:#d62728'>✗ Export failed</b>: {message}")
        self.export_button.setEnabled(True)
        self.failed.emit(message)
