"""The module tree: the model as ``print(model)`` shows it, with a check box on every module the
chosen method can adapt.

The widget never decides alone: a click computes the new ``target_modules`` /
``layers_to_transform`` and emits `targets_edited`; the window records it (undo stack, project
file) and calls `set_targets`, which re-ticks every row from PEFT's matching rules
(`studio.targets`). So the tree, the text field and the saved config always agree.

Rows: attribute name, class, shape facts, parameter count (exact figure on hover). A block list
whose blocks are identical folds into one row, ``h (0-23): 24 x BloomBlock``, that expands into one
block; ticking a module there targets it in every block (PEFT's suffix rule); the bar that appears
offers "only block N" instead. Unticking a parent unticks everything below it.

Mixture-of-experts rows (``experts``: a module whose weights are fused 3-D parameters, ``gate_up_proj
(E, 2·I, H)``, ``down_proj (E, H, I)``) are no Linear layer, so no ``target_modules`` entry can adapt them;
for a method with ``target_parameters`` (LoRA) their box ticks those weights into ``target_parameters``
instead (`parameters_edited`; ``experts.gate_up_proj, experts.down_proj`` when ticked in every block) and
unticking removes them. When a LoRA project on a MoE model names no parameters, a button offers the experts
(the default `core.defaults.model_method_defaults` gives a new project of ``adapter-studio new``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QMenu,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QTreeWidgetItemIterator,
    QVBoxLayout,
    QWidget,
)

from studio import targets as T
from studio.messages import person
from studio.widgets.wrap import breakable, make_wrapping

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
ARCHITECTURE_ONLY = frozenset({"bloomz-560m"})
"""Built-in names that are only an architecture: `core.models.load_model` refuses them (no weights)."""
ACCENT = QColor(46, 125, 220)


def _human(n: int) -> str:
    for div, unit in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= div:
            return f"{n / div:.1f} {unit}"
    return str(n)


def _shape(facts: dict[str, Any]) -> str:
    if "in_features" in facts:
        return f"{facts['in_features']}→{facts['out_features']}"
    if "nx" in facts:
        return f"{facts['nx']}→{facts['nf']}"
    if "num_embeddings" in facts:
        return f"{facts['num_embeddings']}×{facts['embedding_dim']}"
    if "normalized_shape" in facts:
        return "×".join(str(d) for d in facts["normalized_shape"])
    if "p" in facts:
        return f"p={facts['p']}"
    return ""


@dataclass
class _Row:
    item: QTreeWidgetItem
    path: str
    real: list[str]
    """The real module names this row stands for (one per block when folded)."""
    targetable: bool = False
    leaves: list[str] = field(default_factory=list)
    """Real names of the targetable modules at or below this row."""
    repeat: tuple[int, int, int] | None = None
    parent: "_Row | None" = None


class ModuleTree(QWidget):
    """The tree, its filter, the layer-range control and the editable targets text."""

    targets_edited = Signal(object, object)
    """(target_modules, layers_to_transform) the person asked for."""
    parameters_edited = Signal(object)
    """The ``target_parameters`` (a list, or None) the person asked for by ticking an experts row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = None  # studio.jobs.ModelInfo
        self.method = "LORA"
        self.method_label = "LoRA"
        self._no_targets_reason: str | None = None
        self._has_layers = True
        self.targets: list[str] | str | None = None
        self.layers: list[int] | None = None
        self.parameters: list[str] | None = None
        """The config's ``target_parameters``."""
        self._has_parameters = False
        """Whether the method has ``target_parameters`` (LoRA): experts rows tick into it."""
        self._rows: dict[str, _Row] = {}
        self._shown_state: dict[str, Qt.CheckState] = {}
        """The check state `_refresh` gave each row: only a change from it is the person's click."""
        self._updating = False
        self._offer_path: str | None = None
        self.highlight: set[str] = set()
        self.highlight_note = ""
        self.error = ""
        """Why the model could not be shown ("" when it is): Train refuses while there is one."""
        self.problems: list[str] = []
        """What is wrong with the targets, as the red text under the field says it."""

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.filter = QLineEdit(placeholderText=self.tr("Filter: name or regex (F)"))
        self.filter.setClearButtonEnabled(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: a moving bar while the skeleton builds
        self.busy.setMaximumWidth(90)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.status = make_wrapping(QLabel())  # a model error can be a long path: wrap, never widen the window
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.busy)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels([self.tr("Module"), self.tr("Class"), self.tr("Shape"), self.tr("Params")])
        self.tree.setFont(mono)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        # The name column takes what the others leave; Params is always as wide as its longest count
        # ("134.5 M": a fixed 80 px cut the unit off at the default window size with a larger font).
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)

        # The offer after ticking a module of a folded block: all blocks (default) or only one.
        self.offer = QFrame()
        self.offer.setFrameShape(QFrame.Shape.StyledPanel)
        self.offer_label = QLabel()
        self.offer_block = QSpinBox()
        self.offer_only = QPushButton(self.tr("Only this block"))
        self.offer_close = QPushButton("×")
        self.offer_close.setFlat(True)
        self.offer_close.setMaximumWidth(24)
        lay = QHBoxLayout(self.offer)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.addWidget(self.offer_label, 1)
        lay.addWidget(QLabel(self.tr("block")))
        lay.addWidget(self.offer_block)
        lay.addWidget(self.offer_only)
        lay.addWidget(self.offer_close)
        self.offer.hide()

        self.layers_all = QCheckBox(self.tr("all layers"))
        self.layers_all.setChecked(True)
        self.layer_from = QSpinBox()
        self.layer_to = QSpinBox()
        for spin in (self.layer_from, self.layer_to):
            spin.setEnabled(False)
        layers = QHBoxLayout()
        layers.addWidget(QLabel(self.tr("Layers:")))
        layers.addWidget(self.layers_all)
        layers.addWidget(QLabel(self.tr("from")))
        layers.addWidget(self.layer_from)
        layers.addWidget(QLabel(self.tr("to")))
        layers.addWidget(self.layer_to)
        layers.addStretch(1)

        self.targets_edit = QLineEdit(placeholderText=self.tr("target_modules: names (q_proj, v_proj) or a regex"))
        self.targets_edit.setFont(mono)
        self.flags = make_wrapping(QLabel())
        self.flags.setStyleSheet("color: #c62828;")
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Targets:")))
        row.addWidget(self.targets_edit, 1)
        # After a model switch the old targets may name another architecture's modules (q_proj on
        # Bloom): one click takes the modules of the same role here (studio.targets.equivalent_targets).
        self.suggest = QPushButton()
        self.suggest.setObjectName("suggest_targets")
        self.suggest.hide()
        self.suggested: list[str] | None = None
        self.suggest.clicked.connect(self._on_suggest)
        # LoRA on a MoE model without target_parameters adapts attention only (all-linear means what it
        # means in PEFT): one click adds the experts, as `adapter-studio new` does for such a model.
        self.suggest_experts = QPushButton()
        self.suggest_experts.setObjectName("suggest_experts")
        self.suggest_experts.hide()
        self.suggest_experts.clicked.connect(self._on_suggest_experts)

        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(self.status)
        box.addWidget(self.tree, 1)
        box.addWidget(self.offer)
        box.addLayout(layers)
        box.addLayout(row)
        box.addWidget(self.flags)
        box.addWidget(self.suggest, 0, Qt.AlignmentFlag.AlignLeft)
        box.addWidget(self.suggest_experts, 0, Qt.AlignmentFlag.AlignLeft)

        self._filter_timer = QTimer(self, singleShot=True, interval=150)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter.textChanged.connect(self._filter_timer.start)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.targets_edit.editingFinished.connect(self._on_text)
        self.layers_all.toggled.connect(self._on_layers)
        self.layer_from.valueChanged.connect(self._on_layers)
        self.layer_to.valueChanged.connect(self._on_layers)
        self.offer_only.clicked.connect(self._on_only_block)
        self.offer_close.clicked.connect(self.offer.hide)

    # ---- state from the window -------------------------------------------------------------------

    def set_loading(self, loading: bool, text: str = "") -> None:
        self.busy.setVisible(loading)
        self.error = ""
        self.status.setStyleSheet("")
        self.status.setText(breakable(text))

    def set_error(self, message: str) -> None:
        self.busy.hide()
        self.error = message
        self.status.setText(breakable(person(message, "model")))
        self.status.setStyleSheet("color: #c62828;")

    def set_model(self, info: Any) -> None:
        """Show the tree of a `studio.jobs.ModelInfo`."""
        self.info = info
        self.error = ""
        self.status.setStyleSheet("")
        text = self.tr("{0} · {1} · {2} parameters").format(info.ref, info.node.cls, f"{info.node.total_params:,}")
        if info.ref in ARCHITECTURE_ONLY:
            text += " — " + self.tr("architecture only: no weights (inspect and estimate; it cannot be trained — "
                                    "open a folder of the real model to train it)")
            self.status.setStyleSheet("color: #b26a00;")
        self.status.setText(breakable(text))
        self._updating = True
        try:
            self.tree.clear()
            self._rows.clear()
            self._shown_state.clear()
            self._build(info.node, None, [""])
            root = self._rows[""].item
            self.tree.addTopLevelItem(root)
            self._expand_default(root)
            self._fit_columns()
            n = max(info.num_layers - 1, 0)
            for spin in (self.layer_from, self.layer_to):
                spin.setRange(0, n)
            self.layer_to.setValue(n)
        finally:
            self._updating = False
        self._refresh()
        self.apply_filter()

    def set_method(
        self, method: str, label: str, *, no_targets_reason: str | None, has_layers: bool, has_parameters: bool = False
    ) -> None:
        """The chosen method: which rows it can target (from each module's support), or why none;
        ``has_parameters``: its config has ``target_parameters`` (experts rows tick into it)."""
        if method != self.method:
            self.offer.hide()
        self.method, self.method_label = method, label
        self._has_parameters = has_parameters
        self._no_targets_reason = no_targets_reason
        self._has_layers = has_layers
        self.targets_edit.setEnabled(no_targets_reason is None)
        for w in (self.layers_all, self.layer_from, self.layer_to):
            w.setEnabled(no_targets_reason is None and has_layers and (w is self.layers_all or not self.layers_all.isChecked()))
        self._refresh()

    def set_highlight(self, names: set[str], note: str = "") -> None:
        """Tint the rows of ``names`` (modules a method adapts without ticks, e.g. adaption prompt's layers)."""
        self.highlight, self.highlight_note = set(names), note
        self._refresh()

    def set_targets(self, targets: list[str] | str | None, layers: list[int] | None) -> None:
        """Re-tick the rows for these targets (no signal)."""
        self.targets = targets
        self.layers = list(layers) if layers else None
        self._refresh()

    def set_parameters(self, parameters: list[str] | None) -> None:
        """Re-tick the experts rows for the config's ``target_parameters`` (no signal)."""
        self.parameters = list(parameters) if parameters else None
        self._refresh()

    # ---- experts: fused weights ticked into target_parameters --------------------------------------

    def expert_keys(self) -> list[str]:
        """Every fused expert weight of the model as a parameter key, in model order."""
        if self.info is None:
            return []
        return [f"{m}.{n}" for m, weights in getattr(self.info, "experts", {}).items() for n, _ in weights]

    def _param_keys(self, row: _Row) -> list[str]:
        """The expert weights an experts row stands for (every block when folded); [] for other rows or
        when the method has no target_parameters."""
        if self.info is None or not self._has_parameters or self._no_targets_reason:
            return []
        experts = getattr(self.info, "experts", {})
        return [f"{m}.{n}" for m in row.real for n, _ in experts.get(m, [])]

    def selected_parameters(self) -> set[str]:
        """The expert weights the config's ``target_parameters`` select."""
        return T.parameters_matched(self.parameters, self.expert_keys())

    def _param_tooltip(self, row: _Row, hit: list[str], keys: list[str]) -> str:
        weights = ", ".join(f"{n} ({' × '.join(map(str, shape))})" for n, shape in self.info.experts[row.real[0]])
        text = self.tr("{0}: its weights are fused parameters, one matrix per expert ({1}), not Linear layers. "
                       "Ticking adds them to target_parameters (one LoRA update per expert); unticking removes "
                       "them.").format(row.path, weights)
        if len(row.real) > 1:
            text += " " + self.tr("Selected in {0} of {1} blocks.").format(
                len({k.rsplit(".", 1)[0] for k in hit}), len(row.real))
        return text

    # ---- building --------------------------------------------------------------------------------

    def _build(self, node: Any, parent: _Row | None, real: list[str]) -> _Row:
        children = list(node.children)
        label = node.name or node.cls
        cls = node.cls
        params = node.total_params
        repeat = None
        # A block list of identical blocks: one row "h (0-23): 24 x BloomBlock" standing for all.
        if node.style == "list" and len(children) == 1 and children[0].repeat:
            block = children[0]
            first, last, count = block.repeat
            repeat = block.repeat
            label = f"{node.name} ({first}-{last}): {count} x {block.cls}"
            cls = "ModuleList"
            real = [f"{r}.{i}" if r else str(i) for r in real for i in range(first, last + 1)]
            params = block.repeat_params or params
            children = list(block.children)
        item = QTreeWidgetItem([label, cls, _shape(node.facts), ""])
        item.setData(0, PATH_ROLE, node.path)
        if params:
            item.setText(3, f"{count} x {_human(block.total_params)}" if repeat else _human(params))
            item.setToolTip(3, f"{params:,} parameters")
        item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setToolTip(1, node.extra_repr or node.cls)
        row = _Row(item, node.path, real, repeat=repeat, parent=parent)
        self._rows[node.path] = row
        for child in children:
            if child.repeat and node.style == "list":
                first, last, _ = child.repeat
                child_real = [f"{r}.{i}" if r else str(i) for r in real for i in range(first, last + 1)]
            else:
                child_real = [f"{r}.{child.name}" if r else child.name for r in real]
            child_row = self._build(child, row, child_real)
            if child.repeat and node.style == "list":
                first, last, count = child.repeat
                child_row.item.setText(0, f"({first}-{last}): {count} x {child.cls}")
            item.addChild(child_row.item)
        return row

    def _fit_columns(self) -> None:
        # Fit the columns to what they show, but cap the name and class columns so that the
        # parameter counts stay in view in a ~560 px pane (a folded row's long label is elided).
        for column, cap in ((1, 150), (2, 110)):
            self.tree.resizeColumnToContents(column)
            self.tree.header().resizeSection(column, min(self.tree.header().sectionSize(column), cap))

    def _expand_default(self, root: QTreeWidgetItem) -> None:
        # Open the way down to the first block's modules, as the UI sketch shows.
        item = root
        while item is not None:
            item.setExpanded(True)
            nxt = None
            for i in range(item.childCount()):
                if item.child(i).childCount():
                    nxt = item.child(i)
                    break
            item = nxt

    # ---- ticking ---------------------------------------------------------------------------------

    def _support(self, name: str) -> str | None:
        if self.info is None:
            return self.tr("no model")
        if self._no_targets_reason:
            return person(self._no_targets_reason)
        reasons = self.info.support.get(name, {})
        if self.method not in reasons:
            return self.tr("{0} does not target modules of the tree.").format(self.method_label)
        reason = reasons[self.method]
        return None if reason is None else person(reason)  # the engine's sentence, in the window's language

    def unrestricted(self) -> set[str]:
        """Modules the targets select, ignoring layers_to_transform."""
        if self.info is None:
            return set()
        return T.matched(self.targets, self.info.names, linear=self.info.linear)

    def selected(self) -> set[str]:
        """Modules the current targets select (layers_to_transform applied), as PEFT would."""
        if self.info is None or self._no_targets_reason:
            return set()
        return T.matched(self.targets, self.info.names, layers=self.layers, layers_pattern=None, linear=self.info.linear)

    def _refresh(self) -> None:
        if self.info is None:
            return
        selected = self.selected()
        chosen_params = self.selected_parameters()
        self._updating = True
        try:
            grey = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            tint = QColor(ACCENT)
            tint.setAlpha(40)
            # leaves first (bottom-up), so containers can aggregate
            for row in reversed(list(self._rows.values())):
                reason = self._support(row.real[0]) if row.real[0] else "the model itself"
                row.targetable = reason is None and not row.item.childCount()
                row.leaves = list(row.real) if row.targetable else []
                for i in range(row.item.childCount()):
                    child = self._rows[row.item.child(i).data(0, PATH_ROLE)]
                    row.leaves += child.leaves
                item = row.item
                flags = item.flags() | Qt.ItemFlag.ItemIsEnabled
                if row.leaves:
                    flags |= Qt.ItemFlag.ItemIsUserCheckable
                    hit = [p for p in row.leaves if p in selected]
                    state = (
                        Qt.CheckState.Checked if len(hit) == len(row.leaves)
                        else Qt.CheckState.PartiallyChecked if hit else Qt.CheckState.Unchecked
                    )
                    item.setCheckState(0, state)
                    self._shown_state[row.path] = state
                    for col in range(4):
                        item.setForeground(col, QBrush())
                        item.setBackground(col, QBrush(tint) if row.targetable and hit else QBrush())
                    item.setToolTip(0, self._row_tooltip(row, hit))
                else:
                    flags &= ~Qt.ItemFlag.ItemIsUserCheckable
                    item.setData(0, Qt.ItemDataRole.CheckStateRole, None)
                    self._shown_state.pop(row.path, None)
                    lit = [p for p in row.real if p in self.highlight]
                    if not item.childCount():
                        flags &= ~Qt.ItemFlag.ItemIsEnabled  # a leaf the method cannot target: disabled
                        for col in range(4):
                            item.setForeground(col, QBrush(grey))
                    for col in range(4):
                        item.setBackground(col, QBrush(tint) if lit else QBrush())
                    if lit:
                        item.setToolTip(0, f"{row.path}: {self.highlight_note} ({len(lit)} of {len(row.real)} blocks)")
                    else:
                        item.setToolTip(0, f"{row.path or item.text(1)}: {reason}" if reason else row.path)
                    keys = self._param_keys(row)
                    if keys:  # an experts row: its box is its weights in target_parameters
                        flags |= Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
                        hit = [k for k in keys if k in chosen_params]
                        state = (
                            Qt.CheckState.Checked if len(hit) == len(keys)
                            else Qt.CheckState.PartiallyChecked if hit else Qt.CheckState.Unchecked
                        )
                        item.setCheckState(0, state)
                        self._shown_state[row.path] = state
                        for col in range(4):
                            item.setForeground(col, QBrush())
                            item.setBackground(col, QBrush(tint) if hit else QBrush())
                        item.setToolTip(0, self._param_tooltip(row, hit, keys))
                item.setFlags(flags)
            self.targets_edit.setText(T.format_targets(self.targets))
            self.layers_all.blockSignals(True)
            self.layer_from.blockSignals(True)
            self.layer_to.blockSignals(True)
            self.layers_all.setChecked(not self.layers)
            if self.layers:
                self.layer_from.setValue(min(self.layers))
                self.layer_to.setValue(max(self.layers))
            for spin in (self.layer_from, self.layer_to):
                spin.setEnabled(bool(self.layers) and self._has_layers and not self._no_targets_reason)
            self.layers_all.blockSignals(False)
            self.layer_from.blockSignals(False)
            self.layer_to.blockSignals(False)
            self._show_flags(selected)
        finally:
            self._updating = False

    def _row_tooltip(self, row: _Row, hit: list[str]) -> str:
        if row.repeat or len(row.real) > 1:
            return f"{row.path}: selected in {len(set(hit) & set(row.real)) or len(hit)} of {len(row.real)} blocks"
        return row.path

    def _show_flags(self, selected: set[str]) -> None:
        problems = self.problems = []
        self._show_suggestion()
        self._show_experts_suggestion()
        if self._no_targets_reason:
            self.flags.setStyleSheet("color: palette(mid);")
            self.flags.setText(breakable(person(self._no_targets_reason)))
            return
        self.flags.setStyleSheet("color: #c62828;")
        error = T.regex_error(self.targets)
        if error:
            problems.append(person(error))
        for entry, close in T.unmatched_entries(self.targets, self.info.names):
            if close:
                problems.append(self.tr("'{0}' matches no module (closest: {1})").format(entry, ", ".join(close)))
            else:
                problems.append(self.tr("'{0}' matches no module").format(entry))
        bad = sorted(n for n in selected if self._support(n) is not None)
        if bad:
            problems.append(self.tr("{0} cannot adapt {1}: {2}").format(
                self.method_label, ", ".join(bad[:3]) + (" …" if len(bad) > 3 else ""), self._support(bad[0])))
        if isinstance(self.targets, str) and self.layers and self.targets != T.ALL_LINEAR:
            problems.append(self.tr("layers_to_transform only works with a name list, not a regex"))
        if self.targets and not problems and not selected:
            problems.append(self.tr("these targets select no module"))
        self.flags.setText(breakable("\n".join(problems)))

    def _show_suggestion(self) -> None:
        """Offer the same roles in this architecture when list entries match no module here."""
        suggestion = None
        if self.info is not None and not self._no_targets_reason:
            suggestion = T.equivalent_targets(self.targets, self.info.names)
            if suggestion is not None:
                hits = T.matched(suggestion, self.info.names)
                if not hits or any(self._support(n) is not None for n in hits):
                    suggestion = None  # the method cannot adapt them: no one-click offer
        self.suggested = suggestion
        if suggestion is None:
            self.suggest.hide()
            return
        names = T.format_targets(suggestion)
        short = names if len(names) <= 60 else names[:57] + "…"  # a button does not wrap: keep it narrow
        self.suggest.setText(self.tr("Use {0} (the same modules in this model)").format(short))
        self.suggest.setToolTip(names + "\n" + self.tr("The targets name modules of another architecture; these have "
                                                        "the same roles (attention query/key/value/output, MLP) here."))
        self.suggest.show()

    def _show_experts_suggestion(self) -> None:
        """Offer the experts when the method could adapt them and the config names no parameters."""
        from core.defaults import expert_parameters_of  # torch-free

        entries = expert_parameters_of(getattr(self.info, "experts", {})) if self.info is not None else []
        if not entries or not self._has_parameters or self._no_targets_reason or self.parameters:
            self.suggest_experts.hide()
            return
        self.suggest_experts.setText(self.tr("Also adapt the experts ({0})").format(", ".join(entries)))
        self.suggest_experts.setToolTip(self.tr(
            "This mixture-of-experts model keeps its experts as fused parameters, which all-linear does not "
            "select: without target_parameters only the attention layers train. A click sets target_parameters "
            "to {0} (one LoRA update per expert), the default of a new project on this model.").format(", ".join(entries)))
        self.suggest_experts.show()

    def _on_suggest_experts(self) -> None:
        from core.defaults import expert_parameters_of

        if self.info is not None:
            self.parameters_edited.emit(expert_parameters_of(self.info.experts) or None)

    def _on_suggest(self) -> None:
        if self.suggested is not None:
            self.targets_edited.emit(list(self.suggested), self.layers)

    def row(self, path: str) -> QTreeWidgetItem:
        """The tree item of a module path (the representative path inside folded blocks)."""
        return self._rows[path].item

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        # itemChanged fires for any data of the row (the "where it adapted" swatch, a tooltip, a
        # tint): only a check state that differs from the one shown is the person's click. Settings
        # are the person's data; nothing else may change them.
        if self._updating or column != 0:
            return
        path = item.data(0, PATH_ROLE)
        shown = self._shown_state.get(path)
        if shown is None or item.checkState(0) == shown:
            return
        self.toggle(path)

    def toggle(self, path: str) -> None:
        """What a click on a row's check box does: untick if anything below is ticked, else tick
        (in every block, when the row stands for several)."""
        row = self._rows[path]
        keys = self._param_keys(row)
        if keys:
            self._toggle_parameters(keys)
            return
        current = self.unrestricted()
        shown = self.selected()
        if any(p in shown for p in row.leaves):
            new = current - set(row.leaves)
            self.offer.hide()
        else:
            new = current | set(row.leaves)
            if len(row.real) > 1 and row.targetable:
                self._offer(row)
        self._emit(new)

    def _toggle_parameters(self, keys: list[str]) -> None:
        """An experts row's click: its weights out of target_parameters if any is in, else in (every block)."""
        every = self.expert_keys()
        chosen = self.selected_parameters()
        new = chosen - set(keys) if chosen & set(keys) else chosen | set(keys)
        # entries a person typed that select no expert weight (another parameter) stay as they are
        kept = [e for e in self.parameters or [] if not T.entry_matches(e, every)]
        self.parameters_edited.emit(T.parameter_entries(new, every, kept))

    def context_actions(self, path: str) -> list[tuple[str, Any]]:
        """(label, callable) pairs of a row's menu: tick in all blocks / only one block / untick."""
        row = self._rows.get(path)
        if row is None or not row.leaves:
            return []
        actions: list[tuple[str, Any]] = []
        shown = self.selected()
        leaf = path.rsplit(".", 1)[-1]
        if any(p in shown for p in row.leaves):
            actions.append((self.tr("Untick {0}").format(leaf), lambda: self._emit(self.unrestricted() - set(row.leaves))))
        if len(row.real) > 1:
            blocks = sorted({b for p in row.leaves if (b := self._block_of(row, p)) is not None})
            actions.append((self.tr("Tick in all {0} blocks").format(len(blocks) or len(row.real)),
                            lambda: self._emit(self.unrestricted() | set(row.leaves))))
            for b in blocks[:64]:
                actions.append((self.tr("Tick only in block {0}").format(b), lambda b=b: self.tick_only_block(path, b)))
        elif not any(p in shown for p in row.leaves):
            actions.append((self.tr("Tick {0}").format(leaf), lambda: self._emit(self.unrestricted() | set(row.leaves))))
        return actions

    def _context_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        actions = self.context_actions(item.data(0, PATH_ROLE))
        if not actions:
            return
        menu = QMenu(self)
        only = None
        for text, fn in actions:
            if text.startswith(self.tr("Tick only in block {0}").split("{")[0]) and len(actions) > 4:
                only = only or menu.addMenu(self.tr("Tick only in block"))
                only.addAction(text, fn)
            else:
                menu.addAction(text, fn)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def tick_only_block(self, path: str, block: int) -> None:
        """Target the module of row ``path`` in block ``block`` only (PEFT: its full name)."""
        row = self._rows[path]
        keep = [p for p in row.leaves if self._block_of(row, p) == block]
        new = (self.unrestricted() - set(row.leaves)) | set(keep)
        self._emit(new)

    def _block_of(self, row: _Row, name: str) -> int | None:
        # The index segment that differs between the row's real names.
        rep = row.path.split(".")
        parts = name.split(".")
        for a, b in zip(rep, parts):
            if a.isdigit() and b.isdigit():
                return int(b)
        return None

    def _offer(self, row: _Row) -> None:
        blocks = sorted({self._block_of(row, p) for p in row.leaves if self._block_of(row, p) is not None})
        if not blocks:
            return
        self._offer_path = row.path
        leaf = row.path.rsplit(".", 1)[-1]
        self.offer_label.setText(self.tr("{0}: ticked in all {1} blocks.").format(leaf, len(blocks)))
        self.offer_block.setRange(blocks[0], blocks[-1])
        self.offer_block.setValue(self._block_of(row, row.path) or blocks[0])
        self.offer.show()

    def _on_only_block(self) -> None:
        if self._offer_path is not None:
            self.tick_only_block(self._offer_path, self.offer_block.value())
        self.offer.hide()

    def _groups(self) -> list[list[str]]:
        return [row.real for row in self._rows.values() if row.targetable]

    def _emit(self, new: set[str]) -> None:
        entries = T.compress(new, self._groups(), self.info.names) if new else None
        if isinstance(self.targets, str) and new == self.unrestricted():
            entries = self.targets
        self.targets_edited.emit(entries, self.layers)

    def _on_text(self) -> None:
        if self._no_targets_reason:
            return
        parsed = T.parse_text(self.targets_edit.text())
        if parsed != self.targets:
            self.targets_edited.emit(parsed, self.layers)

    def _on_layers(self) -> None:
        if self._updating:
            return
        if self.layers_all.isChecked():
            layers = None
        else:
            a, b = sorted((self.layer_from.value(), self.layer_to.value()))
            layers = list(range(a, b + 1))
        for spin in (self.layer_from, self.layer_to):
            spin.setEnabled(layers is not None)
        if layers != self.layers:
            self.targets_edited.emit(self.targets, layers)

    # ---- filter ----------------------------------------------------------------------------------

    def apply_filter(self) -> None:
        """Show rows whose name or path matches the filter (a regex, else plain text), with their parents."""
        text = self.filter.text().strip()
        if not text:
            it = QTreeWidgetItemIterator(self.tree)
            while it.value():
                it.value().setHidden(False)
                it += 1
            return
        try:
            rx = re.compile(text, re.IGNORECASE)
            test = lambda s: rx.search(s) is not None  # noqa: E731
        except re.error:
            low = text.lower()
            test = lambda s: low in s.lower()  # noqa: E731

        def visit(item: QTreeWidgetItem) -> bool:
            own = test(item.text(0)) or test(item.data(0, PATH_ROLE) or "") or test(item.text(1))
            any_child = False
            for i in range(item.childCount()):
                any_child |= visit(item.child(i))
            show = own or any_child
            item.setHidden(not show)
            if any_child:
                item.setExpanded(True)
            return show

        for i in range(self.tree.topLevelItemCount()):
            visit(self.tree.topLevelItem(i))

    def visible_paths(self) -> list[str]:
        out = []
        it = QTreeWidgetItemIterator(self.tree)
        while it.value():
            if not it.value().isHidden():
                out.append(it.value().data(0, PATH_ROLE))
            it += 1
        return out
