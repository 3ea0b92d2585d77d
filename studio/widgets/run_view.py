"""One run's life: live curves, progress, status and log (the bottom dock's main pane).

Curves (pyqtgraph, loaded on first use so the cold start stays light): training loss raw (light, 1 px)
and smoothed (EMA, the accent colour), eval loss as markers, the learning rate in a small plot below,
sharing the step axis. Points go into growing numpy arrays; the plot redraws on a ~10 Hz timer only
when something changed, with downsampling ("peak") and clip-to-view, so 100 000 points stay smooth.
Other runs can be overlaid (the runs list's multi-select). Plots export as PNG or SVG.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core import protocol
from studio.messages import advice, person
from studio.worker_client import clock

REDRAW_MS = 100
SMOOTHING = 0.9  # EMA weight of the past (TensorBoard's 0.9)
ACCENT = "#2f7ed8"
RUNNING = "#e69500"
PAUSED = "#8c6d1f"  # the running colour, darker: alive, but not moving
ERROR = "#d62728"
OVERLAY_COLOURS = ("#9467bd", "#2ca02c", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
STATUS_TEXT = {
    "queued": QT_TRANSLATE_NOOP("RunStatus", "queued"), "running": QT_TRANSLATE_NOOP("RunStatus", "● running"),
    "paused": QT_TRANSLATE_NOOP("RunStatus", "‖ paused"), "completed": QT_TRANSLATE_NOOP("RunStatus", "✓ completed"),
    "stopped": QT_TRANSLATE_NOOP("RunStatus", "■ stopped"), "failed": QT_TRANSLATE_NOOP("RunStatus", "✗ failed"),
    "interrupted": QT_TRANSLATE_NOOP("RunStatus", "✗ crashed / interrupted"),
}
"""Status -> its label (English; `status_label` translates); ``paused`` is a running run whose worker waits
for Continue (not a stored status)."""


def status_label(status: str) -> str:
    """The status's label in the user's language."""
    return QCoreApplication.translate("RunStatus", STATUS_TEXT.get(status, status))


def run_paused(run: Any) -> bool:
    """Whether a `core.store.Run` is paused: ``Run.paused`` / ``Run.paused_since`` where the store has
    them (read defensively: an older store has neither), and only while it runs."""
    if getattr(run, "status", None) != "running":
        return False
    paused = getattr(run, "paused", None)
    if isinstance(paused, bool):
        return paused
    return getattr(run, "paused_since", None) is not None


class _Series:
    """A growing (x, y) series in numpy arrays (amortised doubling)."""

    def __init__(self) -> None:
        self.x = np.empty(1024)
        self.y = np.empty(1024)
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def truncate_after(self, step: float) -> None:
        """Drop points after `step` (a resumed run redoes them)."""
        if self.n and self.x[self.n - 1] > step:
            self.n = int(np.searchsorted(self.x[: self.n], step, side="right"))

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.concatenate([self.x, np.empty(len(self.x))])
            self.y = np.concatenate([self.y, np.empty(len(self.y))])
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n], self.y[: self.n]


def smooth(values: np.ndarray, weight: float = SMOOTHING) -> np.ndarray:
    """Debiased exponential moving average (as TensorBoard draws it)."""
    out = np.empty_like(values)
    last, count = 0.0, 0
    for i, v in enumerate(values):
        if not math.isfinite(v):
            out[i] = v
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        out[i] = last / (1 - weight**count)
    return out


class RunView(QWidget):
    """Curves + progress + log of one run, with other runs' curves as overlays."""

    resume_requested = Signal(int)
    export_requested = Signal(int)
    redrawn = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_id: int | None = None
        self.loss, self.eval, self.lr = _Series(), _Series(), _Series()
        self._ema_last, self._ema_count = 0.0, 0
        self.smoothed = _Series()
        self.total_steps = 0
        self.start_step = 0
        self.paused = False
        self._last_progress: tuple[int, float | None, float | None, float | None] = (0, None, None, None)
        self.overlays: dict[int, tuple[str, np.ndarray, np.ndarray]] = {}
        self._dirty = False
        self.redraws = 0
        self.pg = None  # pyqtgraph, on first use
        self.loss_plot = self.lr_plot = None

        self.title = QLabel(self.tr("No run yet — press Train (Ctrl+Enter)."))
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.resume = QPushButton(self.tr("Resume from last checkpoint"))
        self.resume.hide()
        self.has_checkpoint = False
        """Whether the shown run has a checkpoint on disk: Resume is offered only then (the window sets it)."""
        # A failure's technical detail (the worker's traceback) stays out of the log: one click away.
        self.details_button = QPushButton(self.tr("Details"))
        self.details_button.setCheckable(True)
        self.details_button.setToolTip(self.tr("The technical detail of the failure (for a bug report)"))
        self.details_button.hide()
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(160)
        self.details.hide()
        self.details_button.toggled.connect(self.details.setVisible)
        self.resume.clicked.connect(lambda: self.run_id is not None and self.resume_requested.emit(self.run_id))
        self.export_png = QPushButton(self.tr("Save plot…"))
        self.export_png.setToolTip(self.tr("Save the curves as PNG or SVG"))
        self.export_png.clicked.connect(self._save_dialog)
        self.progress = QProgressBar()
        self.progress.setFormat(self.tr("no run"))
        self.progress.setTextVisible(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText(self.tr("The worker's log appears here."))
        font = self.log.font()
        font.setFamily("monospace")
        font.setStyleHint(font.StyleHint.Monospace)
        self.log.setFont(font)

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.resume)
        head.addWidget(self.details_button)
        head.addWidget(self.export_png)
        self.plots = QWidget()
        self.plots_box = QVBoxLayout(self.plots)
        self.plots_box.setContentsMargins(0, 0, 0, 0)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.plots)
        self.split.addWidget(self.log)
        self.split.setStretchFactor(0, 5)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([400, 70])
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(head)
        box.addWidget(self.progress)
        box.addWidget(self.status)
        box.addWidget(self.details)
        box.addWidget(self.split, 1)
        self._timer = QTimer(self, interval=REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self._timer.start()

    # ---- plots -----------------------------------------------------------------------------------

    def ensure_plots(self) -> None:
        """Build the pyqtgraph plots (the first time a run is shown)."""
        if self.pg is not None:
            return
        import pyqtgraph as pg

        self.pg = pg
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        bg = "#1e1e1e" if dark else "w"
        fg = "#d0d0d0" if dark else "#303030"
        self._raw_colour = "#5a6f86" if dark else "#b9cde3"
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground(bg)
        self.layout_widget.setMinimumHeight(160)
        self.loss_plot = self.layout_widget.addPlot(row=0, col=0)
        self.lr_plot = self.layout_widget.addPlot(row=1, col=0)
        self.lr_plot.setMaximumHeight(110)  # the loss plot gets the room
        self.lr_plot.setXLink(self.loss_plot)
        for plot, label in ((self.loss_plot, "loss"), (self.lr_plot, "lr")):
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setLabel("left", label, color=fg)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setPen(pg.mkPen(fg, width=1))
                plot.getAxis(axis).setTextPen(pg.mkPen(fg, width=1))
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
        self.lr_plot.setLabel("bottom", "step", color=fg)
        self.legend = self.loss_plot.addLegend(offset=(-10, 10), labelTextColor=fg)
        self.raw_curve = self.loss_plot.plot(pen=pg.mkPen(self._raw_colour, width=1), name="loss")
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen(ACCENT, width=1), name="loss (smoothed)")
        self.eval_curve = self.loss_plot.plot(
            pen=None, symbol="o", symbolSize=7, symbolBrush=RUNNING, symbolPen=pg.mkPen(RUNNING, width=1), name="eval loss",
        )
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen("#2ca02c", width=1))
        for curve in (self.raw_curve, self.smooth_curve, self.lr_curve):
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            curve.setSkipFiniteCheck(True)
        self.overlay_curves: dict[int, Any] = {}
        self.plots_box.addWidget(self.layout_widget)

    # ---- data ------------------------------------------------------------------------------------

    def show_run(self, run: Any, rows: list[dict[str, Any]] | None = None) -> None:
        """Show a run (a `core.store.Run`) and its recorded metric rows; live events may follow."""
        self.ensure_plots()
        self.run_id = run.id
        for s in (self.loss, self.eval, self.lr, self.smoothed):
            s.clear()
        self._ema_last, self._ema_count = 0.0, 0
        self.total_steps = run.total_steps or 0
        self.start_step = 0
        self.log.clear()
        method = run.config.method_config.get("peft_type", "")
        self.title.setText(f"<b>{run.name or f'run {run.id}'}</b> · {method} · {run.config.model}")
        self.add_rows(rows or [])
        self.set_detail(getattr(run, "error_detail", None) or "")
        self.paused = run_paused(run)
        if self.paused:
            self.set_status("paused", self._paused_text(run.step))
        else:
            self.set_status(run.status, run.error or "", run.error_kind)
        self._progress(run.step, None, None, None)
        self._dirty = True

    def reset(self) -> None:
        """No run shown (a new project): no curve, overlay, progress, status or log of another project."""
        self.run_id = None
        for s in (self.loss, self.eval, self.lr, self.smoothed):
            s.clear()
        self._ema_last, self._ema_count = 0.0, 0
        self.total_steps = self.start_step = 0
        self.paused = False
        self._last_progress = (0, None, None, None)
        if self.pg is not None:
            self.set_overlays([])
        self.log.clear()
        self.title.setText(self.tr("No run yet — press Train (Ctrl+Enter)."))
        self.status.clear()
        self.resume.hide()
        self.has_checkpoint = False
        self.set_detail("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(self.tr("no run"))
        self._dirty = True

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        """Metric rows as `core.store.Project.metrics` returns them."""
        for row in rows:
            if row.get("loss") is not None:
                self._add_step(row["step"], row["loss"], row.get("lr"))
            elif row.get("eval_loss") is not None:
                self.eval.append(row["step"], row["eval_loss"])
        self._dirty = True

    def _add_step(self, step: float, loss: float, lr: float | None) -> None:
        self.loss.append(step, loss)
        if math.isfinite(loss):
            self._ema_last = self._ema_last * SMOOTHING + (1 - SMOOTHING) * loss
            self._ema_count += 1
            self.smoothed.append(step, self._ema_last / (1 - SMOOTHING**self._ema_count))
        if lr is not None:
            self.lr.append(step, lr)

    def add_events(self, batch: list[protocol.Event]) -> None:
        """A batch of live protocol events (from `WorkerClient.events`)."""
        last_step = None
        for ev in batch:
            if isinstance(ev, protocol.Step):
                self._add_step(ev.step, ev.loss, ev.lr)
                last_step = ev
            elif isinstance(ev, protocol.Eval):
                self.eval.append(ev.step, ev.eval_loss)
            elif isinstance(ev, protocol.Started):
                self.total_steps = ev.total_steps
                self.start_step = ev.start_step
                for s in (self.loss, self.eval, self.lr):
                    s.truncate_after(ev.start_step)
                self._resmooth()
                self.paused = False
                self.set_status("running", "")
                params = f"{ev.trainable_params:,} trainable of {ev.all_params:,}" if ev.trainable_params and ev.all_params else ""
                self.append_log(f"started on {ev.device or '?'}: {ev.total_steps} steps"
                                + (f", from step {ev.start_step}" if ev.start_step else "") + (f"; {params}" if params else ""))
            elif isinstance(ev, protocol.Log):
                self.append_log(ev.message, ev.level)
            elif isinstance(ev, protocol.Checkpoint):
                self.has_checkpoint = True
                self.append_log(f"checkpoint at step {ev.step}: {ev.path}")
            elif isinstance(ev, protocol.Paused):
                self.paused = True
                self.set_status("paused", self._paused_text(ev.step))
                self.append_log(f"paused after step {ev.step}")
                self._progress(*self._last_progress)
            elif isinstance(ev, protocol.Continued):
                self.paused = False
                self.set_status("running", "")
                self.append_log(f"continued at step {ev.step + 1} after a pause of {clock(ev.paused_seconds)}")
                self._progress(*self._last_progress)
            elif isinstance(ev, protocol.Finished):
                self.paused = False
                self.append_log(f"{ev.status} at step {ev.step}" + (f", loss {ev.loss:.4f}" if ev.loss is not None else ""))
            elif isinstance(ev, protocol.Failed):
                self.paused = False
                self.append_log(ev.reason, "error")
                if ev.detail:  # the traceback: behind Details, not in the log
                    self.set_detail(ev.detail)
        if last_step is not None:
            self._progress(last_step.step, last_step.eta_s, last_step.tokens_per_s, last_step.elapsed_s)
        self._dirty = True

    def _resmooth(self) -> None:
        x, y = self.loss.view()
        self.smoothed.clear()
        self._ema_last, self._ema_count = 0.0, 0
        if len(y):
            sm = smooth(y.copy())
            for a, b in zip(x, sm):
                self.smoothed.append(a, b)
            finite = y[np.isfinite(y)]
            self._ema_count = len(finite)
            self._ema_last = sm[-1] * (1 - SMOOTHING**self._ema_count) if self._ema_count else 0.0

    def _paused_text(self, step: int) -> str:
        return self.tr("after step {0}; Continue (Ctrl+P) goes on, Stop writes a checkpoint").format(step)

    def _progress(self, step: int, eta: float | None, tokens_per_s: float | None, elapsed: float | None) -> None:
        self._last_progress = (step, eta, tokens_per_s, elapsed)
        total = max(self.total_steps, step, 1)
        self.progress.setRange(0, total)
        self.progress.setValue(step)
        parts = [f"step {step}/{self.total_steps or '?'}"]
        if self.paused:  # no rate and no ETA while nothing moves: the worker's ETA leaves the pause out
            parts.append(self.tr("paused"))
            self.progress.setFormat(" · ".join(parts))
            return
        if elapsed and step > self.start_step:
            parts.append(f"{(step - self.start_step) / elapsed:.2f} it/s")
        if tokens_per_s:
            parts.append(f"{tokens_per_s:,.0f} tokens/s")
        if eta is not None:
            parts.append(f"ETA {clock(eta)}")
        self.progress.setFormat(" · ".join(parts))

    def set_status(self, status: str, reason: str = "", kind: str | None = None) -> None:
        """Show the run's status; failed / interrupted ones with the reason, what to do, and Resume."""
        text = status_label(status)
        colour = {"running": RUNNING, "paused": PAUSED, "failed": ERROR, "interrupted": ERROR, "completed": ACCENT}.get(status, "")
        html = f"<b style='color:{colour}'>{text}</b>" if colour else f"<b>{text}</b>"
        if reason:
            html += f" — {person(reason, kind)}"  # the engine's English, in the window's language
        if status == "failed":
            html += f"<br><i>{advice(kind)}</i>"
        self.status.setText(html)
        # Resume continues from the last checkpoint: without one (a setup that failed) it cannot work.
        self.resume.setVisible(status in ("stopped", "failed", "interrupted") and self.has_checkpoint)

    def set_detail(self, detail: str) -> None:
        """The technical detail of a failure (a traceback), shown on Details; "" hides both."""
        self.details.setPlainText(detail.rstrip())
        self.details_button.setVisible(bool(detail.strip()))
        if not detail.strip():
            self.details_button.setChecked(False)
            self.details.hide()

    def append_log(self, text: str, level: str = "info") -> None:
        prefix = "" if level in ("info", "debug") else f"{level}: "
        self.log.appendPlainText(prefix + text)

    # ---- overlays --------------------------------------------------------------------------------

    def set_overlays(self, runs: list[tuple[int, str, list[dict[str, Any]]]]) -> None:
        """Other runs' loss curves (smoothed) drawn under this one: [(run id, label, metric rows)]."""
        self.ensure_plots()
        self.overlays = {}
        for run_id, label, rows in runs:
            if run_id == self.run_id:
                continue
            xs = np.array([r["step"] for r in rows if r.get("loss") is not None], dtype=float)
            ys = np.array([r["loss"] for r in rows if r.get("loss") is not None], dtype=float)
            self.overlays[run_id] = (label, xs, smooth(ys) if len(ys) else ys)
        for run_id, curve in list(self.overlay_curves.items()):
            self.loss_plot.removeItem(curve)
            self.legend.removeItem(curve)
            del self.overlay_curves[run_id]
        for i, (run_id, (label, xs, ys)) in enumerate(self.overlays.items()):
            colour = OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)]
            curve = self.loss_plot.plot(xs, ys, pen=self.pg.mkPen(colour, width=1), name=label)
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            self.overlay_curves[run_id] = curve
        self._dirty = True

    # ---- drawing ---------------------------------------------------------------------------------

    @property
    def points(self) -> int:
        """Training-loss points held (for tests and the status line)."""
        return self.loss.n

    def redraw(self) -> None:
        """Push the arrays into the curves (the ~10 Hz timer calls this; a no-op when nothing changed)."""
        if not self._dirty or self.pg is None:
            return
        self._dirty = False
        self.raw_curve.setData(*self.loss.view())
        self.smooth_curve.setData(*self.smoothed.view())
        self.eval_curve.setData(*self.eval.view())
        self.lr_curve.setData(*self.lr.view())
        self.redraws += 1
        self.redrawn.emit()

    # ---- export ----------------------------------------------------------------------------------

    def save_plot(self, path: str) -> str:
        """Save the curves (loss and lr) as PNG or SVG (by the file's suffix); returns the path."""
        self.ensure_plots()
        self._dirty = True
        self.redraw()
        from pyqtgraph.exporters import ImageExporter

        item = self.layout_widget.scene()
        if str(path).lower().endswith(".svg"):
            # Qt's own SVG writer: pyqtgraph 0.14's SVGExporter fails on PySide6 6.11's path data.
            from PySide6.QtCore import QRect, QSize
            from PySide6.QtGui import QPainter
            from PySide6.QtSvg import QSvgGenerator

            size = self.layout_widget.size()
            gen = QSvgGenerator()
            gen.setFileName(str(path))
            gen.setSize(QSize(size.width(), size.height()))
            gen.setViewBox(QRect(0, 0, size.width(), size.height()))
            gen.setTitle(f"run {self.run_id}")
            painter = QPainter(gen)
            self.layout_widget.render(painter)
            painter.end()
        else:
            exporter = ImageExporter(item)
            exporter.parameters()["width"] = max(800, self.layout_widget.width() * 2)
            exporter.export(str(path))
        return str(path)

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Save plot"), f"run-{self.run_id or 0}.png", "PNG (*.png);;SVG (*.svg)")
        if path:
            self.save_plot(path)


def colour_for(status: str) -> QColor:
    return QColor({"running": RUNNING, "paused": PAUSED, "failed": ERROR, "interrupted": ERROR}.get(status, "#808080"))
