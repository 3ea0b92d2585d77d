"""PEFT's free functions, applied to our models: state dicts in and out, injection without a wrapper, status.

- ``get_peft_model_state_dict(model, state_dict=None, adapter_name="default")``: the adapter's tensors under
  the keys of ``adapter_model.safetensors``;
- ``set_peft_model_state_dict(model, state, adapter_name="default")``: puts such tensors into the adapter,
  non-strict as in PEFT; returns ``(missing_keys, unexpected_keys)``;
- ``inject_adapter_in_model(config, model, adapter_name="default")``: adapter layers swapped into a plain
  ``nn.Module`` (no ``PeftModel`` around it), only the adapter trainable;
- ``get_layer_status(model)`` / ``get_model_status(model)``: per adapted layer / summed over the model.

``model`` may be a :class:`~core.peft_model.PeftModel` or a model with adapter layers injected.
"""

from __future__ import annotations

import re
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from core.config import PeftConfig, PeftType
from core.modules_to_save import ModulesToSaveWrapper
from core.peft_model import PREFIX, AdapterLayer, PeftModel

# What set_peft_model_state_dict returns, with torch's field names (``load_state_dict``'s result).
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

# Parameter names under which each layer method keeps its adapter tensors (for injected, unwrapped models).
_ADAPTER_KEYS = ("lora_A", "lora_B", "lora_E", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector", "ia3_l")


def get_peft_model_state_dict(
    model: nn.Module, state_dict: dict[str, torch.Tensor] | None = None, adapter_name: str = "default",
    unwrap_compiled: bool = False, save_embedding_layers: bool | str | None = None,
) -> dict[str, torch.Tensor]:
    """The tensors of adapter ``adapter_name`` keyed as in ``adapter_model.safetensors`` (adapter name removed).

    ``state_dict`` (the model's ``state_dict()``, e.g. gathered from several processes) supplies the values
    instead of the live parameters. ``save_embedding_layers`` (PEFT's ``True`` / ``False`` / ``"auto"``) adds the
    base weights of the input/output embeddings as PEFT would; left out (our default) they are not included
    (``PeftModel._embedding_layers_to_save``).
    """
    peft_model = _peft_model(model, "get_peft_model_state_dict")
    if adapter_name not in peft_model.peft_config:
        raise ValueError(f"No adapter named '{adapter_name}'. Adapters: {', '.join(peft_model.peft_config)}.")
    live = peft_model.adapter_state_dict(adapter_name)
    live.update(peft_model._embedding_layers_to_save(adapter_name, save_embedding_layers))
    # A model with adapters injected (no PeftModel around it) names its tensors without the PeftModel's
    # 'base_model.model.' prefix, and PEFT keys its state dict as the model given names them.
    injected = model.__dict__.get("_peft_owner") is peft_model
    if state_dict is None:
        return {key.removeprefix(PREFIX): t for key, t in live.items()} if injected else dict(live)
    names = {id(t): n for n, t in peft_model.state_dict(keep_vars=True).items()}
    out: dict[str, torch.Tensor] = {}
    for key, tensor in live.items():
        name = names.get(id(tensor))
        if injected and name is not None and name not in state_dict:
            name = name.removeprefix(PREFIX)
        if name is None or name not in state_dict:
            raise KeyError(f"get_peft_model_state_dict: the given state_dict has no '{name or key}' (adapter tensor {key}).")
        out[key.removeprefix(PREFIX) if injected else key] = state_dict[name]
    return out


def set_peft_model_state_dict(
    model: nn.Module, peft_model_state_dict: dict[str, torch.Tensor], adapter_name: str = "default",
    ignore_mismatched_sizes: bool = False, low_cpu_mem_usage: bool = False,
) -> IncompatibleKeys:
    """Copy ``peft_model_state_dict`` (file keys, with or without the adapter name) into adapter ``adapter_name``.

    As in PEFT the load is not strict: tensors that fit are loaded, the others are reported. ``missing_keys``
    lists the adapter's parameters (in-memory names) the dict did not provide, ``unexpected_keys`` the dict's
    keys that fit nothing. A tensor whose shape differs is an error, unless ``ignore_mismatched_sizes=True``
    (then it is skipped and reported as missing). ``low_cpu_mem_usage`` is accepted (an adapter created on the
    meta device takes the tensors as they are, whatever this flag says).
    """
    peft_model = _peft_model(model, "set_peft_model_state_dict")
    if adapter_name not in peft_model.peft_config:
        raise ValueError(f"No adapter named '{adapter_name}'. Adapters: {', '.join(peft_model.peft_config)}.")
    missing, unexpected = peft_model._load_weights(
        adapter_name, dict(peft_model_state_dict), "set_peft_model_state_dict", strict=False,
        ignore_mismatched_sizes=ignore_mismatched_sizes,
    )
    # As PEFT (a non-strict load into the whole model): a key that is no tensor of this adapter but names a tensor
    # of the model itself — e.g. the base biases saved by an adapter with bias="all" — is loaded there.
    model_state = peft_model.base_model.model.state_dict(keep_vars=True)
    given = {k if k.startswith(PREFIX) else PREFIX + k: v for k, v in peft_model_state_dict.items()}
    loaded = []
    with torch.no_grad():
        for key in unexpected:
            target, value = model_state.get(key.removeprefix(PREFIX)), given.get(key)
            if target is not None and value is not None and tuple(target.shape) == tuple(value.shape):
                target.copy_(value.to(dtype=target.dtype, device=target.device))
                loaded.append(key)
    unexpected = [k for k in unexpected if k not in loaded]
    return IncompatibleKeys(missing_keys=missing, unexpected_keys=unexpected)


def _base_keys(peft_model: PeftModel) -> dict[str, str]:
    """The base model's key (as before adapters were added) -> its key in ``peft_model.base_model.model``.

    Inside an adapter layer only its ``base_layer`` branch, inside a modules_to_save wrapper only its
    ``original_module`` branch belongs to the base model; those segments are left out of the original key, and
    everything else inside a wrapper (the adapters' tensors, the trained copies) is not a base key."""
    model = peft_model.base_model.model
    modules = dict(model.named_modules(remove_duplicate=False))
    keys: dict[str, str] = {}
    for key in model.state_dict(keep_vars=True):
        parts, kept, path, is_base = key.split("."), [], "", True
        for i, part in enumerate(parts[:-1]):
            module = modules.get(path)
            if isinstance(module, (AdapterLayer, ModulesToSaveWrapper)) or hasattr(module, "trainable_tokens_delta"):
                # a trainable-tokens wrapper keeps the embedding at token_adapter.base_layer
                if part not in ("base_layer", "original_module", "token_adapter"):
                    is_base = False
                    break
            else:
                kept.append(part)
            path = f"{path}.{part}" if path else part
        if is_base and not isinstance(modules.get(path), (AdapterLayer, ModulesToSaveWrapper)):
            keys[".".join([*kept, parts[-1]])] = key
    return keys


def get_base_model_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The base model's state dict under its own keys (as before the adapters were added): no adapter tensors,
    no ``base_layer`` / ``original_module`` segments (PEFT's helper of that name; the tensors are the live ones)."""
    peft_model = _peft_model(model, "get_base_model_state_dict")
    state = peft_model.base_model.model.state_dict()
    return {original: state[key] for original, key in _base_keys(peft_model).items()}


def set_base_model_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], strict: bool = True) -> IncompatibleKeys:
    """Load ``state_dict`` (the base model's own keys) into the base model under its adapters (PEFT's helper).

    ``strict``: a key missing from ``state_dict`` or one that names nothing is an error (nothing is loaded);
    otherwise what fits is loaded and the rest reported as (missing_keys, unexpected_keys)."""
    peft_model = _peft_model(model, "set_base_model_state_dict")
    keys = _base_keys(peft_model)
    missing = [k for k in keys if k not in state_dict]
    unexpected = [k for k in state_dict if k not in keys]
    if strict and (missing or unexpected):
        parts = ([f"{len(missing)} key(s) of the base model are missing, e.g. '{missing[0]}'"] if missing else []) + \
                ([f"{len(unexpected)} key(s) name nothing in the base model, e.g. '{unexpected[0]}'"] if unexpected else [])
        raise RuntimeError(f"set_base_model_state_dict: {'; '.join(parts)}. Nothing was loaded.")
    peft_model.base_model.model.load_state_dict({keys[k]: v for k, v in state_dict.items() if k in keys}, strict=False)
    return IncompatibleKeys(missing_keys=missing, unexpected_keys=unexpected)


