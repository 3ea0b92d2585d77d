"""Where the adaptation went: ‖ΔW‖ per adapted module after a LoRA run, AdaLoRA's ranks over training.

`adaptation_map` (worker thread; torch loads there) reads a checkpoint's adapter weights and asks the
method's own ``update_size`` (``core/methods/lora.py``, ``core/methods/adalora.py``) what each module's
update is:

- LoRA: ``‖ΔW‖_F = scaling · ‖B A‖_F`` per module, ``scaling = lora_alpha / r`` (``/ √r`` with rsLoRA;
  per-module ``rank_pattern`` / ``alpha_pattern`` are honoured by name);
- AdaLoRA: the final rank (kept triplets, non-zero ``lora_E``) and ``‖B (A ⊙ E)‖_F · lora_alpha / init_r``;
  with ``allocation_history.json`` in the checkpoint (written by ``core.train`` for AdaLoRA runs) the
  slider replays how the rank budget moved, step by step.

`AdaptationView` draws it as a heat map (blocks × module names — the picture no other tool shows) with
a step slider for AdaLoRA, and colours the module tree's rows with the same scale (a swatch and a
tooltip per row; folded block rows show the mean over blocks and list every block).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from core.methods import catalog

_BLOCK = re.compile(r"\.(\d+)\.")


def adaptation_map(checkpoint: str) -> dict[str, Any]:
    """{"method", "metric", "modules": {module path: {"norm": float, "rank": int | None}}, "history": dict | None}."""
    import torch

    from core.config import PeftType
    from core.methods import REGISTRY
    from core.peft_model import read_adapter_weights
    from core.runs import adapter_folder

    folder = adapter_folder(Path(checkpoint))
    config = json.loads((folder / "adapter_config.json").read_text())
    method = config.get("peft_type", "")
    if not ((facts := catalog.get(method)) and facts.low_rank):
        raise ValueError(f"{method} has no per-module weight update to show (LoRA and AdaLoRA do).")
    module = REGISTRY[PeftType(method)]  # its update_size: the method's own ΔW (core/methods/contract.py)
    weights = read_adapter_weights(folder)
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        m = re.match(r"(?:base_model\.model\.)?(.*)\.(lora_[ABE])(?:\.[\w-]+)?(?:\.weight)?$", key)
        if m:
            parts.setdefault(m.group(1), {})[m.group(2)] = tensor.float()
    out = {name: module.update_size(name, p, config) for name, p in parts.items() if "lora_A" in p and "lora_B" in p}
    history = None
    hist_file = Path(checkpoint) / "allocation_history.json"
    if hist_file.is_file():
        history = json.loads(hist_file.read_text())
    return {"method": method, "metric": module.UPDATE_METRIC, "modules": out, "history": history}


def colour(t: float) -> QColor:
    """A perceptual ramp (pale yellow -> orange -> deep purple) for t in [0, 1]."""
    stops = [(0.0, (252, 253, 191)), (0.35, (253, 159, 108)), (0.7, (183, 55, 121)), (1.0, (59, 15, 112))]
    t = min(1.0, max(0.0, t))
    for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
            return QColor(*(int(a + (b - a) * f) for a, b in zip(c0, c1)))
    return QColor(*stops[-1][1])


def grid(values: dict[str, float]) -> tuple[list[str], list[int], dict[tuple[int, str], float]]:
    """(module kinds, block indices, {(block, kind): value}) for a heat map of blocks × module names."""
    kinds: list[str] = []
    blocks: set[int] = set()
    cells: dict[tuple[int, str], float] = {}
    for name, value in values.items():
        m = None
        for m in _BLOCK.finditer(name):
            pass
        block = int(m.group(1)) if m else -1
        kind = name[m.end():] if m else name
        if kind not in kinds:
            kinds.append(kind)
        blocks.add(block)
        cells[(block, kind)] = value
    return kinds, sorted(blocks), cells


class AdaptationView(QWidget):
    """Heat map of ‖ΔW‖ (LoRA) or rank (AdaLoRA) per block and module, a step slider for AdaLoRA."""

    computed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint = QComboBox()
        self.show_button = QPushButton(self.tr("Show where the adaptation went"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.hide()
        self.slider.valueChanged.connect(self._on_slider)
        self.step_label = QLabel()
        self.caption = QLabel(self.tr("After a LoRA-family run: the size of each module's learned update, per block."))
        self.caption.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Checkpoint:")))
        top.addWidget(self.checkpoint, 1)
        top.addWidget(self.show_button)
        steps = QHBoxLayout()
        steps.addWidget(self.slider, 1)
        steps.addWidget(self.step_label)
        self.box = QVBoxLayout(self)
        self.box.addLayout(top)
        self.box.addWidget(self.caption)
        self.box.addLayout(steps)
        self.plot = None
        self.data: dict[str, Any] | None = None
        self.values: dict[str, float] = {}

    def _ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        self.pg = pg
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w" if self.palette().color(self.backgroundRole()).lightness() >= 128 else "#1e1e1e")
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.plot.invertY(True)
        self.plot.setLabel("left", "block")
        self.box.addWidget(self.plot, 1)

    def reset(self) -> None:
        """Nothing computed (a new project): no heat map, slider or figures of another project's run."""
        self.data, self.values = None, {}
        self.slider.hide()
        self.step_label.clear()
        self.caption.setText(self.tr("After a LoRA-family run: the size of each module's learned update, per block."))
        if self.plot is not None:
            self.image.clear()

    def set_data(self, data: dict[str, Any]) -> None:
        """The result of `adaptation_map`."""
        self.data = data
        metric = data["metric"]
        self.values = {n: float(v[metric]) for n, v in data["modules"].items()}
        hist = data.get("history")
        if metric == "rank" and hist and hist.get("events"):
            self.slider.setRange(0, len(hist["events"]))  # the last position = the final ranks
            self.slider.setValue(len(hist["events"]))
            self.slider.show()
        else:
            self.slider.hide()
        what = "final rank (kept triplets)" if metric == "rank" else "‖ΔW‖_F (scaling · ‖BA‖)"
        self.caption.setText(f"{data['method']}: {what} per block (rows) and module (columns). Darker = more.")
        self.draw(self.values)
        self.computed.emit()

    def _on_slider(self, index: int) -> None:
        hist = (self.data or {}).get("history")
        if not hist:
            return
        events = hist["events"]
        if index >= len(events):
            self.step_label.setText(self.tr("final"))
            self.draw(self.values)
            return
        ev = events[index]
        self.step_label.setText(f"step {ev['step']} · budget {ev['budget']}")
        self.draw(dict(zip(hist["modules"], (float(k) for k in ev["kept"]))))

    def draw(self, values: dict[str, float]) -> None:
        import numpy as np

        self._ensure_plot()
        kinds, blocks, cells = grid(values)
        if not kinds:
            return
        top = max(values.values()) or 1.0
        img = np.zeros((len(blocks), len(kinds), 4), dtype=np.ubyte)
        for (b, k), v in cells.items():
            c = colour(v / top)
            img[blocks.index(b), kinds.index(k)] = (c.red(), c.green(), c.blue(), 255)
        self.image.setImage(img.transpose(1, 0, 2))  # ImageItem is (x, y): columns = module kinds
        ax = self.plot.getAxis("bottom")
        ax.setTicks([[(i + 0.5, k) for i, k in enumerate(kinds)]])
        self.plot.getAxis("left").setTicks([[(i + 0.5, str(b)) for i, b in enumerate(blocks)]])
        self.shown = values

    def apply_to_tree(self, tree: Any) -> int:
        """Colour the module tree's rows (a swatch in the name column, the figures on hover); returns rows coloured."""
        if not self.values:
            return 0
        top = max(self.values.values()) or 1.0
        metric = (self.data or {}).get("metric", "norm")
        rows: dict[int, list[tuple[str, float]]] = {}
        items: dict[int, Any] = {}
        for name, value in self.values.items():
            item = None
            try:
                item = tree.row(name)
            except KeyError:
                rep = _BLOCK.sub(".0.", name, count=0)
                try:
                    item = tree.row(rep)
                except KeyError:
                    continue
            rows.setdefault(id(item), []).append((name, value))
            items[id(item)] = item
        for key, entries in rows.items():
            item = items[key]
            mean = sum(v for _, v in entries) / len(entries)
            item.setData(0, Qt.ItemDataRole.DecorationRole, colour(mean / top))
            label = "rank" if metric == "rank" else "‖ΔW‖"
            lines = [f"{label} {v:.4g}  {n}" for n, v in sorted(entries)]
            head = f"{label}: mean {mean:.4g} over {len(entries)} module(s)" if len(entries) > 1 else f"{label} {mean:.4g}"
            item.setToolTip(3, head + ("\n" + "\n".join(lines[:40]) if len(entries) > 1 else ""))
        return len(rows)
