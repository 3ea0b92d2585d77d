"""The cost panel: what the configuration will cost, at every click.

Trainable / all parameters and the percentage exactly as ``print_trainable_parameters()`` prints
them (computed on a worker thread by `core.estimate`), and the training-memory estimate for the
chosen batch size, sequence length and dtype as a stacked bar (weights, adapter, gradients,
optimizer state, activations, workspace; `core.estimate.PARTS`) with the total.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.widgets.dataclass_form import guard_wheel
from studio.widgets.wrap import breakable, make_wrapping
from studio.messages import person

PARTS = ("weights", "adapter", "gradients", "optimizer", "activations", "workspace")  # = core.estimate.PARTS
COLORS = {
    "weights": QColor(120, 144, 156),
    "adapter": QColor(46, 125, 220),
    "gradients": QColor(255, 167, 38),
    "optimizer": QColor(171, 71, 188),
    "activations": QColor(102, 187, 106),
    "workspace": QColor(38, 166, 154),
}


def gib(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    return f"{n / 2**20:.1f} MiB"


class MemoryBar(QWidget):
    """A horizontal stacked bar of the memory parts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts: dict[str, int] = {}
        self.labels: dict[str, str] = {k: k for k in PARTS}
        self.setMinimumHeight(22)

    def sizeHint(self) -> QSize:
        return QSize(200, 22)

    def set_parts(self, parts: dict[str, int], labels: dict[str, str] | None = None) -> None:
        self.parts = dict(parts)
        self.labels = labels or self.labels
        self.setToolTip("\n".join(f"{self.labels[k]}: {gib(self.parts.get(k, 0))}" for k in PARTS))
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(self.palette().mid().color())
        p.drawRect(rect)
        total = sum(self.parts.get(k, 0) for k in PARTS)
        if total <= 0:
            return
        x = rect.left()
        for key in PARTS:
            w = rect.width() * self.parts.get(key, 0) / total
            p.fillRect(QRectF(x, rect.top(), w, rect.height()), COLORS[key])
            x += w


