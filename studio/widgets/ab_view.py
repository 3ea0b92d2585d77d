"""Blind A/B: two models answer the evaluation prompts; a person picks the better answer without knowing
which model wrote it.

Models: the base, or a run's checkpoint (base vs run, run vs run, checkpoint vs checkpoint). The prompts
are the evaluation prompts of the run chosen as the second model (or the first, if the second is the
base), as that run's training formatted them. The answers come from a background job
(`core.evaluate.answers_for`: reused from the project file where the run recorded them, generated
otherwise). Each prompt's two answers are shown left and right in a seeded random order, unlabelled;
the keys A (left is better), B (right is better) and T (tie) decide. At the end the verdicts go into the
project file (`Project.add_comparison`) and the second model's win rate (a tie counts half) is shown
with its 95 % Wilson interval.
"""

from __future__ import annotations

import html
import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.evaluate import model_label, wilson_interval
from core.judge import DEFAULT_PROMPT
from studio.jobs import Runner


def answer_both(project_path: str, model_a: dict[str, Any], model_b: dict[str, Any], prompts: list[dict[str, Any]],
                max_new_tokens: int) -> tuple[list[str], list[str]]:
    """The background job: both models' answers (its own connection to the project file; torch inside)."""
    from core.evaluate import answers_for
    from core.store import Project

    project = Project.reopen(project_path)
    try:
        return (answers_for(project, model_a, prompts, max_new_tokens), answers_for(project, model_b, prompts, max_new_tokens))
    finally:
        project.close()


def judge_job(url: str, model: str, prompt: str, key: str | None, prompts: list[dict[str, Any]], answers_a: list[str],
              answers_b: list[str]) -> list[dict[str, Any]]:
    """The background job of the automatic judge (`core.judge`: both orders asked for every prompt)."""
    from core.judge import Judge, judge_all, load_key, save_key

    if key:
        save_key(key)  # the user's config folder, never the project file
    return judge_all(Judge(url=url, model=model, prompt=prompt), prompts, answers_a, answers_b, key=key or load_key())


