"""What a configuration will cost, before any weight loads: trainable parameters and training memory.

`count_parameters` is PEFT-exact by construction: it injects the adapter into a deep copy of the
meta-device skeleton (copying a meta model is cheap: no storage) and asks the engine's own
``get_nb_trainable_parameters()`` — the figures ``print_trainable_parameters()`` prints.

`training_memory` estimates the peak of the tensors alive during a training step with a frozen base
(the quantity ``torch.cuda.max_memory_allocated`` reports on a GPU), by part:

- weights: every base parameter in the training dtype;
- adapter: the trainable parameters, kept in float32 (as the engine keeps LoRA weights);
- gradients: one float32 gradient per trainable parameter;
- optimizer: AdamW's two float32 moments per trainable parameter;
- activations: the tensors autograd saves for backward, the loss's float32 log-probabilities
  included. With the adapted model at hand (`cost`, or ``adapted=``) they are *traced*, not
  guessed: the adapted copy runs one forward pass on the meta device, with ``saved_tensors_hooks``
  recording every tensor autograd keeps (counted once per storage, parameters excluded); the
  loss's share (``core.train._loss_sum``) is added by count. That is exact for any architecture
  and method (LoRA dropout masks, DoRA norms, prompt tuning's virtual tokens, prefix key/values,
  eager attention's (B, heads, T, T) probabilities), and it sees that a frozen Linear keeps nothing
  for backward while an adapted one keeps its input. One correction: on the meta device
  ``scaled_dot_product_attention`` takes the math path, which keeps the (B, heads, T, T)
  probabilities; the fused kernels on the CPU and the GPU keep only q, k, v, the output and a
  (B, heads, T) log-sum-exp, so the trace asks torch which kernel the real device would choose and
  records what that one keeps. Without the adapted model, a per-token formula (what the trace
  finds for Llama-style blocks) stands in;
- workspace: the temporaries at the peak, two tensors the size of the largest saved one. The step
  peaks at the end of forward / start of backward, when every saved activation is still alive: the
  (B·(T-1), vocab) logits and the loss's float32 copy sit beside the saved log-probabilities, then
  the gradient nll_loss returns and the one log_softmax returns do. With eager attention and a
  small vocabulary the (B, heads, T, T) probabilities are the largest, and their backward (the
  gradients of the probabilities and of the scores) is the same pattern.

Measured against the allocator's exact peak on the CPU (``tests/benchmarks/bench_memory_estimate.py``,
the real training loop; README, Performance): within a few per cent for tiny-llama, tiny-gpt2,
tiny-bloom and SmolLM2-135M. A process's resident memory is higher than any tensor estimate by
a fixed ~20 MiB (code pages, thread pools) and, with glibc's default malloc settings, by heap
memory that freed activations leave behind; neither is a property of the model (docs/studio.md, Cost).

Imports torch lazily (the GUI calls it on a worker thread only).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["count_parameters", "cost", "training_memory", "trace_activations", "per_gpu_memory", "DTYPE_BYTES", "PARTS",
           "SHARDED_PARTS"]

DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2}
PARTS = ("weights", "adapter", "gradients", "optimizer", "activations", "workspace")
"""The keys of `training_memory`'s answer besides ``total``, in the order the cost panel stacks them."""


def count_parameters(model: Any, method: Any, config: dict[str, Any]) -> tuple[int, int]:
    """(trainable, all) parameters of ``model`` with the adapter of ``config`` injected.

    ``model`` is left untouched (a deep copy is adapted); ``method`` is a module of
    ``core.methods.REGISTRY`` and ``config`` its config as a dict (``PeftConfig.to_dict()`` form).
    Raises the engine's errors (``ConfigError``, ``TargetError``) unchanged."""
    return _adapt(model, method, config).get_nb_trainable_parameters()


