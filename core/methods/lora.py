"""LoRA — Low-Rank Adaptation (Hu et al., 2021, https://arxiv.org/abs/2106.09685).

A frozen weight ``W (out, in)`` gets a trainable low-rank update: ``y = W x + b + s · B A dropout(x)`` with
``A (r, in)``, ``B (out, r)`` and ``s = alpha / r``. Also here:

- rsLoRA (Kalajdzievski, 2023, https://arxiv.org/abs/2312.03732): ``s = alpha / sqrt(r)``;
- DoRA (Liu et al., 2024, https://arxiv.org/abs/2402.09353): a learned per-output magnitude ``m`` and
  ``W' = m · (W + s·BA) / ||W + s·BA||`` with the norm treated as a constant in backward (paper §4.3);
- PiSSA init (Meng et al., 2024, https://arxiv.org/abs/2404.02948): ``A, B`` from the top-r singular triplets
  of ``W``, which keeps only the residual ``W - s·BA`` in the base layer.

Layers: ``nn.Linear``, transformers' ``Conv1D`` (weight stored ``(in, out)``: ``fan_in_fan_out``),
``nn.Embedding`` (``A (r, vocab)``, ``B (dim, r)``, looked up instead of multiplied) and ``nn.Conv1d/2d/3d``
(PEFT's layout: ``lora_A`` a convolution with the base's kernel, stride, padding and dilation producing ``r``
channels, weight ``(r, in, *k)``; ``lora_B`` a ``1×…×1`` convolution ``r → out`` with the base's ``groups``,
weight ``(out, r/groups, 1, …)``; ``ΔW = s · B A`` has the base kernel's shape ``(out, in, *k)``).

Parameter names equal PEFT's (``lora_A.<adapter>.weight``, ``lora_embedding_A.<adapter>``,
``lora_magnitude_vector.<adapter>.weight``) so saved files are interchangeable.

Dropout semantics: as PEFT, dropout applies to the input of ``A`` only, never to the base path, and each
adapted layer draws its own mask. The mask comes from 16-bit integer draws (``p`` rounded to a multiple of
1/65536). Optionally (`share_dropout_masks`, the training argument of the same name) layers that read the
very same input tensor (q/k/v projections, gate/up projections) share one mask per forward pass: cheaper,
the same distribution per layer, but masks correlated across those layers — a different regulariser.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections.abc import Iterator
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from core import targeting
from core.config import ConfigError, PeftConfig, PeftType, normalise_names
from core.errors import TargetError
from core.methods import _lora_fused, _param_lora, _trainable_tokens
from core import mixed_batch
from core.methods._layer import WrapsBaseLayer
from core.methods.contract import MethodFacts
from core.quantize import is_quantized_layer, refuse_merge

INIT_CHOICES = (True, False, "gaussian", "pissa", "mica")
BIAS_CHOICES = ("none", "all", "lora_only")


# LoRA measured: r=16 on all linear layers, AdamW 2e-3, batch 8 taught SmolLM2-135M-Instruct 40 made-up
# facts in 60 steps (tests/core/test_learning.py).
FACTS = MethodFacts(
    label="LoRA",
    mergeable=True,
    adapter_defaults={"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"},
    training_defaults={"learning_rate": 2e-3},
    low_rank=True,
    combination_types=("linear", "ties", "dare_linear", "dare_ties", "magnitude_prune", "cat", "svd", "ties_svd",
                       "dare_linear_svd", "dare_ties_svd", "magnitude_prune_svd"),
    measured={"facts": 0.95, "style": 1.0, "trainable": 4884480, "seconds": 375},
)


@dataclass
class LoraConfig(PeftConfig):
    """Settings of a LoRA adapter (PEFT's ``LoraConfig`` fields and defaults)."""

    peft_type: ClassVar[PeftType] = PeftType.LORA
    # PEFT features we do not implement, with the value that means "off" (a file using one is refused).
    UNSUPPORTED_DEFAULTS: ClassVar[dict[str, Any]] = {
        "layer_replication": None, "use_qalora": False, "loftq_config": {},
        "eva_config": None, "corda_config": None, "megatron_config": None,
        "alora_invocation_tokens": None, "arrow_config": None,
        "use_bdlora": None, "velora_config": None, "kasa_config": None, "lora_ga_config": None,
        "monteclora_config": None,
        "megatron_core": "megatron.core", "qalora_group_size": 16,
    }

    r: int = field(default=8, metadata={"help": "Rank of the update matrices; more rank, more capacity and parameters."})
    lora_alpha: float = field(default=8, metadata={"help": "Scale numerator: the update is multiplied by alpha / r."})
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
    ensure_weight_tying: bool = field(
        default=False,
        metadata={"help": "On a model whose output head shares the input embedding's weight: keep what the adapter "
                          "trains for them tied too (one modules_to_save copy, one LoRA update)."},
    )
    fan_in_fan_out: bool = field(default=False, metadata={"help": "The layer stores its weight as (in, out), like GPT-2's Conv1D."})
    use_rslora: bool = field(default=False, metadata={"help": "Scale by alpha / sqrt(r) (rank-stabilised LoRA)."})
    use_dora: bool = field(default=False, metadata={"help": "Weight-decomposed LoRA: also learn a per-output magnitude."})
    init_lora_weights: bool | str = field(
        default=True,
        metadata={"help": "True: A random, B zero. 'gaussian': A normal(1/r). 'pissa': from the weight's SVD. 'mica': B from the "
                          "weight's r smallest singular directions and kept frozen, A zero. False: both random."},
    )
    rank_pattern: dict[str, int] = field(default_factory=dict, metadata={"help": "Per-module rank overrides, name/regex -> r."})
    # Parameters, not modules: mixture-of-experts weights (core/methods/_param_lora.py).
    target_parameters: list[str] | None = field(
        default=None,
        metadata={"help": "Parameters to adapt by name or name suffix, e.g. 'experts.gate_up_proj' and "
                          "'experts.down_proj' for the experts of a MoE model (one update per expert)."},
    )
    alpha_pattern: dict[str, float] = field(default_factory=dict, metadata={"help": "Per-module alpha overrides."})
    lora_bias: bool = field(
        default=False,
        metadata={"help": "Give lora_B a trainable bias (out,), scaled like the update; merging adds it to the layer's bias."},
    )
    # A few rows of an embedding trained beside the update (core/methods/_trainable_tokens.py).
    trainable_token_indices: list[int] | dict[str, list[int]] | None = field(
        default=None,
        metadata={"help": "Token ids whose rows of the input embedding train (e.g. newly added tokens), or "
                          "per embedding module: its name mapped to a list of ids."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r < 1:
            raise ConfigError(f"r must be a whole number ≥ 1, got {self.r!r}.")
        if not isinstance(self.lora_alpha, (int, float)) or isinstance(self.lora_alpha, bool):
            raise ConfigError(f"lora_alpha must be a number, got {self.lora_alpha!r}.")
        if not 0.0 <= float(self.lora_dropout) < 1.0:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}.")
        if self.bias not in BIAS_CHOICES:
            raise ConfigError(f"bias must be one of {', '.join(BIAS_CHOICES)}; got {self.bias!r}.")
        init = self.init_lora_weights
        if not (init in INIT_CHOICES or (isinstance(init, str) and re.fullmatch(r"pissa_niter_\d+", init))):
            raise ConfigError(
                f"init_lora_weights {init!r} is not supported; use true, false, 'gaussian', 'pissa', 'pissa_niter_N' or 'mica'."
            )
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
        for name, rank in (self.rank_pattern or {}).items():
            if not isinstance(rank, int) or rank < 1:
                raise ConfigError(f"rank_pattern['{name}'] must be a whole number ≥ 1, got {rank!r}.")
        self.rank_pattern = dict(self.rank_pattern or {})
        self.alpha_pattern = dict(self.alpha_pattern or {})
        _check_lora_bias(self)
        _param_lora.check_config(self)
        self.trainable_token_indices = _trainable_tokens.check_indices(self.trainable_token_indices)


Config = LoraConfig


def _check_lora_bias(config: LoraConfig) -> None:
    """``lora_bias`` as PEFT allows it: a bool, with the plain inits (True / False) and without DoRA."""
    if not isinstance(config.lora_bias, bool):
        raise ConfigError(f"lora_bias must be true or false, got {config.lora_bias!r}.")
    if config.lora_bias and config.init_lora_weights not in (True, False):
        # PEFT's opening words first (code written for PEFT matches them), then ours
        raise ConfigError(f"The argument lora_bias=True is only supported with init_lora_weights true or false, got "
                          f"{config.init_lora_weights!r}.")
    if config.lora_bias and config.use_dora:
        raise ConfigError("The argument lora_bias=True is not supported with DoRA (use_dora); turn one of them off.")


def _add_bias_update(layer: "LoraLayer", name: str, sign: float) -> None:
    """Merge (``sign`` 1) or unmerge (-1) ``lora_bias``: the layer's bias (out,) += sign · s · lora_B's bias."""
    lora_b = getattr(layer.lora_B[name], "bias", None) if name in layer.lora_B else None
    if lora_b is None:
        return
    bias = getattr(layer.base_layer, "bias", None)
    if bias is None:
        raise RuntimeError(
            f"Cannot merge LoRA adapter '{name}': it has lora_bias=True but its {type(layer.base_layer).__name__} "
            f"layer has no bias to add it to. Keep it unmerged."
        )
    with torch.no_grad():
        bias.data.copy_((bias.float() + sign * layer.scaling[name] * lora_b.float()).to(bias.dtype))


CONV_CLASSES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def can_target(module: nn.Module) -> str | None:
    """None if LoRA can adapt ``module``; otherwise why not."""
    if isinstance(module, (nn.Linear, nn.Embedding, *CONV_CLASSES)) or type(module).__name__ == "Conv1D":
        return None
    if isinstance(module, nn.MultiheadAttention):
        if not module._qkv_same_embed_dim:
            return ("LoRA adapts an nn.MultiheadAttention only when query, key and value have the same size (one "
                    "in_proj_weight), as PEFT; this one has separate q/k/v weights.")
        if not isinstance(module.out_proj, nn.Linear) and type(module.out_proj).__name__ != "LoraLayer":
            return "LoRA adapts an nn.MultiheadAttention only when its out_proj is an nn.Linear."
        return None
    return (f"LoRA adapts Linear, Conv1D, Embedding and Conv1d/2d/3d layers, not {type(module).__name__}."
            f"{_param_lora.parameter_hint(module)}")


def _pattern_value(patterns: dict[str, Any], name: str, default: Any) -> Any:
    """PEFT's rank/alpha pattern rule: the first key that matches the end of the module name (as a regex)."""
    for key, value in patterns.items():
        if re.match(rf"(.*\.)?({key})$", name):
            return value
    return default


UPDATE_METRIC = "norm"
"""What the Adaptation tab draws per module for a LoRA run (`update_size`): the size of its update."""


def update_size(module_name: str, weights: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, Any]:
    """How much one adapted module changed, from its saved weights: ``{"norm": ‖ΔW‖_F, "rank": r}``.

    ``weights``: ``lora_A`` (r, in) and ``lora_B`` (out, r) as float tensors (a convolution's ``(r, in, *k)`` and
    ``(out, r, 1, …)``, flattened to those); ``config``: the adapter's
    ``adapter_config.json``. ``ΔW = scaling · B A`` (out, in), ``scaling = alpha / r`` (``/ √r`` with
    rsLoRA), the module's ``rank_pattern`` / ``alpha_pattern`` entries honoured as training applied them."""
    A, B = weights["lora_A"], weights["lora_B"]
    rank = A.shape[0]
    r = _pattern_value(config.get("rank_pattern") or {}, module_name, config.get("r") or rank)
    alpha = _pattern_value(config.get("alpha_pattern") or {}, module_name, config.get("lora_alpha") or r)
    scaling = float(alpha) / (math.sqrt(r) if config.get("use_rslora") else float(r))
    delta = B.flatten(1) @ A.flatten(1)  # (out, in·k…): a convolution's receptive field flattened into columns
    return {"norm": float(torch.linalg.norm(delta) * scaling), "rank": rank}


class DoraMagnitude(nn.Module):
    """DoRA's learned magnitude, one value per output feature: ``weight (out,)``, for a convolution
    ``(1, out, 1, …)`` as PEFT stores it (a module so the key is PEFT's)."""

    def __init__(self, magnitude: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(magnitude)


def bernoulli_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout with the keep test done on 16-bit random integers.

    Same distribution as ``F.dropout`` up to rounding ``p`` to a multiple of 1/65536, but about three times
    as fast on CPU: each 64-bit draw of the generator gives four independent 16-bit lanes (float Bernoulli
    draws spend a whole draw per element), and the backward is a single multiply with the saved mask.
    """
    keep = _lora_fused.keep_mask(x.shape, p, x.device)  # (..., in) uint8 0/1, the same draws as the fused path's
    return (x * keep).mul_(1.0 / (1.0 - p))  # autograd keeps the one-byte mask, not a float copy


class _SharedDropout(threading.local):
    """One dropout mask per input tensor and forward pass, shared by the layers that read that tensor.

    q/k/v (or gate/up) run one after another on the same tensor, so a one-entry cache catches them all.
    The cache holds the input itself, so its identity cannot be reused by another tensor while cached;
    the version counter catches in-place changes.
    """

    def __init__(self) -> None:
        self.enabled = False
        """Off (PEFT's semantics: one mask per layer) unless `share_dropout_masks` turns it on."""
        self.x: torch.Tensor | None = None
        self.key: tuple[int, float] | None = None
        self.value: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor, p: float) -> torch.Tensor:
        if self.x is not x or self.key != (x._version, p):
            self.x, self.key = x, (x._version, p)
            self.value = bernoulli_dropout(x, p)  # (..., in)
        return self.value

    def clear(self) -> None:
        self.x = self.key = self.value = None


_shared_dropout = _SharedDropout()


@contextlib.contextmanager
def share_dropout_masks(enabled: bool = True) -> Iterator[None]:
    """Within: LoRA layers that read the very same input tensor in one forward pass share one dropout mask
    (`_SharedDropout`) instead of drawing one each (the default, as PEFT). The training loop enters it with
    ``TrainingArguments.share_dropout_masks``; the cache is emptied on the way out."""
    previous = _shared_dropout.enabled
    _shared_dropout.enabled = enabled
    try:
        yield
    finally:
        _shared_dropout.enabled = previous
        _shared_dropout.clear()


class LoraLayer(WrapsBaseLayer):
    """Wraps one Linear / Conv1D / Embedding / Conv1d-3d layer and holds any number of named LoRA adapters for it."""

    def __init__(self, base_layer: nn.Module) -> None:
        super().__init__()
        reason = can_target(base_layer)
        if reason:
            raise TypeError(reason)
        self.base_layer = base_layer
        if isinstance(base_layer, nn.Embedding):
            self.kind = "embedding"
            self.in_features, self.out_features = base_layer.num_embeddings, base_layer.embedding_dim
        elif isinstance(base_layer, nn.MultiheadAttention):
            # PEFT's layout: A (r, E) and B (3E, r) update in_proj_weight (3E, E) (q, k, v stacked); out_proj
            # becomes a LoRA Linear of its own inside (``….base_layer.out_proj.lora_A``), given the same adapters
            self.kind = "mha"
            self.in_features, self.out_features = base_layer.embed_dim, 3 * base_layer.embed_dim
        elif isinstance(base_layer, nn.Linear):
            self.kind = "linear"
            self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        elif isinstance(base_layer, CONV_CLASSES):  # weight (out, in/groups, *k)
            self.kind = "conv"
            self.in_features, self.out_features = base_layer.in_channels, base_layer.out_channels
        else:  # transformers Conv1D: weight (in, out), y = x @ W + b
            self.kind = "conv1d"
            self.in_features, self.out_features = base_layer.weight.shape
        self.lora_A = nn.ModuleDict()
        self.lora_B = nn.ModuleDict()
        self.lora_embedding_A = nn.ParameterDict()
        self.lora_embedding_B = nn.ParameterDict()
        self.lora_magnitude_vector = nn.ModuleDict()
        self.r: dict[str, int] = {}
        self.lora_alpha: dict[str, float] = {}
        self.scaling: dict[str, float] = {}
        self.dropout_p: dict[str, float] = {}
        self.pissa: dict[str, bool] = {}  # adapters whose init moved part of the base weight into A, B
        self.frozen_B: set[str] = set()  # MiCA adapters: B is fixed at init and never trains, only A does
        self.active_adapters: list[str] = []
        self.merged_adapters: list[str] = []
        self.disabled = False
        self._merged_norms: dict[str, torch.Tensor] = {}  # DoRA: ||W + sBA|| at merge time, to unmerge exactly

    # ---- adapters ---------------------------------------------------------------------------------

    def add_adapter(self, name: str, config: LoraConfig, module_name: str, *, initialise: bool = True,
                    tied_to: "LoraLayer | None" = None) -> None:
        """Create adapter ``name`` with this module's rank/alpha; ``initialise=False`` skips init (weights follow)."""
        r = _pattern_value(config.rank_pattern, module_name, config.r)
        alpha = _pattern_value(config.alpha_pattern, module_name, config.lora_alpha)
        self.r[name] = r
        self.lora_alpha[name] = alpha
        self.scaling[name] = alpha / math.sqrt(r) if config.use_rslora else alpha / r
        self.dropout_p[name] = float(config.lora_dropout)
        weight = self.base_weight
        if is_quantized_layer(self.base_layer) and (config.use_dora or str(config.init_lora_weights).startswith("pissa")):
            what = "DoRA" if config.use_dora else "PiSSA init"
            raise ConfigError(
                f"{module_name}: {what} needs the base weight in float, and this layer is quantized "
                f"({type(self.base_layer).__name__}). Load the base in float32, bfloat16 or float16, or use plain LoRA."
            )
        # Adapter weights stay fp32 on a half-precision base (PEFT's autocast_adapter_dtype default): small updates
        # to B survive, and files match PEFT's. The forward casts the input to this dtype and the result back.
        half = weight.dtype in (torch.float16, torch.bfloat16) or not weight.is_floating_point()
        factory = {"device": weight.device, "dtype": torch.float32 if half else weight.dtype}
        if self.kind == "mha" and (config.use_dora or config.lora_bias or config.init_lora_weights not in (True, False, "gaussian")):
            raise ConfigError(f"{module_name}: on an nn.MultiheadAttention LoRA supports neither DoRA, lora_bias nor "
                              f"init_lora_weights={config.init_lora_weights!r} (as PEFT); use plain LoRA there.")
        if config.lora_bias and self.kind == "embedding":
            raise ConfigError(f"{module_name}: lora_bias=True is not supported for Embedding layers (as in PEFT); do not "
                              f"target it, or set lora_bias=False.")
        if config.lora_bias and getattr(self.base_layer, "bias", None) is None:
            warnings.warn(f"{module_name}: lora_bias=True on a {type(self.base_layer).__name__} without a bias: the "
                          f"adapter cannot be merged into it.", stacklevel=3)
        if self.kind == "embedding":
            # A (r, vocab) is looked up like an embedding table; B (dim, r) projects up.
            self.lora_embedding_A[name] = nn.Parameter(torch.zeros(r, self.in_features, **factory))
            self.lora_embedding_B[name] = nn.Parameter(torch.zeros(self.out_features, r, **factory))
        elif self.kind == "conv":
            self._add_conv(name, r, config, module_name, factory)
        else:
            self.lora_A[name] = nn.Linear(self.in_features, r, bias=False, **factory)
            self.lora_B[name] = nn.Linear(r, self.out_features, bias=config.lora_bias, **factory)  # lora_bias: (out,)
        if tied_to is not None:
            # ensure_weight_tying, as PEFT: this module's weight is the input embedding's (tied), so its update is the
            # embedding's too. A linear head (V, D) uses the embedding's matrices transposed -- lora_A (r, D) is the
            # embedding's lora_embedding_B (D, r)ᵀ and lora_B (V, r) its lora_embedding_A (r, V)ᵀ, as Parameters on
            # the same storage; another embedding shares them as they are. Nothing of its own to initialise.
            emb_A, emb_B = tied_to.lora_embedding_A[name], tied_to.lora_embedding_B[name]
            if self.kind == "embedding":
                self.lora_embedding_A[name], self.lora_embedding_B[name] = emb_A, emb_B
            elif self.kind == "linear" and self.r[name] == tied_to.r[name]:
                self.lora_A[name].weight = nn.Parameter(emb_B.t())
                self.lora_B[name].weight = nn.Parameter(emb_A.t())
            else:
                raise ConfigError(f"{module_name}: ensure_weight_tying ties a Linear or Embedding with the input embedding's "
                                  f"adapter of the same rank, not a {type(self.base_layer).__name__} of rank {self.r[name]}.")
            initialise = False
        init = config.init_lora_weights
        # Loading a PiSSA adapter (initialise=False) still runs its init: it was trained on the residual W - s·B0A0
        # and only A, B are saved, so the residual is rebuilt from the original weight as PEFT does on load.
        self.pissa[name] = isinstance(init, str) and init.startswith("pissa")
        if init == "mica":
            if self.kind == "conv":
                raise ConfigError(f"{module_name}: MiCA init needs a Linear, Conv1D or Embedding layer, not a {type(self.base_layer).__name__}.")
            # B is part of the file (PEFT saves it), so a loaded MiCA adapter only needs B frozen again
            self.frozen_B.add(name)
        if initialise or self.pissa[name]:
            self._initialise(name, init, module_name)
        if config.use_dora:
            norm = self._weight_norm(name).detach()  # (out,)
            # PEFT keeps a convolution's magnitude as (1, out, 1, …) (the weight's per-channel norm, transposed)
            self.lora_magnitude_vector[name] = DoraMagnitude(norm.view(1, -1, *self._kernel_ones()) if self.kind == "conv" else norm)
        if name not in self.active_adapters and not self.active_adapters:
            self.active_adapters = [name]
        if self.kind == "mha":  # out_proj gets the same adapter (PEFT: LoRA on both, no way to pick one)
            out_proj = self.base_layer.out_proj
            if not isinstance(out_proj, LoraLayer):
                out_proj = self.base_layer.out_proj = LoraLayer(out_proj)
            out_proj.add_adapter(name, config, module_name, initialise=initialise)

    @property
    def base_weight(self) -> torch.Tensor:
        """The weight the update adds to: the base layer's ``weight``, an nn.MultiheadAttention's ``in_proj_weight``."""
        return self.base_layer.in_proj_weight if self.kind == "mha" else self.base_layer.weight

    def _kernel_ones(self) -> tuple[int, ...]:
        """``(1,) * spatial dims`` of a convolution: 1 for Conv1d, 2 for Conv2d, 3 for Conv3d; () otherwise."""
        return (1,) * (self.base_weight.dim() - 2) if self.kind == "conv" else ()

    def _add_conv(self, name: str, r: int, config: LoraConfig, module_name: str, factory: dict[str, Any]) -> None:
        """PEFT's convolution layout: ``A`` sees the base's receptive field, ``B`` mixes the r channels 1×…×1."""
        base = self.base_layer
        groups = base.groups
        if r % groups:
            raise ConfigError(
                f"{module_name}: a {type(base).__name__} with groups={groups} needs a rank divisible by {groups} "
                f"(lora_B is grouped like the layer), got r={r}. Choose such a rank or do not target this layer."
            )
        conv = type(base) if type(base) in CONV_CLASSES else CONV_CLASSES[base.weight.dim() - 3]
        # A: (r, in, *k), the base's kernel, stride, padding, dilation and padding mode, so that its output has the
        # base output's spatial size and B·A merges into the base kernel exactly. (PEFT leaves dilation and padding
        # mode at their defaults, which breaks dilated layers; with the defaults both agree.)
        self.lora_A[name] = conv(self.in_features, r, base.kernel_size, base.stride, base.padding, base.dilation,
                                 bias=False, padding_mode=base.padding_mode, **factory)
        # B: (out, r/groups, 1, …), grouped like the base so each group's outputs read their share of the r channels
        ones = self._kernel_ones()
        self.lora_B[name] = conv(r, self.out_features, ones, ones, groups=groups, bias=config.lora_bias, **factory)

    def _initialise(self, name: str, init: bool | str, module_name: str) -> None:
        with torch.no_grad():
            if self.kind == "embedding":
                if init is False:  # both random, as PEFT
                    nn.init.normal_(self.lora_embedding_A[name])
                    nn.init.normal_(self.lora_embedding_B[name])
                elif init in (True, "gaussian"):
                    # A zero, B like nn.Embedding's own init: the update starts at exactly zero
                    nn.init.zeros_(self.lora_embedding_A[name])
                    nn.init.normal_(self.lora_embedding_B[name])
                elif init == "mica":
                    # the lookup's projection is W^T (dim, vocab): B (dim, r) from its smallest directions
                    self._mica_init(name, self.base_weight.detach().float().T, self.lora_embedding_A[name], self.lora_embedding_B[name], module_name)
                else:
                    raise ConfigError(f"{module_name}: PiSSA init needs a Linear or Conv1D layer, not an embedding.")
                return
            if self.kind == "conv" and isinstance(init, str) and init.startswith("pissa"):
                raise ConfigError(f"{module_name}: PiSSA init needs a Linear or Conv1D layer, not a {type(self.base_layer).__name__}.")
            A, B = self.lora_A[name].weight, self.lora_B[name].weight
            if init is False:
                return  # nn.Linear's default init for both: the adapter changes the output from the start
            if init is True:
                nn.init.kaiming_uniform_(A, a=math.sqrt(5))
                nn.init.zeros_(B)
                if self.lora_B[name].bias is not None:  # lora_bias: zero too, so the update starts at exactly zero
                    nn.init.zeros_(self.lora_B[name].bias)
            elif init == "gaussian":
                nn.init.normal_(A, std=1 / self.r[name])
                nn.init.zeros_(B)
            elif init == "mica":
                self._mica_init(name, self._oriented(self.base_weight.detach().float()), A, B, module_name)
            else:
                self._pissa_init(name, init)

    def _mica_init(self, name: str, weight: torch.Tensor, A: torch.Tensor, B: torch.Tensor, module_name: str) -> None:
        """MiCA (minor component adaptation): ``B`` (out, r) = the left singular vectors of ``weight`` (out, in) with
        the r smallest singular values, ``A`` (r, in) = 0 — the update starts at zero, the base is not touched, and
        only A trains (``frozen_B``)."""
        r = self.r[name]
        if r > min(weight.shape):
            raise ConfigError(f"{module_name}: MiCA init needs r ≤ min(in, out) = {min(weight.shape)} for this layer "
                              f"(weight {tuple(weight.shape)}), got r={r}. Choose a smaller r or another init.")
        U = torch.linalg.svd(weight, full_matrices=False)[0]  # (out, k), singular values descending
        B.copy_(U[:, -r:].to(B.dtype))
        A.zero_()

    def _pissa_init(self, name: str, init: str) -> None:
        """A, B from the top-r singular triplets of W; the base keeps W - s·BA so the output is unchanged."""
        base = self.base_weight
        weight = self._oriented(base.detach().float())  # (out, in)
        r, s = self.r[name], self.scaling[name]
        if init == "pissa":
            U, S, Vh = torch.linalg.svd(weight, full_matrices=False)
            U, S, Vh = U[:, :r], S[:r], Vh[:r]
        else:
            U, S, V = torch.svd_lowrank(weight, q=r, niter=int(init.rsplit("_", 1)[1]))
            Vh = V.T
        S = S / s
        A = torch.diag(S.sqrt()) @ Vh  # (r, in)
        B = U @ torch.diag(S.sqrt())  # (out, r)
        self.lora_A[name].weight.data = A.to(self.lora_A[name].weight.dtype)
        self.lora_B[name].weight.data = B.to(self.lora_B[name].weight.dtype)
        base.data = self._oriented(weight - s * (B @ A)).to(base.dtype)

    def undo_init(self, name: str) -> None:
        """Give the base weight back what a PiSSA init moved into ``A, B`` (for a load that failed before
        overwriting them): ``W = (W - s·B0A0) + s·B0A0``, up to float rounding. No-op for other inits."""
        if self.pissa.get(name) and name not in self.merged_adapters:
            with torch.no_grad():
                base = self.base_weight
                base.data = (base.float() + self.delta_weight(name).float()).to(base.dtype)

    def delete_adapter(self, name: str) -> None:
        """Remove adapter ``name`` (unmerging it first if merged)."""
        if name in self.merged_adapters:
            self.unmerge()
        for container in (self.lora_A, self.lora_B, self.lora_embedding_A, self.lora_embedding_B, self.lora_magnitude_vector):
            if name in container:
                del container[name]
        for table in (self.r, self.lora_alpha, self.scaling, self.dropout_p, self.pissa):
            table.pop(name, None)
        self.frozen_B.discard(name)
        self.active_adapters = [a for a in self.active_adapters if a != name]

    def adapter_names(self) -> list[str]:
        """Names of the adapters this layer holds."""
        return list(self.r)

    def set_adapter(self, names: str | list[str], trainable: bool = True) -> None:
        """Make ``names`` the active adapters; only they train (if ``trainable``)."""
        names = [names] if isinstance(names, str) else names  # PEFT's layers take one name too
        self.active_adapters = [n for n in names if n in self.r]
        for name in self.r:
            for p in self._params(name):
                p.requires_grad_(trainable and name in self.active_adapters)
        self.refreeze()

    def refreeze(self) -> None:
        """Keep what an init fixed frozen (MiCA's B), whatever turned the adapter's gradients on."""
        for name in self.frozen_B:
            for container in (self.lora_B, self.lora_embedding_B):
                if name in container:
                    container[name].requires_grad_(False)

    def _params(self, name: str) -> list[nn.Parameter]:
        params: list[nn.Parameter] = []
        for container in (self.lora_A, self.lora_B, self.lora_magnitude_vector):
            if name in container:
                params.extend(container[name].parameters())
        for container in (self.lora_embedding_A, self.lora_embedding_B):
            if name in container:
                params.append(container[name])
        return params

    # ---- state in PEFT's file layout --------------------------------------------------------------

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        """This layer's tensors of adapter ``name``, keyed as in PEFT's files (adapter name removed)."""
        out: dict[str, torch.Tensor] = {}
        if name in self.lora_A:
            out["lora_A.weight"] = self.lora_A[name].weight
            out["lora_B.weight"] = self.lora_B[name].weight
            if self.lora_B[name].bias is not None:  # lora_bias (out,)
                out["lora_B.bias"] = self.lora_B[name].bias
        if name in self.lora_embedding_A:
            out["lora_embedding_A"] = self.lora_embedding_A[name]
            out["lora_embedding_B"] = self.lora_embedding_B[name]
        if name in self.lora_magnitude_vector:
            out["lora_magnitude_vector"] = self.lora_magnitude_vector[name].weight
        return out

    # ---- the math ---------------------------------------------------------------------------------

    def _oriented(self, w: torch.Tensor) -> torch.Tensor:
        """A weight in (out, in) orientation, whichever way the base layer stores it (Conv1D: (in, out); an
        embedding (vocab, dim) is read as (dim, vocab): its outputs are the dim features)."""
        return w.T if self.kind in ("conv1d", "embedding") else w

    def delta_weight(self, name: str) -> torch.Tensor:
        """``s · B A`` in the base weight's own layout and dtype, computed in fp32 (exact enough to merge)."""
        if self.kind == "embedding":
            A, B = self.lora_embedding_A[name].float(), self.lora_embedding_B[name].float()
            delta = (B @ A).T * self.scaling[name]  # (vocab, dim)
        elif self.kind == "conv":
            delta = self._conv_delta(name) * self.scaling[name]
        else:
            A, B = self.lora_A[name].weight.float(), self.lora_B[name].weight.float()
            delta = self._oriented(B @ A) * self.scaling[name]
        return delta.to(self.base_weight.dtype)

    def _conv_delta(self, name: str, grouped_ok: bool = False) -> torch.Tensor:
        """``B A`` of a convolution adapter as a kernel (out, in, *k), fp32, unscaled: B (out, r, 1, …) is a
        1×…×1 mix of A's r output channels, so ``ΔW[o] = Σ_j B[o, j] A[j]``.

        Grouped layers (B (out, r/g, 1, …)) have no such kernel: the update reads every input channel, the base
        kernel only its group's, so merging is refused. DoRA's norm (``grouped_ok``) still needs a stand-in of the
        weight's shape: PEFT's, B seen as (out·r/g / r, r) times A as (r, in·k…), reshaped to (out, in/g, *k), so
        that a grouped DoRA file gives the same outputs in both engines."""
        if self.base_layer.groups > 1 and not grouped_ok:
            raise NotImplementedError(
                f"A LoRA adapter on a {type(self.base_layer).__name__} with groups={self.base_layer.groups} cannot be "
                f"merged: its update reads all input channels, the grouped kernel only its group's. Keep it unmerged."
            )
        A, B = self.lora_A[name].weight.float(), self.lora_B[name].weight.float()
        r = A.shape[0]
        return (B.reshape(-1, r) @ A.reshape(r, -1)).view(self.base_weight.shape)  # (out, r) @ (r, in·k…)

    def _channels(self, v: torch.Tensor) -> torch.Tensor:
        """A per-output vector (out,) shaped to broadcast over the weight: (out, 1) or (out, 1, *k ones)."""
        return v.view(-1, 1, *self._kernel_ones())

    def _magnitude(self, name: str) -> torch.Tensor:
        """DoRA's magnitude as (out,) whatever its stored shape."""
        return self.lora_magnitude_vector[name].weight.flatten()

    def _weight_norm(self, name: str) -> torch.Tensor:
        """DoRA's ``||W + s·BA||`` per output row (a convolution: per output channel over in·k…), (out,), fp32."""
        if self.kind == "conv":
            W = self.base_weight.float() + self._conv_delta(name, grouped_ok=True) * self.scaling[name]
            return torch.linalg.norm(W.flatten(1), dim=1)
        W = self._oriented(self.base_weight.float())
        if self.kind == "embedding":  # (dim, r) @ (r, vocab): the norm runs over the vocabulary, one per feature
            delta = self.lora_embedding_B[name].float() @ self.lora_embedding_A[name].float() * self.scaling[name]
        else:
            delta = self.lora_B[name].weight.float() @ self.lora_A[name].weight.float() * self.scaling[name]
        return torch.linalg.norm(W + delta, dim=1)

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        mixed = mixed_batch.current()
        if mixed is not None and not self.disabled:
            return self._mixed_forward(x, mixed, args, kwargs)
        # Training a plain adapter on a frozen Linear: one autograd node that keeps less (core/methods/_lora_fused.py)
        fused = _lora_fused.try_forward(self, x, args, kwargs, _shared_dropout.enabled)
        if fused is not None:
            return fused
        if self.disabled:
            if self.merged_adapters:
                self.unmerge()
            return self.base_layer(x, *args, **kwargs)
        if self.kind == "mha":
            return self._mha_forward(x, *args, **kwargs)
        result = self.base_layer(x, *args, **kwargs)
        return self._add_updates(x, result, [n for n in self.active_adapters if n not in self.merged_adapters])

    def _mixed_forward(self, x: torch.Tensor, adapter_names: list[str], args: tuple, kwargs: dict) -> torch.Tensor:
        """A mixed batch (core/mixed_batch.py): the base output for all rows, then each adapter's update added to the
        rows (first dimension of ``x``) that name it, whether that adapter is active or not."""
        if self.kind == "mha":
            raise TypeError("lora.MultiheadAttention does not support mixed adapter batches. (Its update is added to "
                            "the attention weights, which all samples of a batch share.)")
        result = self.base_layer(x, *args, **kwargs)
        for name, rows in mixed_batch.groups(adapter_names, len(x), x.device).items():
            if name not in self.r:  # "__base__", or an adapter that does not adapt this layer
                continue
            part = self._add_updates(x[rows], result[rows], [name])
            result = result.index_copy(0, rows, part.to(result.dtype))
        return result

    def _add_updates(self, x: torch.Tensor, result: torch.Tensor, names: list[str]) -> torch.Tensor:
        """``result`` (the base output for ``x``) plus the updates of adapters ``names``."""
        for name in names:
            if self.kind == "embedding":
                A, B = self.lora_embedding_A[name], self.lora_embedding_B[name]
                base = self.base_layer
                # (..., r): row lookups of A^T, with the base embedding's lookup options
                hidden = F.embedding(x, A.T, base.padding_idx, base.max_norm, base.norm_type, base.scale_grad_by_freq, base.sparse)
                update = (hidden @ B.T) * self.scaling[name]  # (..., dim)
                if name in self.lora_magnitude_vector:
                    # DoRA on a lookup: m/‖W'‖ per feature (dim,), norm detached (§4.3), scales what the rows
                    # give so far (the base lookup and earlier adapters, as PEFT) plus this update
                    scale = (self._magnitude(name) / self._weight_norm(name).detach()).to(result.dtype)
                    result = scale * result + (scale * update).to(result.dtype)
                else:
                    result = result + update.to(result.dtype)
                continue
            A = self.lora_A[name].weight  # (r, in)
            x_in = x.to(A.dtype)
            p = self.dropout_p[name]
            if self.training and p > 0:
                x_in = _shared_dropout(x_in, p) if _shared_dropout.enabled else bernoulli_dropout(x_in, p)  # (..., in)
            if name in self.lora_magnitude_vector:
                result = result + self._dora_extra(name, x_in, result, dropped=self.training and p > 0).to(result.dtype)
            elif self.kind == "conv":
                # (N, out, *spatial) += s · B(A(x)): A convolves in -> r channels, B mixes r -> out at each position
                update = self.lora_B[name](self.lora_A[name](x_in))
                result = torch.add(result, update.to(result.dtype), alpha=self.scaling[name])
            else:
                # (..., out) += s · B A x: plain F.linear on the weights (no module-call overhead, 2 per layer),
                # and alpha folds the scale into the add
                update = F.linear(F.linear(x_in, A), self.lora_B[name].weight, self.lora_B[name].bias)  # (..., r) -> (..., out)
                result = torch.add(result, update.to(result.dtype), alpha=self.scaling[name])
        return result

    def _mha_forward(self, query: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """nn.MultiheadAttention reads ``in_proj_weight`` and ``out_proj.weight`` directly (no sub-module call), so
        the unmerged updates are added to those two weights for this call only: ``W + s·B A`` is put in front of
        the registered parameter (the instance ``__dict__``, which attribute lookup reads first, also where FSDP
        keeps its unsharded views) and taken away afterwards. Gradients reach A and B; the stored weights are
        untouched. LoRA dropout does not apply here, as in PEFT."""
        base = self.base_layer
        out_proj = base.out_proj
        updated: list[tuple[nn.Module, str, torch.Tensor]] = []
        names = [n for n in self.active_adapters if n not in self.merged_adapters and n in self.r]
        if names:
            W = base.in_proj_weight  # (3E, E)
            delta = sum(self.scaling[n] * (self.lora_B[n].weight @ self.lora_A[n].weight) for n in names)  # (3E, E)
            updated.append((base, "in_proj_weight", W + delta.to(W.dtype)))
        if isinstance(out_proj, LoraLayer) and not out_proj.disabled:
            out_names = [n for n in out_proj.active_adapters if n not in out_proj.merged_adapters and n in out_proj.r]
            if out_names:
                Wo = out_proj.base_layer.weight  # (E, E)
                delta = sum(out_proj.scaling[n] * (out_proj.lora_B[n].weight @ out_proj.lora_A[n].weight) for n in out_names)
                updated.append((out_proj.base_layer, "weight", Wo + delta.to(Wo.dtype)))
        missing = object()
        saved = []
        try:
            for module, name, value in updated:
                saved.append((module, name, module.__dict__.get(name, missing)))
                module.__dict__[name] = value
            return base(query, *args, **kwargs)
        finally:
            for module, name, previous in reversed(saved):
                if previous is missing:
                    del module.__dict__[name]
                else:
                    module.__dict__[name] = previous

    def _restore_weights(self) -> None:
        """PEFT's MultiheadAttention LoRA swaps merged weights in and out of the layer and re-registers them here;
        ours never replaces the registered parameters (``_mha_forward``), so there is nothing to restore. Kept so
        that code written for PEFT can call it."""

    def _dora_extra(self, name: str, x: torch.Tensor, result: torch.Tensor, dropped: bool) -> torch.Tensor:
        """What DoRA adds to the base output: ``(m/‖W'‖ − 1)·Wx + (m/‖W'‖)·s·BAx`` (norm detached, §4.3)."""
        scale = (self._magnitude(name) / self._weight_norm(name).detach()).to(x.dtype)  # (out,)
        lora = self.lora_B[name](self.lora_A[name](x))
        bias = getattr(self.base_layer, "bias", None)
        if self.kind == "conv":
            # the output's channel axis is 1 (N, out, *spatial), or 0 unbatched: (out,) -> (out, 1, …) broadcasts on both
            scale = scale.view(-1, *self._kernel_ones())
            bias = bias.view(-1, *self._kernel_ones()) if bias is not None else None
        if dropped and self.kind == "conv":  # the base output was computed on the un-dropped input: redo W x
            base_out = self.base_layer._conv_forward(x, self.base_weight.to(x.dtype), None)
        elif dropped:
            base_out = F.linear(x, self._oriented(self.base_weight).to(x.dtype))
        else:
            base_out = result - bias if bias is not None else result
        return (scale - 1) * base_out + scale * lora * self.scaling[name]

    # ---- merging ----------------------------------------------------------------------------------

    def merge(self, names: list[str] | None = None, safe_merge: bool = False) -> None:
        """Add the adapters' updates into the base weight (``names`` default: the active ones)."""
        if is_quantized_layer(self.base_layer):
            refuse_merge("a LoRA adapter")
        weight = self.base_weight
        for name in names if names is not None else self.active_adapters:
            if name in self.merged_adapters or name not in self.r:
                continue
            with torch.no_grad():
                if name in self.lora_magnitude_vector:
                    norm = self._weight_norm(name)  # (out,)
                    scale = self._channels(self._magnitude(name).float() / norm)  # (out, 1, …)
                    W = self._oriented(weight.float()) + self._oriented(self.delta_weight(name).float())
                    new = self._oriented(W * scale)
                    self._merged_norms[name] = norm
                else:
                    new = weight.float() + self.delta_weight(name).float()
                lora_b = self.lora_B[name].bias if name in self.lora_B else None
                if safe_merge and not (torch.isfinite(new).all() and (lora_b is None or torch.isfinite(lora_b).all())):
                    # PEFT's sentence first (code written for PEFT matches it), then ours
                    raise ValueError(f"NaNs detected in the merged weights. The adapter {name} seems to be broken: merging "
                                     f"it would put NaN/inf into the weights or bias; nothing was merged.")
                _add_bias_update(self, name, 1.0)
                weight.data.copy_(new.to(weight.dtype))
            self.merged_adapters.append(name)

    def unmerge(self) -> None:
        """Subtract merged updates again, newest first."""
        weight = self.base_weight
        while self.merged_adapters:
            name = self.merged_adapters.pop()
            with torch.no_grad():
                if name in self.lora_magnitude_vector:
                    scale = self._channels(self._magnitude(name).float() / self._merged_norms.pop(name))  # (out, 1, …)
                    W = self._oriented(weight.float()) / scale - self._oriented(self.delta_weight(name).float())
                    weight.data.copy_(self._oriented(W).to(weight.dtype))
                else:
                    weight.data.copy_((weight.float() - self.delta_weight(name).float()).to(weight.dtype))
                    _add_bias_update(self, name, -1.0)

    def unwrap(self, merge: bool, names: list[str] | None = None) -> nn.Module:
        """The base layer to put back into the model: with the updates merged in, or restored to the original."""
        if merge:
            self.merge(names)
        else:
            self.unmerge()
        return self.base_layer

    def extra_repr(self) -> str:
        return f"kind={self.kind}, adapters={self.adapter_names()}"


def inject(model: nn.Module, config: LoraConfig, adapter_name: str, *, initialise: bool = True) -> list[str]:
    """Wrap every module ``config`` selects in a :class:`LoraLayer` and add adapter ``adapter_name`` to it.

    Resolves the config's targets in place (defaults and ``all-linear`` become the list of names, as PEFT
    writes them). Returns the adapted module names.
    """
    # only parameters (PEFT's convention): target_modules [] or "", or None on a model without default targets
    # (None on an architecture that has them still means those modules, as in PEFT)
    parameters_only = bool(config.target_parameters) and config.target_modules in ([], "")
    if config.target_parameters and config.target_modules is None:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        parameters_only = model_type not in targeting.LORA_DEFAULT_TARGETS
    if parameters_only:
        selection = targeting.TargetSelection(target_modules=config.target_modules)
    else:
        selection = targeting.select(model, config, can_target, "LoRA", targeting.LORA_DEFAULT_TARGETS)
    config.target_modules = selection.target_modules
    # ensure_weight_tying with tied modules among the targets (PeftModel._weight_tying): they follow the input
    # embedding's adapter, so they are added after every other target, tied to it
    tied = [p for p in (getattr(config, "target_modules_to_tie", None) or [])]
    selection.selected = [n for n in selection.selected if n not in tied]
    for module_name in selection.selected + tied:
        module = model.get_submodule(module_name)
        if not isinstance(module, LoraLayer):
            base = module
            is_conv1d = type(base).__name__ == "Conv1D"
            if is_conv1d != bool(config.fan_in_fan_out) and not isinstance(base, (nn.Embedding, *CONV_CLASSES)):
                # The layer's own class decides the orientation; record it in the config as PEFT does.
                warnings.warn(f"{module_name} is a {type(base).__name__}: setting fan_in_fan_out={is_conv1d}.", stacklevel=2)
                config.fan_in_fan_out = is_conv1d
            module = LoraLayer(base)
            parent_name, _, child = module_name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, module)
        # get_peft_model twice on one model with the same adapter name: PEFT re-initialises the adapter
        # (get_peft_model warns about it); so do we
        if adapter_name in module.r:
            module.delete_adapter(adapter_name)
        source = model.get_input_embeddings() if module_name in tied else None
        module.add_adapter(adapter_name, config, module_name, initialise=initialise, tied_to=source)
    # A rank_pattern / alpha_pattern key that matches no adapted module is a typo PEFT warns about (same rule as
    # _pattern_value: a regex matching the end of the module name)
    for attr in ("rank_pattern", "alpha_pattern"):
        patterns = getattr(config, attr) or {}
        every = selection.selected + tied
        unmatched = sorted(k for k in patterns if not any(re.match(rf"(.*\.)?({k})$", n) for n in every))
        if unmatched:
            adapted = ", ".join(every[:4]) + (", …" if len(every) > 4 else "")
            warnings.warn(f"{attr}: the adapted modules are {adapted or 'none'}. The following {attr} keys did not "
                          f"match any targeted module and were ignored: {unmatched}", RuntimeWarning, stacklevel=4)
    selected = list(selection.selected) + tied
    if config.target_parameters:  # after the modules, as PEFT: a parameter of a module just wrapped is refused
        try:
            selected += _param_lora.inject(model, config, adapter_name, initialise=initialise)
        except TargetError as exc:
            if not parameters_only or "matches no parameter" not in str(exc):
                raise
            # PEFT's sentence first (code written for PEFT matches it), then which entry matched nothing
            raise TargetError(f"No `target_modules` passed but also no `target_parameters` found. Please check the "
                              f"values for these arguments. ({exc})") from None
    _trainable_tokens.inject(model, config, adapter_name)  # last, as PEFT: an embedding that is a LoRA target is refused
    return selected


LAYER_CLASS = LoraLayer
