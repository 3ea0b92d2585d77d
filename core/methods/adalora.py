"""AdaLoRA — Adaptive Budget Allocation for Parameter-Efficient Fine-Tuning
(Zhang et al., ICLR 2023, https://arxiv.org/abs/2303.10512).

A frozen weight ``W (out, in)`` gets an update in SVD form, ``ΔW = P Λ Q · α / ranknum``, stored as PEFT
stores it: ``lora_A = Q (r, in)``, ``lora_E = diag Λ (r, 1)``, ``lora_B = P (out, r)``, so
``y = W x + b + (dropout(x) @ (A ⊙ E)ᵀ @ Bᵀ) · α / (ranknum + 1e-5)``. ``ranknum`` is a frozen (1,) parameter
holding ``init_r`` for ever (also after pruning), so the scale stays ``α / init_r``.

Training (paper §3):

- the loss gets ``orth_reg_weight · mean over all P, Q of ‖PᵀP − I‖_F`` (``‖QQᵀ − I‖_F`` for Q) so P and Q
  stay near-orthogonal and Λ carries the magnitudes (``peft_forward``);
- after every optimizer step the rank allocator (``update_and_allocate``) scores each element by
  sensitivity ``I = |w · ∂L/∂w|`` smoothed with two moving averages (``Ī`` with β1, the uncertainty
  ``Ū = EMA_β2 |I − Ī|``), ``s = Ī · Ū``; a singular triplet scores ``s(E_i) + mean_j s(A_ij) + mean_k s(B_ki)``.
  The total budget falls from ``init_r · n`` to ``target_r · n`` on a cubic schedule between ``tinit`` and
  ``total_step − tfinal``; every ``deltaT`` steps the lowest-scoring triplets get ``E_i = 0`` (soft masking:
  the optimizer may revive them until the next mask). At ``total_step − tfinal`` the pattern is fixed and
  re-applied on every later call.

Files are PEFT's: ``lora_A``/``lora_E``/``lora_B`` without ``.weight``; ``ranknum`` is not saved; once masked,
``rank_pattern`` (``"<module path>.lora_E": [bool] * init_r``) is written into the config and the tensors are
cut to the kept triplets; loading rebuilds each layer at ``sum(mask)`` rank (0 allowed).
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from core import targeting
from core.config import ConfigError, PeftConfig, PeftType, normalise_names
from core.methods.lora import LoraConfig
from core.methods._layer import WrapsBaseLayer
from core.methods.contract import MethodFacts
from core.quantize import is_quantized_layer, refuse_merge

# PEFT's AdaLoRA table is LoRA's except for a few encoder / encoder-decoder families (utils/constants.py).
ADALORA_DEFAULT_TARGETS: dict[str, list[str]] = {
    **targeting.LORA_DEFAULT_TARGETS,
    "t5": ["q", "k", "v", "o", "wi", "wo"],
    "mt5": ["q", "k", "v", "o", "wi_0", "wi_1", "wo"],
    "bart": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
    "opt": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
    "roberta": ["query", "key", "value", "dense"],
}


# The schedule needs the run's length: total_step must equal the run's max_steps (60 by default).
# lora_alpha 2048 (scale α / init_r = 128, LoRA's is 32 / 16 = 2): Λ carries the update's magnitudes and Adam
# moves each E_i by about the learning rate a step, ~0.06 over the product's 60 steps (5 warm-up, cosine), so a
# singular value of ΔW = P Λ Q · α / init_r (P, Q kept near-orthonormal by the penalty) reaches at most
# 0.06 · α / init_r: 0.12 at α 32, where LoRA's B (out, r) moves every element by ~lr, so a column grows by
# lr · √out (√576 = 24) a step and a direction of ΔW reaches ~2 · 0.06 · 24 · 0.58 (A's row norm) ≈ 1.7.
# Measured (docs/method-defaults.md, tests/benchmarks/sweep_defaults.py --plain, SmolLM2-135M-Instruct,
# made-up capitals, 60 steps, 2026-12-07): held-out exact match α 32: 0.00 (loss 3.10 -> 1.36), α 512: 0.35
# (-> 0.26), α 2048: 1.00 (-> 0.02); LoRA's defaults 0.95 (-> 0.06).
FACTS = MethodFacts(
    label="AdaLoRA",
    mergeable=True,
    adapter_defaults={"init_r": 16, "target_r": 8, "lora_alpha": 2048, "target_modules": "all-linear", "total_step": 60,
                      "tinit": 6, "tfinal": 12},
    training_defaults={"learning_rate": 2e-3},
    form_first_values=("total_step",),
    low_rank=True,
    measured={"facts": 1.0, "style": 1.0, "trainable": 4887840, "seconds": 459},
)


@dataclass
class AdaLoraConfig(PeftConfig):
    """Settings of an AdaLoRA adapter (PEFT's ``AdaLoraConfig`` fields and defaults)."""

    peft_type: ClassVar[PeftType] = PeftType.ADALORA
    UNSUPPORTED_DEFAULTS: ClassVar[dict[str, Any]] = {**LoraConfig.UNSUPPORTED_DEFAULTS, "use_dora": False, "lora_bias": False}
    # LoRA fields PEFT writes for AdaLoRA but never reads for it: accepted and dropped without a warning.
    IGNORED_KEYS: ClassVar[tuple[str, ...]] = ("use_rslora", "alpha_pattern")

    init_r: int = field(default=12, metadata={"help": "Rank every adapted module starts with (r is ignored)."})
    target_r: int = field(default=8, metadata={"help": "Average rank per module at the end: the budget is target_r × modules."})
    tinit: int = field(default=0, metadata={"help": "Warm-up optimizer steps before any rank is pruned."})
    tfinal: int = field(default=0, metadata={"help": "Final optimizer steps trained with the rank pattern fixed."})
    deltaT: int = field(default=1, metadata={"help": "Re-allocate the ranks every deltaT steps during the budget phase."})
    beta1: float = field(default=0.85, metadata={"help": "Moving-average factor of the sensitivity, in (0, 1)."})
    beta2: float = field(default=0.85, metadata={"help": "Moving-average factor of the uncertainty, in (0, 1)."})
    orth_reg_weight: float = field(default=0.5, metadata={"help": "Weight of the orthogonality penalty added to the training loss (≥ 0)."})
    total_step: int | None = field(
        default=None, metadata={"help": "Number of optimizer steps of the whole run (required; > tinit + tfinal)."}
    )
    rank_pattern: dict[str, list[bool]] | None = field(
        default=None, metadata={"help": "Kept triplets per module ('<path>.lora_E' -> init_r booleans); written by training."}
    )
    r: int = field(default=8, metadata={"help": "Unused by AdaLoRA (init_r sets the rank); kept for PEFT's file format."})
    lora_alpha: float = field(default=8, metadata={"help": "Scale numerator: the update is multiplied by alpha / init_r."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the adapter's input during training, in [0, 1)."})
    target_modules: list[str] | str | None = field(
        default=None,
        metadata={"help": "Modules to adapt: a list of names or name suffixes, a full-match regex, or 'all-linear'."},
    )
    exclude_modules: list[str] | str | None = field(default=None, metadata={"help": "Modules never adapted (wins over targets)."})
    layers_to_transform: list[int] | int | None = field(default=None, metadata={"help": "Only these block indices."})
    layers_pattern: list[str] | str | None = field(
        default=None, metadata={"help": "Name of the block list (e.g. 'layers', 'h') that layers_to_transform indexes."}
    )
    bias: str = field(default="none", metadata={"help": "Also train biases: 'none', 'all', or 'lora_only'."})
    modules_to_save: list[str] | None = field(
        default=None, metadata={"help": "Modules trained in full and saved with the adapter (e.g. a new head)."}
    )
    fan_in_fan_out: bool = field(default=False, metadata={"help": "The layer stores its weight as (in, out), like GPT-2's Conv1D."})
    init_lora_weights: bool | str = field(
        default=True, metadata={"help": "True: E zero, A and B normal(0, 0.02) (starts equal to the base). False: all random."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, low in (("init_r", 1), ("target_r", 1), ("tinit", 0), ("tfinal", 0), ("deltaT", 1), ("r", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be a whole number ≥ {low}, got {value!r}.")
        if self.total_step is None:
            raise ConfigError(
                "AdaLoRA does not work when `total_step` is None, supply a value > 0. "
                "total_step is required for AdaLoRA: the number of optimizer steps of the run, which the rank "
                "budget schedule is laid out over (e.g. epochs × batches per epoch ÷ gradient accumulation)."
            )
        if isinstance(self.total_step, bool) or not isinstance(self.total_step, int) or self.total_step < 1:
            raise ConfigError(f"total_step must be a whole number ≥ 1, got {self.total_step!r}.")
        if self.total_step <= self.tinit + self.tfinal:
            raise ConfigError(
                f"The supplied schedule values don't allow for a budgeting phase: "
                f"total_step ({self.total_step}) must be larger than tinit + tfinal ({self.tinit} + {self.tfinal}), "
                f"or no step is left to reduce the ranks in. Lower tinit/tfinal or raise total_step."
            )
        if self.target_r > self.init_r:
            raise ConfigError(f"target_r ({self.target_r}) cannot exceed init_r ({self.init_r}): AdaLoRA only removes rank.")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
                raise ConfigError(f"{name} must be a number strictly between 0 and 1, got {value!r}.")
        if isinstance(self.orth_reg_weight, bool) or not isinstance(self.orth_reg_weight, (int, float)) or self.orth_reg_weight < 0:
            # PEFT's sentence (code written for PEFT matches it)
            raise ConfigError(f"`orth_reg_weight` should be greater than or equal to 0, but the value passed is "
                              f"{self.orth_reg_weight!r}: it weighs AdaLoRA's orthogonality penalty.")
        if not isinstance(self.lora_alpha, (int, float)) or isinstance(self.lora_alpha, bool):
            raise ConfigError(f"lora_alpha must be a number, got {self.lora_alpha!r}.")
        if not 0.0 <= float(self.lora_dropout) < 1.0:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}.")
        if self.bias not in ("none", "all", "lora_only"):
            raise ConfigError(f"bias must be one of none, all, lora_only; got {self.bias!r}.")
        if self.r != 8:
            # PEFT's sentence first (code written for PEFT matches it), then ours
            warnings.warn(f"Note that `r` is not used in AdaLora and will be ignored: r={self.r!r} was set, but "
                          f"AdaLoRA's starting rank is init_r ({self.init_r}).", stacklevel=3)
        self.target_modules = normalise_names(self.target_modules, "target_modules")
        self.exclude_modules = normalise_names(self.exclude_modules, "exclude_modules")
        # PEFT's sentences first (code written for PEFT matches them), then ours
        if isinstance(self.target_modules, str) and self.layers_to_transform is not None:
            raise ConfigError("`layers_to_transform` cannot be used when `target_modules` is a str. (layers_to_transform "
                              "cannot be combined with a regex string in target_modules; use a list.)")
        if isinstance(self.target_modules, str) and self.layers_pattern:
            raise ConfigError("`layers_pattern` cannot be used when `target_modules` is a str. (It only names the block "
                              "list for layers_to_transform; use a list of module names.)")
        if self.layers_pattern and self.layers_to_transform is None:
            raise ConfigError("When `layers_pattern` is specified, `layers_to_transform` must also be specified. "
                              "(layers_pattern only has an effect together with layers_to_transform.)")
        if self.modules_to_save is not None:
            self.modules_to_save = list(self.modules_to_save)
        if self.rank_pattern is not None:
            if not isinstance(self.rank_pattern, dict):
                raise ConfigError(f"rank_pattern must map '<module>.lora_E' to a list of booleans, got {self.rank_pattern!r}.")
            for key, mask in self.rank_pattern.items():
                if not isinstance(mask, (list, tuple)) or not all(isinstance(m, (bool, int)) and m in (0, 1) for m in mask):
                    raise ConfigError(f"rank_pattern['{key}'] must be a list of true/false (one per initial rank), got {mask!r}.")
            self.rank_pattern = {k: [bool(m) for m in v] for k, v in self.rank_pattern.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> "AdaLoraConfig":
        """As :meth:`PeftConfig.from_dict`, dropping the LoRA keys AdaLoRA never reads."""
        return super().from_dict({k: v for k, v in data.items() if k not in cls.IGNORED_KEYS}, source=source)


Config = AdaLoraConfig


def can_target(module: nn.Module) -> str | None:
    """None if AdaLoRA can adapt ``module``; otherwise why not."""
    if isinstance(module, (nn.Linear, nn.Conv2d)) or type(module).__name__ == "Conv1D":
        if isinstance(module, nn.Conv2d) and module.groups > 1:
            # ΔW = B (A ⊙ E) is (out, in·kh·kw): a grouped kernel (out, in/g, kh, kw) has fewer elements, so the
            # update has no kernel of the base's shape to convolve with (PEFT fails there with a reshape error)
            return f"AdaLoRA adapts Conv2d layers with groups=1 only, not groups={module.groups}."
        return None
    return f"AdaLoRA adapts Linear, Conv1D and Conv2d layers, not {type(module).__name__}."


class SVDLayer(WrapsBaseLayer):
    """Wraps one Linear / Conv1D / Conv2d layer and holds named SVD-form adapters ``(A, E, B, ranknum)`` for it.

    On a ``Conv2d`` (as PEFT's layout): ``A (r, in·kh·kw)``, ``B (out, r)``; the update ``B (A ⊙ E)`` reshaped to
    the kernel ``(out, in, kh, kw)`` is convolved with the base's stride, padding and dilation."""

    def __init__(self, base_layer: nn.Module, module_name: str) -> None:
        super().__init__()
        reason = can_target(base_layer)
        if reason:
            raise TypeError(reason)
        self.base_layer = base_layer
        self.module_name = module_name  # path inside the model: the rank_pattern key is f"{module_name}.lora_E"
        self.kind = "linear" if isinstance(base_layer, nn.Linear) else "conv2d" if isinstance(base_layer, nn.Conv2d) else "conv1d"
        if self.kind == "linear":
            self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        elif self.kind == "conv2d":  # A's columns run over the receptive field: in_channels · kh · kw
            kh, kw = base_layer.kernel_size
            self.in_features, self.out_features = base_layer.in_channels * kh * kw, base_layer.out_channels
        else:  # transformers Conv1D: weight (in, out)
            self.in_features, self.out_features = base_layer.weight.shape
        self.lora_A = nn.ParameterDict()  # (r, in)   right singular vectors Q
        self.lora_E = nn.ParameterDict()  # (r, 1)    singular values Λ
        self.lora_B = nn.ParameterDict()  # (out, r)  left singular vectors P
        self.ranknum = nn.ParameterDict()  # (1,)     init_r, frozen; counted in "all params" as PEFT does
        self.scaling: dict[str, float] = {}
        self.dropout_p: dict[str, float] = {}
        self.configs: dict[str, AdaLoraConfig] = {}
        self.loaded_pruned: set[str] = set()  # adapters rebuilt at their saved rank (allocation is over)
        self.active_adapters: list[str] = []
        self.merged_adapters: list[str] = []
        self.disabled = False

    def add_adapter(self, name: str, config: AdaLoraConfig, *, initialise: bool = True) -> None:
        """Create adapter ``name`` at ``init_r``, or, when loading a pruned file, at the saved ``sum(mask)``."""
        r = config.init_r
        mask = (config.rank_pattern or {}).get(f"{self.module_name}.lora_E")
        if not initialise and mask is not None:
            r = sum(mask)  # 0 allowed (PEFT #1539): the module keeps no triplet
            self.loaded_pruned.add(name)
        weight = self.base_layer.weight
        # fp32 on a half-precision base, as PEFT's autocast_adapter_dtype default: small updates survive, files match
        half = weight.dtype in (torch.float16, torch.bfloat16) or not weight.is_floating_point()
        factory = {"device": weight.device, "dtype": torch.float32 if half else weight.dtype}
        A = torch.zeros(r, self.in_features, **factory)
        E = torch.zeros(r, 1, **factory)
        B = torch.zeros(self.out_features, r, **factory)
        if initialise:
            with torch.no_grad():
                if config.init_lora_weights:  # E = 0: the update starts at exactly zero
                    A.normal_(0.0, 0.02)
                    B.normal_(0.0, 0.02)
                else:  # PEFT's torch.randn for all three
                    A.normal_(), E.normal_(), B.normal_()
        self.lora_A[name], self.lora_E[name], self.lora_B[name] = nn.Parameter(A), nn.Parameter(E), nn.Parameter(B)
        self.ranknum[name] = nn.Parameter(torch.full((1,), float(config.init_r), **factory), requires_grad=False)
        self.scaling[name] = config.lora_alpha if config.lora_alpha > 0 else float(r)
        self.dropout_p[name] = float(config.lora_dropout)
        self.configs[name] = config
        if not self.active_adapters:
            self.active_adapters = [name]

    def delete_adapter(self, name: str) -> None:
        """Remove adapter ``name`` (unmerging first if merged)."""
        if name in self.merged_adapters:
            self.unmerge()
        for container in (self.lora_A, self.lora_E, self.lora_B, self.ranknum):
            if name in container:
                del container[name]
        for table in (self.scaling, self.dropout_p, self.configs):
            table.pop(name, None)
        self.loaded_pruned.discard(name)
        self.active_adapters = [a for a in self.active_adapters if a != name]

    def adapter_names(self) -> list[str]:
        """Names of the adapters this layer holds."""
        return list(self.lora_A.keys())

    def set_adapter(self, names: str | list[str], trainable: bool = True) -> None:
        """Make ``names`` the active adapters; only they train (if ``trainable``); ``ranknum`` never trains."""
        names = [names] if isinstance(names, str) else names  # PEFT's layers take one name too
        self.active_adapters = [n for n in names if n in self.lora_A]
        for name in self.lora_A.keys():
            for container in (self.lora_A, self.lora_E, self.lora_B):
                container[name].requires_grad_(trainable and name in self.active_adapters)
            self.ranknum[name].requires_grad_(False)

    def saved_mask(self, name: str) -> torch.Tensor | None:
        """The kept-triplet mask (r,) from the config's rank_pattern, if it still applies to this layer's size."""
        mask = (self.configs[name].rank_pattern or {}).get(f"{self.module_name}.lora_E")
        if mask is None or len(mask) != self.lora_E[name].shape[0]:
            return None  # no allocation yet, or the layer was already rebuilt at the kept rank
        return torch.tensor(mask, dtype=torch.bool, device=self.lora_E[name].device)

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        """PEFT's file tensors: ``lora_A``/``lora_E``/``lora_B`` cut to the kept triplets (copies then), no ranknum."""
        if name not in self.lora_A:
            return {}
        A, E, B = self.lora_A[name], self.lora_E[name], self.lora_B[name]
        mask = self.saved_mask(name)
        if mask is not None and int(mask.sum()) != mask.numel():
            return {"lora_A": A[mask], "lora_E": E[mask], "lora_B": B[:, mask]}  # (k, in), (k, 1), (out, k)
        return {"lora_A": A, "lora_E": E, "lora_B": B}

    # ---- the math ---------------------------------------------------------------------------------

    def delta_weight(self, name: str, fp32: bool = False) -> torch.Tensor:
        """``B (A ⊙ E) · α / (ranknum + 1e-5)`` in the base weight's layout, computed in fp32 (and kept so if asked)."""
        A, E, B = self.lora_A[name].float(), self.lora_E[name].float(), self.lora_B[name].float()
        delta = (B @ (A * E)) * self.scaling[name] / (self.ranknum[name].float() + 1e-5)  # (out, in)
        if self.kind == "conv1d":
            delta = delta.T
        elif self.kind == "conv2d":  # (out, in·kh·kw) -> the kernel (out, in, kh, kw)
            delta = delta.reshape(self.base_layer.weight.shape)
        return delta if fp32 else delta.to(self.base_layer.weight.dtype)

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.disabled:
            if self.merged_adapters:
                self.unmerge()
            return self.base_layer(x, *args, **kwargs)
        result = self.base_layer(x, *args, **kwargs)  # (..., out)
        for name in self.active_adapters:
            if name in self.merged_adapters:
                continue
            A, E, B = self.lora_A[name], self.lora_E[name], self.lora_B[name]
            x_in = x.to(A.dtype)
            if self.training and self.dropout_p[name] > 0:
                x_in = F.dropout(x_in, self.dropout_p[name], training=True)
            if self.kind == "conv2d":
                # (N, in, H, W) -> (N, out, H', W'): the update as a kernel, convolved as the base layer convolves
                base = self.base_layer
                kernel = (B @ (A * E) * self.scaling[name] / (self.ranknum[name] + 1e-5)).reshape(base.weight.shape)
                update = F.conv2d(x_in, kernel, stride=base.stride, padding=base.padding, dilation=base.dilation,
                                  groups=base.groups)
                result = result + update.to(result.dtype)
                continue
            # (..., in) @ (in, r) @ (r, out), the order PEFT computes in
            update = (x_in @ (A * E).T @ B.T) * self.scaling[name] / (self.ranknum[name] + 1e-5)
            result = result + update.to(result.dtype)
        return result

    def merge(self, names: list[str] | None = None, safe_merge: bool = False) -> None:
        """Add the adapters' updates into the base weight (``names`` default: the active ones)."""
        if is_quantized_layer(self.base_layer):
            refuse_merge("an AdaLoRA adapter", self.module_name)
        weight = self.base_layer.weight
        for name in names if names is not None else self.active_adapters:
            if name in self.merged_adapters or name not in self.lora_A:
                continue
            with torch.no_grad():
                new = weight.float() + self.delta_weight(name, fp32=True)  # one rounding to the base dtype
                if safe_merge and not torch.isfinite(new).all():
                    raise ValueError(f"NaNs detected in the merged weights. The adapter {name} seems to be broken: merging "
                                     f"it would put NaN/inf into the weights; nothing was merged.")
                weight.data.copy_(new.to(weight.dtype))
            self.merged_adapters.append(name)

    def unmerge(self) -> None:
        """Subtract merged updates again, newest first."""
        weight = self.base_layer.weight
        while self.merged_adapters:
            name = self.merged_adapters.pop()
            with torch.no_grad():
                weight.data.copy_((weight.float() - self.delta_weight(name, fp32=True)).to(weight.dtype))

    def unwrap(self, merge: bool, names: list[str] | None = None) -> nn.Module:
        """The base layer to put back into the model, with the updates merged in or taken out."""
        if merge:
            self.merge(names)
        else:
            self.unmerge()
        return self.base_layer

    def extra_repr(self) -> str:
        ranks = {n: int(self.lora_E[n].shape[0]) for n in self.adapter_names()}
        return f"kind={self.kind}, ranks={ranks}"


UPDATE_METRIC = "rank"
"""What the Adaptation tab draws per module for an AdaLoRA run (`update_size`): the rank it kept."""


def update_size(module_name: str, weights: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, Any]:
    """How much one adapted module changed, from its saved weights: ``{"norm": ‖ΔW‖_F, "rank": kept}``.

    ``weights``: ``lora_A`` (r, in), ``lora_E`` (r, 1), ``lora_B`` (out, r); the final rank is the number of
    triplets the allocator kept (non-zero ``lora_E``); ``ΔW = B (A ⊙ E) · lora_alpha / init_r`` (out, in)."""
    A, B = weights["lora_A"], weights["lora_B"]
    E = weights.get("lora_E", torch.ones(A.shape[0], 1))
    rank = int((E.abs().view(-1) > 0).sum())
    scaling = float(config.get("lora_alpha", 1)) / float(config.get("init_r") or config.get("r") or A.shape[0])
    delta = (B @ (A * E)).flatten(1)
    return {"norm": float(torch.linalg.norm(delta) * scaling), "rank": rank}


def inject(model: nn.Module, config: AdaLoraConfig, adapter_name: str, *, initialise: bool = True) -> list[str]:
    """Wrap every module ``config`` selects in an :class:`SVDLayer` and add adapter ``adapter_name`` to it."""
    selection = targeting.select(model, config, can_target, "AdaLoRA", ADALORA_DEFAULT_TARGETS)
    targets = selection.target_modules
    config.target_modules = sorted(targets) if isinstance(targets, list) else targets  # PEFT writes a sorted set
    stray = sorted(set(k.removesuffix(".lora_E") for k in config.rank_pattern or {}) - set(selection.selected))
    if stray:
        raise ConfigError(f"rank_pattern names module(s) this adapter does not adapt, e.g. '{stray[0]}': was it made for another model?")
    for module_name in selection.selected:
        module = model.get_submodule(module_name)
        if not isinstance(module, SVDLayer):
            is_conv1d = type(module).__name__ == "Conv1D"
            if is_conv1d != bool(config.fan_in_fan_out) and not isinstance(module, nn.Conv2d):
                warnings.warn(f"{module_name} is a {type(module).__name__}: setting fan_in_fan_out={is_conv1d}.", stacklevel=2)
                config.fan_in_fan_out = is_conv1d
            module = SVDLayer(module, module_name)
            parent_name, _, child = module_name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, module)
        # get_peft_model twice on one model with the same adapter name: PEFT re-initialises the adapter
        # (get_peft_model warns about it); so do we
        if adapter_name in module.lora_A:
            module.delete_adapter(adapter_name)
        module.add_adapter(adapter_name, config, initialise=initialise)
    return selection.selected


LAYER_CLASS = SVDLayer


# ---- training: the orthogonality penalty ------------------------------------------------------------

def _layers(peft_model, name: str) -> dict[str, SVDLayer]:
    """Module path -> SVD layer holding adapter ``name``, in model order."""
    return {p: l for p, l in peft_model.base_model.adapter_layers() if isinstance(l, SVDLayer) and name in l.lora_A}


def orthogonality_penalty(peft_model, name: str | None = None) -> torch.Tensor:
    """``mean over every A and B of ‖AAᵀ − I‖_F`` / ``‖BᵀB − I‖_F`` (r × r each) of adapter ``name``."""
    name = name or peft_model.active_adapter
    total, count = None, 0
    for layer in _layers(peft_model, name).values():
        for gram in (layer.lora_A[name] @ layer.lora_A[name].T, layer.lora_B[name].T @ layer.lora_B[name]):  # (r, r)
            eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
            norm = torch.linalg.matrix_norm(gram - eye, ord="fro")
            total = norm if total is None else total + norm
            count += 1
    return total / count if count else torch.zeros(())


def peft_forward(peft_model, *args: Any, **kwargs: Any) -> Any:
    """The model's forward; when it returns a loss and the adapter trains, the orthogonality penalty is added."""
    outputs = peft_model.base_model(*args, **kwargs)
    config = peft_model.peft_config[peft_model.active_adapter]
    loss = getattr(outputs, "loss", None)
    if isinstance(loss, torch.Tensor) and not config.inference_mode and config.orth_reg_weight > 0:
        outputs.loss = loss + config.orth_reg_weight * orthogonality_penalty(peft_model).to(loss.dtype)
    return outputs


# ---- training: the rank allocator --------------------------------------------------------------------

@dataclass(frozen=True)
class AllocationEvent:
    """One re-allocation: at optimizer ``step`` the budget was ``budget`` and module ``modules[i]`` kept ``kept[i]``.

    Compact on purpose (one shared ``modules`` tuple): a long run with ``deltaT=1`` records thousands of events.
    """

    step: int
    budget: int
    modules: tuple[str, ...]
    kept: tuple[int, ...]
    final: bool = False  # the fixed pattern of the final phase

    @property
    def ranks(self) -> dict[str, int]:
        """Module path -> kept rank at this event."""
        return dict(zip(self.modules, self.kept))


class RankAllocator:
    """Importance scores and the budget schedule for one adapter (paper §3.2–3.3, Algorithm 1)."""

    def __init__(self, config: AdaLoraConfig, layers: dict[str, SVDLayer], name: str) -> None:
        self.config, self.layers, self.name = config, layers, name
        self.init_bgt = sum(layer.lora_E[name].shape[0] for layer in layers.values())
        self.target_bgt = config.target_r * len(layers)
        self.history: list[AllocationEvent] = []
        self.modules = tuple(layers)  # shared by every event
        self.reset_ipt()

    def reset_ipt(self) -> None:
        """Forget the smoothed sensitivities and uncertainties (done once the final pattern is fixed)."""
        self.exp_avg_ipt: dict[tuple[str, str], torch.Tensor] = {}
        self.exp_avg_unc: dict[tuple[str, str], torch.Tensor] = {}

    def budget_schedule(self, step: int) -> tuple[int, bool]:
        """(total kept rank allowed at ``step``, whether to re-mask at ``step``)."""
        c = self.config
        if step <= c.tinit:  # warm-up
            return self.init_bgt, False
        if step > c.total_step - c.tfinal:  # final fine-tuning
            return self.target_bgt, True
        progress = 1 - (step - c.tinit) / (c.total_step - c.tfinal - c.tinit)  # cubic decay, 1 -> 0
        return int((self.init_bgt - self.target_bgt) * progress**3 + self.target_bgt), step % c.deltaT == 0

    def update_ipt(self) -> None:
        """Fold this step's sensitivity ``|w ⊙ grad|`` into both moving averages, per element of A, E, B."""
        b1, b2 = self.config.beta1, self.config.beta2
        for path, layer in self.layers.items():
            for part in ("lora_A", "lora_E", "lora_B"):
                p = getattr(layer, part)[self.name]
                if p.grad is None:
                    raise RuntimeError(
                        f"{path}.{part} has no gradient: call update_and_allocate(step) after loss.backward() and "
                        f"before optimizer.zero_grad(), once per optimizer step."
                    )
                key = (path, part)
                with torch.no_grad():
                    ipt = (p * p.grad).abs()
                    avg = self.exp_avg_ipt.get(key, torch.zeros_like(p))
                    unc = self.exp_avg_unc.get(key, torch.zeros_like(p))
                    avg = b1 * avg + (1 - b1) * ipt
                    self.exp_avg_ipt[key] = avg
                    self.exp_avg_unc[key] = b2 * unc + (1 - b2) * (ipt - avg).abs()

    def _score(self, path: str, part: str) -> torch.Tensor:
        return self.exp_avg_ipt[(path, part)] * self.exp_avg_unc[(path, part)]

    def mask_to_budget(self, budget: int) -> dict[str, list[bool]]:
        """Zero ``E_i`` of the lowest-scoring triplets so that about ``budget`` stay; returns the kept masks."""
        triplets: dict[str, torch.Tensor] = {}
        for path in self.layers:
            score_a = self._score(path, "lora_A").mean(dim=1, keepdim=True)  # (r, 1)
            score_b = self._score(path, "lora_B").mean(dim=0).view(-1, 1)  # (r, 1)
            score_e = self._score(path, "lora_E")  # (r, 1)
            triplets[path] = score_e.view(-1) + torch.cat([score_a, score_b], dim=1).sum(dim=1)  # (r,)
        k = self.init_bgt - budget
        if k > 0:
            threshold = torch.kthvalue(torch.cat(list(triplets.values())), k=k)[0].item()
        else:  # nothing to prune (PEFT's kthvalue would fail with k = 0)
            threshold = -math.inf
        pattern: dict[str, list[bool]] = {}
        with torch.no_grad():
            for path, layer in self.layers.items():
                drop = triplets[path] <= threshold  # (r,)
                layer.lora_E[self.name].masked_fill_(drop.view(-1, 1), 0.0)
                pattern[f"{path}.lora_E"] = (~drop).tolist()
        return pattern

    def mask_using_pattern(self, pattern: dict[str, list[bool]]) -> None:
        """Re-zero the pruned ``E_i`` (the optimizer may have moved them since the last step)."""
        with torch.no_grad():
            for path, layer in self.layers.items():
                E = layer.lora_E[self.name]
                keep = torch.tensor(pattern[f"{path}.lora_E"], dtype=torch.bool, device=E.device)
                E.masked_fill_(~keep.view(-1, 1), 0.0)

    def record(self, step: int, budget: int, pattern: dict[str, list[bool]], final: bool) -> AllocationEvent:
        kept = tuple(sum(pattern[f"{path}.lora_E"]) for path in self.modules)
        event = AllocationEvent(step, budget, self.modules, kept, final)
        self.history.append(event)
        return event


def _allocator(peft_model, name: str) -> RankAllocator:
    """The allocator of adapter ``name``, created on first use (kept on the PeftModel instance)."""
    allocators = peft_model.__dict__.setdefault("_adalora_allocators", {})
    if name not in allocators:
        allocators[name] = RankAllocator(peft_model.peft_config[name], _layers(peft_model, name), name)
    return allocators[name]


def update_and_allocate(peft_model, global_step: int) -> AllocationEvent | None:
    """Update the importance scores and re-allocate the ranks of the active adapter (PEFT's contract).

    Call it once per optimizer step, after ``loss.backward()`` (and ``optimizer.step()``) and before
    ``optimizer.zero_grad()``, with the 0-based optimizer-step counter (not micro-batches). Returns the
    allocation event of this step, or None when this step does not re-mask.
    """
    name = peft_model.active_adapter
    config = peft_model.peft_config[name]
    if config.inference_mode:
        raise RuntimeError(f"AdaLoRA adapter '{name}' was loaded for inference; load it with is_trainable=True to train it.")
    if isinstance(global_step, bool) or not isinstance(global_step, int) or global_step < 0:
        raise ValueError(f"global_step must be the 0-based optimizer-step counter, got {global_step!r}.")
    layers = _layers(peft_model, name)
    if any(name in layer.loaded_pruned for layer in layers.values()):
        if not peft_model.__dict__.get("_adalora_pruned_warned"):
            warnings.warn(f"AdaLoRA adapter '{name}' was loaded with its final rank pattern; ranks stay as they are.", stacklevel=2)
            peft_model.__dict__["_adalora_pruned_warned"] = True
        return None
    allocator = _allocator(peft_model, name)
    final_step = config.total_step - config.tfinal
    if global_step < final_step:
        allocator.update_ipt()
        budget, mask_now = allocator.budget_schedule(global_step)
        if not mask_now:
            return None
        config.rank_pattern = allocator.mask_to_budget(budget)
        return allocator.record(global_step, budget, config.rank_pattern, final=False)
    if global_step == final_step or config.rank_pattern is None:
        # fix the final pattern (no score update on this step, as PEFT); also if the fixing step was skipped
        budget, _ = allocator.budget_schedule(global_step)
        config.rank_pattern = allocator.mask_to_budget(budget)
        allocator.reset_ipt()
        return allocator.record(global_step, budget, config.rank_pattern, final=True)
    allocator.mask_using_pattern(config.rank_pattern)
    return None


def rank_pattern(peft_model, adapter_name: str | None = None) -> dict[str, int]:
    """Module path -> current kept rank of the adapter (its full rank until the first allocation)."""
    name = adapter_name or peft_model.active_adapter
    out = {}
    for path, layer in _layers(peft_model, name).items():
        mask = layer.saved_mask(name)
        out[path] = int(mask.sum()) if mask is not None else int(layer.lora_E[name].shape[0])
    return out


def allocation_history(peft_model, adapter_name: str | None = None) -> list[AllocationEvent]:
    """Every re-allocation so far (step, budget, per-module ranks), oldest first: what a budget plot draws."""
    allocators = peft_model.__dict__.get("_adalora_allocators", {})
    name = adapter_name or peft_model.active_adapter
    return list(allocators[name].history) if name in allocators else []


def allocation_state_dict(peft_model) -> dict[str, Any]:
    """Everything a checkpoint needs to resume allocation mid-run (``torch.save``-able).

    ``save_pretrained`` cuts the tensors to the kept triplets, which ends allocation; a training checkpoint
    keeps the full-size A, E, B, the rank pattern and the allocator's moving averages instead.
    """
    name = peft_model.active_adapter
    layers = _layers(peft_model, name)
    allocator = peft_model.__dict__.get("_adalora_allocators", {}).get(name)
    return {
        "adapter": name,
        "tensors": {f"{p}.{part}": getattr(l, part)[name].detach().clone() for p, l in layers.items() for part in ("lora_A", "lora_E", "lora_B")},
        "rank_pattern": copy.deepcopy(peft_model.peft_config[name].rank_pattern),
        "exp_avg_ipt": {"|".join(k): v.clone() for k, v in allocator.exp_avg_ipt.items()} if allocator else {},
        "exp_avg_unc": {"|".join(k): v.clone() for k, v in allocator.exp_avg_unc.items()} if allocator else {},
        "history": [(e.step, e.budget, e.kept, e.final) for e in allocator.history] if allocator else [],
    }


def load_allocation_state_dict(peft_model, state: dict[str, Any]) -> None:
    """Restore :func:`allocation_state_dict` into the active adapter of a model built with the same config."""
    name = peft_model.active_adapter
    layers = _layers(peft_model, name)
    with torch.no_grad():
        for path, layer in layers.items():
            for part in ("lora_A", "lora_E", "lora_B"):
                target, value = getattr(layer, part)[name], state["tensors"][f"{path}.{part}"]
                if target.shape != value.shape:
                    raise ValueError(f"{path}.{part}: shape {tuple(value.shape)} in the state, {tuple(target.shape)} here.")
                target.copy_(value)
    peft_model.peft_config[name].rank_pattern = copy.deepcopy(state["rank_pattern"])
    peft_model.__dict__.setdefault("_adalora_allocators", {}).pop(name, None)
    allocator = _allocator(peft_model, name)
    allocator.exp_avg_ipt = {tuple(k.split("|")): v.clone() for k, v in state["exp_avg_ipt"].items()}
    allocator.exp_avg_unc = {tuple(k.split("|")): v.clone() for k, v in state["exp_avg_unc"].items()}
    allocator.history = [AllocationEvent(s, b, allocator.modules, tuple(k), f) for s, b, k, f in state["history"]]


MODEL_VERBS = {
    "update_and_allocate": update_and_allocate,
    "rank_pattern": rank_pattern,
    "allocation_history": allocation_history,
    "orthogonality_penalty": orthogonality_penalty,
    "allocation_state_dict": allocation_state_dict,
    "load_allocation_state_dict": load_allocation_state_dict,
}
