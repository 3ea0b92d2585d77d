"""The data tab: choose a dataset file, set its format and columns, and preview it as the model sees it.

The settings form is generated from ``core.data.DataConfig``. "Preview" runs ``core.data.preview``
on a worker thread (tokenizing is heavy) and shows the first examples with the trained-on part
highlighted, the length statistics, a token-length histogram with the ``max_length`` cut-off
marked, and any data error (bad line, missing column) with its file and line, before training.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.widgets.dataclass_form import DataclassForm


class DataPanel(QWidget):
    """DataConfig form + preview. `preview_requested` asks the window to run the preview job."""

    preview_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = DataclassForm()
        self.choose = QPushButton(self.tr("Choose file…"))
        self.preview_button = QPushButton(self.tr("Preview"))
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(80)
        self.busy.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.choose)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.text = QTextEdit()
        self.text.setReadOnly(True)
        self.plot = None  # pyqtgraph loads with the first preview (keeps the cold start light)
        self.lower = QWidget()
        lower = QVBoxLayout(self.lower)
        lower.setContentsMargins(0, 0, 0, 0)
        lower.addLayout(buttons)
        lower.addWidget(self.error)
        lower.addWidget(self.stats)
        lower.addWidget(self.text, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.form)
        split.addWidget(self.lower)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(split)
        self.choose.clicked.connect(self._choose)
        self.preview_button.clicked.connect(self.preview_requested)

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Choose a dataset"), "", "Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)"
        )
        if path and "path" in self.form.fields:
            self.form.fields["path"].set(path)
            self.form._changed()
            self.preview_requested.emit()

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.preview_button.setEnabled(not busy)

    def show_error(self, message: str) -> None:
        """A data error (its message names the file and line)."""
        self.error.setText(message)
        self.error.show()
        self.text.clear()
        self.stats.clear()

    def show_preview(self, result: dict[str, Any]) -> None:
        """``{"preview": core.data.Preview, "max_length": int, "tokenizer_note": str}``."""
        preview = result["preview"]
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
