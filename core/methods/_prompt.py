"""Small helpers shared by the prompt-learning methods (prompt tuning, P-tuning, prefix tuning).

Not a method and not a base class for one: each method file owns its encoder and its math; this module holds
the plumbing they would otherwise copy verbatim — the config fields PEFT's prompt-learning configs share,
filling them from the model config, where the encoders live on the ``PeftModel`` (``prompt_encoder[name]``,
as in PEFT), the file format (``prompt_embeddings`` + our resume keys), and virtual tokens in front of the
input for forward and ``generate``.

File format. PEFT saves a single tensor ``prompt_embeddings`` (n·S, D): the encoder's *output*, all PEFT needs
for inference. Reparameterised encoders (P-tuning's MLP/LSTM, prefix tuning's projection) cannot be rebuilt
from it, so training could not continue. We also save the encoder's own weights under keys starting with
``prompt_encoder_state.`` (e.g. ``prompt_encoder_state.mlp_head.0.weight``) in the same file. PEFT 0.21.2 loads
prompt-learning files with ``load_state_dict(strict=False)`` on its ``PeftModel`` and then reads only
``prompt_embeddings``; keys under a module name it does not have are ignored silently, so PEFT still loads our
files with equal logits (tested).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from core.config import ConfigError, PeftConfig
from core.errors import AdapterLoadError

log = logging.getLogger(__name__)

EMBEDDINGS_KEY = "prompt_embeddings"
TRAIN_PREFIX = "prompt_encoder_state."


@dataclass
class VirtualTokenConfig(PeftConfig):
    """The fields every PEFT prompt-learning config has; the model-shape ones are filled in from the model."""

    num_virtual_tokens: int | None = field(default=None, metadata={"help": "How many virtual tokens to learn (≥ 1)."})
    token_dim: int | None = field(
        default=None, metadata={"help": "Width of one virtual token; filled in from the model (hidden size)."}
    )
    num_transformer_submodules: int | None = field(
        default=None, metadata={"help": "1 for decoder-only models (PEFT: 2 for encoder-decoder); filled in."}
    )
    num_attention_heads: int | None = field(default=None, metadata={"help": "Attention heads; filled in from the model."})
    num_layers: int | None = field(default=None, metadata={"help": "Transformer blocks; filled in from the model."})
    modules_to_save: list[str] | None = field(
        default=None, metadata={"help": "Modules trained in full and saved with the adapter (e.g. a new head)."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        # None is accepted here, as PEFT does (the config can be saved, copied, pickled); check_complete refuses
        # it where an adapter is built.
        n = self.num_virtual_tokens
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ConfigError(f"num_virtual_tokens must be a whole number ≥ 1, got {n!r}.")
        for name in ("token_dim", "num_transformer_submodules", "num_attention_heads", "num_layers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a whole number ≥ 1 (or left empty to take the model's), got {value!r}.")

    def check_complete(self) -> None:
        if self.num_virtual_tokens is None:
            raise ConfigError("num_virtual_tokens is required: how many virtual tokens to learn (e.g. 8 or 20).")


def fill_from_model(config: VirtualTokenConfig, model: nn.Module, *, kv_width: bool = False) -> None:
    """Fill the model-shape fields as PEFT does; ``kv_width``: for prefix tuning with grouped-query attention use
    ``token_dim = kv_heads·head_dim`` and ``num_attention_heads = kv_heads`` (the K/V width, PEFT #1901)."""
    mc = model.config
    if hasattr(mc, "get_text_config"):
        mc = mc.get_text_config()

    def first(*names: str) -> Any:
        for name in names:
            value = getattr(mc, name, None)
            if value is not None:
                return value
        return None

    expected = {
        "num_layers": first("num_hidden_layers", "num_layers", "n_layer"),
        "token_dim": first("hidden_size", "n_embd", "d_model"),
        "num_attention_heads": first("num_attention_heads", "n_head", "num_heads"),
    }
    missing = [k for k, v in expected.items() if v is None and getattr(config, k) is None]
    if missing:
        raise ConfigError(f"Cannot read {', '.join(missing)} from this model's config; set them in the adapter config.")
    kv_heads = getattr(mc, "num_key_value_heads", None)
    if kv_width and kv_heads is not None and None not in expected.values() and kv_heads != expected["num_attention_heads"]:
        head_dim = getattr(mc, "head_dim", None) or expected["token_dim"] // expected["num_attention_heads"]
        expected["token_dim"], expected["num_attention_heads"] = head_dim * kv_heads, kv_heads
    for key, value in expected.items():
        given = getattr(config, key)
        if given is None:
            setattr(config, key, value)
        elif value is not None and given != value:  # e.g. loading an adapter made for another model
            raise ConfigError(
                f"The adapter has {key}={given} but this model has {value}: it was made for a different base model."
            )
    if config.num_transformer_submodules is None:
        config.num_transformer_submodules = 1
    if config.num_transformer_submodules != 1:
        raise ConfigError("num_transformer_submodules must be 1: Adapter Studio adapts decoder-only (causal) models.")


def check_model(model: nn.Module, method: str, argument: str, why: str) -> None:
    """Refuse, with the reason, a model this prompt-learning method cannot serve: encoder-decoder models, and
    models whose forward lacks ``argument`` (``inputs_embeds`` for virtual tokens, ``cache`` for a prefix)."""
    import inspect

    name = type(model).__name__
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        raise ConfigError(f"{method} cannot serve {name}: Adapter Studio's prompt learning is for decoder-only (causal) models.")
    if type(model).forward is nn.Module.forward:
        return  # no forward() at all (a bare module tree, e.g. to save and load an adapter): nothing to check yet
    params = inspect.signature(model.forward).parameters
    names = {argument, "past_key_values"} if argument == "cache" else {argument}
    if not names & set(params):
        raise ConfigError(f"{method} cannot serve {name}: {why}, and its forward() takes no '{argument}'.")


def encoders(peft_model: nn.Module) -> nn.ModuleDict:
    """``peft_model.prompt_encoder``: adapter name -> encoder (created on first use), PEFT's attribute."""
    if "prompt_encoder" not in peft_model._modules:
        peft_model.prompt_encoder = nn.ModuleDict()
    return peft_model._modules["prompt_encoder"]


def same_device_dtype(model: nn.Module) -> dict[str, Any]:
    """Factory kwargs that put new adapter tensors beside the model's input embedding."""
    get = getattr(model, "get_input_embeddings", None)
    embedding = get() if callable(get) else None
    # a bare module tree without an input embedding (prefix tuning needs none): beside its first weight
    weight = embedding.weight if embedding is not None else next(model.parameters(), torch.empty(0))
    return {"device": weight.device, "dtype": weight.dtype if weight.is_floating_point() else torch.float32}


class PromptTable(nn.Module):
    """The inference form of any prompt encoder: just its output table ``embedding.weight (n, D)``.

    What PEFT rebuilds when it loads a prompt-learning file; also what we train when resuming from a file
    that holds no encoder weights (a PEFT file of a reparameterised encoder).
    """

    reparameterised = False

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.embedding = nn.Embedding(*table.shape, device=table.device, dtype=table.dtype)
        with torch.no_grad():
            self.embedding.weight.copy_(table)

    def forward(self) -> torch.Tensor:
        return self.embedding.weight  # (n, D)


def refuse_merge(peft_model: nn.Module, **_: Any) -> None:
    """``merge_and_unload`` / ``merge_adapter`` of a method that has nothing to merge."""
    ptype = peft_model.peft_type.value
    raise ValueError(
        f"{ptype} adapters cannot be merged into the model's weights: they add learned tokens (or keys and "
        f"values) in front of the input, not weight updates. Export the adapter instead "
        f"(save_pretrained, or the adapter export) and load it with PeftModel.from_pretrained(base, folder)."
    )


# ---- files ---------------------------------------------------------------------------------------------


def adapter_state(encoder: nn.Module) -> dict[str, torch.Tensor]:
    """File tensors of one encoder: PEFT's ``prompt_embeddings`` plus, for a reparameterised encoder, its own
    weights under ``prompt_encoder_state.`` so that training can continue from the file."""
    was_training = encoder.training
    encoder.eval()  # the inference output: no encoder dropout, even when saved mid-training
    try:
        with torch.no_grad():
            out = {EMBEDDINGS_KEY: encoder().detach()}  # (n, D), the reparameterised output
    finally:
        encoder.train(was_training)
    if getattr(encoder, "reparameterised", False):
        out.update({TRAIN_PREFIX + k: v for k, v in encoder.state_dict().items()})
    return out


def load_state(
    peft_model: nn.Module, name: str, state: dict[str, torch.Tensor], source: str, expected_shape: tuple[int, int],
    build_full: Callable[[], nn.Module] | None,
) -> None:
    """Load file tensors into adapter ``name``'s encoder.

    Loaded for training (``inference_mode`` False) with encoder weights in the file and a ``build_full``: the full
    encoder is rebuilt and checked to reproduce ``prompt_embeddings``. Otherwise the encoder becomes a
    :class:`PromptTable` holding ``prompt_embeddings`` (exactly what PEFT does), trainable if so loaded.
    """
    config = peft_model.peft_config[name]
    given = {k.removeprefix("base_model.model."): v for k, v in state.items()}
    if EMBEDDINGS_KEY not in given:
        raise AdapterLoadError(f"{source}: no '{EMBEDDINGS_KEY}' tensor in the file (keys: {', '.join(sorted(given)) or 'none'}).")
    table = given.pop(EMBEDDINGS_KEY)
    train_state = {k[len(TRAIN_PREFIX):]: v for k, v in given.items() if k.startswith(TRAIN_PREFIX)}
    other = sorted(k for k in given if not k.startswith(TRAIN_PREFIX))
    if other:
        raise AdapterLoadError(f"{source}: {len(other)} tensor(s) do not belong to a {config.peft_type.value} adapter, e.g. {other[0]}.")
    if tuple(table.shape) != tuple(expected_shape):
        raise AdapterLoadError(
            f"{source}: {EMBEDDINGS_KEY} has shape {tuple(table.shape)} but this model needs {tuple(expected_shape)}. "
            f"The adapter was made for a different base model or number of virtual tokens."
        )
    factory = same_device_dtype(peft_model.base_model.model)
    # Load into the existing encoder when its form fits, so a live optimizer keeps pointing at its
    # parameters (resuming a training checkpoint); otherwise build the form the file allows.
    current = encoders(peft_model)[name] if name in encoders(peft_model) else None
    encoder: nn.Module | None = None
    if not config.inference_mode and train_state and build_full is not None:
        fits = current is not None and getattr(current, "reparameterised", False) and set(current.state_dict()) == set(train_state)
        encoder = current if fits else build_full()
        try:
            encoder.load_state_dict({k: v.to(factory["dtype"]) for k, v in train_state.items()}, strict=True)
        except RuntimeError as exc:
            raise AdapterLoadError(f"{source}: the saved encoder weights do not fit this config ({exc}).") from None
        was_training = encoder.training
        encoder.eval()  # dropout off for the consistency check
        with torch.no_grad():
            out = encoder()
        encoder.train(was_training)
        if not torch.allclose(out.float(), table.to(out.device).float(), rtol=1e-4, atol=1e-5):
            raise AdapterLoadError(f"{source}: the saved encoder weights do not reproduce {EMBEDDINGS_KEY}; the file is inconsistent.")
    elif (current is not None and not getattr(current, "reparameterised", False)
          and tuple(current.embedding.weight.shape) == tuple(table.shape)):
        with torch.no_grad():  # a plain table: the file holds all of it
            current.embedding.weight.copy_(table.to(current.embedding.weight.dtype))
        encoder = current
    if encoder is None:
        if not config.inference_mode and getattr(build_full, "reparameterises", False):
            log.warning(
                "%s: the file holds only %s (no encoder weights, e.g. saved by PEFT); training continues on the "
                "virtual tokens directly, without the reparameterisation.", source, EMBEDDINGS_KEY,
            )
        encoder = PromptTable(table.to(**factory))
    encoders(peft_model)[name] = encoder
    peft_model._refresh_trainable()


# ---- virtual tokens in front of the input (prompt tuning, P-tuning) ------------------------------------


def _cache_length(cache: Any) -> int:
    return 0 if cache is None else int(cache.get_seq_length())


def virtual_token_forward(peft_model: nn.Module, prompts: Callable[[], torch.Tensor], *args: Any, **kwargs: Any) -> Any:
    """Forward with the virtual tokens ``prompts() (n, d)`` in front of every sequence (as PEFT).

    The outputs cover ``n + L`` positions. ``labels`` get ``-100`` for the virtual positions and ``attention_mask``
    ones. ``position_ids``, if given, count the real tokens from 0; they are shifted by ``n`` (PEFT drops them
    instead). Given a non-empty ``cache`` (a continued decoding), the virtual tokens are already in it: the input
    passes through, and the attention mask must cover the cached positions (virtual ones included).
    """
    model = peft_model.base_model.model
    names = ("input_ids", "attention_mask", "inputs_embeds", "labels")
    for value, key in zip(args, names):  # positional arguments in PEFT's order (the models' own orders differ)
        kwargs[key] = value
    if peft_model.adapters_disabled:
        return model(**kwargs)
    input_ids = kwargs.pop("input_ids", None)
    inputs_embeds = kwargs.pop("inputs_embeds", None)
    attention_mask = kwargs.pop("attention_mask", None)
    labels = kwargs.pop("labels", None)
    position_ids = kwargs.pop("position_ids", None)
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    if _cache_length(cache) > 0:
        if position_ids is not None:
            kwargs["position_ids"] = position_ids + peft_model.active_peft_config.num_virtual_tokens
        return model(input_ids=input_ids, inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels, **kwargs)
    if inputs_embeds is None:
        if input_ids is None:
            raise ValueError("Pass input_ids or inputs_embeds.")
        inputs_embeds = model.get_input_embeddings()(input_ids)  # (B, L, d)
    B = inputs_embeds.shape[0]
    virtual = prompts().to(inputs_embeds.dtype)  # (n, d)
    n = virtual.shape[0]
    inputs_embeds = torch.cat([virtual.unsqueeze(0).expand(B, -1, -1), inputs_embeds], dim=1)  # (B, n+L, d)
    if attention_mask is not None:
        ones = torch.ones(B, n, dtype=attention_mask.dtype, device=attention_mask.device)
        attention_mask = torch.cat([ones, attention_mask], dim=1)  # (B, n+L)
    if labels is not None:
        ignore = torch.full((B, n), -100, dtype=labels.dtype, device=labels.device)
        labels = torch.cat([ignore, labels], dim=1)  # (B, n+L): no loss on virtual positions
    if position_ids is not None:
        first = torch.arange(n, device=position_ids.device, dtype=position_ids.dtype).expand(B, -1)
        kwargs["position_ids"] = torch.cat([first, position_ids + n], dim=1)  # (B, n+L)
    return model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels, **kwargs)


