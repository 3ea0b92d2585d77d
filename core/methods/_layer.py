"""What every adapter layer (LoRA, AdaLoRA, IA3) answers about the layer it wraps, as PEFT's tuner layers do.

A model that reads ``self.proj.weight`` (or ``.bias``) directly — transformers' T5 reads ``wo.weight.dtype``, and
models that build inputs on ``conv.weight.device`` — must keep working once ``proj`` is wrapped: the wrapper hands
out the base layer's own tensors (not copies, so a merged adapter is what the reader sees).
"""

from __future__ import annotations

import torch
from torch import nn


class WrapsBaseLayer(nn.Module):
    """Mixin for a layer holding the wrapped module as ``self.base_layer``."""

    @property
    def weight(self) -> torch.Tensor:
        """The wrapped layer's weight, e.g. (out, in) for a Linear."""
        return self.base_layer.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """The wrapped layer's bias (out,), or None when it has none."""
        return getattr(self.base_layer, "bias", None)
