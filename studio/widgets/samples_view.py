"""The Samples view: a run's greedy answers to its evaluation prompts, checkpoint by checkpoint.

Pick a prompt, slide through the evaluation steps; the base model's answer (step 0), the answer at the
chosen step and the reference stand side by side, the answers' words that differ from the reference
highlighted, with that answer's scores. Everything comes from the project file (`Project.samples`),
written by the training loop at each evaluation (`core.evaluate`); nothing here loads a model.
"""

from __future__ import annotations

import difflib
import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.evaluate import METRICS, words

_METRIC_NAMES = {"exact_match": "exact", "contains": "contains", "f1": "F1", "rouge_l": "ROUGE-L"}


def highlight(answer: str, reference: str) -> str:
    """``answer`` as HTML with the words that are not in the reference's order marked (difflib over the
    words of both, case-insensitive): an inserted or changed word on a red background."""
    a, r = answer.split(), reference.split()
    norm_a, norm_r = [" ".join(words(w)) for w in a], [" ".join(words(w)) for w in r]
    out = []
    for op, i1, i2, _, _ in difflib.SequenceMatcher(a=norm_a, b=norm_r, autojunk=False).get_opcodes():
        text = html.escape(" ".join(a[i1:i2]))
        if not text:
            continue
        out.append(text if op == "equal" else f'<span style="background:#f6c6c6">{text}</span>')
    return " ".join(out)


def _scores(row: dict[str, Any]) -> str:
    return " · ".join(f"{_METRIC_NAMES[m]} {row[m]:.2f}" for m in METRICS if row.get(m) is not None)


class SamplesView(QWidget):
    """Prompt picker, a step slider, and three panes: base, the checkpoint at the step, the reference."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt_box = QComboBox()
        self.prompt_box.setToolTip(self.tr("The evaluation prompt to look at"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip(self.tr("Slide through the evaluation steps"))
        self.slider.setPageStep(1)
        self.step_label = QLabel()
        self.empty = QLabel(self.tr("No samples yet: a run records its answers to the evaluation prompts at each evaluation."))
        self.empty.setWordWrap(True)
        self.prompt_text = QTextBrowser()
        self.prompt_text.setMaximumHeight(70)
        self.base = QTextBrowser()
        self.checkpoint = QTextBrowser()
        self.reference = QTextBrowser()
        self.base_title = QLabel(self.tr("Base model"))
        self.checkpoint_title = QLabel()
        self.reference_title = QLabel(self.tr("Reference"))
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Prompt:")))
        top.addWidget(self.prompt_box, 1)
        top.addWidget(QLabel(self.tr("Step:")))
        top.addWidget(self.slider, 1)
        top.addWidget(self.step_label)
        grid = QGridLayout()
        for col, (title, pane) in enumerate(((self.base_title, self.base), (self.checkpoint_title, self.checkpoint),
                                             (self.reference_title, self.reference))):
            grid.addWidget(title, 0, col)
            grid.addWidget(pane, 1, col)
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(self.empty)
        box.addWidget(self.prompt_text)
        box.addLayout(grid, 1)
        self.rows: dict[tuple[int, int], dict[str, Any]] = {}
        self.steps: list[int] = []
        self.run_id: int | None = None
        self.prompt_box.currentIndexChanged.connect(lambda _: self._show())
        self.slider.valueChanged.connect(lambda _: self._show())

    def set_run(self, project: Any, run_id: int | None) -> None:
        """Show ``run_id``'s samples (read from the project file); None clears the view."""
        rows = project.samples(run_id) if run_id is not None else []
        if run_id == self.run_id and len(rows) == len(self.rows) and rows:
            return  # nothing new (the window refreshes every 2 s while a run trains): keep prompt and step
        self.run_id = run_id
        self.rows = {(r["step"], r["prompt_index"]): r for r in rows}
        self.steps = sorted({r["step"] for r in rows if r["step"] > 0})
        prompts = sorted({r["prompt_index"]: r["prompt"] for r in rows}.items())
        keep = self.prompt_box.currentIndex()
        self.prompt_box.blockSignals(True)
        self.prompt_box.clear()
        for index, prompt in prompts:
            self.prompt_box.addItem(f"{index + 1}. {_short(prompt)}", index)
        self.prompt_box.setCurrentIndex(keep if 0 <= keep < len(prompts) else 0)
        self.prompt_box.blockSignals(False)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self.steps) - 1, 0))
        self.slider.setValue(len(self.steps) - 1 if self.steps else 0)  # the newest step first
        self.slider.blockSignals(False)
        self.empty.setVisible(not rows)
        self._show()

    def show_step(self, step: int) -> None:
        """Move the slider to an evaluation step (tests, and the run view's curves)."""
        if step in self.steps:
            self.slider.setValue(self.steps.index(step))

    @property
    def current_step(self) -> int | None:
        return self.steps[self.slider.value()] if self.steps else None

    def _show(self) -> None:
        index = self.prompt_box.currentData()
        step = self.current_step
        if index is None:
            for pane in (self.prompt_text, self.base, self.checkpoint, self.reference):
                pane.clear()
            self.step_label.setText("")
            self.checkpoint_title.setText(self.tr("Checkpoint"))
            return
        any_row = next(r for (s, i), r in self.rows.items() if i == index)
        reference = any_row["reference"]
        self.prompt_text.setPlainText(any_row["prompt"])
        self.reference.setHtml(f"<p>{html.escape(reference)}</p>")
        self.step_label.setText(self.tr("step {0} ({1} of {2})").format(step, self.slider.value() + 1, len(self.steps))
                                if step is not None else "")
        self.checkpoint_title.setText(self.tr("Step {0}").format(step) if step is not None else self.tr("Checkpoint"))
        missing = html.escape(self.tr("not recorded"))
        for pane, row in ((self.base, self.rows.get((0, index))), (self.checkpoint, self.rows.get((step, index)))):
            if row is None:
                pane.setHtml(f"<i>{missing}</i>")
            else:
                pane.setHtml(f"<p>{highlight(row['output'], reference) or '<i>(empty)</i>'}</p>"
                             f"<p style='color:#666'>{html.escape(_scores(row))}</p>")


def _short(text: str, limit: int = 70) -> str:
    """The prompt's last line of words (the question, without the template around it), cut to ``limit``."""
    for marker in ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>"):
        if marker in text:
            parts = [p for p in text.split(marker) if p.strip()]
            text = parts[-2] if len(parts) >= 2 else parts[-1]
            break
    text = " ".join(text.replace("<|im_start|>user", "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
