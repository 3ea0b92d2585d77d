"""The method picker and its generated form.

The picker lists every method of ``core.methods.REGISTRY`` (so methods appear as they land); the
form is a `DataclassForm` over the method's ``Config``. Targets are not in the form: the module
tree owns ``target_modules`` / ``layers_to_transform`` and hands them in (`set_targets`) so that the
config is validated as a whole. Switching method keeps the values of fields both methods have.

Under the picker the form says what the method is for, from its measured facts (``FACTS.good_for`` and
``FACTS.measured`` in ``core/methods/<method>.py``): whether it stores new facts or steers style and format,
its trainable size, speed, and whether it merges. The user says what their data teaches ("Your data
teaches": new facts or a style/format); a method that measured poorly on that kind gets a warning naming
the methods that measured well, before anything trains (docs/method-defaults.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from core.methods import catalog
from core.methods.contract import DATA_KINDS
from studio.widgets.dataclass_form import DataclassForm
from studio.messages import person

TARGET_FIELDS = ("target_modules", "layers_to_transform", "layers_pattern")
HIDDEN = ("task_type", "base_model_name_or_path", "revision", "inference_mode", *TARGET_FIELDS)


def label(method: str) -> str:
    return catalog.label(method)


def own_targets(method: str) -> bool:
    """The method's target_modules is not the tree's choice (adaption prompt: one attention submodule
    name, filled in from the architecture); the form shows it as a plain field."""
    facts = catalog.get(method)
    return bool(facts and facts.own_targets)


class MethodForm(QWidget):
    """Method picker + form. `config_changed` carries a complete, valid config dict (with targets)."""

    method_changed = Signal(str)
    config_changed = Signal(dict)
    data_kind_changed = Signal(str)
    """The user picked another "Your data teaches" (one of `DATA_KINDS`); the window saves it with the data."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.methods: dict[str, Any] = {}
        self.method = ""
        self.overrides: dict[str, dict[str, Any]] = {}
        self.remembered: dict[str, Any] = {}
        """Values of every method shown so far: switching back and forth keeps them."""
        self.picker = QComboBox()
        self.picker.setEnabled(False)
        self.picker.addItem(self.tr("loading methods…"))
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.kind = QComboBox()
        self.kind.addItem(self.tr("new facts to remember"), "facts")
        self.kind.addItem(self.tr("a style or format for answers"), "style")
        self.kind.setToolTip(self.tr("What your dataset teaches. New facts: names, numbers, answers the model does not know "
                                     "yet. A style or format: the way answers are written (a template, a tone, JSON), "
                                     "with content the model already knows."))
        self.fit = QLabel()
        self.fit.setWordWrap(True)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b26a00;")
        self.warning.hide()
        self.form = DataclassForm(skip=HIDDEN)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form)
        head = QFormLayout()
        head.addRow(self.tr("Method"), self.picker)
        head.addRow(self.tr("Your data teaches"), self.kind)
        box = QVBoxLayout(self)
        box.addLayout(head)
        box.addWidget(self.about)
        box.addWidget(self.fit)
        box.addWidget(self.warning)
        box.addWidget(scroll, 1)
        self.picker.currentIndexChanged.connect(self._on_pick)
        self.form.values_changed.connect(self._emit)
        self.kind.currentIndexChanged.connect(self._show_fit)
        self.kind.activated.connect(lambda *_: self.data_kind_changed.emit(self.data_kind()))  # the user's pick only

    def set_registry(self, methods: dict[str, Any]) -> None:
        """Fill the picker from the registry ({PeftType value: method module})."""
        self.methods = dict(methods)
        self.picker.blockSignals(True)
        self.picker.clear()
        for name in self.methods:
            self.picker.addItem(label(name), name)
        self.picker.setEnabled(True)
        self.picker.blockSignals(False)

    def suggested(self, method: str) -> dict[str, Any]:
        """First values for ``method``'s required fields (the window may refine them, e.g. AdaLoRA's
        total_step from the training settings)."""
        facts = catalog.get(method)
        return dict(facts.suggested if facts else {}, **self.overrides.get(method, {}))

    def config_class(self, method: str | None = None) -> Any:
        return self.methods[method or self.method].Config

    def uses_targets(self, method: str | None = None) -> bool:
        if own_targets(method or self.method):
            return False
        names = {f.name for f in dataclasses.fields(self.config_class(method))}
        return "target_modules" in names

    def uses_layers(self, method: str | None = None) -> bool:
        names = {f.name for f in dataclasses.fields(self.config_class(method))}
        return "layers_to_transform" in names

    def set_config(self, config: dict[str, Any]) -> None:
        """Show ``config`` (a ``to_dict()`` form with ``peft_type``); no signal."""
        method = str(config.get("peft_type") or "LORA")
        if method not in self.methods:
            method = next(iter(self.methods))
        self.method = method
        self.picker.blockSignals(True)
        self.picker.setCurrentIndex(self.picker.findData(method))
        self.picker.blockSignals(False)
        self._set_targets_extra(config)
        self.form.blockSignals(True)
        self.form.set_class(self.config_class(), config)
        self.form.blockSignals(False)
        # The method file's first paragraph: its name and the paper it follows.
        self.about.setText(" ".join((self.methods[method].__doc__ or "").strip().split("\n\n")[0].split()))
        self._show_fit()

    # ----------------------------------------------------------------------------------------------
    # What the method is for (its measured facts) and whether it suits the data

    def data_kind(self) -> str:
        """What the user says their data teaches: one of `DATA_KINDS`."""
        return self.kind.currentData() or DATA_KINDS[0]

    def set_data_kind(self, kind: str) -> None:
        index = self.kind.findData(kind)
        if index >= 0:
            self.kind.setCurrentIndex(index)

    def _kind_noun(self, kind: str) -> str:
        return {"facts": self.tr("new facts"), "style": self.tr("a style or format")}.get(kind, kind)

    def _purpose(self, kind: str) -> str:
        return {"facts": self.tr("stores new facts"), "style": self.tr("steers style and format")}.get(kind, kind)

    def fit_text(self, method: str) -> str:
        """One paragraph: what ``method`` is for, its trainable size, speed and mergeability, as measured."""
        facts = catalog.get(method)
        if facts is None:
            return ""
        purposes = " · ".join(self._purpose(k) for k in facts.good_for) or self.tr("measured well on neither kind of data")
        parts = [self.tr("Good for: {0}.").format(purposes)]
        m = facts.measured
        if "trainable" in m and "seconds" in m:
            parts.append(self.tr("On SmolLM2-135M: {0} trainable parameters; 60 steps took {1:.0f} s on 2 shared CPU cores.")
                         .format(_count(m["trainable"]), m["seconds"]))
        parts.append(self.tr("Merges into the model's weights.") if facts.mergeable
                     else self.tr("Stays a separate adapter: it cannot be merged into the model."))
        return " ".join(parts)

    def warning_text(self, method: str, kind: str) -> str:
        """Why ``method`` is a poor pick for data of ``kind`` (its measured score against the best one's and
        the methods that measured well), or "" when it measured well on that kind (or was not measured)."""
        facts = catalog.get(method)
        if facts is None or not facts.measured or kind in facts.good_for:
            return ""
        good = [f for f in (catalog.get(name) for name in self.methods) if f is not None and kind in f.good_for]
        text = self.tr("Measured: {0} at its defaults learned little of {1} (held-out score {2:.2f}).").format(
            facts.label, self._kind_noun(kind), facts.measured.get(kind, 0.0))
        if good:
            best = max(good, key=lambda f: f.measured.get(kind, 0.0))
            text += " " + self.tr("For {0}, pick {1} ({2} scored {3:.2f}).").format(
                self._kind_noun(kind), ", ".join(f.label for f in good), best.label, best.measured.get(kind, 0.0))
        return text

    def _show_fit(self, *_: Any) -> None:
        if not self.method:
            return
        self.fit.setText(self.fit_text(self.method))
        warning = self.warning_text(self.method, self.data_kind())
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))

    def _tree_fields(self) -> set[str]:
        if not self.method or own_targets(self.method):
            return set()
        return {f.name for f in dataclasses.fields(self.config_class())} & set(TARGET_FIELDS)

    def _set_targets_extra(self, config: dict[str, Any]) -> None:
        names = self._tree_fields()
        self.form.skip = set(HIDDEN) - ({"target_modules"} if own_targets(self.method) else set())
        self.form.extra = {k: config.get(k) for k in TARGET_FIELDS if k in names and k in config}
        self.form.extra.setdefault("task_type", "CAUSAL_LM")

    def set_targets(self, targets: Any, layers: Any) -> None:
        """New targets from the tree: re-validate the whole config (emits when valid)."""
        names = self._tree_fields()
        if "target_modules" in names:
            self.form.extra["target_modules"] = targets
        if "layers_to_transform" in names:
            self.form.extra["layers_to_transform"] = layers
        values = self.form.validate()
        if values is not None:
            self._emit(values)

    def has_parameters(self, method: str | None = None) -> bool:
        """Whether the method's config has ``target_parameters`` (LoRA): the tree's experts rows tick into it."""
        return "target_parameters" in {f.name for f in dataclasses.fields(self.config_class(method))}

    def set_parameters(self, parameters: list[str] | None) -> None:
        """New ``target_parameters`` from the tree (an experts row ticked): into the form's field, then the
        whole config re-validated (emits when valid, so the window records and saves it like a typed edit)."""
        fw = self.form.fields.get("target_parameters")
        if fw is None:
            return
        fw.set(parameters)
        values = self.form.validate()
        if values is not None:
            self._emit(values)

    def built(self) -> Any:
        """The method's ``Config`` as the form's last validation built it (every change of a field,
        the targets or the method validates), or None while the form is invalid."""
        return self.form.built if self.form.cls is not None and not self.form.error else None

    def current_config(self) -> dict[str, Any] | None:
        """The config dict (``to_dict()`` form) if valid, else None."""
        built = self.built()
        return None if built is None else built.to_dict()

    def _config_dict(self, values: dict[str, Any]) -> dict[str, Any]:
        # ``values`` were validated a moment ago (DataclassForm.validate built the config from them):
        # one config per edit, not one per step of the way to the cost panel.
        cfg = self.form.built
        if cfg is None:
            cfg = self.config_class()(**{**values, **self.form.extra})
        return cfg.to_dict()

    def _on_pick(self, index: int) -> None:
        method = self.picker.itemData(index)
        if not method or method == self.method:
            return
        try:
            self.remembered.update(self.form.values())
        except ValueError:
            pass
        for name in TARGET_FIELDS:
            self.remembered.pop(name, None)
        carried = {**self.remembered, **self.form.extra, "peft_type": method}
        if own_targets(method):
            for name in TARGET_FIELDS:
                carried.pop(name, None)
        for name, value in self.suggested(method).items():
            if carried.get(name) is None:
                carried[name] = value
        self.set_config(carried)
        self.method_changed.emit(method)
        values = self.form.validate()
        if values is not None:
            self._emit(values)

    def _emit(self, values: dict[str, Any]) -> None:
        try:
            self.config_changed.emit(self._config_dict(values))
        except Exception as exc:  # validated a moment ago; report instead of crashing the slot
            self.form.error_label.setText(person(str(exc), "config"))
            self.form.error_label.show()


def _count(n: float) -> str:
    """A parameter count for people: 4884480 -> "4.9 M", 11520 -> "11.5 k"."""
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.1f} k" if n >= 1e3 else f"{n:.0f}"
