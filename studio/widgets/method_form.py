"""The method picker and its generated form.

The picker lists every method of ``core.methods.REGISTRY`` (so methods appear as they land); the
form is a `DataclassForm` over the method's ``Config``. Targets are not in the form: the module
tree owns ``target_modules`` / ``layers_to_transform`` and hands them in (`set_targets`) so that the
config is validated as a whole. Switching method keeps the values of fields both methods have.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from core.methods import catalog
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
        self.form = DataclassForm(skip=HIDDEN)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form)
        head = QFormLayout()
        head.addRow(self.tr("Method"), self.picker)
        box = QVBoxLayout(self)
        box.addLayout(head)
        box.addWidget(self.about)
        box.addWidget(scroll, 1)
        self.picker.currentIndexChanged.connect(self._on_pick)
        self.form.values_changed.connect(self._emit)

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
