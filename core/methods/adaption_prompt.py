"""Adaption prompt — LLaMA-Adapter (Zhang et al., 2023, "LLaMA-Adapter: Efficient Fine-tuning of Language
Models with Zero-init Attention", https://arxiv.org/abs/2303.16199).

The top ``adapter_layers`` attention modules each get a learned prompt ``A (1, len, hidden)`` and a gate
``g`` (one number, zero at init). The prompt is projected to keys and values with the layer's own frozen
projections; the layer's queries attend to them in a *separate* softmax, gated, and the result is added to
the attention output:

    K_a, V_a = k(A), v(A)                      (B, H, len, hd); repeated per query head for grouped-query attention
    S        = g · softmax(Q K_aᵀ / √hd)        (B, H, q, len), softmax in fp32
    out      = attn(x) + proj(S V_a)            proj: the layer's output projection, as below

At init ``g = 0``, so the adapted model computes exactly the base model; the gate opens as it trains (the
paper's "zero-init attention"). The prompt tokens carry no position: no rotary embedding, no ALiBi bias.

Per architecture (Llama/Mistral and GPT-2 exactly as PEFT, so files and logits agree):

- Llama, Mistral (``self_attn``): ``Q`` = ``q_proj`` + rotary embedding of the real positions; ``K_a``, ``V_a`` from
  ``k_proj``, ``v_proj``; ``proj = o_proj``.
- GPT-2 (``attn``): ``Q``, ``K_a``, ``V_a`` from the fused ``c_attn``; PEFT adds ``S V_a`` *without* ``c_proj``
  (the heads' concatenation is added to the projected output) — reproduced for file compatibility.
- Bloom (``self_attention``; PEFT refuses it): ``Q``, ``K_a``, ``V_a`` from the fused, per-head interleaved
  ``query_key_value`` (bias included), as Bloom splits it. ALiBi is a per-key distance penalty for real
  positions; the prompt has no position, so its scores get no ALiBi term (the separate softmax never mixes
  them with the real keys). ``proj`` = ``dense`` without its bias (the base output already has it once) and
  Bloom's hidden dropout, so the adapter term joins the output exactly where Bloom's own context does.
  Bloom's attention returns ``dense(context) + residual``; adding the gated term there is the same as adding it
  to the context, so with ``g = 0`` the output is bitwise the base's.

Files: PEFT's keys with no adapter name, ``base_model.model.<attention path>.adaption_prompt (1, len, hidden)``
and ``.adaption_gate (1,)``, top layers only. Nothing to merge (the extra attention is not a weight update).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from core.config import ConfigError, PeftConfig, PeftType
from core.methods.contract import MethodFacts

# model_type -> the attention modules' name inside each block (written into adapter_config.json as PEFT does)
ATTENTION_NAMES = {"llama": "self_attn", "mistral": "self_attn", "gpt2": "attn", "bloom": "self_attention"}


# Measured (docs/method-defaults.md, sweep_defaults.py --plain --task style, SmolLM2-135M-Instruct, 60 steps,
# 2026-12-07): the reply template followed on 40 new questions: adapter_layers 2 (the old default): 0.075 (loss
# 4.55 -> 1.18); 2 with lr 5e-2: 0.85 (but 0.03 exact match: wrong content); 30 (every block): 1.00 (0.375 exact).
# A model with fewer blocks gets all of its own (core.defaults.model_method_defaults, the studio's first value).
# target_modules is the attention submodule's name, filled in from the architecture (own_targets).
FACTS = MethodFacts(
    label="Adaption prompt",
    mergeable=False,
    adapter_defaults={"adapter_len": 10, "adapter_layers": 30},
    training_defaults={"learning_rate": 1e-2},
    form_first_values=("adapter_len", "adapter_layers"),
    no_targets="Adaption prompt adds gated prompts to the top attention layers; it adapts no module.",
    own_targets=True,
    measured={"facts": 0.0, "style": 1.0, "trainable": 172830, "seconds": 438},
)


@dataclass
class AdaptionPromptConfig(PeftConfig):
    """Settings of an adaption-prompt adapter (PEFT's ``AdaptionPromptConfig`` fields)."""

    peft_type: ClassVar[PeftType] = PeftType.ADAPTION_PROMPT

    target_modules: str | None = field(
        default=None, metadata={"help": "Name of the attention modules in each block; filled in from the architecture."}
    )
    adapter_len: int | None = field(default=None, metadata={"help": "Learned prompt tokens per adapted layer (e.g. 10)."})
    adapter_layers: int | None = field(default=None, metadata={"help": "How many of the top layers get a prompt (e.g. 8)."})

    def __post_init__(self) -> None:
        super().__post_init__()
        # None is accepted here, as PEFT does (the config can be saved, copied, pickled); check_complete refuses
        # it where an adapter is built.
        for name in ("adapter_len", "adapter_layers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a whole number ≥ 1, got {value!r}.")
        if self.target_modules is not None and not isinstance(self.target_modules, str):
            raise ConfigError(f"target_modules must be one module name (e.g. 'self_attn'), got {self.target_modules!r}.")

    def check_complete(self) -> None:
        for name in ("adapter_len", "adapter_layers"):
            if getattr(self, name) is None:
                raise ConfigError(f"{name} is required for an adaption prompt (e.g. adapter_len=10, adapter_layers=8).")


Config = AdaptionPromptConfig


def can_target(module: nn.Module) -> str | None:
    """None for the attention modules of the supported architectures; otherwise why not."""
    name = type(module).__name__
    if name.endswith("Attention") and any(k in name.lower() for k in ("llama", "mistral", "gpt2", "bloom")):
        return None
    return "Adaption prompt adapts whole attention modules of Llama, Mistral, GPT-2 and Bloom blocks."


class AdaptedAttention(nn.Module):
    """Wraps one attention module (``base_layer``) and holds named adaption prompts and gates for it."""

    def __init__(self, base_layer: nn.Module, family: str, config: Any) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.family = family  # "llama" (also Mistral), "gpt2" or "bloom"
        self.num_heads = config.num_attention_heads
        self.head_dim = getattr(base_layer, "head_dim", None) or config.hidden_size // self.num_heads
        self.hidden_size = config.hidden_size
        self.adaption_prompt = nn.ParameterDict()
        self.adaption_gate = nn.ParameterDict()
        self.active_adapters: list[str] = []
        self.disabled = False

    # ---- adapters (the AdapterLayer protocol) -------------------------------------------------------

    def add_adapter(self, name: str, adapter_len: int, *, initialise: bool = True) -> None:
        weight = next(p for p in self.base_layer.parameters() if p.is_floating_point())
        factory = {"device": weight.device, "dtype": weight.dtype}
        prompt = torch.empty(1, adapter_len, self.hidden_size, **factory)  # (1, len, hidden)
        if initialise:
            prompt.normal_()  # as PEFT; the zero gate keeps the output unchanged anyway
        self.adaption_prompt[name] = nn.Parameter(prompt)
        self.adaption_gate[name] = nn.Parameter(torch.zeros(1, **factory))  # (1,), zero-init attention
        if not self.active_adapters:
            self.active_adapters = [name]

    def adapter_names(self) -> list[str]:
        return list(self.adaption_prompt)

    def set_adapter(self, names: str | list[str], trainable: bool = True) -> None:
        names = [names] if isinstance(names, str) else names  # PEFT's layers take one name too
        self.active_adapters = [n for n in names if n in self.adaption_prompt]
        for name in self.adaption_prompt:
            on = trainable and name in self.active_adapters
            self.adaption_prompt[name].requires_grad_(on)
            self.adaption_gate[name].requires_grad_(on)

    def delete_adapter(self, name: str) -> None:
        del self.adaption_prompt[name]
        del self.adaption_gate[name]
        self.active_adapters = [a for a in self.active_adapters if a != name]

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        """PEFT's keys: no adapter name (``….adaption_prompt``, ``….adaption_gate``)."""
        return {"adaption_prompt": self.adaption_prompt[name], "adaption_gate": self.adaption_gate[name]}

    def merge(self, names: list[str] | None = None, safe_merge: bool = False) -> None:
        raise ValueError(_NO_MERGE)

    def unmerge(self) -> None:
        """Nothing is ever merged."""

    def unwrap(self, merge: bool) -> nn.Module:
        if merge:
            raise ValueError(_NO_MERGE)
        return self.base_layer

    # ---- the math ---------------------------------------------------------------------------------

    def _project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys, values of ``x (B, T, hidden)`` as this layer computes them, each ``(B, H*, T, hd)``
        (keys and values with the layer's own KV heads; queries without rotary embedding)."""
        B, T, _ = x.shape
        m, hd = self.base_layer, self.head_dim
        if self.family == "llama":
            q = m.q_proj(x).view(B, T, -1, hd).transpose(1, 2)
            k = m.k_proj(x).view(B, T, -1, hd).transpose(1, 2)
            v = m.v_proj(x).view(B, T, -1, hd).transpose(1, 2)
        elif self.family == "gpt2":
            q, k, v = (t.view(B, T, -1, hd).transpose(1, 2) for t in m.c_attn(x).split(self.hidden_size, dim=2))
        else:  # bloom: per head [q, k, v] interleaved
            fused = m.query_key_value(x).view(B, T, self.num_heads, 3, hd)
            q, k, v = (fused[..., i, :].transpose(1, 2) for i in range(3))
        return q, k, v

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = self.base_layer(*args, **kwargs)
        if self.disabled or not self.active_adapters:
            return out
        hidden = args[0] if args else kwargs["hidden_states"]  # (B, q, hidden)
        attn_output, rest = out[0], out[1:]  # (B, q, hidden)
        B, q_len, _ = hidden.shape
        query, _, _ = self._project(hidden)  # (B, H, q, hd)
        if self.family == "llama":  # rotary embedding of the real positions, as the layer applied it
            cos, sin = kwargs["position_embeddings"]
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
            half = query.shape[-1] // 2
            rotated = torch.cat([-query[..., half:], query[..., :half]], dim=-1)
            query = query * cos + rotated * sin
        added = torch.zeros_like(attn_output)
        for name in self.active_adapters:
            prompt = self.adaption_prompt[name].to(hidden.dtype)  # (1, len, hidden)
            _, k, v = self._project(prompt)  # (1, H_kv, len, hd)
            repeat = self.num_heads // k.shape[1]  # grouped-query attention: each KV head serves `repeat` query heads
            k = k.repeat_interleave(repeat, dim=1).expand(B, -1, -1, -1)  # (B, H, len, hd)
            v = v.repeat_interleave(repeat, dim=1).expand(B, -1, -1, -1)
            scores = query @ k.transpose(2, 3) / math.sqrt(self.head_dim)  # (B, H, q, len); no position term
            probs = self.adaption_gate[name] * F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
            context = (probs @ v).transpose(1, 2).reshape(B, q_len, -1)  # (B, q, H·hd)
            if self.family == "llama":
                context = self.base_layer.o_proj(context)
            elif self.family == "bloom":
                context = F.linear(context, self.base_layer.dense.weight)  # bias already in the base output
                context = F.dropout(context, self.base_layer.hidden_dropout, self.training)
            added = added + context.to(attn_output.dtype)
        return (attn_output + added, *rest)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "base_layer":
                raise
            return getattr(self.base_layer, name)  # e.g. `layer_idx`, read by the model's own code


_NO_MERGE = (
    "Adaption-prompt adapters cannot be merged into the model's weights: they add a gated attention over learned "
    "prompts, not a weight update. Export the adapter instead (save_pretrained, or the adapter export) and load it "
    "with PeftModel.from_pretrained(base, folder)."
)


def peft_merge_and_unload(peft_model: nn.Module, **_: Any) -> None:
    raise ValueError(_NO_MERGE)


peft_merge_adapter = peft_merge_and_unload


def _family(model: nn.Module) -> str:
    model_type = getattr(model.config, "model_type", None)
    if model_type in ("llama", "mistral"):
        return "llama"
    if model_type in ("gpt2", "bloom"):
        return model_type
    raise ConfigError(
        f"Adaption prompt cannot serve a '{model_type}' model: it must recompute each attention layer's queries "
        f"exactly as the layer does (its projections and position scheme), which Adapter Studio knows for llama, "
        f"mistral, gpt2 and bloom only."
    )


def inject(model: nn.Module, config: AdaptionPromptConfig, adapter_name: str, *, initialise: bool = True) -> list[str]:
    """Wrap the top ``adapter_layers`` attention modules and add adapter ``adapter_name`` to each."""
    family = _family(model)
    expected = ATTENTION_NAMES[model.config.model_type]
    if config.target_modules is None:
        config.target_modules = expected
    paths = [n for n, m in model.named_modules() if n.split(".")[-1] == config.target_modules and not isinstance(m, AdaptedAttention)
             and ".base_layer" not in n]
    paths += [n for n, m in model.named_modules() if isinstance(m, AdaptedAttention)]
    paths = sorted(set(paths), key=lambda n: [int(p) if p.isdigit() else p for p in n.split(".")])
    if not paths:
        raise ConfigError(f"No attention module named '{config.target_modules}' in this model (expected '{expected}').")
    if config.adapter_layers > len(paths):
        raise ConfigError(f"adapter_layers={config.adapter_layers} but this model has only {len(paths)} layers.")
    chosen = paths[-config.adapter_layers:]
    for path in chosen:
        module = model.get_submodule(path)
        if not isinstance(module, AdaptedAttention):
            module = AdaptedAttention(module, family, model.config)
            parent, _, child = path.rpartition(".")
            setattr(model.get_submodule(parent), child, module)
        if adapter_name in module.adaption_prompt:
            raise ValueError(f"Module {path} already has an adapter named '{adapter_name}'.")
        module.add_adapter(adapter_name, config.adapter_len, initialise=initialise)
    return chosen


LAYER_CLASS = AdaptedAttention
