"""A form generated from a config dataclass: one widget per field, chosen by the field's type.

The dataclass is the single source (docs/design.md): the field's ``metadata["help"]`` becomes the
tooltip, its default fills the widget, and the dataclass's own ``__post_init__`` validates — its
error message (which names the field) is shown inline, and the field it names is outlined in red.

Types: ``bool`` → check box; ``int`` → spin box; ``float`` → text (accepts ``2e-3``); an Enum →
combo; a ``str`` whose help lists quoted choices (``'none', 'all', or 'lora_only'``) → combo;
``bool | str`` → editable combo; anything else (lists, dicts, optional values) → text, read as JSON
or as a comma-separated list.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import typing
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from studio.field_help import field_help
from studio.messages import person

_NOTHING = object()


class _WheelGuard(QObject):
    """The mouse wheel over a spin box or combo that has no focus scrolls the form instead of
    changing the value (warmup_steps went 5 → 13 while a person scrolled the Training tab)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            # Hand the wheel to the enclosing scroll area's scroll bar (Qt does not pass a wheel event
            # that a filter swallowed on to the parents).
            area = obj.parentWidget()
            while area is not None and not isinstance(area, QAbstractScrollArea):
                area = area.parentWidget()
            if area is not None:
                QApplication.sendEvent(area.verticalScrollBar(), event)
            return True
        return False


_WHEEL_GUARD = _WheelGuard()


def guard_wheel(widget: QWidget) -> QWidget:
    """Let ``widget`` take the wheel only once it has the focus (a click or Tab gives it)."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_WHEEL_GUARD)
    return widget


def _choices(help_text: str) -> list[str]:
    return re.findall(r"'([A-Za-z0-9_\-]+)'", help_text)


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


class FieldWidget:
    """A field's widget and how to read and write it."""

    def __init__(self, f: dataclasses.Field, hint: Any) -> None:
        self.name = f.name
        self.help = f.metadata.get("help", "")
        self.default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        )
        self.hint = hint
        text = str(hint)
        args = typing.get_args(hint)
        enum_type = next((a for a in (hint, *args) if isinstance(a, type) and issubclass(a, enum.Enum)), None)
        choices = _choices(self.help)
        if hint is bool:
            self.kind, self.widget = "bool", QCheckBox()
        elif hint is int:
            self.kind, self.widget = "int", QSpinBox()
            self.widget.setRange(-(2**31) + 1, 2**31 - 1)
        elif hint is float:
            self.kind, self.widget = "float", QLineEdit()
        elif enum_type is not None:
            self.kind, self.widget = "enum", QComboBox()
            self.widget.addItems([str(m.value) for m in enum_type])
            self.widget.setEditable(False)
        elif set(args) == {bool, str}:
            self.kind, self.widget = "boolstr", QComboBox()
            self.widget.setEditable(True)
            self.widget.addItems(["True", "False", *[c for c in choices if c not in ("True", "False")]])
        elif hint is str and len(choices) >= 2 and self.default in choices:
            self.kind, self.widget = "choice", QComboBox()
            self.widget.addItems(list(dict.fromkeys(choices)))
        else:
            self.kind, self.widget = "text", QLineEdit()
            self.is_list = "list" in text
            self.is_dict = "dict" in text and "list" not in text
        self.widget.setToolTip(f"{self.name}: {field_help(self.help)}" if self.help else self.name)  # window's language
        self.widget.setObjectName(self.name)
        if isinstance(self.widget, (QSpinBox, QComboBox)):
            guard_wheel(self.widget)

    def set(self, value: Any) -> None:
        w = self.widget
        if self.kind == "bool":
            w.setChecked(bool(value))
        elif self.kind == "int":
            w.setValue(int(value or 0))
        elif self.kind in ("enum", "choice", "boolstr"):
            text = _show(value)
            if w.isEditable():
                w.setCurrentText(text)
            else:
                i = w.findText(text)
                if i < 0:
                    w.addItem(text)
                    i = w.findText(text)
                w.setCurrentIndex(i)
        else:
            w.setText(_show(value) if self.kind == "text" else repr(float(value)) if value is not None else "")

    def get(self) -> Any:
        """The value, or raises ValueError with a message for the person."""
        w = self.widget
        if self.kind == "bool":
            return w.isChecked()
        if self.kind == "int":
            return w.value()
        if self.kind == "float":
            text = w.text().strip()
            if not text and self.default is None:
                return None
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{self.name} must be a number, not {text!r}.") from None
        if self.kind in ("enum", "choice"):
            return w.currentText()
        if self.kind == "boolstr":
            text = w.currentText().strip()
            return {"true": True, "false": False}.get(text.lower(), text)
        text = w.text().strip()
        if not text:
            return None if self.default is None else type(self.default)()
        if text[0] in "[{\"" or text in ("true", "false", "null") or re.fullmatch(r"-?\d+(\.\d*)?", text):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                if text[0] in "[{":
                    raise ValueError(f"{self.name}: not valid JSON ({exc.msg}).") from None
        if getattr(self, "is_list", False):
            return [p for p in re.split(r"[,\s]+", text) if p]
        return text

    def connect(self, slot) -> None:
        w = self.widget
        if self.kind == "bool":
            w.toggled.connect(slot)
        elif self.kind == "int":
            w.valueChanged.connect(slot)
        elif isinstance(w, QComboBox):
            w.currentTextChanged.connect(slot)
        else:
            w.editingFinished.connect(slot)

    def mark(self, bad: bool) -> None:
        self.widget.setStyleSheet("border: 1px solid #c62828;" if bad else "")


