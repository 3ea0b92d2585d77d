"""(IA)³ — Infused Adapter by Inhibiting and Amplifying Inner Activations
(Liu et al., 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context Learning",
https://arxiv.org/abs/2205.05638).

A frozen layer ``y = W x + b`` gets one learned vector ``l`` that rescales either its output or, for a
feed-forward layer (the paper's ``l_ff``, applied inside the MLP), its input:

- attention-style target: ``y = (W x + b) ⊙ l`` with ``l (out, 1)``;
- feed-forward target:    ``y = W (x ⊙ l) + b`` with ``l (1, in)``.

On ``nn.Conv2d`` / ``nn.Conv3d`` (as PEFT; not ``nn.Conv1d``) ``l`` scales channels: ``(1, out, 1, 1[, 1])``, or
``(1, in, 1, 1[, 1])`` for a feed-forward target, broadcast over the spatial positions.

``l`` starts at ones, so the adapted model starts equal to the base. Several active adapters multiply.
Merging scales W's rows (or columns for feed-forward targets) and, for output scaling, the bias; unmerging
divides by ``l + 1e-8`` as PEFT does, so it is exact only up to float rounding.

Parameter names equal PEFT's (``ia3_l.<adapter>``, saved as ``…<module>.ia3_l``) so files are interchangeable.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from core import targeting
from core.config import ConfigError, PeftConfig, PeftType, normalise_names
from core.methods._layer import WrapsBaseLayer
from core.methods.contract import MethodFacts
from core.quantize import is_quantized_layer, refuse_merge

# PEFT's default targets and feed-forward modules per `config.model_type` (utils/constants.py), as data.
IA3_DEFAULT_TARGETS: dict[str, list[str]] = {
    "t5": ["k", "v", "wo"], "mt5": ["k", "v", "wi_1"], "gpt2": ["c_attn", "mlp.c_proj"],
    "bloom": ["query_key_value", "mlp.dense_4h_to_h"], "roberta": ["key", "value", "output.dense"],
    "opt": ["q_proj", "k_proj", "fc2"], "gptj": ["q_proj", "v_proj", "fc_out"],
    "gpt_neox": ["query_key_value", "dense_4h_to_h"], "gpt_neo": ["q_proj", "v_proj", "c_proj"],
    "bart": ["q_proj", "v_proj", "fc2"], "gpt_bigcode": ["c_attn", "mlp.c_proj"],
    "llama": ["k_proj", "v_proj", "down_proj"], "llama4": ["q_proj", "v_proj", "down_proj"],
    "mistral": ["k_proj", "v_proj", "down_proj"], "mixtral": ["k_proj", "v_proj", "w2"],
    "bert": ["key", "value", "output.dense"], "deberta-v2": ["key_proj", "value_proj", "output.dense"],
    "deberta": ["in_proj", "output.dense"], "falcon": ["query_key_value", "dense_4h_to_h"],
    "phi": ["q_proj", "v_proj", "fc2"], "gemma": ["q_proj", "v_proj", "down_proj"],
    "gemma2": ["q_proj", "v_proj", "down_proj"], "gemma3_text": ["q_proj", "v_proj", "down_proj"],
    "qwen2": ["q_proj", "v_proj", "down_proj"], "qwen3": ["q_proj", "v_proj", "down_proj"],
}
IA3_DEFAULT_FEEDFORWARD: dict[str, list[str]] = {
    "t5": ["wo"], "mt5": [], "gpt2": ["mlp.c_proj"], "bloom": ["mlp.dense_4h_to_h"], "roberta": ["output.dense"],
    "opt": ["fc2"], "gptj": ["fc_out"], "gpt_neox": ["dense_4h_to_h"], "gpt_neo": ["c_proj"], "bart": ["fc2"],
    "gpt_bigcode": ["mlp.c_proj"], "llama": ["down_proj"], "llama4": ["down_proj"], "mistral": ["down_proj"],
    "mixtral": ["w2"], "bert": ["output.dense"], "deberta-v2": ["output.dense"], "deberta": ["output.dense"],
    "falcon": ["dense_4h_to_h"], "phi": ["fc2"], "gemma": ["down_proj"], "gemma2": ["down_proj"],
    "gemma3_text": ["down_proj"], "qwen2": ["down_proj"], "qwen3": ["down_proj"],
}


# target_modules None: the architecture's default attention and feed-forward modules.
# Measured (docs/method-defaults.md, sweep_defaults.py --plain, SmolLM2-135M-Instruct, 60 steps, 2026-12-07):
# lr 1e-2: made-up capitals 0.00 held-out exact match, reply template followed 1.00 (0.55 exact); lr 5e-2:
# capitals 0.35, template 1.00 (0.50 exact). IA3 steers style and format; 57.6 k scales store few new facts.
FACTS = MethodFacts(
    label="IA³",
    mergeable=True,
    adapter_defaults={"target_modules": None},
    training_defaults={"learning_rate": 5e-2},
    combination_types=("linear",),  # a weighted sum of the scaling vectors (core.arithmetic)
    measured={"facts": 0.35, "style": 1.0, "trainable": 57600, "seconds": 295},
)


@dataclass
class IA3Config(PeftConfig):
    """Settings of an (IA)³ adapter (PEFT's ``IA3Config`` fields and defaults)."""

    peft_type: ClassVar[PeftType] = PeftType.IA3

    target_modules: list[str] | str | None = field(
        default=None,
        metadata={"help": "Modules to rescale: a list of names or name suffixes, a full-match regex, or 'all-linear'. "
                          "None: the architecture's usual ones (bloom: query_key_value + mlp.dense_4h_to_h)."},
    )
    feedforward_modules: list[str] | str | None = field(
        default=None,
        metadata={"help": "Targets whose input (not output) is rescaled, as in the paper's MLP vector; must be "
                          "among target_modules. None: the architecture's usual ones."},
    )
    exclude_modules: list[str] | str | None = field(default=None, metadata={"help": "Modules never adapted (wins over targets)."})
    modules_to_save: list[str] | None = field(
        default=None, metadata={"help": "Modules trained in full and saved with the adapter (e.g. a new head)."}
    )
    fan_in_fan_out: bool = field(default=False, metadata={"help": "The layer stores its weight as (in, out), like GPT-2's Conv1D."})
    init_ia3_weights: bool = field(
        default=True, metadata={"help": "Start the vectors at one (the model starts equal to the base). False: random."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.target_modules = normalise_names(self.target_modules, "target_modules")
        self.exclude_modules = normalise_names(self.exclude_modules, "exclude_modules")
        self.feedforward_modules = normalise_names(self.feedforward_modules, "feedforward_modules")
        if not isinstance(self.init_ia3_weights, bool):
            raise ConfigError(f"init_ia3_weights must be true or false, got {self.init_ia3_weights!r}.")
        if self.modules_to_save is not None:
            self.modules_to_save = list(self.modules_to_save)
        # PEFT's rule: when both are name lists, every feed-forward name must also be a target name.
        if isinstance(self.feedforward_modules, list) and isinstance(self.target_modules, list):
            stray = [m for m in self.feedforward_modules if m not in self.target_modules]
            if stray:
                raise ConfigError(
                    f"feedforward_modules {stray} are not in target_modules {self.target_modules}: a feed-forward "
                    f"module must also be a target. Add them to target_modules or remove them from feedforward_modules."
                )


Config = IA3Config


def can_target(module: nn.Module) -> str | None:
    """None if (IA)³ can adapt ``module``; otherwise why not."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv3d)) or type(module).__name__ == "Conv1D":
        return None
    return f"(IA)³ adapts Linear, Conv1D, Conv2d and Conv3d layers, not {type(module).__name__}."


def is_feedforward(config: IA3Config, module_name: str) -> bool:
    """PEFT's rule: a regex must match the whole name; a list entry matches any name ending with it."""
    ff = config.feedforward_modules
    if isinstance(ff, str):
        return re.fullmatch(ff, module_name) is not None
    return any(module_name.endswith(entry) for entry in ff or [])


class IA3Layer(WrapsBaseLayer):
    """Wraps one Linear / Conv1D / Conv2d / Conv3d layer and holds any number of named (IA)³ vectors for it."""

    def __init__(self, base_layer: nn.Module, feedforward: bool) -> None:
        super().__init__()
        reason = can_target(base_layer)
        if reason:
            raise TypeError(reason)
        self.base_layer = base_layer
        self.is_feedforward = feedforward
        if isinstance(base_layer, nn.Linear):
            self.kind = "linear"
            self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        elif isinstance(base_layer, (nn.Conv2d, nn.Conv3d)):  # weight (out, in/groups, *k)
            self.kind = "conv"
            self.in_features, self.out_features = base_layer.in_channels, base_layer.out_channels
        else:  # transformers Conv1D: weight (in, out), y = x @ W + b
            self.kind = "conv1d"
            self.in_features, self.out_features = base_layer.weight.shape
        self.ia3_l = nn.ParameterDict()
        self.active_adapters: list[str] = []
        self.merged_adapters: list[str] = []
        self.disabled = False

    # ---- adapters ---------------------------------------------------------------------------------

    def add_adapter(self, name: str, config: IA3Config, *, initialise: bool = True) -> None:
        """Create vector ``name``: (1, in) for a feed-forward target, else (out, 1); a convolution's (1, channels, 1, …)."""
        weight = self.base_layer.weight
        # fp32 on a half-precision base, as PEFT's autocast_adapter_dtype default: small updates survive, files match
        half = weight.dtype in (torch.float16, torch.bfloat16) or not weight.is_floating_point()
        factory = {"device": weight.device, "dtype": torch.float32 if half else weight.dtype}
        shape = (1, self.in_features) if self.is_feedforward else (self.out_features, 1)
        if self.kind == "conv":
            shape = (1, self.in_features if self.is_feedforward else self.out_features, *self._kernel_ones())
        vector = torch.empty(shape, **factory)
        with torch.no_grad():
            if initialise and config.init_ia3_weights:
                vector.fill_(1.0)
            elif initialise:
                vector.normal_()  # PEFT's torch.randn for init_ia3_weights=False
        self.ia3_l[name] = nn.Parameter(vector)
        if not self.active_adapters:
            self.active_adapters = [name]

    def delete_adapter(self, name: str) -> None:
        """Remove adapter ``name`` (unmerging first if merged)."""
        if name in self.merged_adapters:
            self.unmerge()
        if name in self.ia3_l:
            del self.ia3_l[name]
        self.active_adapters = [a for a in self.active_adapters if a != name]

    def adapter_names(self) -> list[str]:
        """Names of the adapters this layer holds."""
        return list(self.ia3_l.keys())

    def set_adapter(self, names: str | list[str], trainable: bool = True) -> None:
        """Make ``names`` the active adapters; only they train (if ``trainable``)."""
        names = [names] if isinstance(names, str) else names  # PEFT's layers take one name too
        self.active_adapters = [n for n in names if n in self.ia3_l]
        for name, p in self.ia3_l.items():
            p.requires_grad_(trainable and name in self.active_adapters)

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        """This layer's tensors of adapter ``name``, keyed as in PEFT's files (adapter name removed)."""
        return {"ia3_l": self.ia3_l[name]} if name in self.ia3_l else {}

    # ---- the math ---------------------------------------------------------------------------------

    def _kernel_ones(self) -> tuple[int, ...]:
        """``(1,) * spatial dims`` of a convolution (2 for Conv2d, 3 for Conv3d); () otherwise."""
        return (1,) * (self.base_layer.weight.dim() - 2) if self.kind == "conv" else ()

    def _scaling(self) -> torch.Tensor | None:
        """The product of the active, unmerged vectors, flattened: (in,) or (out,); None if there are none."""
        scale = None
        for name in self.active_adapters:
            if name in self.ia3_l and name not in self.merged_adapters:
                v = self.ia3_l[name].flatten()
                scale = v if scale is None else scale * v
        return scale

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.disabled:
            if self.merged_adapters:
                self.unmerge()
            return self.base_layer(x, *args, **kwargs)
        scale = self._scaling()
        if scale is None:
            return self.base_layer(x, *args, **kwargs)
        if self.kind == "conv":
            # channels sit before the spatial axes ((N, C, *spatial) or unbatched (C, *spatial)): (C,) -> (C, 1, …)
            scale = scale.view(-1, *self._kernel_ones())
        if self.is_feedforward:
            # (..., in) ⊙ (in,) before the layer
            return self.base_layer((x.to(scale.dtype) * scale).to(x.dtype), *args, **kwargs)
        result = self.base_layer(x, *args, **kwargs)  # (..., out)
        return (result * scale).to(result.dtype)

    def _factors(self, name: str) -> torch.Tensor:
        """The vector shaped to broadcast over the stored weight: rows for output scaling, columns for input."""
        v = self.ia3_l[name].detach()  # (out, 1) or (1, in), i.e. already (out, in)-broadcastable
        if self.kind == "conv":
            return self._conv_factors(v)
        return v.T if self.kind == "conv1d" else v  # Conv1D stores (in, out)

    def _conv_factors(self, v: torch.Tensor) -> torch.Tensor:
        """A convolution's vector (1, C, 1, …) shaped to broadcast over its weight (out, in/groups, *k)."""
        base, ones = self.base_layer, self._kernel_ones()
        if not self.is_feedforward:
            return v.reshape(-1, 1, *ones)  # (out, 1, 1, …): one factor per output channel
        groups = base.groups
        if groups == 1:
            return v  # (1, in, 1, …): one factor per input column of every kernel
        # Grouped: output channel o of group g = o // (out/g) reads inputs g·(in/g) … (g+1)·(in/g) - 1, stored as its
        # columns 0 … in/g - 1; so the factor of weight[o, j] is l[g·(in/g) + j]: (g, 1, in/g) repeated over out/g.
        per_in, per_out = base.in_channels // groups, base.out_channels // groups
        table = v.reshape(groups, 1, per_in).expand(groups, per_out, per_in)
        return table.reshape(base.out_channels, per_in, *ones)

    def merge(self, names: list[str] | None = None, safe_merge: bool = False) -> None:
        """Multiply the vectors into the base weight (and bias, for output scaling)."""
        if is_quantized_layer(self.base_layer):
            refuse_merge("an (IA)³ adapter")
        base = self.base_layer
        for name in names if names is not None else self.active_adapters:
            if name in self.merged_adapters or name not in self.ia3_l:
                continue
            with torch.no_grad():
                weight = base.weight.data * self._factors(name)
                bias = None
                if not self.is_feedforward and base.bias is not None:
                    bias = base.bias.data * self.ia3_l[name].detach().reshape(base.bias.shape)
                if safe_merge and not torch.isfinite(weight).all():
                    # PEFT's sentences first (code written for PEFT matches them), then ours
                    raise ValueError(f"NaNs detected in the merged weights. The adapter {name} seems to be broken: "
                                     f"merging it would put NaN/inf into the weights; nothing was merged.")
                if safe_merge and bias is not None and not torch.isfinite(bias).all():
                    raise ValueError(f"NaNs detected in the merged bias. The adapter {name} seems to be broken: "
                                     f"merging it would put NaN/inf into the bias; nothing was merged.")
                base.weight.data = weight.to(base.weight.dtype)
                if bias is not None:
                    base.bias.data = bias.to(base.bias.dtype)
            self.merged_adapters.append(name)

    def unmerge(self) -> None:
        """Divide merged vectors out again, newest first (``l + 1e-8``, as PEFT: exact up to rounding)."""
        base = self.base_layer
        while self.merged_adapters:
            name = self.merged_adapters.pop()
            with torch.no_grad():
                base.weight.data = (base.weight.data / (self._factors(name) + 1e-8)).to(base.weight.dtype)
                if not self.is_feedforward and base.bias is not None:
                    scale = self.ia3_l[name].detach().reshape(base.bias.shape)
                    base.bias.data = (base.bias.data / (scale + 1e-8)).to(base.bias.dtype)

    def unwrap(self, merge: bool, names: list[str] | None = None) -> nn.Module:
        """The base layer to put back into the model, with the vectors merged in or divided out."""
        if merge:
            self.merge(names)
        else:
            self.unmerge()
        return self.base_layer

    def extra_repr(self) -> str:
        return f"kind={self.kind}, feedforward={self.is_feedforward}, adapters={self.adapter_names()}"


def inject(model: nn.Module, config: IA3Config, adapter_name: str, *, initialise: bool = True) -> list[str]:
    """Wrap every module ``config`` selects in an :class:`IA3Layer` and add vector ``adapter_name`` to it.

    Resolves the config's targets and feed-forward modules in place (PEFT writes the resolved lists).
    A list of feed-forward names that selects none of the adapted modules is an error, as is a target
    list entry that matches nothing (see ``core.targeting``). Returns the adapted module names.
    """
    user_ff = config.feedforward_modules
    selection = targeting.select(model, config, can_target, "IA3", IA3_DEFAULT_TARGETS)
    targets = selection.target_modules
    config.target_modules = sorted(targets) if isinstance(targets, list) else targets  # PEFT writes a sorted set
    if user_ff is None:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        # PEFT raises here for an unknown architecture; with targets given explicitly we take "no feed-forward
        # module" instead, which is what such a user gets when they write feedforward_modules=[].
        config.feedforward_modules = sorted(IA3_DEFAULT_FEEDFORWARD.get(model_type, []))
    elif isinstance(user_ff, list):
        for entry in user_ff:
            if not any(name.endswith(entry) for name in selection.selected):
                raise targeting.TargetError(
                    f"feedforward_modules entry '{entry}' matches none of the adapted modules "
                    f"({len(selection.selected)} selected by target_modules). It must name a target."
                )
    for module_name in selection.selected:
        module = model.get_submodule(module_name)
        if not isinstance(module, IA3Layer):
            base = module
            is_conv1d = type(base).__name__ == "Conv1D"
            if is_conv1d != bool(config.fan_in_fan_out) and not isinstance(base, (nn.Conv2d, nn.Conv3d)):
                warnings.warn(f"{module_name} is a {type(base).__name__}: setting fan_in_fan_out={is_conv1d}.", stacklevel=2)
                config.fan_in_fan_out = is_conv1d
            module = IA3Layer(base, is_feedforward(config, module_name))
            parent_name, _, child = module_name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, module)
        elif module.is_feedforward != is_feedforward(config, module_name):
            raise ConfigError(
                f"{module_name} is a {'feed-forward' if module.is_feedforward else 'plain'} (IA)³ target for the "
                f"existing adapters; adapter '{adapter_name}' cannot treat it differently."
            )
        # get_peft_model twice on one model with the same adapter name: PEFT re-initialises the adapter
        # (get_peft_model warns about it); so do we
        if adapter_name in module.ia3_l:
            module.delete_adapter(adapter_name)
        module.add_adapter(adapter_name, config, initialise=initialise)
    return selection.selected


LAYER_CLASS = IA3Layer
