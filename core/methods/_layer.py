"""What every adapter layer (LoRA, AdaLoRA, IA3) answers about the layer it wraps, as PEFT's tuner layers do.

A model that reads ``self.proj.weight`` (or ``.bias``) directly — transformers' T5 reads ``wo.weight.dtype``, and
models that build inputs on ``conv.weight.device`` — must keep working once ``proj`` is wrapped: the wrapper hands
out the base layer's own tensors (not copies, so a merged adapter is what the reader sees).
"""

from __future__ import annotations

import torch
from torch import nn


class AdapterSwitch(nn.Module):
    """PEFT's per-layer switch (``layer.enable_adapters(False)``, ``layer.disable_adapters``) for a layer with
    ``disabled``, ``active_adapters`` and ``set_adapter(names, trainable)``. ``PeftModel.disable_adapter()`` is the
    model-wide way; this one turns a single layer off (its model then reports ``enabled == "irregular"``)."""

    @property
    def disable_adapters(self) -> bool:
        return self.disabled

    @property
    def merged(self) -> bool:
        """Whether any adapter is merged into the wrapped weights (PEFT's layer flag)."""
        return bool(getattr(self, "merged_adapters", None))

    def _all_available_adapter_names(self) -> list[str]:
        """Every adapter this layer holds, active or not (PEFT's layer method of this name, which code written for
        PEFT calls on its layers)."""
        return list(self.adapter_names())

    def enable_adapters(self, enabled: bool) -> None:
        """Off: the layer computes its base module only and its adapters stop training; on: the active ones train again."""
        self.disabled = not enabled
        self.set_adapter(list(self.active_adapters), trainable=bool(enabled))


class WrapsBaseLayer(AdapterSwitch):
    """Mixin for a layer holding the wrapped module as ``self.base_layer``."""

    @property
    def weight(self) -> torch.Tensor:
        """The wrapped layer's weight, e.g. (out, in) for a Linear."""
        return self.base_layer.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """The wrapped layer's bias (out,), or None when it has none."""
        return getattr(self.base_layer, "bias", None)

    def get_base_layer(self) -> nn.Module:
        """The wrapped layer itself (PEFT's tuner-layer method; an adapter layer nested in another is seen through)."""
        base = self.base_layer
        while isinstance(base, WrapsBaseLayer):
            base = base.base_layer
        return base
