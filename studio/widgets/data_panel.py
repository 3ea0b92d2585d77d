"""The data tab: choose a dataset file, pick its format and map its columns, and preview it as the model sees it.

The settings form is generated from ``core.data.DataConfig``; its path, format and column fields are
shown instead by the "Dataset" box on top: the file (typed or chosen), the format (auto or one of
prompt/completion, chat, text) and one combo box per column the format reads, listing the file's
own columns. When a file is chosen, ``core.data.detect_columns`` reads its columns on a worker
thread and the mapping it detects (``question``/``answer`` for prompt and completion, a list of
messages for chat, ...) is filled in and saved; picking a column saves it into the same DataConfig
fields (and makes the format that column belongs to explicit). A mapping that does not fit the
file is flagged on the box, with the columns the file has, as soon as it is picked.

"Preview" runs ``core.data.preview`` on a worker thread (tokenizing is heavy) and shows the first
examples with the trained-on part highlighted, the length statistics, a token-length histogram with
the ``max_length`` cut-off marked, and any data error (bad line, missing column) with its file and
line, before training. The preview refreshes by itself after the file or the mapping changes.
"""

from __future__ import annotations

import html
import itertools
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.widgets.dataclass_form import DataclassForm, guard_wheel
from studio.messages import person

FORMATS = ("auto", "prompt_completion", "chat", "text")  # = core.data.FORMATS (not imported: keeps startup light)
ROLES = ("prompt_column", "completion_column", "messages_column", "text_column")
FORMAT_OF = {"prompt_column": "prompt_completion", "completion_column": "prompt_completion",
             "messages_column": "chat", "text_column": "text"}
ROLES_OF = {"prompt_completion": ("prompt_column", "completion_column"), "alpaca": ("prompt_column", "completion_column"),
            "chat": ("messages_column",), "text": ("text_column",)}
# DataConfig fields shown elsewhere (hidden in the form): the Dataset box's; ``teaches``, the method form's "Your data
# teaches" (it decides which methods the form recommends).
SHOWN_ELSEWHERE = ("path", "format", *ROLES, "teaches")
ERROR_STYLE = "border: 1px solid #c62828;"


def _detect_columns(data: dict[str, Any]) -> Any:
    """Pool thread: the file's columns and the detected format and mapping (`core.data.ColumnMapping`)."""
    from core.data import DataConfig, detect_columns

    return detect_columns(DataConfig(**data))


