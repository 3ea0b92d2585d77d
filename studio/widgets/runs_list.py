"""The project's runs: status, method, final and best eval loss, duration; select several to overlay
their curves (the run view draws them), select two to diff their configurations; the exports below."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.messages import person
from studio.widgets.run_view import colour_for, run_paused, status_label
from studio.worker_client import clock

COLUMNS = (  # header labels, translated in RunsList's context (self.tr)
    QT_TRANSLATE_NOOP("RunsList", "run"), QT_TRANSLATE_NOOP("RunsList", "status"), QT_TRANSLATE_NOOP("RunsList", "method"),
    QT_TRANSLATE_NOOP("RunsList", "steps"), QT_TRANSLATE_NOOP("RunsList", "loss"), QT_TRANSLATE_NOOP("RunsList", "eval loss"),
    QT_TRANSLATE_NOOP("RunsList", "best eval"), QT_TRANSLATE_NOOP("RunsList", "duration"),
    QT_TRANSLATE_NOOP("RunsList", "best score"), QT_TRANSLATE_NOOP("RunsList", "blind A/B"),
)
SCORES = (  # (metric of core.evaluate, its label) for the "best score" column's chooser
    ("exact_match", QT_TRANSLATE_NOOP("RunsList", "exact match")), ("contains", QT_TRANSLATE_NOOP("RunsList", "contains")),
    ("f1", QT_TRANSLATE_NOOP("RunsList", "token F1")), ("rouge_l", QT_TRANSLATE_NOOP("RunsList", "ROUGE-L")),
)


def _source(export: dict[str, Any]) -> str:
    """``checkpoint-10 (best eval loss) · `` for an export's line: the checkpoint it came from, and why."""
    checkpoint = export.get("checkpoint")
    if not checkpoint:
        return ""
    metric = (export.get("detail") or {}).get("metric")
    why = f" (best {'eval loss' if metric == 'eval_loss' else metric})" if metric else ""
    return f"{Path(checkpoint).name}{why} · "


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value
    return out


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in a, value in b) for every setting that differs between two run configs."""
    fa, fb = _flat("", a, {}), _flat("", b, {})
    missing = object()
    rows = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key, missing), fb.get(key, missing)
        if va != vb:
            rows.append((key, None if va is missing else va, None if vb is missing else vb))
    return rows


class RunsList(QWidget):
    """A table of runs (multi-select), a config diff of two, and the project's exports."""

    selection_changed = Signal(list)
    resume_requested = Signal(int)
    combine_requested = Signal(list)
    """Combine runs… from the context menu, with the selected runs (the window opens the Combine dialog)."""
    metric_changed = Signal()
    """The person chose another task score for the "best score" column (the window refills the list)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        for i in range(3, len(COLUMNS)):
            self.table.headerItem().setTextAlignment(i, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.metric = QComboBox()
        self.metric.setToolTip(self.tr("The task score the runs list shows: each run's best over its evaluations"))
        for key, label in SCORES:
            self.metric.addItem(self.tr(label), key)
        self.metric.currentIndexChanged.connect(lambda _: self.metric_changed.emit())
        self.diff = QTextBrowser()
        self.diff.setPlaceholderText(self.tr("Select two runs to compare their settings; several to overlay their curves."))
        self.exports = QListWidget()
        self.exports.setToolTip(self.tr("Exports of this project (verified against the adapter model)"))
        split = QSplitter(Qt.Orientation.Vertical)
        upper = QWidget()
        ubox = QVBoxLayout(upper)
        ubox.setContentsMargins(0, 0, 0, 0)
        choose = QHBoxLayout()
        choose.addWidget(QLabel(self.tr("Score:")))
        choose.addWidget(self.metric)
        choose.addStretch(1)
        ubox.addLayout(choose)
        ubox.addWidget(self.table)
        split.addWidget(upper)
        split.addWidget(self.diff)
        lower = QWidget()
        lbox = QVBoxLayout(lower)
        lbox.setContentsMargins(0, 0, 0, 0)
        lbox.addWidget(QLabel(self.tr("Exports")))
        lbox.addWidget(self.exports)
        split.addWidget(lower)
        split.setSizes([220, 120, 60])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(split)
        self._ids: list[int] = []
        self.paused_ids: set[int] = set()
        """Runs the window knows are paused (from the worker's `Paused` event; the file may lag or,
        in an older store, not record it)."""
        self._filling = False
        self.can_resume: Any = None
        """(run id) -> why it cannot be resumed, "" when it can (the window's rule; None: always offered)."""
        self.table.itemSelectionChanged.connect(self._on_selection)

    def set_runs(self, project: Any) -> None:
        """Fill from the project file (keeps the selection)."""
        selected = set(self.selected_ids())
        best = project.best_eval_losses()
        metric = self.metric.currentData()
        scores = project.best_scores(metric)
        ab = _latest_comparisons(project.comparisons())
        self._filling = True
        self.table.clear()
        self._ids = []
        now = time.time()
        for run in project.runs():
            end = run.ended or (run.heartbeat if run.status != "running" else now)
            duration = (end - run.started) if run.started and end else None
            # paused_ids: the live run's pause as its worker answered (cleared by the window when the run ends)
            status = "paused" if run.id in self.paused_ids or run_paused(run) else run.status
            values = [
                run.name or f"run {run.id}", status_label(status), run.config.method,
                f"{run.step:,}/{run.total_steps:,}" if run.total_steps else f"{run.step:,}",
                _num(run.loss), _num(run.eval_loss), _num(best.get(run.id)), clock(duration) if duration else "",
                f"{scores[run.id]:.0%}" if scores.get(run.id) is not None else "", ab.get(run.id, ("", ""))[0],
            ]
            item = QTreeWidgetItem(values)
            item.setData(0, Qt.ItemDataRole.UserRole, run.id)
            item.setForeground(1, QBrush(colour_for(status)))
            if run.error:  # the engine's English, in the window's language
                item.setToolTip(1, person(run.error, run.error_kind))
            if run.id in ab:
                item.setToolTip(len(COLUMNS) - 1, ab[run.id][1])
            for i in range(3, len(COLUMNS)):
                item.setTextAlignment(i, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.addTopLevelItem(item)
            self._ids.append(run.id)
            if run.id in selected:
                item.setSelected(True)
        for i in range(len(COLUMNS)):
            self.table.resizeColumnToContents(i)
        self._filling = False
        self.exports.clear()
        for row in project.exports():
            mark = "✓ verified" if row["verified"] else "not verified"
            diff = (row.get("detail") or {}).get("max_abs_diff")
            extra = f" (max |Δlogit| {diff:.1e})" if isinstance(diff, (int, float)) else ""
            self.exports.addItem(f"run {row['run_id']} · {_source(row)}{row['kind']} · {row['path']} · {mark}{extra}")

    def set_paused(self, run_id: int, paused: bool) -> None:
        """Show a run as paused (or running again) at once, without waiting for the next refresh."""
        (self.paused_ids.add if paused else self.paused_ids.discard)(run_id)
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) != run_id:
                continue
            if paused or item.text(1) == status_label("paused"):  # never overwrites an ended run's status
                status = "paused" if paused else "running"
                item.setText(1, status_label(status))
                item.setForeground(1, QBrush(colour_for(status)))

    def set_progress(self, run_id: int, step: int, total: int | None, loss: float | None = None) -> None:
        """A live run's steps (and last loss) from the worker's events, the ones the progress bar shows."""
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == run_id:
                item.setText(3, f"{step:,}/{total:,}" if total else f"{step:,}")
                if loss is not None:
                    item.setText(4, _num(loss))
                return

    def select(self, run_id: int) -> None:
        self._filling = True
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == run_id)
        self._filling = False

    def selected_ids(self) -> list[int]:
        items = sorted(self.table.selectedItems(), key=lambda it: self.table.indexOfTopLevelItem(it))
        return [int(it.data(0, Qt.ItemDataRole.UserRole)) for it in items]

    def _on_selection(self) -> None:
        if not self._filling:
            self.selection_changed.emit(self.selected_ids())

    def show_diff(self, project: Any, ids: list[int]) -> None:
        if len(ids) != 2:
            self.diff.clear()
            return
        a, b = (project.run(i) for i in ids)
        rows = config_diff(a.config.to_dict(), b.config.to_dict())
        head = f"<tr><th align=left>setting</th><th align=left>{a.name}</th><th align=left>{b.name}</th></tr>"
        body = "".join(
            f"<tr><td><code>{k}</code></td><td>{_show(va)}</td><td>{_show(vb)}</td></tr>" for k, va, vb in rows
        ) or "<tr><td colspan=3>The two runs have the same settings.</td></tr>"
        self.diff.setHtml(f"<table cellspacing=4>{head}{body}</table>")
        self.diff_rows = rows

    def _menu(self, pos: Any) -> None:
        item = self.table.itemAt(pos)
        if item is None:
            return
        run_id = int(item.data(0, Qt.ItemDataRole.UserRole))
        menu = QMenu(self)
        for action in self.menu_actions(run_id, menu):
            menu.addAction(action)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def menu_actions(self, run_id: int, parent: Any = None) -> list[QAction]:
        """The run's context-menu actions: Resume, greyed with the reason when the run cannot be
        resumed (a completed run, no checkpoint) instead of doing nothing."""
        why = self.can_resume(run_id) if self.can_resume is not None else ""
        text = self.tr("Resume from last checkpoint") if not why else self.tr("Resume — {0}").format(why)
        resume = QAction(text, parent or self)
        resume.setEnabled(not why)
        resume.setToolTip(why)
        resume.triggered.connect(lambda: self.resume_requested.emit(run_id))
        ids = self.selected_ids()
        ids = ids if run_id in ids else [run_id]
        combine = QAction(self.tr("Combine selected runs…") if len(ids) > 1 else self.tr("Combine runs…"), parent or self)
        combine.setToolTip(self.tr("Make one adapter from finished runs, each with a weight (adapter arithmetic)"))
        combine.triggered.connect(lambda: self.combine_requested.emit(ids))
        return [resume, combine]


def _latest_comparisons(rows: list[dict[str, Any]]) -> dict[int, tuple[str, str]]:
    """Run id -> (its win rate in its newest blind comparison, with the 95 % interval; the comparison's
    label and counts) from `Project.comparisons` rows; a run compared as the first model gets 1 - rate."""
    out: dict[int, tuple[str, str]] = {}
    for row in rows:  # oldest first: the newest wins
        if not row["n"]:
            continue
        for side, model in (("b", row["model_b"]), ("a", row["model_a"])):
            run_id = (model or {}).get("run_id")
            if run_id is None:
                continue
            rate, (low, high) = row["win_rate"], row["interval"]
            if side == "a":
                rate, low, high = 1 - rate, 1 - high, 1 - low
            out[run_id] = (f"{rate:.0%} [{low:.0%}–{high:.0%}]",
                           f"{row['label']}: {row['wins_a']} / {row['wins_b']} / {row['ties']} (A / B / tie), n = {row['n']}")
    return out


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _show(value: Any) -> str:
    if value is None:
        return "<i>—</i>"
    return json.dumps(value) if not isinstance(value, str) else value