class CostPanel(QWidget):
    """Parameter counts and memory. `memory_inputs_changed` asks the window to recompute."""

    memory_inputs_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(6)
        self.busy.hide()
        self.trainable = QLabel("–")
        self.total = QLabel("–")
        self.percent = QLabel("–")
        for lab in (self.trainable, self.total, self.percent):
            lab.setFont(mono)
            lab.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.line = QLabel()  # PEFT's exact line, for copying
        self.line.setFont(mono)
        self.line.setWordWrap(True)
        self.line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = make_wrapping(QLabel())
        self.error.setStyleSheet("color: #c62828;")
        self.error.hide()

        params = QGroupBox(self.tr("Parameters"))
        form = QFormLayout(params)
        form.addRow(self.tr("trainable"), self.trainable)
        form.addRow(self.tr("all"), self.total)
        form.addRow(self.tr("trainable %"), self.percent)

        self.batch = QSpinBox(minimum=1, maximum=4096, value=8)
        self.seq = QSpinBox(minimum=8, maximum=1_048_576, value=512, singleStep=128)
        self.dtype = QComboBox()
        self.dtype.addItems(["float32", "bfloat16", "float16"])
        self.bar = MemoryBar()
        self.mem_total = QLabel("–")
        self.mem_total.setFont(mono)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        # A wrapped label does not ask its layout for the height of its lines: reserve two, so the
        # window (whose runs dock takes what the top row does not claim) never clips the legend.
        self.legend.setMinimumHeight(2 * self.legend.fontMetrics().lineSpacing() + 2)
        self.legend.setToolTip(self.tr(
            "The peak of the tensors alive in one training step (core.estimate):\n"
            "weights: the base model in the chosen dtype\n"
            "adapter, gradients, optimizer: the trainable parameters, their gradients and AdamW's two moments (float32)\n"
            "activations: what autograd keeps for backward, traced through the adapted model\n"
            "workspace: temporaries at the peak, the gradients of the largest kept tensor (usually the logits)\n"
            "The training process itself needs more: Python and torch, and the allocator's slack."
        ))
        memory = QGroupBox(self.tr("Training memory (estimate)"))
        mform = QFormLayout(memory)
        mform.addRow(self.tr("batch size"), self.batch)
        mform.addRow(self.tr("sequence length"), self.seq)
        mform.addRow(self.tr("dtype"), self.dtype)
        mform.addRow(self.bar)
        mform.addRow(self.tr("total"), self.mem_total)
        mform.addRow(self.legend)

        box = QVBoxLayout(self)
        box.addWidget(self.busy)
        box.addWidget(params)
        box.addWidget(self.line)
        box.addWidget(self.error)
        box.addWidget(memory)
        box.addStretch(1)
        for spin in (self.batch, self.seq):
            spin.valueChanged.connect(self.memory_inputs_changed)
        for w in (self.batch, self.seq, self.dtype):
            guard_wheel(w)
        self.dtype.currentTextChanged.connect(self.memory_inputs_changed)
        self.result: dict[str, Any] | None = None

    def memory_inputs(self) -> dict[str, Any]:
        return {"batch_size": self.batch.value(), "seq_len": self.seq.value(), "dtype": self.dtype.currentText()}

    def set_memory_inputs(self, batch_size: int | None = None, seq_len: int | None = None) -> None:
        for spin, value in ((self.batch, batch_size), (self.seq, seq_len)):
            if value:
                spin.blockSignals(True)
                spin.setValue(int(value))
                spin.blockSignals(False)

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    def set_result(self, result: dict[str, Any]) -> None:
        """Show ``{"trainable", "total", "memory"}`` from `studio.jobs.count_cost`."""
        self.result = result
        self.error.hide()
        t, n = result["trainable"], result["total"]
        pct = 100 * t / n if n else 0.0
        self.trainable.setText(f"{t:,}")
        self.total.setText(f"{n:,}")
        self.percent.setText(f"{pct:.4f} %")
        self.line.setText(f"trainable params: {t:,d} || all params: {n:,d} || trainable%: {pct:.4f}")
        mem = result["memory"]
        labels = self.part_labels()
        self.bar.set_parts(mem, labels)
        self.mem_total.setText(gib(mem["total"]))
        # Parts under 1 % of the total (a LoRA's adapter, gradients and optimizer state) stay in the
        # bar and its tooltip: the legend keeps to one or two lines in a short window.
        shown = [k for k in PARTS if mem.get(k, 0) >= 0.01 * mem["total"]]
        # Each swatch, name and size is kept on one line (non-breaking spaces); lines break between parts.
        text = " &nbsp; ".join(
            f"<span style='color:{COLORS[k].name()}'>■</span>&nbsp;{labels[k]}&nbsp;{gib(mem.get(k, 0)).replace(' ', '&nbsp;')}"
            for k in shown)
        if len(shown) < len(PARTS):
            text += " " + self.tr("(+{0} under 1 %)").format(len(PARTS) - len(shown))
        self.legend.setText(text)
        for lab in (self.trainable, self.total, self.percent):
            lab.setEnabled(True)

    def part_labels(self) -> dict[str, str]:
        """The memory parts' names as the legend shows them."""
        return {
            "weights": self.tr("weights"),
            "adapter": self.tr("adapter"),
            "gradients": self.tr("gradients"),
            "optimizer": self.tr("optimizer"),
            "activations": self.tr("activations"),
            "workspace": self.tr("workspace"),
        }

    def set_error(self, message: str) -> None:
        """The configuration cannot be counted (bad targets, invalid value): say why, grey the figures."""
        self.error.setText(breakable(person(message)))  # the engine's English, in the window's language
        self.error.show()
        for lab in (self.trainable, self.total, self.percent):
            lab.setEnabled(False)
        # The memory of a configuration that cannot be built is unknown: no figure stays from the
        # previous one (a model switch kept the old model's 6.62 GiB while its targets matched nothing).
        self.result = None
        self.bar.set_parts({}, self.part_labels())
        self.mem_total.setText("–")
        self.legend.setText("")