def _adapt(model: Any, method: Any, config: Any, dtype: Any = None) -> Any:
    """``config``: a dict (``to_dict()`` form), or the method's ``Config`` already built (the window
    hands over the one its form validated; it is used as is, so pass a copy you no longer need)."""
    from core.config import PeftConfig
    from core.peft_model import get_peft_model

    if isinstance(config, PeftConfig):
        cfg = config
    else:
        data = dict(config)
        data.setdefault("task_type", "CAUSAL_LM")
        cfg = method.Config.from_dict(data)
    base = copy.deepcopy(model)
    if dtype is not None:
        base.to(dtype)  # meta tensors: no data is converted
    return get_peft_model(base, cfg)


def cost(
    model: Any,
    method: Any,
    config: Any,  # a dict (to_dict() form) or the method's Config already built (see _adapt)
    *,
    batch_size: int = 8,
    seq_len: int = 512,
    dtype: str = "float32",
    gradient_checkpointing: bool = False,
    device: str = "auto",
    base_precision: str | None = None,
    double_quant: bool = True,
) -> dict[str, Any]:
    """``{"trainable", "total", "memory"}`` for ``config`` on the (meta) ``model``: the PEFT-exact counts
    and `training_memory` with traced activations, from one adapted copy. ``model`` is left untouched.
    ``device`` is the training's (``TrainingArguments.device``): it decides which attention kernel the
    trace assumes."""
    import torch

    torch_dtype = getattr(torch, _dtype_name(dtype), None)
    first = next(model.parameters(), None)
    cast = torch_dtype if first is not None and torch_dtype is not None and first.dtype != torch_dtype else None
    adapted = _adapt(model, method, config, cast)
    trainable, total = adapted.get_nb_trainable_parameters()
    memory = training_memory(
        model, trainable=trainable, batch_size=batch_size, seq_len=seq_len, dtype=dtype,
        gradient_checkpointing=gradient_checkpointing, adapted=adapted, device=device,
        base_precision=base_precision, double_quant=double_quant,
    )
    return {"trainable": trainable, "total": total, "memory": memory}


def _dtype_name(dtype: Any) -> str:
    name = str(dtype).removeprefix("torch.")
    return {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}.get(name, name)


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
    adapted: Any = None,
    device: str = "auto",
    base_precision: str | None = None,
    double_quant: bool = True,
) -> dict[str, int]:
    """Estimated peak training memory in bytes, by part (`PARTS`) and ``total``.

    ``model`` is the (meta) base model, ``trainable`` from `count_parameters`. ``adapted``, the
    adapted copy (as `cost` makes it), lets the activations be traced; without it (or if the trace
    fails) they come from a per-token formula. ``base_precision`` '8bit' / '4bit' (the Training tab's) counts
    the base as bitsandbytes holds it (`core.quantize.weight_bytes`; ``dtype`` is then the compute dtype of
    the modules left in float); a float precision or None leaves ``dtype`` in charge."""
    width = DTYPE_BYTES.get(str(dtype).removeprefix("torch."), 4)
    total_base = sum(p.numel() for p in model.parameters())  # tied weights counted once
    config = getattr(model, "config", None)
    trace = None
    if adapted is not None:
        try:
            trace = trace_activations(adapted, batch_size, seq_len, device=device)
        except Exception:  # noqa: BLE001 - an op without a meta kernel, a model that needs real data: the formula
            trace = None
    if trace is None:
        trace = _formula_trace(config, batch_size, seq_len, width)
    if gradient_checkpointing:
        # Each block keeps only its input; backward recomputes one block at a time, which then holds
        # that block's activations again.
        activations = trace["outside"] + sum(trace["block_inputs"]) + max(trace["blocks"], default=0)
    else:
        activations = trace["outside"] + sum(trace["blocks"])
    weights, decoded = total_base * width, 0
    if base_precision in ("8bit", "4bit"):
        from core.quantize import weight_bytes

        weights, largest_quantized = weight_bytes(model, base_precision, double_quant=double_quant, float_width=width)
        decoded = largest_quantized * width  # one layer's weight decoded to float for its matmul, then freed
    parts = {
        "weights": weights,
        "adapter": trainable * 4,
        "gradients": trainable * 4,
        "optimizer": trainable * 8,
        "activations": activations,
        # The peak comes when everything is saved and the largest saved tensor has two more of its size
        # beside it: at the end of forward the logits and the loss's float32 copy next to the saved
        # log-probabilities; at the start of backward the gradient nll_loss hands to log_softmax and the
        # one log_softmax returns. With eager attention and a small vocabulary the largest is the
        # (B, heads, T, T) probabilities, whose backward (grad of the probabilities, grad of the scores)
        # has the same pattern.
        "workspace": max(2 * trace["largest"], decoded),
    }
    parts["total"] = sum(parts.values())
    return parts


