"""Work that must not run on the GUI thread, and the runner that runs it.

Everything here that needs torch imports it inside the function, on a pool thread: the GUI process
paints its window before torch is ever loaded (docs/design.md: "the GUI never imports torch at module
level"). Results come back to the GUI thread as queued Qt signals.

- `load_methods`: the method registry (imports core.methods, hence torch);
- `load_tree`: a model's meta skeleton (cached per reference), its `core.tree` Node and the plain
  facts the tree widget needs (every module name, which methods can target each);
- `count_cost`: PEFT-exact trainable/all counts and the memory estimate (`core.estimate`).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot


@dataclasses.dataclass
class ModelInfo:
    """A model's tree and names, handed from the skeleton job to the GUI thread (plain data)."""

    ref: str
    node: Any  # core.tree.Node
    names: list[str]
    """Every qualified module name (folded blocks expanded), as ``model.named_modules()``."""
    support: dict[str, dict[str, str | None]]
    """Module name -> {method: None if it can target it, else why not}."""
    linear: list[str]
    """Linear/Conv1D modules except the output head (what ``all-linear`` selects)."""
    model_type: str
    num_layers: int
    """Length of the longest block list (0 if none), for the layer-range control."""
    layers_name: str = ""
    experts: dict[str, list[tuple[str, tuple[int, ...]]]] = dataclasses.field(default_factory=dict)
    """Module name -> its fused expert weights ``[(name, (E, out, in))]`` (`core.defaults.expert_weights`):
    the rows that tick into LoRA's ``target_parameters``; {} for a dense model."""


_lock = threading.Lock()
_skeletons: dict[str, Any] = {}


def _skeleton(ref: str):
    """The cached meta skeleton of ``ref`` (never modified: callers deep-copy it)."""
    with _lock:
        model = _skeletons.get(ref)
        if model is None:
            from core.models import skeleton

            model = _skeletons[ref] = skeleton(ref)
        return model


def load_methods() -> dict[str, Any]:
    """{"methods": {PeftType value: method module}} (imports core.methods, hence torch). The Training
    and Data forms' classes (`core.args.TrainingArguments`, `core.data.DataConfig`) are torch-free:
    the window reads them on the GUI thread."""
    from core.methods import REGISTRY

    return {"methods": {ptype.value: module for ptype, module in REGISTRY.items()}}


def load_tree(ref: str) -> ModelInfo:
    """Build (or reuse) the skeleton of ``ref`` and describe it for the tree widget."""
    from torch import nn

    from core.defaults import expert_weights
    from core.methods import target_support
    from core.tree import describe

    model = _skeleton(ref)
    node = describe(model)
    names, support, linear = [], {}, []
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    num_layers, layers_name = 0, ""
    for name, module in model.named_modules():
        if not name:
            continue
        names.append(name)
        support[name] = target_support(module)
        if (isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D") and module is not head:
            linear.append(name)
        if isinstance(module, nn.ModuleList) and len(module) > num_layers:
            num_layers, layers_name = len(module), name.rsplit(".", 1)[-1]
    model_type = getattr(getattr(model, "config", None), "model_type", "") or ""
    return ModelInfo(ref, node, names, support, sorted(linear), model_type, num_layers, layers_name, expert_weights(model))


def count_cost(ref: str, method_module: Any, config: Any, memory: dict[str, Any]) -> dict[str, Any]:
    """Trainable/all counts of ``config`` and the memory estimate (``{"trainable", "total", "memory"}``):
    `core.estimate.cost` adapts one copy of the cached skeleton for both the counts and the traced
    activations. ``config``: a dict, or a copy of the method's Config that the form already built."""
    from core import estimate

    return estimate.cost(_skeleton(ref), method_module, config, **memory)


class Runner(QObject):
    """Runs callables on a pool thread; ``on_done(result)`` / ``on_error(message)`` run on the GUI thread.

    `busy_changed` tells the window when to show its busy indicator."""

    _finished = Signal(int, bool, object)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, threads: int = 1) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._finished.connect(self._deliver)

    def submit(self, fn: Callable, *args: Any, on_done: Callable | None = None, on_error: Callable | None = None) -> int:
        job_id = next(self._ids)
        self._pending[job_id] = (on_done, on_error)
        if len(self._pending) == 1:
            self.busy_changed.emit(True)
        finished = self._finished

        def deliver(ok: bool, payload: object) -> None:
            try:
                finished.emit(job_id, ok, payload)
            except RuntimeError:  # the Runner (its window) was closed while the job ran: nobody to tell
                pass

        class _Job(QRunnable):
            def run(self_job) -> None:  # noqa: N805 - pool thread
                try:
                    result = fn(*args)
                except Exception as exc:  # a job's failure is a message for the person, not a crash
                    deliver(False, (f"{exc}", traceback.format_exc(limit=-4)))
                else:
                    deliver(True, result)

        self.pool.start(_Job())
        return job_id

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    @Slot(int, bool, object)
    def _deliver(self, job_id: int, ok: bool, payload: object) -> None:
        on_done, on_error = self._pending.pop(job_id, (None, None))
        if not self._pending:
            self.busy_changed.emit(False)
        if ok and on_done is not None:
            on_done(payload)
        elif not ok and on_error is not None:
            on_error(payload[0])

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)


def load_tokenizer(ref: str) -> tuple[Any, str]:
    """A tokenizer for previews, without loading weights: the model folder's own, else the
    bundled SmolLM2 tokenizer (which the built-in models share). Returns (tokenizer, note)."""
    import os

    from transformers import AutoTokenizer

    if os.path.isdir(ref):
        try:
            return AutoTokenizer.from_pretrained(ref), ""
        except Exception as exc:  # a folder without tokenizer files: fall back, and say so
            note = f"{ref} has no usable tokenizer ({exc}); the preview uses the bundled SmolLM2 tokenizer."
    else:
        note = "" if ref.startswith(("smollm2", "tiny-")) else (
            f"The preview uses the bundled SmolLM2 tokenizer ({ref}'s own is not available offline)."
        )
    from core.models import tiny_tokenizer  # the bundled tokenizer (assets/tokenizer)

    return tiny_tokenizer(), note


def preview_data(ref: str, data: dict[str, Any]) -> dict[str, Any]:
    """``core.data.preview`` of the data settings, tokenized as for ``ref``."""
    from core.data import DataConfig, preview

    config = DataConfig(**data)
    tokenizer, note = load_tokenizer(ref)
    return {"preview": preview(config, tokenizer, n=5), "max_length": config.max_length, "tokenizer_note": note}
