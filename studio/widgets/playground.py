"""The playground: one prompt, the base model and the adapter side by side, tokens streaming in.

Pick any checkpoint of any run. Generation runs on a Python thread (torch is imported there, never
on the GUI thread); both sides decode greedily with the same settings, one token each in turn, so they
stream together. Each step is a full forward pass over the tokens so far (no KV cache): for the
small models a person tries here that is fast enough, and it is the engine's tested oracle — right
for every method, prompt learning included (see docs/peft-compatibility.md on PEFT's generate()).
Chat mode wraps the prompt in the tokenizer's chat template.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

_lock = threading.Lock()
_loaded: dict[str, Any] = {}  # {"key": (model ref, checkpoint), "peft": ..., "tokenizer": ...}


def load_adapter_model(model_ref: str, checkpoint: str) -> tuple[Any, Any]:
    """(PeftModel, tokenizer) for a checkpoint; the last one stays loaded (worker thread only)."""
    with _lock:
        key = (model_ref, checkpoint)
        if _loaded.get("key") != key:
            from core.runs import adapter_folder
            from core.models import load_model
            from core.peft_model import PeftModel

            model, tokenizer = load_model(model_ref)
            peft = PeftModel.from_pretrained(model, adapter_folder(Path(checkpoint)))
            peft.eval()
            _loaded.clear()
            _loaded.update(key=key, peft=peft, tokenizer=tokenizer)
        return _loaded["peft"], _loaded["tokenizer"]


def encode_prompt(tokenizer: Any, prompt: str, chat: bool) -> tuple[list[int], str]:
    """Token ids of the prompt (chat mode: through the tokenizer's chat template) and a note."""
    if chat:
        if getattr(tokenizer, "chat_template", None):
            ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            return list(ids), ""
        return tokenizer(prompt)["input_ids"], "This tokenizer has no chat template; the prompt is used as is."
    return tokenizer(prompt)["input_ids"], ""


def generate_side_by_side(peft: Any, tokenizer: Any, ids: list[int], max_new_tokens: int, emit: Any,
                          stop: threading.Event | None = None) -> dict[str, list[int]]:
    """Greedy decoding with the adapter disabled ("base") and enabled ("adapter"), one token each in
    turn; ``emit(side, text so far)`` after every token. Returns the new token ids of each side."""
    import torch

    out: dict[str, list[int]] = {"base": [], "adapter": []}
    done = {"base": False, "adapter": False}
    eos = tokenizer.eos_token_id
    with torch.no_grad():
        for _ in range(max_new_tokens):
            for side in ("base", "adapter"):
                if done[side] or (stop is not None and stop.is_set()):
                    continue
                x = torch.tensor([ids + out[side]])  # (1, T)
                if side == "base":
                    with peft.disable_adapter():
                        logits = peft(input_ids=x).logits
                else:
                    logits = peft(input_ids=x).logits  # (1, T(+virtual), V)
                token = int(logits[0, -1].argmax())
                out[side].append(token)
                if token == eos:
                    done[side] = True
                emit(side, tokenizer.decode(out[side], skip_special_tokens=True))
            if all(done.values()):
                break
    return out


class _Bridge(QObject):
    text = Signal(str, str)  # side, text so far (queued to the GUI thread)
    done = Signal(str)  # "" or an error message
    note = Signal(str)


class Playground(QWidget):
    """Prompt box, checkpoint picker, base | adapter outputs."""

    finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint = QComboBox()
        self.checkpoint.setMinimumWidth(260)
        self.checkpoint.setToolTip(self.tr("Any checkpoint of any run of this project"))
        self.chat = QCheckBox(self.tr("Chat mode"))
        self.chat.setToolTip(self.tr("Wrap the prompt in the tokenizer's chat template"))
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 1024)
        self.max_tokens.setValue(32)
        self.max_tokens.setPrefix(self.tr("max new tokens "))
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText(self.tr("Type a prompt; Generate runs the base model and the adapter side by side."))
        self.prompt.setMaximumHeight(90)
        self.go = QPushButton(self.tr("Generate"))
        self.go.clicked.connect(self.generate)
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(lambda: self._stop.set())
        self.base_out = QPlainTextEdit()
        self.adapter_out = QPlainTextEdit()
        for w in (self.base_out, self.adapter_out):
            w.setReadOnly(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.model_label = QLabel()  # which base model and which run the outputs come from
        self.model_label.setWordWrap(True)
        self.checkpoint.currentIndexChanged.connect(lambda _i: self._show_model())
        self.checkpoint.activated.connect(lambda _i: setattr(self, "_picked", self.checkpoint.currentData()))
        self._picked: str | None = None
        """The checkpoint the person chose in the picker (kept across refreshes); None: the newest."""
        self._preferred: str | None = None
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Adapter:")))
        top.addWidget(self.checkpoint, 1)
        top.addWidget(self.chat)
        top.addWidget(self.max_tokens)
        top.addWidget(self.go)
        top.addWidget(self.stop_button)
        grid = QGridLayout()
        grid.addWidget(QLabel(self.tr("<b>Base model</b>")), 0, 0)
        grid.addWidget(QLabel(self.tr("<b>With the adapter</b>")), 0, 1)
        grid.addWidget(self.base_out, 1, 0)
        grid.addWidget(self.adapter_out, 1, 1)
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(self.model_label)
        box.addWidget(self.prompt)
        box.addLayout(grid, 1)
        box.addWidget(self.status)
        self.bridge = _Bridge()
        self.bridge.text.connect(self._on_text, Qt.ConnectionType.QueuedConnection)
        self.bridge.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self.bridge.note.connect(self.status.setText, Qt.ConnectionType.QueuedConnection)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._generating = False
        self.model_ref = ""
        self.checkpoint_model: dict[str, str] = {}
        """Checkpoint folder -> the model its run trained (the window fills it); else `model_ref`."""
        self.outputs = {"base": "", "adapter": ""}
        self.preview: tuple[str, str, str] | None = None
        """(label, adapter folder, model reference) of an adapter shown before it is a run (`set_preview`)."""
        self._items: list[tuple[str, str]] = []

    def set_checkpoints(self, model_ref: str, checkpoints: list[tuple[str, str]], prefer: str | None = None) -> None:
        """[(label, checkpoint folder)], newest first. ``prefer``: the checkpoint to show unless the
        person picked another (the window passes the newest finished run's last checkpoint). A preview
        (`set_preview`) stays first in the list."""
        self.model_ref = model_ref
        self._items = list(checkpoints)
        if self.preview is not None:
            label, path, model = self.preview
            checkpoints = [(label, path), *checkpoints]
            self.checkpoint_model[path] = model  # the window refills checkpoint_model from the project file
        if prefer != self._preferred:  # a newer run finished: show it, even over an earlier pick
            self._picked = None
        self._preferred = prefer
        want = self._picked or prefer
        self.checkpoint.blockSignals(True)
        self.checkpoint.clear()
        for label, path in checkpoints:
            self.checkpoint.addItem(label, path)
        i = self.checkpoint.findData(want) if want else -1
        self.checkpoint.setCurrentIndex(i if i >= 0 else (0 if checkpoints else -1))
        self.checkpoint.blockSignals(False)
        self._show_model()
        self.go.setEnabled(bool(checkpoints) and not self.busy)
        if not checkpoints:
            self.status.setText(self.tr("No checkpoint yet: train a run first."))

    def set_preview(self, label: str, path: str, model_ref: str) -> None:
        """An adapter that is not (yet) a run of the project, e.g. the Combine dialog's preview: first in the
        picker and chosen, until `clear_preview`."""
        self.preview = (label, path, model_ref)
        self._picked = path
        self.set_checkpoints(self.model_ref, self._items, prefer=self._preferred)
        self.status.setText(self.tr("Type a prompt and Generate: the base model and the previewed adapter side by side."))

    def clear_preview(self) -> None:
        """Drop the preview from the picker (its folder is gone once the dialog closes)."""
        if self.preview is None:
            return
        path = self.preview[1]
        self.preview = None
        if self._picked == path:
            self._picked = None
        self.set_checkpoints(self.model_ref, self._items, prefer=self._preferred)

    def _show_model(self) -> None:
        path = self.checkpoint.currentData()
        if not path:
            self.model_label.clear()
            return
        model = self.checkpoint_model.get(path, self.model_ref)
        self.model_label.setText(self.tr("Base model: {0} · adapter: {1}").format(model, self.checkpoint.currentText()))

    @property
    def busy(self) -> bool:
        # Set by Generate, cleared when the result reaches the window: asking the thread ``is_alive()`` would
        # refuse a Generate clicked between its last signal and its return.
        return self._generating

    def generate(self) -> None:
        checkpoint = self.checkpoint.currentData()
        if not checkpoint or self.busy:
            return
        model_ref = self.checkpoint_model.get(checkpoint, self.model_ref)
        prompt, chat, n = self.prompt.toPlainText(), self.chat.isChecked(), self.max_tokens.value()
        self.base_out.clear()
        self.adapter_out.clear()
        self.outputs = {"base": "", "adapter": ""}
        self._generating = True
        self.go.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(self.tr("Loading {0} with {1}…").format(model_ref, Path(checkpoint).name))
        self._stop.clear()
        bridge, stop = self.bridge, self._stop

        def work() -> None:
            try:
                peft, tokenizer = load_adapter_model(model_ref, checkpoint)
                ids, note = encode_prompt(tokenizer, prompt, chat)
                bridge.note.emit(note or "Generating (greedy, same settings on both sides)…")
                generate_side_by_side(peft, tokenizer, ids, n, bridge.text.emit, stop)
            except Exception as exc:  # noqa: BLE001 - shown in the playground
                bridge.done.emit(f"{type(exc).__name__}: {exc}")
            else:
                bridge.done.emit("")

        self._thread = threading.Thread(target=work, name="playground", daemon=True)
        self._thread.start()

    def _on_text(self, side: str, text: str) -> None:
        self.outputs[side] = text
        (self.base_out if side == "base" else self.adapter_out).setPlainText(text)

    def _on_done(self, error: str) -> None:
        self._generating = False
        self.go.setEnabled(True)
        self.stop_button.setEnabled(False)
        if error:
            self.status.setText(f"<span style='color:#d62728'>{error}</span>")
        else:
            same = self.outputs["base"] == self.outputs["adapter"]
            self.status.setText(self.tr("Done.") + (self.tr(" The adapter did not change this answer.") if same else ""))
        self.finished.emit()