def _error_label() -> QLabel:
    """A hidden, wrapping, selectable red label for a message about the data."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color: #c62828;")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


class DataPanel(QWidget):
    """Dataset box (file, format, column picker) + DataConfig form + preview.

    `preview_requested` asks the window to run the preview job; `columns_ready` says the picker
    has the chosen file's columns (or the reason it has none)."""

    preview_requested = Signal()
    columns_ready = Signal()

    def __init__(self, parent: QWidget | None = None, *, runner: Any = None) -> None:
        super().__init__(parent)
        if runner is None:
            from studio.jobs import Runner

            runner = Runner(self)
        self.runner = runner
        self.columns: list[str] | None = None  # the file's columns, once read
        self.detected = None  # core.data.ColumnMapping of the last read
        self.mapping_error = ""
        self._scanned: str | None = None  # the path whose columns are (being) read
        self._scan_ids = itertools.count(1)
        self._scan_id = 0
        self._syncing = False

        self.form = DataclassForm()
        # ---- the Dataset box: file, format, columns
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText(self.tr("a .jsonl, .json, .csv or .parquet file, a save_to_disk folder, or a cached hub id"))
        self.choose = QPushButton(self.tr("Choose file…"))
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.choose)
        self.format_box = guard_wheel(QComboBox())  # in the scrolling Data tab: the wheel scrolls unless focused
        self.format_box.setObjectName("format")
        self.format_box.addItems(list(FORMATS))
        self.format_box.setToolTip(self.tr("auto: told from the columns; or say which layout the records have"))
        self.format_note = QLabel()
        self.format_note.setWordWrap(True)
        format_row = QHBoxLayout()
        format_row.addWidget(self.format_box)
        format_row.addWidget(self.format_note, 1)
        self.role_boxes: dict[str, QComboBox] = {}
        self.role_labels: dict[str, QLabel] = {}
        role_names = {
            "prompt_column": self.tr("prompt"),
            "completion_column": self.tr("completion"),
            "messages_column": self.tr("messages"),
            "text_column": self.tr("text"),
        }
        role_tips = {
            "prompt_column": self.tr("The column with the prompt (the context, not trained on)"),
            "completion_column": self.tr("The column with the answer to learn"),
            "messages_column": self.tr("The column with the list of {role, content} messages"),
            "text_column": self.tr("The column with the raw text"),
        }
        self.box = QGroupBox(self.tr("Dataset"))
        box_form = QFormLayout(self.box)
        box_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        box_form.addRow(self.tr("file"), path_row)
        box_form.addRow(self.tr("format"), format_row)
        for role in ROLES:
            combo = guard_wheel(QComboBox())  # a wheel over it was a pick that rewrote the column mapping
            combo.setObjectName(role)
            combo.setToolTip(role_tips[role])
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.activated.connect(lambda _i, r=role: self._pick_role(r))
            label = QLabel(role_names[role])
            box_form.addRow(label, combo)
            self.role_boxes[role], self.role_labels[role] = combo, label
        self.box_form = box_form
        self.alpaca_note = QLabel(self.tr("alpaca layout: instruction (+ input) is the prompt, output the completion. "
                                          "Pick columns above to use others."))
        self.alpaca_note.setWordWrap(True)
        self.alpaca_note.hide()
        self.map_error = _error_label()
        self.reading = QProgressBar()
        self.reading.setRange(0, 0)
        self.reading.setTextVisible(False)
        self.reading.setMaximumHeight(6)
        self.reading.hide()
        box_form.addRow(self.alpaca_note)
        box_form.addRow(self.map_error)
        box_form.addRow(self.reading)

        self.preview_button = QPushButton(self.tr("Preview"))
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(80)
        self.busy.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        self.error = _error_label()
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.text = QTextEdit()
        self.text.setReadOnly(True)
        self.plot = None  # pyqtgraph loads with the first preview (keeps the cold start light)
        self.shown = None  # the core.data.Preview on screen
        upper = QWidget()
        upper_box = QVBoxLayout(upper)
        upper_box.setContentsMargins(0, 0, 0, 0)
        upper_box.addWidget(self.box)
        upper_box.addWidget(self.form, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # long messages wrap instead
        scroll.setWidget(upper)
        self.lower = QWidget()
        lower = QVBoxLayout(self.lower)
        lower.setContentsMargins(0, 0, 0, 0)
        lower.addLayout(buttons)
        lower.addWidget(self.error)
        lower.addWidget(self.stats)
        lower.addWidget(self.text, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(scroll)
        split.addWidget(self.lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(split)

        # Preview after the file or the mapping changed: once, when the edits settle.
        self._preview_timer = QTimer(self, singleShot=True, interval=250)
        self._preview_timer.timeout.connect(self.preview_requested)
        self.choose.clicked.connect(self._choose)
        self.preview_button.clicked.connect(self.preview_requested)
        self.path_edit.editingFinished.connect(self._path_typed)
        self.format_box.activated.connect(self._pick_format)
        self.form.values_changed.connect(self._on_form_values)

    # ---- the form's values ---------------------------------------------------------------------

    def set_values(self, cls: type, values: dict[str, Any] | None) -> None:
        """Show ``values`` of ``cls`` (DataConfig): a project opened, or undo / redo. Reads the file's
        columns if it is another file; the saved mapping is shown as it is (flagged if it does not fit)."""
        self.form.set_class(cls, values)
        for name in SHOWN_ELSEWHERE:
            if name in self.form.fields:
                self.form.form.setRowVisible(self.form.fields[name].widget, False)
        self._sync()
        path = self._value("path") or ""
        if path != self._scanned:
            self._read_columns(path, fresh=False)

    def set_teaches(self, kind: str) -> None:
        """What the data teaches (`core.data.TEACHES`), as picked in the method form: saved like any data field."""
        if self._value("teaches") != kind:
            self._set_fields({"teaches": kind})

    def _value(self, name: str) -> Any:
        fw = self.form.fields.get(name)
        return fw.get() if fw is not None else None

    def _set_fields(self, values: dict[str, Any]) -> None:
        """Write into the form's (hidden) fields and let the form validate and report the change (saved by the window)."""
        for name, value in values.items():
            if name in self.form.fields:
                self.form.fields[name].set(value)
        self.form._changed()

    def _on_form_values(self, values: dict[str, Any]) -> None:
        if self._syncing:
            return
        path = values.get("path") or ""
        if path != self._scanned:
            self._read_columns(path, fresh=True)
        else:
            self._sync()

    # ---- the file ----------------------------------------------------------------------------

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Choose a dataset"), "", self.tr("Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)")
        )
        if path:
            self.choose_file(path)

    def choose_file(self, path: str) -> None:
        """Use ``path`` as the dataset (as the file chooser does): saved, columns read, mapping detected."""
        self.path_edit.setText(path)
        self._path_typed()

    def _path_typed(self) -> None:
        text = self.path_edit.text().strip()
        if "path" in self.form.fields and text != (self._value("path") or ""):
            self._set_fields({"path": text})

    def _read_columns(self, path: str, *, fresh: bool) -> None:
        """Read the columns of ``path`` on a worker thread. ``fresh``: the person just chose this file,
        so the detected mapping is applied (and saved) where the current one does not fit."""
        self._scanned = path
        self._scan_id = scan = next(self._scan_ids)
        self.columns, self.detected = None, None
        if not path:
            self._sync()
            self.columns_ready.emit()
            return
        try:
            values = self.form.values()
        except ValueError:
            values = {"path": path}
        self.reading.show()

        def done(found: Any) -> None:
            if scan != self._scan_id:
                return  # another file was chosen meanwhile
            self.reading.hide()
            self.columns, self.detected = list(found.columns), found
            if fresh and found.format and found.mapping:
                current = {k: self._value(k) for k in found.mapping}
                if current != found.mapping:
                    self._set_fields(found.mapping)  # saves; _on_form_values then syncs
            self._sync()
            if fresh and not self.mapping_error:
                self._preview_timer.start()
            self.columns_ready.emit()

        def failed(message: str) -> None:
            if scan != self._scan_id:
                return
            self.reading.hide()
            self.columns, self.detected = None, None
            self._sync(read_error=message)
            self.columns_ready.emit()

        self.runner.submit(_detect_columns, values, on_done=done, on_error=failed)

    # ---- the picker --------------------------------------------------------------------------

    def _pick_format(self, _index: int = -1) -> None:
        fmt = self.format_box.currentText()
        if fmt != self._value("format"):
            self._set_fields({"format": fmt})
            self._refresh_preview()

    def _pick_role(self, role: str) -> None:
        """A column picked for ``role``: saved, and the format it belongs to made explicit."""
        combo = self.role_boxes[role]
        column = combo.currentData()
        if column is None:
            return
        changes: dict[str, Any] = {}
        if column != self._value(role):
            changes[role] = column
        if self._value("format") != FORMAT_OF[role]:
            changes["format"] = FORMAT_OF[role]
        if changes:
            self._set_fields(changes)
            self._refresh_preview()

    def _refresh_preview(self) -> None:
        if self.columns is not None and not self.mapping_error:
            self._preview_timer.start()

    def pick(self, role: str, column: str) -> None:
        """Pick ``column`` for ``role`` (a DataConfig column field) as a person does in its combo box."""
        combo = self.role_boxes[role]
        i = combo.findData(column)
        if i < 0:
            raise ValueError(f"{column!r} is not offered for {role} (offered: {self.offered(role)})")
        combo.setCurrentIndex(i)
        combo.activated.emit(i)

    def offered(self, role: str) -> list[str]:
        """The file's columns the combo box of ``role`` lists (not the saved name the file lacks)."""
        combo = self.role_boxes[role]
        return [combo.itemData(i) for i in range(combo.count()) if combo.itemData(i) in (self.columns or [])]

    def _check(self) -> tuple[str, str]:
        """(the format the current mapping reads from the file's columns, or "" ; why it does not fit, or "")."""
        if self.columns is None:
            return "", ""
        try:
            from core.data import DataConfig, check_mapping  # light (no torch); loaded by the reading job already

            config = DataConfig(**self.form.values())
        except Exception:  # noqa: BLE001 - another field is invalid: the form says so
            return "", ""
        try:
            return check_mapping(self.columns, config), ""
        except ValueError as exc:  # DataError
            return "", str(exc)

    def _sync(self, read_error: str = "") -> None:
        """Show the form's path, format and columns in the Dataset box, and flag a mapping that does not fit."""
        self._syncing = True
        try:
            path = self._value("path") or ""
            if self.path_edit.text() != path:
                self.path_edit.setText(path)
            fmt = self._value("format") or "auto"
            self.format_box.setCurrentIndex(max(0, self.format_box.findText(fmt)))
            effective, problem = self._check()
            self.mapping_error = problem
            if effective:
                self.format_note.setText(self.tr("detected: {0}").format(effective) if fmt == "auto" else "")
            elif self.columns is not None:
                self.format_note.setText(self.tr("no format fits: pick the columns") if fmt == "auto" else "")
            else:
                self.format_note.setText("")
            shown = ROLES_OF.get(effective) or ROLES_OF.get(fmt) or ROLES
            for role, combo in self.role_boxes.items():
                self._fill(role, combo, effective)
                visible = role in shown
                self.box_form.setRowVisible(combo, visible)
                missing = self.columns is not None and combo.currentData() not in self.columns and effective != "alpaca"
                combo.setStyleSheet(ERROR_STYLE if visible and problem and missing else "")
            self.alpaca_note.setVisible(effective == "alpaca")
            message = problem or read_error  # a problem needs the columns, a read error means there are none
            self.map_error.setText(person(message, "data"))
            self.map_error.setVisible(bool(message))
        finally:
            self._syncing = False

    def _fill(self, role: str, combo: QComboBox, effective: str) -> None:
        """The file's columns as the combo's items (item data = the column name); the saved column selected,
        listed first and flagged when the file has no such column."""
        value = self._value(role) or ""
        combo.blockSignals(True)
        combo.clear()
        columns = self.columns or []
        if value not in columns:
            if effective == "alpaca" and role in ("prompt_column", "completion_column"):
                text = self.tr("alpaca: instruction + input") if role == "prompt_column" else self.tr("alpaca: output")
            elif self.columns is None:
                text = value
            else:
                text = self.tr("{0} (not in the file)").format(value)
            combo.addItem(text, value)
        for name in columns:
            combo.addItem(name, name)
        combo.setCurrentIndex(max(0, combo.findData(value)))
        combo.setEnabled(self.columns is not None)
        combo.blockSignals(False)

    # ---- preview -----------------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.preview_button.setEnabled(not busy)

    def show_error(self, message: str) -> None:
        """A data error (its message names the file and line)."""
        self.error.setText(person(message, "data"))  # the engine's English, in the window's language
        self.error.show()
        self.text.clear()
        self.stats.clear()

    def show_preview(self, result: dict[str, Any]) -> None:
        """``{"preview": core.data.Preview, "max_length": int, "tokenizer_note": str}``."""
        preview = result["preview"]
        self.shown = preview
        self.error.hide()
        parts = []
        for i, ex in enumerate(preview.examples, 1):
            spans = "".join(
                f"<span style='background:#cfe3fa'>{html.escape(t)}</span>" if trained else html.escape(t)
                for t, trained in ex.spans
            )
            cut = " · cut at max_length" if ex.truncated else ""
            parts.append(
                f"<p><b>#{i}</b> <small>{ex.tokens} tokens, {ex.trained_tokens} trained{cut}</small><br>"
                f"<span style='font-family:monospace; white-space:pre-wrap'>{spans}</span></p>"
            )
        self.text.setHtml("".join(parts))
        s = preview.length_stats
        line = self.tr("format: {0} · {1} examples").format(preview.format, preview.stats.examples)
        if s:
            line += f" · tokens min {s['min']}, median {s['median']:.0f}, p95 {s['p95']}, max {s['max']}"
        notes = [result.get("tokenizer_note", ""), *preview.warnings]
        self.stats.setText("\n".join([line, *[n for n in notes if n]]))
        self._histogram(preview.stats.lengths, result.get("max_length", 0))

    def _histogram(self, lengths: list[int], max_length: int) -> None:
        if not lengths:
            return
        import numpy as np
        import pyqtgraph as pg

        if self.plot is None:
            # Follow the window's light or dark palette (pyqtgraph defaults to black).
            self.plot = pg.PlotWidget(background=self.palette().base().color())
            for axis in ("left", "bottom"):
                self.plot.getAxis(axis).setTextPen(self.palette().text().color())
                self.plot.getAxis(axis).setPen(self.palette().mid().color())
            self.plot.setMinimumHeight(140)
            self.plot.setLabel("bottom", self.tr("tokens per example"))
            self.plot.setLabel("left", self.tr("examples"))
            self.lower.layout().addWidget(self.plot)
        self.plot.clear()
        counts, edges = np.histogram(lengths, bins=min(40, max(5, len(set(lengths)))))
        self.plot.addItem(pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts, brush=(46, 125, 220, 160), pen=None))
        if max_length:
            self.plot.addItem(pg.InfiniteLine(pos=max_length, angle=90, pen=pg.mkPen((198, 40, 40), width=1), label="max_length"))
