"""Combine runs: finished LoRA (or IA3) runs on one base, a weight each and a combination type, previewed in the
playground, saved as a new run (`core.combine`; docs/combine.md).

The dialog checks what it is asked on every change with `core.combine.plan_combination` (torch-free, on the
GUI thread: it reads the project file and the adapters' config files) and says why a combination is
impossible, naming the runs, with Preview and Save greyed. Preview and Save build the adapter on a worker
thread (`studio.jobs.Runner`; torch loads there) into a folder in the project's artifacts folder; Preview hands
that folder to the playground (`preview_ready`), Save records it as a new run (`Project.add_finished_run`:
the folder is moved in, so a saved preview is exactly what the person played with, dare's random masks
included). Folders of previews that were not saved are deleted when the dialog closes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.combine import (
    COMBINATION_TYPES,
    FINISHED,
    CombineRequest,
    combination_name,
    needs_density,
    needs_sign,
    needs_svd_rank,
    plan_combination,
)
from studio.messages import person
from studio.widgets.dataclass_form import guard_wheel

HOW = {  # what each combination type does, translated in the CombineDialog context (self.tr)
    "linear": QT_TRANSLATE_NOOP("CombineDialog", "linear — adds the A and B matrices (same rank); cheap, approximate"),
    "cat": QT_TRANSLATE_NOOP("CombineDialog", "cat — exact weighted sum of the updates; the ranks add up"),
    "svd": QT_TRANSLATE_NOOP("CombineDialog", "svd — weighted sum of the updates, refactorised to a chosen rank"),
    "ties": QT_TRANSLATE_NOOP("CombineDialog", "ties — prune, keep the majority sign, average (same rank)"),
    "dare_linear": QT_TRANSLATE_NOOP("CombineDialog", "dare_linear — random pruning with rescaling, then linear (same rank)"),
    "dare_ties": QT_TRANSLATE_NOOP("CombineDialog", "dare_ties — random pruning with rescaling, then ties (same rank)"),
    "magnitude_prune": QT_TRANSLATE_NOOP("CombineDialog", "magnitude_prune — keep the largest values, then linear (same rank)"),
}
"""The factor rules and ``cat``/``svd``; an ``*_svd`` type is its rule on the full updates, then svd."""


class CombineDialog(QDialog):
    """Runs with weights | combination type and its knobs | name | Preview, Save as new run."""

    preview_ready = Signal(str, str, str)
    """(label, adapter folder, model reference): play it in the playground."""
    saved = Signal(int)
    """The new run's id."""
    failed = Signal(str)

    def __init__(self, project: Any, selected: list[int] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from studio.jobs import Runner

        self.project = project
        self.runner = Runner(self)
        self._ready = False  # the widgets' signals fire while they are built; checked once all exist
        self.setWindowTitle(self.tr("Combine runs"))
        intro = QLabel(self.tr("Make one adapter from finished runs on the same base model, each with a weight (a "
                               "negative weight subtracts). Preview it in the playground, then save it as a new run "
                               "that exports like any other."))
        intro.setWordWrap(True)
        self.runs = QTreeWidget()
        self.runs.setRootIsDecorated(False)
        self.runs.setHeaderLabels([self.tr("run"), self.tr("method"), self.tr("rank"), self.tr("weight")])
        self.weights: dict[int, QDoubleSpinBox] = {}
        self.methods: dict[int, str] = {}  # run id -> its method (PeftType value)
        chosen = set(selected or [])
        for run in project.runs():
            if run.status not in FINISHED or project.last_checkpoint(run.id) is None:
                continue
            rank = run.config.method_config.get("r")
            item = QTreeWidgetItem([run.name or f"run {run.id}", run.config.method, str(rank or "")])
            self.methods[run.id] = run.config.method
            item.setData(0, Qt.ItemDataRole.UserRole, run.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if run.id in chosen else Qt.CheckState.Unchecked)
            item.setToolTip(0, f"{run.config.model} · {run.config.method} · " + self.tr("status {0}").format(run.status))
            self.runs.addTopLevelItem(item)
            weight = QDoubleSpinBox()
            weight.setRange(-10.0, 10.0)
            weight.setDecimals(3)
            weight.setSingleStep(0.1)
            weight.setValue(1.0)
            guard_wheel(weight)
            weight.valueChanged.connect(self._changed)
            self.runs.setItemWidget(item, 3, weight)
            self.weights[run.id] = weight
        for i in range(3):
            self.runs.resizeColumnToContents(i)
        self.runs.itemChanged.connect(self._changed)
        checked = [i for i in self.weights if i in chosen]
        for run_id in checked:  # equal weights summing to 1 for the runs chosen in the runs list
            self.weights[run_id].setValue(round(1.0 / len(checked), 3))

        self.how = QComboBox()
        for how in COMBINATION_TYPES:
            base = how.removesuffix("_svd") if how != "svd" else how
            text = self.tr(HOW[how]) if how in HOW else self.tr("{0} — the {1} rule on the full updates, then svd").format(how, base)
            self.how.addItem(text, how)
        self.how.setCurrentIndex(self.how.findData("cat"))
        self.density = QDoubleSpinBox()
        self.density.setRange(0.01, 1.0)
        self.density.setSingleStep(0.05)
        self.density.setValue(0.5)
        self.density.setToolTip(self.tr("The fraction of each tensor's values kept before combining"))
        self.sign = QComboBox()
        self.sign.addItem(self.tr("total — the sign of the weighted sum"), "total")
        self.sign.addItem(self.tr("frequency — the more frequent sign"), "frequency")
        self.svd_rank = QSpinBox()
        self.svd_rank.setRange(0, 4096)
        self.svd_rank.setSpecialValueText(self.tr("the largest rank of the runs"))
        self.name = QLineEdit()
        for widget in (self.how, self.density, self.sign, self.svd_rank):
            guard_wheel(widget)
        self.how.currentIndexChanged.connect(self._changed)
        self.density.valueChanged.connect(self._changed)
        self.sign.currentIndexChanged.connect(self._changed)
        self.svd_rank.valueChanged.connect(self._changed)
        self.form = QFormLayout()
        self.form.addRow(self.tr("Combination"), self.how)
        self.form.addRow(self.tr("Density"), self.density)
        self.form.addRow(self.tr("Majority sign"), self.sign)
        self.form.addRow(self.tr("SVD rank"), self.svd_rank)
        self.form.addRow(self.tr("Name"), self.name)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.preview_button = self.buttons.addButton(self.tr("Preview in the playground"), QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button = self.buttons.addButton(self.tr("Save as new run"), QDialogButtonBox.ButtonRole.ActionRole)
        self.preview_button.clicked.connect(self.preview)
        self.save_button.clicked.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(intro)
        box.addWidget(self.runs, 1)
        box.addLayout(self.form)
        box.addWidget(self.message)
        box.addWidget(self.progress)
        box.addWidget(self.buttons)
        self.plan: Any = None
        self.problem = ""
        """Why the current choice cannot be combined ("" when it can)."""
        self._previews: list[Path] = []
        self._preview: tuple[dict[str, Any], Path, dict[str, Any]] | None = None
        """(the plan it was built from, its folder, the adapter's config) of the last preview."""
        self._busy = False
        self._progress_signal.connect(self._on_progress)
        self._ready = True
        if not self.weights:
            self.message.setText(self.tr("No finished run with a checkpoint yet: train runs first (LoRA or IA3, "
                                         "on the same base model)."))
        self._changed()
        self.resize(640, 520)

    _progress_signal = Signal(float, str)  # from the build's thread (queued to the GUI thread)

    # ---- the choice --------------------------------------------------------------------------------

    def checked(self) -> list[int]:
        out = []
        for i in range(self.runs.topLevelItemCount()):
            item = self.runs.topLevelItem(i)
            if item.checkState(0) == Qt.CheckState.Checked:
                out.append(int(item.data(0, Qt.ItemDataRole.UserRole)))
        return out

    def set_checked(self, run_ids: list[int]) -> None:
        for i in range(self.runs.topLevelItemCount()):
            item = self.runs.topLevelItem(i)
            on = int(item.data(0, Qt.ItemDataRole.UserRole)) in run_ids
            item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def request(self) -> CombineRequest:
        ids = self.checked()
        how = self.how.currentData()
        return CombineRequest(
            runs=ids, weights=[self.weights[i].value() for i in ids], how=how,
            density=self.density.value() if needs_density(how) else None, majority_sign_method=self.sign.currentData(),
            svd_rank=(self.svd_rank.value() or None) if needs_svd_rank(how) else None, name=self.name.text().strip(),
        )

    def _changed(self, *_: Any) -> None:
        """Show only the knobs the type needs; check the choice (`plan_combination`) and say what is wrong."""
        if not self._ready:
            return
        self._offer_types()
        how = self.how.currentData()
        for widget, shown in ((self.density, needs_density(how)), (self.sign, needs_sign(how)),
                              (self.svd_rank, needs_svd_rank(how))):
            self.form.setRowVisible(widget, shown)
        request = self.request()
        names = {i: self.runs.topLevelItem(k).text(0) for k, i in enumerate(self._ids())}
        self.name.setPlaceholderText(combination_name([names[i] for i in request.runs], request.weights, how)
                                     if request.runs else "")
        self.plan, self.problem = None, ""
        if not self.weights:
            self.problem = self.message.text()
        else:
            try:
                self.plan = plan_combination(self.project, request)
            except Exception as exc:  # noqa: BLE001 - a RequestError (or a file that cannot be read): said, not raised
                self.problem = person(str(exc), getattr(exc, "kind", None))
            self.message.setText(self.problem and f"<span style='color:#d62728'>{_escape(self.problem)}</span>")
        self._update_buttons()

    def _offer_types(self) -> None:
        """Only the combination types the checked runs' method has (`FACTS.combination_types`: IA3 adds its scaling
        vectors linearly, nothing else) can be picked; the others stay listed, greyed, with why. A type that is no
        longer possible gives way to the method's first."""
        from core.methods import catalog

        methods = {self.methods[i] for i in self.checked() if i in self.methods}
        facts = catalog.get(next(iter(methods))) if len(methods) == 1 else None
        allowed = set(facts.combination_types) if facts is not None else set(COMBINATION_TYPES)
        model = self.how.model()
        for row in range(self.how.count()):
            item = model.item(row)
            item.setEnabled(self.how.itemData(row) in allowed)
            item.setToolTip("" if item.isEnabled() else self.tr("{0} runs cannot be combined this way").format(facts.label))
        if self.how.currentData() not in allowed and facts is not None and facts.combination_types:
            self.how.blockSignals(True)  # called from _changed, which goes on with the new type
            self.how.setCurrentIndex(self.how.findData(facts.combination_types[0]))
            self.how.blockSignals(False)

    def _ids(self) -> list[int]:
        return [int(self.runs.topLevelItem(k).data(0, Qt.ItemDataRole.UserRole)) for k in range(self.runs.topLevelItemCount())]

    def _update_buttons(self) -> None:
        ok = self.plan is not None and not self._busy and not self.project.readonly
        self.preview_button.setEnabled(ok)
        self.save_button.setEnabled(ok)

    # ---- preview and save --------------------------------------------------------------------------

    def _build(self, on_done: Any) -> None:
        from core.combine import build_adapter

        plan = self.plan
        self.project.artifacts_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.project.artifacts_dir, prefix=".combine-preview-"))
        self._previews.append(folder)
        self._busy = True
        self._update_buttons()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.show()
        self.message.setText(self.tr("Combining {0}…").format(_escape(plan.name)))
        self.runner.submit(build_adapter, plan, folder, self._progress_signal.emit,
                           on_done=lambda config: on_done(plan, folder, config), on_error=self._failed)

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(f"%p% · {message}")

    def preview(self) -> None:
        """Build the combination and hand it to the playground (nothing is written into the project)."""
        if self.plan is None:
            return

        def done(plan: Any, folder: Path, config: dict[str, Any]) -> None:
            self._finish()
            self._preview = (plan.describe() | {"name": plan.name}, folder, config)
            label = self.tr("Preview (not saved): {0}").format(plan.name)
            self.message.setText(self.tr("Ready in the playground: {0}. Save keeps exactly this adapter.").format(_escape(plan.name)))
            self.preview_ready.emit(label, str(folder / "adapter"), plan.model)

        self._build(done)

    def save(self) -> None:
        """Record the combination as a new run: the previewed adapter when the choice has not changed since."""
        if self.plan is None:
            return
        plan = self.plan
        if self._preview is not None and self._preview[0] == plan.describe() | {"name": plan.name} \
                and (self._preview[1] / "adapter").is_dir():
            self._record(plan, self._preview[1], self._preview[2])
            return
        self._build(lambda built, folder, config: (self._finish(), self._record(built, folder, config)))

    def _record(self, plan: Any, folder: Path, config: dict[str, Any]) -> None:
        from core.combine import record_combination

        try:
            run_id = record_combination(self.project, plan, folder, config)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self._failed(str(exc))
            return
        self._preview = None
        self.message.setText("<b style='color:#2ca02c'>✓</b> " + self.tr("Saved as run {0}: {1}. Export it from the runs "
                                                                         "list like any run.").format(run_id, _escape(plan.name)))
        self.run_id = run_id
        self.saved.emit(run_id)

    def _finish(self) -> None:
        self._busy = False
        self.progress.hide()
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self._finish()
        text = person(message, "request")
        self.message.setText("<b style='color:#d62728'>✗</b> " + self.tr("The combination failed: {0}").format(_escape(text)))
        self.failed.emit(message)

    def done(self, result: int) -> None:  # noqa: D401 - QDialog's close, Close button and Escape
        """Closing: wait for a build still running, then delete the previews that were not saved."""
        self.runner.wait(120_000)
        for folder in self._previews:
            shutil.rmtree(folder, ignore_errors=True)
        self._previews.clear()
        super().done(result)


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)