def virtual_token_generate(peft_model: nn.Module, prompts: Callable[[], torch.Tensor], *args: Any, **kwargs: Any) -> Any:
    """``generate`` with the virtual tokens in front, through transformers' own generation loop.

    The virtual tokens enter once, in the prefill, as ``inputs_embeds``; transformers keeps them in the KV cache
    (``cache=``) and feeds only new tokens afterwards, so every step computes what a full forward pass over
    ``[virtual; input; generated]`` computes. The mask is extended by ``n`` ones and transformers derives the
    position ids from it. Returns the input ids followed by the new tokens (virtual tokens are not ids).
    """
    model = peft_model.base_model.model
    if not generate_arguments(peft_model, args, kwargs, "virtual tokens"):
        return model.generate(**kwargs)
    input_ids = kwargs.pop("input_ids", None)
    inputs_embeds = kwargs.pop("inputs_embeds", None)
    if inputs_embeds is None:
        if input_ids is None:
            raise ValueError("Pass input_ids or inputs_embeds.")
        inputs_embeds = model.get_input_embeddings()(input_ids)  # (B, L, d)
    B, L = inputs_embeds.shape[:2]
    attention_mask = kwargs.pop("attention_mask", None)
    if attention_mask is None:
        attention_mask = torch.ones(B, L, dtype=torch.long, device=inputs_embeds.device)
    with torch.no_grad():
        virtual = prompts().to(inputs_embeds.dtype)  # (n, d)
    n = virtual.shape[0]
    inputs_embeds = torch.cat([virtual.unsqueeze(0).expand(B, -1, -1), inputs_embeds], dim=1)  # (B, n+L, d)
    attention_mask = torch.cat([attention_mask.new_ones(B, n), attention_mask], dim=1)  # (B, n+L)
    if input_ids is not None:
        kwargs["input_ids"] = input_ids
    return model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)


def generate_arguments(peft_model: nn.Module, args: tuple, kwargs: dict[str, Any], what: str) -> bool:
    """Move a positional ``input_ids`` into ``kwargs`` and refuse what prompt generation computes itself.

    Returns False when the adapters are disabled (then the plain model's ``generate`` is the answer).
    """
    if args:
        kwargs["input_ids"] = args[0]
    if peft_model.adapters_disabled:
        return False
    if kwargs.get("position_ids") is not None:
        raise ValueError("generate() derives position ids from the attention mask; do not pass position_ids.")
    if kwargs.get("cache", kwargs.get("past_key_values")) is not None:
        raise ValueError(f"generate() with {what} builds its own cache; do not pass one.")
    return True
