"""Prefix tuning (Li & Liang, 2021, "Prefix-Tuning: Optimizing Continuous Prompts for Generation",
https://arxiv.org/abs/2101.00190).

Every attention layer ``l`` gets ``n`` learned key and value vectors in front of the real ones, as if ``n``
tokens had been processed before the input: a pre-filled KV cache. Real tokens attend to the prefix; the
prefix attends to nothing. The model is frozen.

The encoder produces all prefixes at once, ``T (n, 2·L·D)`` with ``D`` the K/V width of one layer
(``kv_heads · head_dim``: for grouped-query attention smaller than the hidden size, as PEFT's rewrite of
``token_dim``). ``T`` is read as ``(n, 2L, H_kv, hd)`` -> per layer ``K_l, V_l (B, H_kv, n, hd)`` (rows ``2l``
and ``2l+1``), PEFT's layout, and handed to the model inside a transformers ``DynamicCache`` through the
``cache=`` argument. The attention mask gets ``n`` ones in front (Bloom builds its ALiBi positions from it,
so the prefix sits at positions ``0..n-1``); given ``position_ids`` are shifted by ``n`` (as PEFT).

- no projection: ``T`` is a learned table ``embedding.weight (n, 2LD)``;
- ``prefix_projection``: ``T = Linear(h, 2LD)(tanh(Linear(D, h)(E)))`` with ``E (n, D)`` (trains more stably).

Files: PEFT's ``prompt_embeddings (n, 2LD)`` is ``T`` itself; for the projection we add the MLP's weights
under ``prompt_encoder_state.*`` so training can continue (PEFT ignores those keys; see ``_prompt``).
Gradient checkpointing is refused (it re-runs layers without the prefix cache), as in PEFT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from core.config import ConfigError, PeftType
from core.methods import _prompt
from core.methods.contract import MethodFacts

INIT_CHOICES = (None, "zero")


# Measured (docs/method-defaults.md, sweep_defaults.py --plain --task style, SmolLM2-135M-Instruct, 60 steps,
# 2026-12-07): random prefixes (PEFT's default) start far from the base (step-1 loss 8.38 against 4.55) and
# followed the reply template 0.975 but answered right 0.025; all-zero prefixes (step-1 loss 4.93): 0.975 and 0.45.
FACTS = MethodFacts.prompt_learning(
    label="Prefix tuning",
    learning_rate=1e-2,
    adapter_defaults={"init_weights": "zero"},
    no_targets="Prefix tuning learns key/value prefixes for every attention layer; it adapts no module.",
    measured={"facts": 0.0, "style": 0.975, "trainable": 230400, "seconds": 391},
)


@dataclass
class PrefixTuningConfig(_prompt.VirtualTokenConfig):
    """Settings of a prefix-tuning adapter (PEFT's ``PrefixTuningConfig`` fields and defaults)."""

    peft_type: ClassVar[PeftType] = PeftType.PREFIX_TUNING

    encoder_hidden_size: int | None = field(
        default=None, metadata={"help": "Hidden width h of the projection MLP; empty means token_dim."}
    )
    prefix_projection: bool = field(
        default=False, metadata={"help": "Produce the prefixes with a two-layer MLP (more parameters, steadier training)."}
    )
    init_weights: str | None = field(
        default=None, metadata={"help": "None: random prefixes. 'zero': all-zero prefixes (or a zero last MLP layer)."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        h = self.encoder_hidden_size
        if h is not None and (isinstance(h, bool) or not isinstance(h, int) or h < 1):
            raise ConfigError(f"encoder_hidden_size must be a whole number ≥ 1, got {h!r}.")
        if self.init_weights not in INIT_CHOICES:
            raise ConfigError(f"init_weights must be empty or 'zero'; got {self.init_weights!r}.")


Config = PrefixTuningConfig


def can_target(module: nn.Module) -> str | None:
    """Prefix tuning adapts no single module: it adds keys and values to every attention layer."""
    return "Prefix tuning adds learned keys and values to every attention layer; it does not adapt individual modules."


class PrefixEncoder(nn.Module):
    """Produces ``T (n, 2·L·D)``: PEFT's module and parameter names (``embedding``, ``transform``)."""

    def __init__(self, config: PrefixTuningConfig, **factory: Any) -> None:
        super().__init__()
        n, D, L = config.num_virtual_tokens, config.token_dim, config.num_layers
        self.reparameterised = bool(config.prefix_projection)
        if self.reparameterised:
            h = config.encoder_hidden_size
            self.embedding = nn.Embedding(n, D, **factory)
            self.transform = nn.Sequential(nn.Linear(D, h, **factory), nn.Tanh(), nn.Linear(h, 2 * L * D, **factory))
        else:
            self.embedding = nn.Embedding(n, 2 * L * D, **factory)

    def forward(self) -> torch.Tensor:
        if self.reparameterised:
            return self.transform(self.embedding.weight)  # (n, D) -> (n, 2LD)
        return self.embedding.weight  # (n, 2LD)


CHECKPOINTING = (
    "Prefix tuning does not work with gradient checkpointing: transformers drops the cache (the prefix) in "
    "checkpointed layers. Turn gradient checkpointing off for this adapter."
)


def _checkpointing(model: nn.Module) -> bool:
    """True if any block of ``model`` re-runs in backward (gradient / activation checkpointing)."""
    return any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())


def _build(peft_model: nn.Module, config: PrefixTuningConfig, initialise: bool) -> PrefixEncoder:
    encoder = PrefixEncoder(config, **_prompt.same_device_dtype(peft_model.base_model.model))
    if initialise and config.init_weights == "zero":
        with torch.no_grad():
            last = encoder.transform[-1] if encoder.reparameterised else encoder.embedding
            for p in last.parameters():
                p.zero_()
    return encoder


def peft_inject(peft_model: nn.Module, config: PrefixTuningConfig, adapter_name: str, *, initialise: bool = True) -> None:
    """Fill the model-shape fields (K/V width for grouped-query attention) and create the prefix encoder."""
    model = peft_model.base_model.model
    if _checkpointing(model):
        raise ConfigError(CHECKPOINTING)
    _prompt.check_model(model, "Prefix tuning", "cache", "it hands the prefix to the model as a pre-filled KV cache")
    _prompt.fill_from_model(config, model, kv_width=True)
    if config.token_dim % config.num_attention_heads:
        raise ConfigError(f"token_dim {config.token_dim} is not a multiple of num_attention_heads {config.num_attention_heads}.")
    if config.encoder_hidden_size is None:
        config.encoder_hidden_size = config.token_dim
    _prompt.encoders(peft_model)[adapter_name] = _build(peft_model, config, initialise)


def prefix_cache(peft_model: nn.Module, batch_size: int) -> Any:
    """A fresh ``DynamicCache`` holding the active adapter's prefix: per layer K, V ``(B, H_kv, n, hd)``."""
    from transformers import DynamicCache

    config = peft_model.active_peft_config
    model = peft_model.base_model.model
    n, L, H = config.num_virtual_tokens, config.num_layers, config.num_attention_heads
    table = peft_model.prompt_encoder[peft_model.active_adapter]()  # (n, 2LD)
    dtype = next(p for p in model.parameters() if p.is_floating_point()).dtype
    kv = table.to(dtype).view(n, 2 * L, H, config.token_dim // H)  # (n, 2L, H_kv, hd)
    kv = kv.permute(1, 2, 0, 3).unsqueeze(1).expand(-1, batch_size, -1, -1, -1)  # (2L, B, H_kv, n, hd)
    pairs = [(kv[2 * i], kv[2 * i + 1]) for i in range(L)]
    return DynamicCache(ddp_cache_data=pairs, config=model.config)


def _cache_length(cache: Any) -> int:
    return 0 if cache is None else int(cache.get_seq_length())


def peft_forward(peft_model: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """Forward with the prefix as a pre-filled cache; outputs cover the L real positions (as PEFT).

    Given a non-empty ``cache`` (a continued decoding) the prefix is already in it and the inputs pass through
    (the attention mask must then cover the cached positions, prefix included).
    """
    model = peft_model.base_model.model
    for value, key in zip(args, ("input_ids", "attention_mask", "inputs_embeds", "labels")):  # PEFT's order
        kwargs[key] = value
    if peft_model.adapters_disabled:
        return model(**kwargs)
    n = peft_model.active_peft_config.num_virtual_tokens
    if kwargs.get("position_ids") is not None:
        kwargs["position_ids"] = kwargs["position_ids"] + n  # real tokens come after the n prefix positions
    if "past_key_values" in kwargs:  # transformers' deprecated name for `cache`
        kwargs["cache"] = kwargs.pop("past_key_values")
    if _cache_length(kwargs.get("cache")) > 0:
        return model(**kwargs)
    ref = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else kwargs.get("inputs_embeds")
    if ref is None:
        raise ValueError("Pass input_ids or inputs_embeds.")
    B = ref.shape[0]
    if model.training and _checkpointing(model):  # switched on after the adapter was added
        raise ConfigError(CHECKPOINTING)
    mask = kwargs.get("attention_mask")
    if mask is not None:
        kwargs["attention_mask"] = torch.cat([mask.new_ones(B, n), mask], dim=1)  # (B, n+L)
    kwargs["cache"] = prefix_cache(peft_model, B)
    return model(**kwargs)


def peft_generate(peft_model: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """transformers' ``generate`` starting from the prefix cache (``cache=``), so every step sees the prefix once.

    transformers treats the ``n`` cached positions as already-processed tokens: the mask is extended by ``n``
    ones, position ids come from it (real tokens from ``n`` on), and only the real input is prefilled.
    """
    model = peft_model.base_model.model
    if not _prompt.generate_arguments(peft_model, args, kwargs, "prefix tuning (the prefix)"):
        return model.generate(**kwargs)
    n = peft_model.active_peft_config.num_virtual_tokens
    input_ids, inputs_embeds = kwargs.get("input_ids"), kwargs.get("inputs_embeds")
    ref = input_ids if input_ids is not None else inputs_embeds
    if ref is None:
        raise ValueError("Pass input_ids or inputs_embeds.")
    B, L = ref.shape[:2]
    mask = kwargs.pop("attention_mask", None)
    if mask is None:
        mask = torch.ones(B, L, dtype=torch.long, device=ref.device)
    kwargs["attention_mask"] = torch.cat([mask.new_ones(B, n), mask], dim=1)  # (B, n+L)
    if inputs_embeds is not None:
        # transformers prefills the last (length - cached) embeddings: put n placeholders in front of the real ones
        kwargs["inputs_embeds"] = torch.cat([inputs_embeds.new_zeros(B, n, inputs_embeds.shape[-1]), inputs_embeds], dim=1)
    # transformers repeats each row for beams / several returned sequences, but not a cache it was given:
    # the prefix is the same for every row, so build it for the expanded batch directly.
    config = kwargs.get("generation_config") or model.generation_config
    expand = max(kwargs.get("num_beams") or config.num_beams or 1, kwargs.get("num_return_sequences") or config.num_return_sequences or 1)
    with torch.no_grad():
        kwargs["cache"] = prefix_cache(peft_model, B * expand)
    return model.generate(**kwargs)


def peft_adapter_state_dict(peft_model: nn.Module, name: str) -> dict[str, torch.Tensor]:
    """``prompt_embeddings (n, 2LD)`` (PEFT's key) + the projection's weights under ``prompt_encoder_state.*``."""
    return _prompt.adapter_state(peft_model.prompt_encoder[name])


def peft_load_weights(peft_model: nn.Module, name: str, state: dict[str, torch.Tensor], source: str) -> None:
    config = peft_model.peft_config[name]

    def build() -> PrefixEncoder:
        return _build(peft_model, config, initialise=False)

    build.reparameterises = bool(config.prefix_projection)  # type: ignore[attr-defined]
    shape = (config.num_virtual_tokens, 2 * config.num_layers * config.token_dim)
    _prompt.load_state(peft_model, name, state, source, shape, build_full=build if config.prefix_projection else None)


peft_merge_and_unload = peft_merge_adapter = _prompt.refuse_merge