class DataclassForm(QWidget):
    """A form for one dataclass. `values_changed` carries the values whenever they form a valid config."""

    values_changed = Signal(dict)
    error_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, skip: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        self.skip = set(skip)
        self.cls: type | None = None
        self.fields: dict[str, FieldWidget] = {}
        self.extra: dict[str, Any] = {}
        self.error = ""
        self.built: Any = None
        """The instance of `cls` the last validation built (None while the form is invalid): the
        method form hands it on instead of building the same config again."""
        self._loading = False
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.hide()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.form)
        box.addWidget(self.error_label)
        box.addStretch(1)

    def set_class(self, cls: type, values: dict[str, Any] | None = None) -> None:
        """Rebuild the form for ``cls``; fields of ``values`` with the same names carry over.

        The same class again (a project opened, undo, a run's settings shown) only sets the values:
        building the rows is the slow part (~0.1 s for the data form, on the GUI thread)."""
        if cls is self.cls and self.fields:
            self._loading = True
            try:
                for name, fw in self.fields.items():
                    value = (values or {}).get(name, _NOTHING)
                    fw.set(fw.default if value is _NOTHING else value)
            finally:
                self._loading = False
            self.validate()
            return
        while self.form.rowCount():
            self.form.removeRow(0)
        self.cls = cls
        self.fields = {}
        try:
            hints = typing.get_type_hints(cls)
        except Exception:
            hints = {}
        self._loading = True
        try:
            for f in dataclasses.fields(cls):
                if f.name in self.skip or not f.init:
                    continue
                fw = FieldWidget(f, hints.get(f.name, f.type))
                value = (values or {}).get(f.name, _NOTHING)
                fw.set(fw.default if value is _NOTHING else value)
                fw.connect(self._changed)
                label = QLabel(f.name)
                label.setToolTip(fw.widget.toolTip())
                self.form.addRow(label, fw.widget)
                self.fields[f.name] = fw
        finally:
            self._loading = False
        self.validate()

    def values(self) -> dict[str, Any]:
        """The form's values (raises ValueError for a value that cannot be read)."""
        return {name: fw.get() for name, fw in self.fields.items()}

    def validate(self) -> dict[str, Any] | None:
        """Build the dataclass from the form (plus `extra`); show its error inline. Returns the
        values when valid, else None."""
        if self.cls is None:
            return None
        error = ""
        values = built = None
        try:
            values = self.values()
            built = self.cls(**{**values, **self.extra})
            # an adapter config accepts an empty setting its adapter cannot be built without (as PEFT); the
            # form refuses it at once, with the same sentence get_peft_model would give
            check = getattr(built, "check_complete", None)
            if callable(check):
                check()
        except Exception as exc:  # ConfigError, DataError, TrainingConfigError, ValueError, TypeError
            error = str(exc)
            values = None
        self.error, self.built = error, built
        self.error_label.setText(person(error, "config"))  # in the window's language (self.error stays the engine's)
        self.error_label.setVisible(bool(error))
        for name, fw in self.fields.items():
            fw.mark(bool(error) and re.search(rf"\b{re.escape(name)}\b", error) is not None)
        self.error_changed.emit(error)
        return values

    def _changed(self, *_: Any) -> None:
        if self._loading:
            return
        values = self.validate()
        if values is not None:
            self.values_changed.emit(values)
