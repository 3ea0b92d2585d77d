"""LoRA on a frozen ``nn.Linear`` as one autograd node: the training fast path of `core.methods.lora`.

The generic path (``LoraLayer.forward``) runs the base layer, a dropout, two linears, a scale and an add as
separate autograd nodes. Each keeps its own inputs for backward: the dropped input per layer in full
precision, a float mask, the un-scaled update; and backward adds the base's and the adapter's input gradients
in one more pass. Here the whole layer, ``y = W x + b + s · B A (mask ⊙ x) / (1 - p)``, is one
`torch.autograd.Function` that keeps only what backward needs:

- ``x`` itself, the very tensor the layer was given: q/k/v (and gate/up) read one tensor, so it is kept
  once for all of them (the generic path keeps one dropped copy per layer);
- the dropout mask as ``uint8`` 0/1 (one byte an element; backward converts it to the float dtype once and
  rebuilds the dropped input from ``x`` in that buffer, one multiply);
- the rank-r intermediate ``h = c · A (mask ⊙ x)``, ``c = s / (1 - p)`` (the scale and dropout's
  ``1/(1-p)`` are folded into this small tensor instead of the wide output);
- the frozen weights, which are parameters anyway.

The forward adds ``h Bᵀ`` into the base output in place (one GEMM with accumulate), and backward builds the
input gradient as ``(gh A) ⊙ mask`` followed by ``+= g W`` in the same buffer: no separate add of the two
paths. The mask is drawn exactly as `core.methods.lora.bernoulli_dropout` draws it (16-bit integer lanes,
the same generator calls), so a seed gives the same masks on either path.

Used only where it is the same computation as the generic path: one active, unmerged, plain (non-DoRA)
adapter on an exact ``nn.Linear`` whose weight is frozen, no hooks on the base layer, gradients on. Under
autocast (mixed-precision training on a GPU) the node runs on inputs cast to autocast's dtype, as autocast
would cast each linear's inputs on the generic path. Anything else goes the generic way (`try_forward`
returns None).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """Dropout's keep mask, ``shape``, ``uint8`` 0/1, each element kept with probability ``1 - p`` (``p`` rounded
    to a multiple of 1/65536): every 64-bit word of the generator gives four 16-bit lanes, one per element.

    Why these calls (measured on a 2-core CPU, 512 x 576 elements): ``random_`` over the full 64-bit range takes
    the generator's words as they come (``randint`` over the same range spends a modulo on each, 1.2x the time);
    the comparison written into a ``uint8`` tensor takes a vectorised path that one into ``bool`` does not (34 vs
    115 us), and a ``uint8`` mask converts to a float one in 24 us, a ``bool`` one ~4x slower. (A product of a
    float tensor and the ``uint8`` mask converts the mask into a float temporary first: `_dropped`.)"""
    n = shape.numel()
    # (ceil(n/4),) int64 covering the full 64-bit range, seen as (n,) uniform int16 lanes
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    lanes = words.view(torch.int16)[:n].view(shape)
    return torch.ge(lanes, _threshold(p, device), out=torch.empty(shape, dtype=torch.uint8, device=device))


_thresholds: dict[tuple[float, torch.device], torch.Tensor] = {}


def _threshold(p: float, device: torch.device) -> torch.Tensor:
    """The int16 lane value at or above which an element is kept, as a one-element tensor on ``device`` (against a
    Python int the comparison takes a slower, widening path), made once per ``(p, device)``: ``torch.tensor`` costs
    ~5 us a call on the CPU, the lookup ~0.3 us."""
    key = (p, device)
    threshold = _thresholds.get(key)
    if threshold is None:
        threshold = _thresholds[key] = torch.tensor(round(p * 65536) - 32768, dtype=torch.int16, device=device)
    return threshold


def _dropped(x: torch.Tensor, mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x ⊙ mask`` in ``dtype``, a fresh tensor. Written as the mask converted, then multiplied in place: a product
    with a ``uint8`` operand converts it into a temporary of the float dtype first anyway, so ``x * mask`` costs
    that temporary and one more output buffer (x (N, in) of any float dtype; mask (N, in) uint8)."""
    return mask.to(dtype).mul_(x)