def inject_adapter_in_model(
    peft_config: PeftConfig, model: nn.Module, adapter_name: str = "default", low_cpu_mem_usage: bool = False,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> nn.Module:
    """Swap adapter layers into ``model`` in place and return it (no ``PeftModel`` around it).

    The base parameters are frozen and the adapter's are trainable. With ``state_dict`` the modules to adapt
    are the ones its keys name (``…<module>.lora_A.weight``), as in PEFT; ``target_modules`` is then replaced.
    Prompt learning and adaption prompt keep state beside the model and need :func:`core.get_peft_model`.
    """
    if peft_config.is_prompt_learning or peft_config.peft_type == PeftType.ADAPTION_PROMPT:
        raise ValueError(
            f"inject_adapter_in_model cannot add a {peft_config.peft_type.value} adapter: its state lives beside the "
            f"model's layers, not in them. Use get_peft_model instead."
        )
    if state_dict is not None:
        pattern = re.compile(rf"^(?:{re.escape(PREFIX)})?(.+?)\.(?:{'|'.join(_ADAPTER_KEYS)})(?:\.|$)")
        paths = sorted({m.group(1) for key in state_dict if (m := pattern.match(key))})
        if not paths:
            raise ValueError("inject_adapter_in_model: the state_dict names no adapter tensor (e.g. '<module>.lora_A.weight').")
        peft_config.target_modules = paths
    peft_model = PeftModel(model, peft_config, adapter_name, low_cpu_mem_usage=low_cpu_mem_usage)
    # The functions below find the adapters of an injected model through it (not a submodule: no extra keys).
    model.__dict__["_peft_owner"] = peft_model
    model.__dict__["peft_config"] = peft_model.peft_config
    model.__dict__["targeted_module_names"] = peft_model.base_model.targeted_module_names
    model.__dict__["targeted_parameter_names"] = peft_model.base_model.targeted_parameter_names
    return peft_model.base_model.model


def _peft_model(model: nn.Module, verb: str) -> PeftModel:
    """The PeftModel behind ``model`` (itself, or the one inject_adapter_in_model left on a plain model)."""
    if isinstance(model, PeftModel):
        return model
    # a wrapper that holds the model as ``.module`` (torch's FSDP, DistributedDataParallel): the model inside it
    inner = model._modules.get("module") or model._modules.get("_fsdp_wrapped_module")
    if isinstance(inner, nn.Module):
        return _peft_model(inner, verb)
    owner = model.__dict__.get("_peft_owner")
    if owner is None:
        raise ValueError(f"{verb}: this model has no adapters; build it with get_peft_model or inject_adapter_in_model.")
    return owner


# ---- status -----------------------------------------------------------------------------------------------


@dataclass
class TunerLayerStatus:
    """One adapted layer: PEFT's fields."""

    name: str
    module_type: str
    enabled: bool
    active_adapters: list[str]
    merged_adapters: list[str]
    requires_grad: dict[str, bool | Literal["irregular"]]
    available_adapters: list[str]
    devices: dict[str, list[str]]
    quantization_backend: str | None = None


@dataclass
class TunerModelStatus:
    """The whole model: PEFT's fields; a value that differs between layers is ``"irregular"``."""

    base_model_type: str
    adapter_model_type: str
    peft_types: dict[str, str]
    trainable_params: int
    total_params: int
    num_adapter_layers: int
    enabled: bool | Literal["irregular"]
    active_adapters: list[str] | Literal["irregular"]
    merged_adapters: list[str] | Literal["irregular"]
    requires_grad: dict[str, bool | Literal["irregular"]]
    available_adapters: list[str]
    devices: dict[str, list[str]]
    quantization_backend: str | None | Literal["irregular"] = None


def _all_or_irregular(values: list[bool]) -> bool | Literal["irregular"]:
    return True if all(values) else False if not any(values) else "irregular"


def _layer_tensors(layer: nn.Module, adapter: str) -> list[torch.Tensor]:
    """The parameters of ``adapter`` in ``layer`` (not the base layer's, not the frozen original)."""
    out = []
    for qualified, p in layer.named_parameters():
        parts = qualified.split(".")
        if parts[0] in ("base_layer", "original_module") or p is None:
            continue
        if adapter in parts and not (parts[0] == "ranknum"):
            out.append(p)
    return out


def get_layer_status(model: nn.Module) -> list[TunerLayerStatus]:
    """One :class:`TunerLayerStatus` per adapted layer (modules_to_save copies included), in module order."""
    root = model.base_model.model if isinstance(model, PeftModel) else model
    owner = model if isinstance(model, PeftModel) else model.__dict__.get("_peft_owner")
    statuses: list[TunerLayerStatus] = []
    for name, layer in root.named_modules():
        if not isinstance(layer, AdapterLayer):
            continue
        requires_grad: dict[str, bool | Literal["irregular"]] = {}
        devices: dict[str, list[str]] = {}
        for adapter in layer.adapter_names():
            tensors = _layer_tensors(layer, adapter)
            if tensors:
                requires_grad[adapter] = _all_or_irregular([t.requires_grad for t in tensors])
                devices[adapter] = sorted({t.device.type for t in tensors})
        module_type = _peft_module_type(layer)
        if hasattr(layer, "token_adapter"):  # PEFT reports the trainable-tokens layer inside the wrapper
            name, module_type = f"{name}.token_adapter", "TrainableTokensLayer"
        statuses.append(TunerLayerStatus(
            name=f"model.{name}" if isinstance(model, PeftModel) else name,  # PEFT names it inside base_model
            module_type=module_type,
            enabled=not layer.disabled,
            # as PEFT: a layer reports the model's active adapters, also one it does not hold (a narrower target)
            active_adapters=list(layer.active_adapters) if owner is None or getattr(layer, "single_active", False)
            else list(owner.active_adapters),
            merged_adapters=list(layer.merged_adapters),
            requires_grad=requires_grad,
            available_adapters=sorted(layer.adapter_names()),
            devices=devices,
        ))
    if not statuses:
        raise ValueError("No adapter layers found in the model: is it a PeftModel or a model with adapters injected?")
    return statuses


def get_model_status(model: nn.Module) -> TunerModelStatus:
    """The adapters of the whole model (:class:`TunerModelStatus`)."""
    layers = get_layer_status(model)
    if isinstance(model, PeftModel):
        base = model.base_model.model
        peft_types = {name: config.peft_type.value for name, config in model.peft_config.items()}
        trainable, total = model.get_nb_trainable_parameters()
        adapter_model_type = f"{model.peft_type.value.title().replace('_', '')}Model"
    else:
        base = model
        peft_types = {}
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        adapter_model_type = "None"

    def same(values: list[Any]) -> Any:
        return values[0] if all(v == values[0] for v in values) else "irregular"

    requires_grad: dict[str, list] = {}
    devices: dict[str, set] = {}
    for status in layers:
        for adapter, flag in status.requires_grad.items():
            requires_grad.setdefault(adapter, []).append(flag)
        for adapter, kinds in status.devices.items():
            devices.setdefault(adapter, set()).update(kinds)
    # PEFT's rule: an adapter merged somewhere must be merged in every layer that holds it, else "irregular"
    merged_somewhere = {a for s in layers for a in s.merged_adapters}
    merged: list[str] | str = sorted(merged_somewhere)
    if any((set(s.available_adapters) - set(s.merged_adapters)) & merged_somewhere for s in layers):
        merged = "irregular"
    return TunerModelStatus(
        # as PEFT: the base model's class inside a PeftModel (any module); for a model with adapters injected, the
        # class of a transformers model and "other" for any other module
        base_model_type=type(base).__name__ if isinstance(model, PeftModel) or _is_transformers_model(base) else "other",
        adapter_model_type=adapter_model_type,
        peft_types=peft_types,
        trainable_params=trainable,
        total_params=total,
        num_adapter_layers=len(layers),
        enabled=same([s.enabled for s in layers]),
        # a wrapper (modules_to_save, trainable tokens) with no active copy is left out: the active adapter simply
        # has none there; one that routes to another adapter than the layers makes the model "irregular" (as PEFT)
        active_adapters=same([sorted(s.active_adapters) for s in layers if not (isinstance_wrapper(s) and not s.active_adapters)]
                             or [[]]),
        merged_adapters=merged,
        requires_grad={a: (v[0] if all(x == v[0] for x in v) else "irregular") for a, v in requires_grad.items()},
        available_adapters=sorted({a for s in layers for a in s.available_adapters}),
        devices={a: sorted(v) for a, v in devices.items()},
    )


def _is_transformers_model(model: nn.Module) -> bool:
    return any(c.__name__ == "PreTrainedModel" and c.__module__.startswith("transformers") for c in type(model).__mro__)


def _peft_module_type(layer: nn.Module) -> str:
    """PEFT's name for the kind of layer (``lora.Linear``, ``lora.Embedding``, ``lora.Conv2d``, ``ia3.Linear``, ...):
    PEFT has one layer class per wrapped kind, ours one per method."""
    if isinstance(layer, ModulesToSaveWrapper):
        return type(layer).__name__
    method = type(layer).__module__.rsplit(".", 1)[-1].lstrip("_")
    base = getattr(layer, "base_layer", None)
    kind = getattr(layer, "kind", None)
    if method == "param_lora":
        return "lora.ParamWrapper"
    if method == "adalora":
        return "adalora.SVDLinear" if kind in ("linear", "conv1d") else f"adalora.SVD{type(base).__name__}"
    if kind in ("linear", "conv1d"):  # transformers' Conv1D is a Linear with fan_in_fan_out in PEFT
        return f"{method}.Linear"
    if kind == "embedding":
        return f"{method}.Embedding"
    if kind == "conv" and base is not None:
        return f"{method}.{type(base).__name__}"
    return f"{method}.{type(layer).__name__}"


def isinstance_wrapper(status: TunerLayerStatus) -> bool:
    """A modules_to_save copy or trainable-token rows: at most one active adapter (see get_model_status)."""
    return status.module_type.endswith((ModulesToSaveWrapper.__name__, "TrainableTokensLayer"))


def create_or_update_model_card(peft_model: PeftModel, output_dir: str) -> None:
    """Write or update ``output_dir/README.md`` so the Hub knows it holds an adapter.

    The card's metadata gets ``library_name: peft``, ``base_model`` (the base model's own config name, when it is a
    name rather than a local path), the method as a tag (e.g. ``lora``) and, for causal LMs,
    ``pipeline_tag: text-generation``. An existing card keeps its text and its other metadata.
    """
    from pathlib import Path

    from huggingface_hub import ModelCard, ModelCardData

    path = Path(output_dir) / "README.md"
    card = ModelCard.load(path) if path.is_file() else ModelCard(f"---\n{ModelCardData().to_yaml()}\n---\n\n# Adapter\n")
    card.data["library_name"] = "peft"
    config = peft_model.active_peft_config
    tags = set(card.data.get("tags") or []) | {config.peft_type.value.lower(), "adapter-studio"}
    model_tags = getattr(peft_model.base_model.model, "model_tags", None)
    tags |= set(model_tags or [])
    card.data["tags"] = sorted(tags)
    if config.task_type is not None and config.task_type.value == "CAUSAL_LM" and not card.data.get("pipeline_tag"):
        card.data["pipeline_tag"] = "text-generation"
    # as PEFT: the name the base model's own config records (a model without a config, e.g. a custom nn.Module,
    # gets no base_model even when the adapter's config names one)
    model_config = getattr(peft_model.base_model.model, "config", None)
    base = getattr(model_config, "_name_or_path", None) or getattr(model_config, "name_or_path", None)
    if base and not Path(base).exists():
        card.data["base_model"] = base
    path.parent.mkdir(parents=True, exist_ok=True)
    card.save(path)