SHARDED_PARTS = {
    "ddp": (),
    "fsdp": ("weights", "adapter", "gradients", "optimizer"),
    "zero2": ("gradients", "optimizer"),
    "zero3": ("weights", "adapter", "gradients", "optimizer"),
}
"""Which of `training_memory`'s parts each way of training on several GPUs (``core.launch.LaunchSpec.sharding``)
splits across the processes: DDP none (every GPU holds everything), DeepSpeed ZeRO-2 the gradients and
the optimizer state, ZeRO-3 and FSDP2 the weights (base and adapter) too."""


def per_gpu_memory(memory: dict[str, int], sharding: str, num_processes: int, *,
                   offload_optimizer: bool = False) -> dict[str, int]:
    """One GPU's share of `training_memory`'s estimate `memory` when `num_processes` processes (one per
    GPU) train with `sharding` (a key of `SHARDED_PARTS`): the parts it shards are split N ways (rounded
    up, so N shares cover the whole), the others stay whole on every GPU. Activations and workspace are
    each process's own (its micro-batch is the run's batch_size), so they never shrink.

    `offload_optimizer` (DeepSpeed's ZeRO-Offload): the optimizer state leaves the GPUs (0 there); the
    answer's ``"cpu"`` is what the machine's CPU memory then holds for all processes together: the
    optimizer state plus the float32 copies of the trainable weights and their gradients that CPU Adam
    steps (a trainable parameter's 8 + 4 + 4 bytes). Without offload ``"cpu"`` is 0.
    Keys: `PARTS`, ``"total"`` (the GPU's sum) and ``"cpu"``. Sharded training also holds the weights of
    the block being gathered (FSDP2, ZeRO-3) and communication buffers; they are not in these figures."""
    if sharding not in SHARDED_PARTS:
        raise ValueError(f"sharding must be one of {', '.join(SHARDED_PARTS)}, not {sharding!r}")
    if num_processes < 1:
        raise ValueError(f"num_processes must be at least 1, not {num_processes}")
    if offload_optimizer and not sharding.startswith("zero"):
        raise ValueError(f"offload_optimizer is a DeepSpeed ZeRO setting, not one of {sharding!r}")
    n = num_processes
    split = SHARDED_PARTS[sharding] if n > 1 else ()
    share = {k: (-(-memory.get(k, 0) // n) if k in split else memory.get(k, 0)) for k in PARTS}
    cpu = 0
    if offload_optimizer and n > 1:
        share["optimizer"] = 0
        cpu = memory.get("optimizer", 0) + memory.get("gradients", 0) + memory.get("adapter", 0)
    share["total"] = sum(share[k] for k in PARTS)
    share["cpu"] = cpu
    return share


def _formula_trace(config: Any, batch: int, seq: int, width: int) -> dict[str, Any]:
    """`trace_activations`' answer from the config alone (no adapted model, or one the trace cannot
    run): what the trace finds for a Llama block with LoRA on q/v, per token: the two norms' inputs
    (2h), q and the attention output (2h), k and v (2·kv), the MLP's gate, up and activation (3i) and
    the adapter's input (h); eager attention keeps its (heads, T) probabilities per token too.
    Outside the blocks: the loss's float32 log-probabilities (B·(T-1), V)."""
    hidden = _cfg(config, "hidden_size", "n_embd", "d_model", default=1)
    layers = _cfg(config, "num_hidden_layers", "n_layer", "num_layers", default=1)
    heads = _cfg(config, "num_attention_heads", "n_head", default=1)
    kv_heads = _cfg(config, "num_key_value_heads", default=heads)
    inter = _cfg(config, "intermediate_size", "n_inner", "ffn_dim", default=4 * hidden)
    vocab = _cfg(config, "vocab_size", default=0)
    tokens = batch * seq
    per_token_block = 5 * hidden + 2 * hidden * kv_heads // heads + 3 * inter
    probs = 0
    if (getattr(config, "_attn_implementation", None) or "sdpa") == "eager":
        per_token_block += heads * seq
        probs = batch * heads * seq * seq * width  # (B, heads, T, T)
    log_probs = batch * max(seq - 1, 1) * vocab * 4  # (B·(T-1), V) float32
    return {
        "blocks": [tokens * per_token_block * width] * layers,
        "block_inputs": [tokens * hidden * width] * layers,
        "outside": log_probs,
        "largest": max(log_probs, probs),
    }


# --------------------------------------------------------------------------------------------------
# The activation trace


def trace_activations(adapted: Any, batch_size: int, seq_len: int, *, device: str = "auto") -> dict[str, Any]:
    """Run the adapted (meta) model forward once, counting what autograd saves for backward (plus the loss's share).

    Returns ``{"blocks": [bytes per block], "block_inputs": [bytes of each block's input],
    "outside": bytes saved outside the blocks (embeddings, final norm, the loss's float32
    log-probabilities), "largest": the largest single saved tensor}``. The model's training mode is
    switched on (dropout masks are saved only in training) and restored."""
    import torch
    from torch import nn

    blocks = _block_list(adapted)
    index = {id(block): i for i, block in enumerate(blocks)}
    saved = [0] * len(blocks)
    inputs = [0] * len(blocks)
    outside = largest = 0
    current: list[int | None] = [None]
    seen: set[int] = set()
    for t in list(adapted.parameters()) + list(adapted.buffers()):
        seen.add(t.untyped_storage()._cdata)

    def pack(t: torch.Tensor) -> Any:
        nonlocal outside, largest
        storage = t.untyped_storage()
        key = storage._cdata  # the storage's identity: views of one tensor are counted once
        if key not in seen:
            seen.add(key)
            largest = max(largest, storage.nbytes())
            if current[0] is None:
                outside += storage.nbytes()
            else:
                saved[current[0]] += storage.nbytes()
        return (t, storage)  # holding the storage keeps its identity from being reused

    def enter(module: nn.Module, args: tuple, kwargs: dict) -> None:
        i = index[id(module)]
        current[0] = i
        hidden = args[0] if args else kwargs.get("hidden_states")
        if isinstance(hidden, torch.Tensor):
            inputs[i] = hidden.numel() * hidden.element_size()

    def leave(module: nn.Module, args: tuple, output: Any) -> None:
        current[0] = None

    handles = [b.register_forward_pre_hook(enter, with_kwargs=True) for b in blocks]
    handles += [b.register_forward_hook(leave) for b in blocks]
    was_training = adapted.training
    adapted.train()
    ids = torch.zeros((batch_size, seq_len), dtype=torch.long)  # on the CPU: models look at ids (padding checks)
    try:
        with _FusedAttention(_trains_on_gpu(device)), torch.autograd.graph.saved_tensors_hooks(pack, lambda packed: packed[0]):
            out = adapted(input_ids=ids)
            logits = out.logits if hasattr(out, "logits") else out[0]  # (B, T_out, V); T_out > T with virtual tokens
    finally:
        for h in handles:
            h.remove()
        adapted.train(was_training)
    # The loss (core.train._loss_sum: cross_entropy of the shifted (B·(T-1), V) logits in float32):
    # log_softmax keeps its float32 output, nll_loss the flattened labels (int64) and a float32
    # scalar (the total weight). Counted rather than run: on the meta device cross_entropy goes
    # through torch's Python decompositions, whose first use imports sympy and the compiler stack
    # (~1 s of imports, and a stall of the studio's window).
    rows = batch_size * max(seq_len - 1, 1)
    log_probs = rows * logits.shape[-1] * 4
    outside += log_probs + rows * 8 + 4
    largest = max(largest, log_probs)
    # A block whose activations are not needed (below the first adapter) keeps nothing, and neither
    # does its checkpoint.
    block_inputs = [n if s else 0 for n, s in zip(inputs, saved)]
    return {"blocks": saved, "block_inputs": block_inputs, "outside": outside, "largest": largest}


def _block_list(model: Any) -> list[Any]:
    """The longest ModuleList (the transformer blocks), or [] if there is none."""
    from torch import nn

    best: list[Any] = []
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) > len(best):
            best = list(module)
    return best


def _attention_saves_fused(q: Any, k: Any, v: Any, mask: Any, dropout_p: float, is_causal: bool, enable_gqa: bool,
                           gpu: bool) -> bool:
    """Whether torch would run this attention with a fused kernel (flash / memory-efficient) on the
    device training uses. On a GPU, yes (CUDA's fused kernels take dropout and masks; asking would
    create a CUDA context in the studio's process). On the CPU torch is asked with 2-token stand-ins
    of the same heads, head size and dtype: the choice depends on those and on the flags (the CPU's
    flash kernel has no dropout), not on lengths."""
    import torch

    if gpu:
        return True

    def small(t: Any) -> Any:  # (1, heads, 2, head_dim)
        return torch.zeros((1, t.shape[-3], 2, t.shape[-1]), dtype=t.dtype)

    m = None if mask is None else torch.ones((1, 1, 2, 2), dtype=mask.dtype)
    try:
        choice = torch._fused_sdp_choice(small(q), small(k), small(v), attn_mask=m, dropout_p=dropout_p,
                                         is_causal=is_causal, enable_gqa=enable_gqa)
    except Exception:  # noqa: BLE001 - an older torch without the query: assume the fused kernels
        return True
    return int(choice) != 0  # SDPBackend.MATH == 0


def _trains_on_gpu(device: str) -> bool:
    """Whether ``TrainingArguments.device`` means a GPU (``auto``: when this machine has one)."""
    import torch

    if device == "auto":
        return torch.cuda.is_available()
    return device != "cpu"


def _FusedAttention(gpu: bool):  # noqa: N802 - builds the TorchFunctionMode subclass lazily (torch loads late)
    """A (thread-local) torch-function mode that replaces ``scaled_dot_product_attention`` by a
    shape-only stand-in that saves what the fused kernels save: q, k, v, the output (B, H, T, dv)
    and the float32 log-sum-exp (B, H, T), plus the mask if one was given."""
    import torch
    import torch.nn.functional as F
    from torch.overrides import TorchFunctionMode

    class _Fused(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, q: Any, k: Any, v: Any, mask: Any) -> Any:
            # (B, H, T, dv) laid out as (B, T, H, dv), as the fused kernels write it: the model's
            # transpose(1, 2).reshape(B, T, H·dv) for the output projection is then a view, not a copy.
            if q.dim() == 4:
                b, h, t = q.shape[:-1]
                out = q.new_empty((b, t, h, v.shape[-1])).transpose(1, 2)
            else:
                out = q.new_empty((*q.shape[:-1], v.shape[-1]))
            lse = q.new_empty(q.shape[:-1], dtype=torch.float32)  # (B, H, T)
            ctx.save_for_backward(q, k, v, out, lse, *([mask] if mask is not None else []))
            return out

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:  # pragma: no cover - the trace never runs backward
            raise RuntimeError("the memory trace runs forward only")

    class _Mode(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
            kwargs = kwargs or {}
            if func is F.scaled_dot_product_attention:
                q, k, v = args[:3]
                mask = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
                dropout_p = kwargs.get("dropout_p", args[4] if len(args) > 4 else 0.0)
                is_causal = kwargs.get("is_causal", args[5] if len(args) > 5 else False)
                needs_grad = q.requires_grad or k.requires_grad or v.requires_grad
                mask = mask if isinstance(mask, torch.Tensor) else None
                if mask is not None and mask.dtype == torch.bool:
                    # torch turns a boolean mask into an additive one of q's dtype (a new tensor per
                    # call), and that is the one the kernel keeps.
                    mask = torch.zeros_like(mask, dtype=q.dtype)
                if needs_grad and _attention_saves_fused(q, k, v, mask, dropout_p, is_causal, kwargs.get("enable_gqa", False), gpu):
                    return _Fused.apply(q, k, v, mask)
            return func(*args, **kwargs)

    return _Mode()