class LoraLinearFunction(torch.autograd.Function):
    """``y = x Wᵀ + b + c · (mask ⊙ x) Aᵀ Bᵀ`` with ``W`` frozen; gradients for ``x``, ``b``, ``A``, ``B``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, A: torch.Tensor,
                B: torch.Tensor, scaling: float, p: float) -> torch.Tensor:
        # x (..., in); weight (out, in) frozen; bias (out,) or None; A (r, in); B (out, r)
        out = F.linear(x, weight, bias)  # (..., out), a fresh buffer: the adapter's update is added into it
        x2 = x.reshape(-1, x.shape[-1])  # (N, in), a view when x is contiguous
        mask = None
        c = scaling
        if p > 0:
            mask = keep_mask(x2.shape, p, x2.device)  # (N, in) uint8 0/1, saved for backward (1 byte an element)
            xa = _dropped(x2, mask, A.dtype)  # (N, in) in A's dtype
            c = scaling / (1.0 - p)
        else:
            xa = x2 if x2.dtype == A.dtype else x2.to(A.dtype)  # adapters may be fp32 on a half base
        h = F.linear(xa, A).mul_(c)  # (N, r): scale and 1/(1-p) on the narrow tensor
        out2 = out.view(-1, out.shape[-1])  # (N, out)
        if out2.dtype == B.dtype:
            out2.addmm_(h, B.t())  # out += h Bᵀ, one GEMM with accumulate
        else:
            out2.add_(F.linear(h, B).to(out2.dtype))  # the update in the adapter's dtype, cast back as the base's
        ctx.save_for_backward(x, weight, A, B, h, mask)
        ctx.c = c
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        # torch.mm rather than ``@``: Tensor.__matmul__ passes through a Python wrapper, and this runs once a layer
        # a step
        x, weight, A, B, h, mask = ctx.saved_tensors
        need_x, _, need_bias, need_A, need_B = ctx.needs_input_grad[:5]
        g2 = grad.reshape(-1, grad.shape[-1])  # (N, out)
        ga = g2 if g2.dtype == B.dtype else g2.to(B.dtype)
        grad_B = torch.mm(ga.t(), h) if need_B else None  # (out, r)
        gh = torch.mm(ga, B).mul_(ctx.c)  # (N, r): gradient of A's output (mask ⊙ x) Aᵀ
        # the mask in A's dtype, converted once for both of its uses below (a product with a uint8 operand would
        # convert it into a temporary each time)
        maskf = mask.to(A.dtype) if mask is not None else None  # (N, in)
        grad_x = None
        if need_x:
            gx = torch.mm(gh, A)  # (N, in): the adapter's share
            if maskf is not None:
                gx.mul_(maskf)
            if gx.dtype == g2.dtype == weight.dtype:
                gx.addmm_(g2, weight)  # += g W, the base's share, in the same buffer
            else:
                gx = gx.to(x.dtype).add_(torch.mm(g2, weight.to(g2.dtype)))
            grad_x = gx.view(x.shape)
        grad_A = None
        if need_A:
            x2 = x.reshape(-1, x.shape[-1])
            if maskf is not None:
                xa = maskf.mul_(x2)  # the dropped input, rebuilt in the converted mask's buffer (its last use)
            else:
                xa = x2 if x2.dtype == A.dtype else x2.to(A.dtype)
            grad_A = torch.mm(gh.t(), xa)  # (r, in)
        grad_bias = g2.sum(0) if ctx.has_bias and need_bias else None
        return grad_x, None, grad_bias, grad_A, grad_B, None, None


def try_forward(layer: nn.Module, x: torch.Tensor, args: tuple, kwargs: dict, shared_masks: bool) -> torch.Tensor | None:
    """``layer``'s output through `LoraLinearFunction`, or None where the generic path must run (see the module
    docstring for when). ``layer`` is a `core.methods.lora.LoraLayer`; ``shared_masks``: `share_dropout_masks` is on
    (its cache lives on the generic path)."""
    if args or kwargs or layer.kind != "linear" or layer.disabled or layer.merged_adapters or shared_masks:
        return None
    if len(layer.active_adapters) != 1 or not torch.is_grad_enabled():
        return None
    name = layer.active_adapters[0]
    base = layer.base_layer
    if type(base) is not nn.Linear or name in layer.lora_magnitude_vector or name not in layer.lora_A:
        return None
    if layer.lora_B[name].bias is not None:  # lora_bias: B's own bias (out,) is not part of the fused node
        return None
    if base.weight.requires_grad or base._forward_hooks or base._forward_pre_hooks or hasattr(base, "_hf_hook"):
        return None
    A, B = layer.lora_A[name].weight, layer.lora_B[name].weight
    if not (A.requires_grad or B.requires_grad or x.requires_grad):
        return None
    p = layer.dropout_p[name] if layer.training else 0.0
    # (the meta device, where core/estimate.py traces a step, has no autocast state to ask about)
    if x.device.type != "meta" and torch.is_autocast_enabled(x.device.type):
        return _under_autocast(x, base, A, B, layer.scaling[name], p)
    if x.dtype != base.weight.dtype:
        return None
    return LoraLinearFunction.apply(x, base.weight, base.bias, A, B, layer.scaling[name], p)


def _under_autocast(x: torch.Tensor, base: nn.Linear, A: torch.Tensor, B: torch.Tensor, scaling: float,
                    p: float) -> torch.Tensor | None:
    """The fused layer as autocast runs the generic one (bf16/fp16 training on a GPU): every linear's inputs
    cast to autocast's dtype, so the output, the saved ``x`` and ``h`` and all the GEMMs are in that dtype.

    The casts happen before the node, as autograd operations: ``A``/``B`` (float32 parameters) get their
    gradients back in float32, and ``x`` its gradient in its own dtype, as on the generic path. Inside the node
    autocast is off: its inputs already have the dtype it would choose."""
    device = x.device.type
    dtype = torch.get_autocast_dtype(device)
    if not x.is_floating_point() or base.weight.dtype not in (torch.float32, dtype):
        return None  # e.g. a base quantized to integers: its own module decides
    bias = base.bias.to(dtype) if base.bias is not None else None
    with torch.autocast(device, enabled=False):
        return LoraLinearFunction.apply(x.to(dtype), base.weight.to(dtype), bias, A.to(dtype), B.to(dtype), scaling, p)
