"""PEFT's mixed adapter batches: ``model(..., adapter_names=[...])`` runs sample ``i`` of the batch through the
adapter ``adapter_names[i]`` (``"__base__"``: through none), e.g. to serve several LoRA adapters of one base model
in one forward pass.

``PeftModel.forward`` checks the request and sets it for the duration of the call (:func:`mixed`); the layers
that take part read it with :func:`current` and split the batch with :func:`groups`. Only LoRA's layers and the
``modules_to_save`` copies of Linear / Embedding / Conv layers follow it; other layers refuse it by name.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
from torch import nn

BASE = "__base__"
# modules whose modules_to_save copies can run on a part of the batch (PEFT's list and sentence)
SUPPORTED = (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d)

_current: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("peft_mixed_adapter_names", default=None)


def current() -> list[str] | None:
    """The per-sample adapter names of the forward pass in progress, or None (the usual single-adapter pass)."""
    return _current.get()


@contextlib.contextmanager
def mixed(adapter_names: list[str]) -> Iterator[None]:
    token = _current.set(list(adapter_names))
    try:
        yield
    finally:
        _current.reset(token)


def groups(adapter_names: list[str], n: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Adapter name -> the batch rows (a LongTensor of indices) it serves; the batch must have one row per name."""
    if len(adapter_names) != n:
        raise ValueError(f"Length of `adapter_names` should be the same as the number of inputs, but got "
                         f"{len(adapter_names)} and {n} respectively. (One adapter name per sample of the batch.)")
    rows: dict[str, list[int]] = {}
    for i, name in enumerate(adapter_names):
        rows.setdefault(name, []).append(i)
    return {name: torch.tensor(idx, dtype=torch.long, device=device) for name, idx in rows.items()}


def unsupported_module_error(module: nn.Module) -> TypeError:
    names = ", ".join(m.__name__ for m in SUPPORTED)
    return TypeError(f"Mixed batching is only supported for the following modules: {names}. "
                     f"(A modules_to_save copy of a {type(module).__name__} cannot serve part of a batch.)")
