"""What a configuration will cost, before any weight loads: trainable parameters and training memory.

`count_parameters` is PEFT-exact by construction: it injects the adapter into a deep copy of the
meta-device skeleton (copying a meta model is cheap: no storage) and asks the engine's own
``get_nb_trainable_parameters()`` — the figures ``print_trainable_parameters()`` prints.

`training_memory` is an estimate (bytes) of the peak while training with a frozen base:

- weights: every base parameter in the training dtype;
- adapter: the trainable parameters, kept in float32 (as the engine keeps LoRA weights);
- gradients: one float32 gradient per trainable parameter;
- optimizer: AdamW's two float32 moments per trainable parameter;
- activations: what backward keeps per token and block (inputs of the norms, projections, MLP and
  attention outputs) plus the logits and their float32 loss copies. Gradients flow back through the
  frozen blocks to the earliest adapter, so every block's activations are kept (unless gradient
  checkpointing keeps only block inputs).

Measured against the CPU peak by ``tests/benchmarks/bench_memory_estimate.py`` (SmolLM2-135M, LoRA
q/v, float32): within a few per cent at 4 x 256 and 8 x 512 tokens. Tiny models are dominated by
a fixed ~30 MiB of allocator and autograd overhead that the estimate does not model.

Imports torch lazily (the GUI calls it on a worker thread only).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["count_parameters", "training_memory", "DTYPE_BYTES"]

DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2}


def count_parameters(model: Any, method: Any, config: dict[str, Any]) -> tuple[int, int]:
    """(trainable, all) parameters of ``model`` with the adapter of ``config`` injected.

    ``model`` is left untouched (a deep copy is adapted); ``method`` is a module of
    ``core.methods.REGISTRY`` and ``config`` its config as a dict (``PeftConfig.to_dict()`` form).
    Raises the engine's errors (``ConfigError``, ``TargetError``) unchanged."""
    from core.peft_model import get_peft_model

    data = dict(config)
    data.setdefault("task_type", "CAUSAL_LM")
    cfg = method.Config.from_dict(data)
    peft_model = get_peft_model(copy.deepcopy(model), cfg)
    return peft_model.get_nb_trainable_parameters()


def _cfg(config: Any, *names: str, default: int = 0) -> int:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return default


def training_memory(
    model: Any,
    *,
    trainable: int,
    batch_size: int = 8,
    seq_len: int = 512,
    dtype: str = "float32",
    gradient_checkpointing: bool = False,
) -> dict[str, int]:
    """Estimated peak training memory in bytes, by part: weights, adapter, gradients, optimizer,
    activations (and ``total``). ``model`` is the (meta) base model; ``trainable`` from `count_parameters`."""
    width = DTYPE_BYTES.get(str(dtype).removeprefix("torch."), 4)
    total_base = sum(p.numel() for p in model.parameters())  # tied weights counted once
    config = getattr(model, "config", None)
    hidden = _cfg(config, "hidden_size", "n_embd", "d_model", default=1)
    layers = _cfg(config, "num_hidden_layers", "n_layer", "num_layers", default=1)
    heads = _cfg(config, "num_attention_heads", "n_head", default=1)
    inter = _cfg(config, "intermediate_size", "n_inner", "ffn_dim", default=4 * hidden)
    vocab = _cfg(config, "vocab_size", default=0)
    tokens = batch_size * seq_len
    # Elements kept per token and block: norm inputs (2h), q/k/v (3h), attention output and its
    # projection input (2h), MLP input (h), up/gate outputs and activation (3i), residual (2h).
    per_token_block = 10 * hidden + 3 * inter
    attn_impl = getattr(config, "_attn_implementation", None) or "sdpa"
    if attn_impl == "eager":  # the (heads, s, s) scores and probabilities are kept too
        per_token_block += 2 * heads * seq_len
    if gradient_checkpointing:
        block_elems = tokens * hidden * layers + tokens * per_token_block  # inputs + one block recomputed
    else:
        block_elems = tokens * per_token_block * layers
    # Logits in the model dtype, then float32 for the loss: the upcast / shifted copy, the saved
    # log-softmax, and the gradients of both on the way back (measured on the CPU: ~20 bytes per
    # token and vocabulary entry in float32).
    logits_bytes = tokens * vocab * (width + 16)
    parts = {
        "weights": total_base * width,
        "adapter": trainable * 4,
        "gradients": trainable * 4,
        "optimizer": trainable * 8,
        "activations": block_elems * width + logits_bytes,
    }
    parts["total"] = sum(parts.values())
    return parts