class ABView(QWidget):
    """Choose two models, Start, then judge each prompt's two unlabelled answers with A / B / T."""

    finished = Signal(int)
    """A comparison was recorded (its id)."""

    def __init__(self, parent: QWidget | None = None, *, runner: Runner | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or Runner(self)
        self.model_a = QComboBox()
        self.model_b = QComboBox()
        self.start_button = QPushButton(self.tr("Start blind comparison"))
        self.status = QLabel(self.tr("Choose two models, then Start: both answer the evaluation prompts."))
        self.status.setWordWrap(True)
        self.prompt = QTextBrowser()
        self.prompt.setMaximumHeight(80)
        self.left = QTextBrowser()
        self.right = QTextBrowser()
        self.pick_a = QPushButton(self.tr("A is better (A)"))
        self.pick_tie = QPushButton(self.tr("Tie (T)"))
        self.pick_b = QPushButton(self.tr("B is better (B)"))
        self.result = QTextBrowser()
        self.judge_box = QGroupBox(self.tr("Automatic judge (optional): an OpenAI-compatible endpoint"))
        self.judge_url = QLineEdit("http://127.0.0.1:8080/v1")
        self.judge_url.setToolTip(self.tr("The API's base address: llama.cpp's llama-server, Ollama (…:11434/v1) or a hosted API"))
        self.judge_model = QLineEdit()
        self.judge_model.setPlaceholderText(self.tr("the model name the server knows"))
        self.judge_key = QLineEdit()
        self.judge_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.judge_key.setPlaceholderText(self.tr("API key, if it needs one (kept in your config folder, never in the project)"))
        self.judge_prompt = QPlainTextEdit(DEFAULT_PROMPT)
        self.judge_prompt.setToolTip(self.tr("The judge prompt; it is asked twice per prompt, with the answers in both orders"))
        self.judge_button = QPushButton(self.tr("Ask the judge"))
        self.judge_button.setEnabled(False)
        form = QFormLayout(self.judge_box)
        form.addRow(self.tr("Endpoint:"), self.judge_url)
        form.addRow(self.tr("Model:"), self.judge_model)
        form.addRow(self.tr("Key:"), self.judge_key)
        form.addRow(self.tr("Prompt:"), self.judge_prompt)
        form.addRow(self.judge_button)
        self.judge_button.clicked.connect(lambda: self.ask_judge())
        pick = QHBoxLayout()
        for button, winner in ((self.pick_a, "left"), (self.pick_tie, "tie"), (self.pick_b, "right")):
            pick.addWidget(button)
            button.clicked.connect(lambda _=False, w=winner: self.judge(w))
        choose = QHBoxLayout()
        choose.addWidget(QLabel(self.tr("Model 1:")))
        choose.addWidget(self.model_a, 1)
        choose.addWidget(QLabel(self.tr("Model 2:")))
        choose.addWidget(self.model_b, 1)
        choose.addWidget(self.start_button)
        answers = QHBoxLayout()
        for title, pane in ((self.tr("Answer A"), self.left), (self.tr("Answer B"), self.right)):
            col = QVBoxLayout()
            col.addWidget(QLabel(title))
            col.addWidget(pane)
            answers.addLayout(col)
        box = QVBoxLayout(self)
        box.addLayout(choose)
        box.addWidget(self.status)
        box.addWidget(self.prompt)
        box.addLayout(answers, 1)
        box.addLayout(pick)
        box.addWidget(self.result)
        box.addWidget(self.judge_box)
        for key, winner in (("A", "left"), ("B", "right"), ("T", "tie")):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda w=winner: self.judge(w))
        self.start_button.clicked.connect(lambda: self.start())
        self.project_path: str | None = None
        self.prompts: list[dict[str, Any]] = []
        self.answers: tuple[list[str], list[str]] = ([], [])
        self.flipped: list[bool] = []
        """Per prompt: True when model 2's answer is shown on the left."""
        self.verdicts: list[dict[str, Any]] = []
        self.position = 0
        self.seed: int | None = None
        """The order's seed (None: a fresh one per comparison); tests fix it."""
        self.max_new_tokens = 32
        self.comparison_id: int | None = None
        self.busy = False
        """True while the background job answers."""
        self._set_judging(False)

    # ---- choosing ------------------------------------------------------------------------------

    def set_project(self, project: Any) -> None:
        """Fill the model choices from the project file: the base, and every checkpoint of every run.
        Left alone while a comparison is under way (the window refreshes every 2 s while a run trains)."""
        if self.judging or self.busy:
            return
        self.project_path = str(project.path)
        choices: list[tuple[str, dict[str, Any]]] = [(self.tr("base model"), {"run_id": None})]
        for run in project.runs():
            for ck in project.checkpoints(run.id):
                if Path(ck["path"]).is_dir():
                    choices.append((model_label({"run_id": run.id, "step": ck["step"]}), {"run_id": run.id, "step": ck["step"]}))
            self.max_new_tokens = int(run.config.training.get("eval_max_new_tokens") or self.max_new_tokens)
        for box, default in ((self.model_a, 0), (self.model_b, len(choices) - 1)):
            box.clear()
            for label, model in choices:
                box.addItem(label, model)
            box.setCurrentIndex(default)
        self.start_button.setEnabled(len(choices) > 1)

    def choose(self, model_a: dict[str, Any], model_b: dict[str, Any]) -> None:
        """Select two models by their descriptors (tests; the person uses the lists)."""
        for box, model in ((self.model_a, model_a), (self.model_b, model_b)):
            for i in range(box.count()):
                if box.itemData(i) == model:
                    box.setCurrentIndex(i)

    def start(self) -> None:
        """Collect the prompts, then let the background job answer them with both models."""
        from core.store import Project

        a, b = self.model_a.currentData(), self.model_b.currentData()
        if a is None or b is None or a == b:
            self.status.setText(self.tr("Choose two different models."))
            return
        source = b.get("run_id") if b.get("run_id") is not None else a.get("run_id")
        project = Project.reopen(self.project_path)
        try:
            rows = project.samples(source) if source is not None else []
        finally:
            project.close()
        by_index: dict[int, dict[str, Any]] = {}
        for row in rows:
            by_index.setdefault(row["prompt_index"], {"prompt": row["prompt"], "reference": row["reference"]})
        self.prompts = [by_index[i] for i in sorted(by_index)]
        if not self.prompts:
            self.status.setText(self.tr("The run has no evaluation prompts recorded (it needs a validation set and eval_samples > 0)."))
            return
        self.comparison_id = None
        self.start_button.setEnabled(False)
        self.busy = True
        self.status.setText(self.tr("Both models are answering {0} prompts…").format(len(self.prompts)))
        self.runner.submit(answer_both, self.project_path, a, b, self.prompts, self.max_new_tokens,
                           on_done=self._answered, on_error=self._failed)

    def _failed(self, message: str) -> None:
        self.busy = False
        self.start_button.setEnabled(True)
        self.status.setText(self.tr("The models could not answer: {0}").format(message))

    def _answered(self, answers: tuple[list[str], list[str]]) -> None:
        self.answers, self.busy = answers, False
        rng = random.Random(self.seed)
        self.flipped = [rng.random() < 0.5 for _ in self.prompts]
        self.verdicts, self.position = [], 0
        self.result.clear()
        self.judge_button.setEnabled(True)
        self._set_judging(True)
        self._show()

    # ---- judging -------------------------------------------------------------------------------

    def _set_judging(self, on: bool) -> None:
        for button in (self.pick_a, self.pick_tie, self.pick_b):
            button.setEnabled(on)
        self.judging = on

    def _show(self) -> None:
        i = self.position
        a, b = self.answers[0][i], self.answers[1][i]
        left, right = (b, a) if self.flipped[i] else (a, b)
        self.status.setText(self.tr("Prompt {0} of {1}: which answer is better? Keys A, B, or T for a tie.").format(i + 1, len(self.prompts)))
        self.prompt.setPlainText(self.prompts[i]["prompt"])
        self.left.setPlainText(left)
        self.right.setPlainText(right)
        self.setFocus()

    def judge(self, which: str) -> None:
        """The person's verdict on the shown prompt: ``"left"``, ``"right"`` or ``"tie"``."""
        if not self.judging:
            return
        i = self.position
        if which == "tie":
            winner = "tie"
        else:
            model2_left = self.flipped[i]
            winner = "b" if (which == "left") == model2_left else "a"
        self.verdicts.append({"prompt_index": i, "prompt": self.prompts[i]["prompt"], "answer_a": self.answers[0][i],
                              "answer_b": self.answers[1][i], "shown_left": "b" if self.flipped[i] else "a", "winner": winner})
        self.position += 1
        if self.position < len(self.prompts):
            self._show()
        else:
            self._record()

    def ask_judge(self) -> None:
        """Let the configured judge decide every prompt of the current pair of answers (background job)."""
        if not self.prompts or not self.answers[0] or not self.judge_model.text().strip():
            self.status.setText(self.tr("Start a comparison and name the judge's model first."))
            return
        self.judge_button.setEnabled(False)
        self.busy = True
        self.status.setText(self.tr("The judge is deciding {0} prompts, each in both orders…").format(len(self.prompts)))
        self.runner.submit(judge_job, self.judge_url.text().strip(), self.judge_model.text().strip(),
                           self.judge_prompt.toPlainText(), self.judge_key.text().strip() or None, self.prompts,
                           self.answers[0], self.answers[1], on_done=self._judged, on_error=self._judge_failed)
        self.judge_key.clear()  # saved in the config folder by the job; not kept in the window

    def _judged(self, verdicts: list[dict[str, Any]]) -> None:
        self.busy = False
        self.verdicts = verdicts
        self._record(judge=self.judge_model.text().strip())

    def _judge_failed(self, message: str) -> None:
        self.busy = False
        self.judge_button.setEnabled(True)
        self.status.setText(self.tr("The judge could not decide: {0}").format(message))

    def _record(self, judge: str = "person") -> None:
        from core.store import Project

        self._set_judging(False)
        self.judge_button.setEnabled(False)
        a, b = self.model_a.currentData(), self.model_b.currentData()
        label = f"{model_label(a)} vs {model_label(b)}" + (f" (judge: {judge})" if judge != "person" else "")
        project = Project.reopen(self.project_path)
        try:
            self.comparison_id = project.add_comparison(a, b, self.verdicts, label=label, judge=judge)
        finally:
            project.close()
        n = len(self.verdicts)
        wins_b = sum(v["winner"] == "b" for v in self.verdicts)
        ties = sum(v["winner"] == "tie" for v in self.verdicts)
        rate = (wins_b + 0.5 * ties) / n
        low, high = wilson_interval(wins_b + 0.5 * ties, n)
        self.summary = self.tr("{0}: {1} wins {2:.0%} (95 % interval {3:.0%}–{4:.0%}) over {5} prompts; "
                               "{6} {7}, {8} {9}, ties {10}.").format(
            label, model_label(b), rate, low, high, n, model_label(a), n - wins_b - ties, model_label(b), wins_b, ties)
        self.status.setText(self.summary)
        tie, preferred = self.tr("tie"), self.tr("preferred")
        rows = "".join(
            f"<tr><td>{v['prompt_index'] + 1}</td><td>{html.escape(v['answer_a'])}</td><td>{html.escape(v['answer_b'])}</td>"
            f"<td>{html.escape({'a': model_label(a), 'b': model_label(b), 'tie': tie}[v['winner']])}</td></tr>"
            for v in self.verdicts)
        self.result.setHtml(f"<p><b>{html.escape(self.summary)}</b></p><table cellspacing=4><tr><th>#</th>"
                            f"<th>{html.escape(model_label(a))}</th><th>{html.escape(model_label(b))}</th>"
                            f"<th>{html.escape(preferred)}</th></tr>{rows}</table>")
        self.start_button.setEnabled(True)
        self.finished.emit(self.comparison_id)
