"""``PeftModel``: a transformers model with named adapters injected, PEFT's API and file format.

The object layout mirrors PEFT's so that state-dict keys are PEFT's keys: ``PeftModel.base_model`` is an
:class:`AdapterModel` whose ``.model`` is the Hugging Face model with adapter layers swapped in. A saved
key is the in-memory key with the adapter name removed, e.g.
``base_model.model.transformer.h.0.self_attention.query_key_value.lora_A.weight``.

Method-specific behaviour lives in the adapter layers (``core/methods/<method>.py``); this file only
finds them, routes verbs to them, and reads and writes files.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import nn

from core.config import CONFIG_NAME, PICKLED_WEIGHTS_NAME, WEIGHTS_NAME, PeftConfig, PeftType, TaskType
from core.errors import AdapterLoadError, ConfigError
from core.methods.contract import HOOKS
from core.methods.registry import REGISTRY, load_config
from core import mixed_batch
from core.modules_to_save import EMBEDDING_NAMES, ModulesToSaveWrapper, cannot_wrap, tied_with_embedding

PREFIX = "base_model.model."
# Parameter-name prefixes the methods use; an adapter name must not start with one (PEFT issue #2699).
RESERVED_PREFIXES = ("lora_", "ia3_", "adaption_", "prompt_", "ranknum", "base_layer", "original_module", "modules_to_save")
SEQ_CLS_HEADS = ("classifier", "score")
# Methods whose layers combine several active adapters in one forward pass (set_adapter([...])).
MULTI_ACTIVE_TYPES = (PeftType.LORA, PeftType.IA3, PeftType.ADALORA)


@runtime_checkable
class AdapterLayer(Protocol):
    """What every injected layer offers (LoRA, IA3, AdaLoRA layers and the modules_to_save wrapper)."""

    active_adapters: list[str]
    disabled: bool

    def adapter_names(self) -> list[str]: ...
    def set_adapter(self, names: list[str], trainable: bool = True) -> None: ...
    def delete_adapter(self, name: str) -> None: ...
    def adapter_state(self, name: str) -> dict[str, torch.Tensor]: ...
    def merge(self, names: list[str] | None = None, safe_merge: bool = False) -> None: ...
    def unmerge(self) -> None: ...
    def unwrap(self, merge: bool) -> nn.Module: ...


class AdapterModel(nn.Module):
    """PEFT's "tuner" (``PeftModel.base_model``): holds the adapted model as ``.model``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        # PEFT's tuner attributes: every module / parameter an adapter of this model adapts, each once, in the order
        # the adapters were added (module paths inside ``.model``; parameters as ``<owner path>.<name>``)
        self.targeted_module_names: list[str] = []
        self.targeted_parameter_names: list[str] = []

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def _record_targets(self, adapter_name: str) -> None:
        """Add what adapter ``adapter_name`` adapts to ``targeted_module_names`` / ``targeted_parameter_names``."""
        from core.methods._param_lora import ParamLoraLayer
        from core.methods._trainable_tokens import TrainableTokensWrapper

        for path, layer in self.adapter_layers():
            if adapter_name not in layer.adapter_names() or isinstance(layer, (ModulesToSaveWrapper, TrainableTokensWrapper)):
                continue
            # a layer nested in another adapter layer (the out_proj of an adapted nn.MultiheadAttention, a chain of
            # parameter LoRA layers on one module) is part of its owner's target, not one of its own
            owner = ".".join(part for part in path.split(".") if part != "base_layer")
            if isinstance(layer, ParamLoraLayer):
                names, key = self.targeted_parameter_names, f"{owner}.{layer.parameter_name}"
            elif ".base_layer." in f".{path}.":
                continue
            else:
                names, key = self.targeted_module_names, path
            if key not in names:
                names.append(key)

    def adapter_layers(self) -> Iterator[tuple[str, AdapterLayer]]:
        """(qualified name inside ``.model``, layer) for every injected layer."""
        for name, module in self.model.named_modules():
            if isinstance(module, AdapterLayer):
                yield name, module

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "model":
                raise
            owner = self.__dict__.get("_owner")
            if name in TUNER_NAMES and owner is not None and owner() is not None:
                if name == "active_adapter":  # PEFT's tuner: the name, or the list when several are active
                    names = owner().active_adapters
                    return names if len(names) > 1 else owner().active_adapter
                return getattr(owner(), name)
            return getattr(self.model, name)


# What PEFT's tuner (``peft_model.base_model``) answers itself; ours forwards these to the PeftModel.
TUNER_NAMES = frozenset({
    "peft_config", "active_adapter", "active_adapters", "set_adapter", "delete_adapter", "add_weighted_adapter",
    "merge_adapter", "unmerge_adapter", "merge_and_unload", "unload", "disable_adapter_layers",
    "enable_adapter_layers", "get_layer_status", "get_model_status", "peft_type", "prefix", "set_requires_grad",
})


class PeftModel(nn.Module):
    """A base model plus named adapters of one method. Build with :func:`get_peft_model` or ``from_pretrained``."""

    def __init__(
        self, model: nn.Module, peft_config: PeftConfig, adapter_name: str = "default",
        autocast_adapter_dtype: bool = True, low_cpu_mem_usage: bool = False, *, initialise: bool = True,
    ) -> None:
        super().__init__()
        self.base_model = AdapterModel(model)
        # PEFT's tuner answers set_adapter / peft_config / active_adapters itself; ours asks this model (a weak
        # reference: a module attribute would register the PeftModel as a child of its own child).
        self.base_model.__dict__["_owner"] = weakref.ref(self)
        self.peft_config: dict[str, PeftConfig] = {}
        self.active_adapter = adapter_name
        self.add_adapter(adapter_name, peft_config, low_cpu_mem_usage=low_cpu_mem_usage,
                         autocast_adapter_dtype=autocast_adapter_dtype, initialise=initialise)
        self.set_adapter(adapter_name)

    # ---- adapters ---------------------------------------------------------------------------------

    @property
    def active_peft_config(self) -> PeftConfig:
        """The config of the active adapter."""
        return self.peft_config[self.active_adapter]

    @property
    def active_adapters(self) -> list[str]:
        """The active adapter names: ``[active_adapter]``, or the list given to ``set_adapter([...])``."""
        if not self.peft_config:  # every adapter was deleted
            return []
        names = self.__dict__.get("_active_names") or []
        return list(names) if names and names[0] == self.active_adapter else [self.active_adapter]

    @property
    def has_active_enabled_adapter(self) -> bool:
        """PEFT's flag: some adapter is active and the adapters are not switched off (``disable_adapter()``)."""
        return bool(self.active_adapters) and not self.adapters_disabled

    @property
    def _is_prompt_learning(self) -> bool:
        """PEFT's private flag, read by PEFT's helper functions (e.g. ``get_base_model_state_dict``)."""
        return bool(self.peft_config) and self.active_peft_config.is_prompt_learning

    @property
    def peft_type(self) -> PeftType:
        """The method of every adapter in this model."""
        return next(iter(self.peft_config.values())).peft_type

    @property
    def prefix(self) -> str:
        """PEFT's tuner ``prefix``: what the method's parameter names contain (``lora_``, ``ia3_``)."""
        prefixes = {PeftType.LORA: "lora_", PeftType.ADALORA: "lora_", PeftType.IA3: "ia3_"}
        if self.peft_type not in prefixes:
            raise AttributeError(f"A {self.peft_type.value} model has no parameter prefix (it adds no adapter layers).")
        return prefixes[self.peft_type]

    def add_adapter(
        self, adapter_name: str, peft_config: PeftConfig, low_cpu_mem_usage: bool = False,
        autocast_adapter_dtype: bool = True, *, initialise: bool = True,
    ) -> None:
        """Inject a new adapter; it stays inactive (and frozen) until :meth:`set_adapter` selects it.

        ``autocast_adapter_dtype=False`` keeps the adapter in the base layer's dtype (default: fp32 on a
        half-precision base, as PEFT); ``low_cpu_mem_usage=True`` creates its tensors on the meta device
        (no memory), to be filled by loading weights (``set_peft_model_state_dict``, ``load_adapter``).
        """
        _check_adapter_name(adapter_name)
        if adapter_name in self.peft_config:
            raise ValueError(f"An adapter named '{adapter_name}' already exists; pick another name or delete it first.")
        if self.peft_config and peft_config.peft_type != self.peft_type:
            raise ValueError(
                f"This model holds {self.peft_type.value} adapters; a {peft_config.peft_type.value} adapter cannot be "
                f"added beside them. Merge and unload first, or start from the base model."
            )
        if peft_config.peft_type not in REGISTRY:
            raise ValueError(f"{peft_config.peft_type.value} is not available in this version of Adapter Studio yet.")
        peft_config.check_complete()  # e.g. a prompt-learning config without num_virtual_tokens (PEFT accepts it as a config)
        with_bias = [n for n, c in self.peft_config.items() if getattr(c, "bias", "none") != "none"]
        if with_bias and getattr(peft_config, "bias", "none") != "none":
            # The base biases are one set of tensors: two adapters training them would train and save the same
            # tensors, so saving one adapter would write what the other trained (PEFT refuses this too).
            raise ValueError(
                # PEFT's phrase first (code written for PEFT matches it), then which adapters and what to do
                f"{peft_config.peft_type.value} supports only 1 adapter with bias. When using multiple adapters, only one "
                f"may train the model's biases: adapter '{adapter_name}' has bias='{peft_config.bias}', but adapter "
                f"'{with_bias[0]}' already trains them (bias='{self.peft_config[with_bias[0]].bias}'). Use bias='none' "
                f"for '{adapter_name}'."
            )
        model = self.base_model.model
        if peft_config.base_model_name_or_path is None:
            peft_config.base_model_name_or_path = getattr(model, "name_or_path", None) or None
        self._add_modules_to_save(adapter_name, peft_config)
        method = REGISTRY[peft_config.peft_type]
        try:
            # A method whose state lives beside the model (prompt learning: ``self.prompt_encoder[name]``)
            # injects through ``peft_inject(peft_model, ...)``; the others change the model's layers.
            if hasattr(method, "peft_inject"):
                method.peft_inject(self, peft_config, adapter_name, initialise=initialise)
            else:
                method.inject(model, peft_config, adapter_name, initialise=initialise)
        except Exception:
            self._drop_adapter_layers(adapter_name)
            raise
        self.peft_config[adapter_name] = peft_config
        self.base_model._record_targets(adapter_name)
        self._place_adapter(adapter_name, autocast=autocast_adapter_dtype, meta=low_cpu_mem_usage)
        self._refresh_trainable()

    def _own_parameters(self, adapter_name: str) -> Iterator[tuple[nn.Module, str, nn.Parameter]]:
        """(owning module, attribute, parameter) for every tensor of adapter ``adapter_name`` itself."""
        for _, layer in self.base_model.adapter_layers():
            for qualified, module in layer.named_modules():
                parts = qualified.split(".") if qualified else []
                if parts[:1] in (["base_layer"], ["original_module"]):
                    continue
                for leaf, p in module._parameters.items():
                    if p is not None and adapter_name in parts + [leaf]:
                        yield module, leaf, p
        encoders = self._modules.get("prompt_encoder")
        if encoders is not None and adapter_name in encoders:
            for module in encoders[adapter_name].modules():
                for leaf, p in module._parameters.items():
                    if p is not None:
                        yield module, leaf, p

    def _place_adapter(self, adapter_name: str, *, autocast: bool, meta: bool) -> None:
        """Apply get_peft_model's ``autocast_adapter_dtype=False`` / ``low_cpu_mem_usage=True`` to one adapter."""
        if autocast and not meta:
            return
        for _, layer in self.base_model.adapter_layers():
            # the weight the layer's update adds to (an nn.MultiheadAttention's in_proj_weight: LoRA's base_weight)
            base = getattr(layer, "base_weight", None)
            if base is None:
                base = getattr(getattr(layer, "base_layer", None), "weight", None)
            for module, leaf, p in list(self._own_parameters(adapter_name)):
                if not any(q is p for q in layer.parameters()):
                    continue
                dtype = p.dtype
                if not autocast and base is not None and base.dtype in (torch.float16, torch.bfloat16) and p.is_floating_point():
                    dtype = base.dtype  # the adapter in the base's half precision, as PEFT without autocast
                device = "meta" if meta else p.device
                if dtype != p.dtype or meta:
                    module._parameters[leaf] = nn.Parameter(p.detach().to(device=device, dtype=dtype), requires_grad=p.requires_grad)
        if meta:
            for module, leaf, p in list(self._own_parameters(adapter_name)):
                if p.device.type != "meta":
                    module._parameters[leaf] = nn.Parameter(p.detach().to("meta"), requires_grad=p.requires_grad)

    def _weight_tying(self, config: PeftConfig) -> tuple[str, list[str]] | None:
        """PEFT's ``ensure_weight_tying`` check for a LoRA config, before its adapter is made: warns as PEFT does
        when tying is asked for but there is nothing to tie, or a tied module is adapted without it. Returns
        (input embedding path, tied module paths) when the trained copies in ``modules_to_save`` are to be tied, and
        then rewrites ``modules_to_save`` as PEFT does: the input embedding in, the modules tied to it out (they get
        the embedding's copy)."""
        if not hasattr(config, "ensure_weight_tying"):
            return None
        config.target_modules_to_tie = None  # set below when this model's tied modules are among the targets
        model = self.base_model.model
        tied = tied_with_embedding(model)
        to_save = list(getattr(config, "modules_to_save", None) or [])
        embedding_saved = any(m.split(".")[-1] in EMBEDDING_NAMES for m in to_save)
        targets = config.target_modules
        if isinstance(targets, str):
            embedding_targeted = any(re.fullmatch(targets, n) for n in EMBEDDING_NAMES)
        else:
            embedding_targeted = any(str(t).split(".")[-1] in EMBEDDING_NAMES for t in targets or [])
        if not config.ensure_weight_tying:
            if tied and (embedding_saved or embedding_targeted):
                warnings.warn(
                    f"This model ties {', '.join(tied)} to its input embedding and the adapter trains one of them, but "
                    f"`ensure_weight_tying` is not set to True: the adapter's trained copies stay separate (merging "
                    f"then unties them). Set ensure_weight_tying=True to keep them tied.", UserWarning, stacklevel=4)
            return None
        if not tied:
            warnings.warn("ensure_weight_tying=True, but no tied modules were found in the model (it declares no "
                          "_tied_weights_keys, or its config says tie_word_embeddings=False): nothing is tied.",
                          UserWarning, stacklevel=4)
            return None
        embedding = model.get_input_embeddings()
        embed_path = next(n for n, m in model.named_modules() if m is embedding)
        if not embedding_saved and embedding_targeted:
            # PEFT's rewrite: the embedding is the target the tied modules follow (lora.inject adds them last, tied)
            if isinstance(targets, str):
                config.target_modules = rf"(?:{targets}|^{re.escape(embed_path)}$)"
            else:
                kept = sorted(set(targets or []) | {embed_path})
                for path in tied:
                    entry = next((m for m in kept if re.match(rf"(^|.*\.){re.escape(m)}($|\..*)", path)), None)
                    if entry is not None and entry != embed_path:
                        kept.remove(entry)
                config.target_modules = kept
            config.target_modules_to_tie = list(tied)  # not a field: recomputed from the model when loaded
            return None
        if not embedding_saved:
            warnings.warn(f"ensure_weight_tying=True, but no tied modules are added: neither modules_to_save nor "
                          f"target_modules names the input embedding or {', '.join(tied)}, so there is nothing to tie.",
                          UserWarning, stacklevel=4)
            return None
        if isinstance(getattr(embedding, "original_module", None), nn.Module):  # already wrapped (a second adapter)
            embedding = embedding.original_module
        # PEFT's rewrite: the embedding's own path in, every entry that names a tied module out (they follow it)
        to_save = to_save + ([embed_path] if embed_path not in to_save else [])
        for path in tied:
            entry = next((m for m in to_save if re.match(rf"(^|.*\.){re.escape(m)}($|\..*)", path)), None)
            if entry is not None and entry != embed_path:
                to_save.remove(entry)
        config.modules_to_save = to_save
        return embed_path, tied

    def _add_modules_to_save(self, adapter_name: str, config: PeftConfig) -> None:
        tying = self._weight_tying(config)
        names = list(getattr(config, "modules_to_save", None) or [])
        model = self.base_model.model
        if getattr(config, "task_type", None) == TaskType.SEQ_CLS:
            names += [h for h in SEQ_CLS_HEADS if h not in names and any(n.split(".")[-1] == h for n, _ in model.named_modules())]
            if names:
                config.modules_to_save = names
        paths: list[str] = []  # every entry is checked before any module is wrapped: an error leaves the model as it was
        for entry in names:
            # PEFT's rule (`_set_trainable`): a plain suffix, so "norm" also selects "input_layernorm". Kept so that
            # trainable counts and saved files match PEFT's for the same config.
            found = [n for n, m in model.named_modules() if n and n.endswith(entry)]
            found = [n for n in found if ".modules_to_save." not in n and ".original_module" not in n]
            if not found:
                if getattr(config, "task_type", None) == TaskType.SEQ_CLS and entry in SEQ_CLS_HEADS:
                    continue  # PEFT writes both head names into every SEQ_CLS config; a model has one of them
                raise ValueError(f"modules_to_save entry '{entry}' matches no module of this model.")
            paths += [path for path in found if path not in paths]
        for path in paths:  # containers (ModuleList, ...) are refused before anything is wrapped
            module = model.get_submodule(path)
            reason = None if isinstance(module, ModulesToSaveWrapper) else cannot_wrap(module, path)
            if reason:
                raise TypeError(reason)
        for path in paths:
            _save_wrapper_at(model, path).add_adapter(adapter_name)
        if tying is not None:
            # each module tied to the embedding gets a copy whose weight is the embedding copy's own Parameter
            embed_path, tied = tying
            source = model.get_submodule(embed_path).modules_to_save[adapter_name]
            for path in tied:
                _save_wrapper_at(model, path).add_adapter(adapter_name, tied_to=source)

    def set_adapter(self, adapter_name: str | list[str], inference_mode: bool = False) -> None:
        """Make ``adapter_name`` the active adapter (the others stay in memory, inactive and frozen).

        A list activates several LoRA / IA3 / AdaLoRA adapters at once: their updates add up (IA3: multiply)
        and all of them train. ``inference_mode=True`` activates without unfreezing.
        """
        names = [adapter_name] if isinstance(adapter_name, str) else list(adapter_name)
        if not names:
            raise ValueError("set_adapter needs at least one adapter name.")
        unknown = [n for n in names if n not in self.peft_config]
        if unknown:
            raise ValueError(f"No adapter named '{unknown[0]}'. Adapters: {', '.join(self.peft_config)}.")
        if len(names) > 1:
            if self.peft_type not in MULTI_ACTIVE_TYPES:
                raise ValueError(
                    f"{self.peft_type.value} adapters can only be active one at a time; several active adapters "
                    f"are possible for {', '.join(t.value for t in MULTI_ACTIVE_TYPES)}."
                )
            for path, layer in self.base_model.adapter_layers():
                # modules_to_save copies and trainable-token rows replace the module's output rather than add to it
                if getattr(layer, "single_active", False) and len(set(names) & set(layer.adapter_names())) > 1:
                    what = "trained copy of" if isinstance(layer, ModulesToSaveWrapper) else "trainable tokens in"
                    raise ValueError(
                        f"Only one adapter can be set at a time for {type(layer).__name__}: adapters "
                        f"{', '.join(n for n in names if n in layer.adapter_names())} each have their own {what} '{path}'; "
                        f"only one of them can be active at a time."
                    )
        self.active_adapter = names[0]
        self.__dict__["_active_names"] = names
        self._refresh_trainable(inference_mode=inference_mode)

    def delete_adapter(self, adapter_name: str) -> None:
        """Remove an adapter; if it was active, the remaining active ones (or the first remaining one) stay active."""
        if adapter_name not in self.peft_config:
            # PEFT's sentence first (code matches it), then what there is
            raise ValueError(f"Adapter {adapter_name} does not exist: no adapter named '{adapter_name}'. Adapters: "
                             f"{', '.join(self.peft_config) or 'none'}.")
        if any(adapter_name in getattr(layer, "merged_adapters", ()) for _, layer in self.base_model.adapter_layers()):
            # its update is inside the base weights: deleting the adapter would leave it there for ever
            raise ValueError(f"Cannot delete adapter(s) {[adapter_name]!r} while they are merged. Please unmerge them "
                             f"first. (unmerge_adapter() takes their updates out of the base weights.)")
        active = [n for n in self.active_adapters if n != adapter_name]
        self._drop_adapter_layers(adapter_name)
        del self.peft_config[adapter_name]
        if not self.peft_config:
            # the last adapter (as PEFT allows): the layers are back to the base modules, nothing is active; the
            # base model (``base_model``) runs as before, and add_adapter can start again
            self.active_adapter = None
            self.__dict__["_active_names"] = []
            return
        active = active or [next(iter(self.peft_config))]
        self.active_adapter = active[0]
        self.__dict__["_active_names"] = active
        self._refresh_trainable()

    def _drop_adapter_layers(self, adapter_name: str) -> None:
        """Delete ``adapter_name`` from every layer; layers left with no adapter go back to their base module."""
        model = self.base_model.model
        for path, layer in _deepest_first(self.base_model.adapter_layers()):
            if adapter_name in layer.adapter_names():
                layer.delete_adapter(adapter_name)
            if not layer.adapter_names():
                _replace(model, path, layer.unwrap(merge=False))
        encoders = self._modules.get("prompt_encoder")  # prompt learning keeps its encoders here, as PEFT
        if encoders is not None and adapter_name in encoders:
            del encoders[adapter_name]

    def _refresh_trainable(self, inference_mode: bool = False) -> None:
        """Freeze everything, then unfreeze the active adapters (unless loaded for inference) and chosen biases."""
        active = [n for n in self.active_adapters if n in self.peft_config]
        configs = [self.peft_config[n] for n in active]
        trainable = bool(configs) and not inference_mode and not any(c.inference_mode for c in configs)
        for p in self.base_model.model.parameters():
            p.requires_grad_(False)
        for _, layer in self.base_model.adapter_layers():
            layer.set_adapter(active, trainable=trainable)
        for name, encoder in (self._modules.get("prompt_encoder") or {}).items():
            encoder.requires_grad_(trainable and name in active)
        # at most one adapter of a model trains biases (add_adapter refuses a second one)
        config = next((c for c in configs if getattr(c, "bias", "none") != "none"), None)
        bias = getattr(config, "bias", "none") if trainable else "none"
        if bias == "all":
            for name, p in self.base_model.model.named_parameters():
                if name.endswith(".bias") and ".original_module." not in name:
                    p.requires_grad_(True)
        elif bias == "lora_only":
            for _, layer in self.base_model.adapter_layers():
                b = getattr(getattr(layer, "base_layer", None), "bias", None)
                if b is not None:
                    b.requires_grad_(True)

    # ---- forward and generation -------------------------------------------------------------------

    # A method file may take over a verb by defining a module-level function of the same name that
    # receives this PeftModel first (``forward``, ``generate``), or add verbs through ``MODEL_VERBS``
    # (e.g. AdaLoRA's ``update_and_allocate``). Methods that define neither get the plain behaviour.

    def _method_hook(self, verb: str) -> Any:
        """The method file's ``peft_<verb>`` when it takes this verb over (the verbs: `core.methods.contract.HOOKS`)."""
        assert verb in HOOKS, f"{verb!r} is not one of the hooks core.methods.contract names"
        if not self.peft_config:  # every adapter was deleted: the plain model's behaviour
            return None
        return getattr(REGISTRY[self.peft_type], f"peft_{verb}", None)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        adapter_names = kwargs.pop("adapter_names", None)
        if adapter_names is not None and not self.adapters_disabled:
            # PEFT's mixed adapter batch: sample i through adapter adapter_names[i] (core/mixed_batch.py)
            self._check_mixed_batch(list(adapter_names))
            with mixed_batch.mixed(adapter_names):
                return self.forward(*args, **kwargs)
        hook = self._method_hook("forward")
        if hook is not None:
            return hook(self, *args, **kwargs)
        return self.base_model(*args, **kwargs)

    def _check_mixed_batch(self, adapter_names: list[str]) -> None:
        """Refuse a mixed batch the layers cannot serve exactly (PEFT's sentences first, then why)."""
        if self.training:
            raise ValueError("Cannot pass `adapter_names` when the model is in training mode. (A mixed batch is for "
                             "inference: call model.eval() first.)")
        if any(getattr(layer, "merged_adapters", None) for _, layer in self.base_model.adapter_layers()):
            raise ValueError("Cannot pass `adapter_names` when there are merged adapters, please call `unmerge_adapter` "
                             "first. (A merged update would reach every sample of the batch.)")
        unknown = sorted({n for n in adapter_names if n != mixed_batch.BASE and n not in self.peft_config})
        if unknown:
            raise ValueError(f"Trying to infer with non-existing adapter(s): {', '.join(unknown)}. Adapters of this "
                             f"model: {', '.join(self.peft_config)} (and '{mixed_batch.BASE}' for the base model).")
        named = {n for n in adapter_names if n != mixed_batch.BASE}
        if self.peft_type != PeftType.LORA:  # other methods' layers do not split a batch, not even for "__base__"
            raise ValueError(f"Mixed adapter batches (`adapter_names`) are supported for LoRA adapters only, not "
                             f"{self.peft_type.value}.")
        if any(getattr(self.peft_config[n], "use_dora", False) for n in named):
            raise ValueError("Cannot pass `adapter_names` when DoRA is enabled. (A DoRA adapter rescales the whole "
                             "layer output, which a per-sample split does not do exactly.)")

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        """transformers' ``generate`` through the adapted model."""
        hook = self._method_hook("generate")
        if hook is not None:
            return hook(self, *args, **kwargs)
        return self.base_model.model.generate(*args, **kwargs)

    # True inside ``disable_adapter()``: methods without layers (prompt learning) read it in their hooks.
    adapters_disabled: bool = False

    @contextlib.contextmanager
    def disable_adapter(self) -> Iterator[None]:
        """Within the block the model computes exactly the base model (merged adapters are unmerged)."""
        layers = [layer for _, layer in self.base_model.adapter_layers()]
        previous = [layer.disabled for layer in layers]
        previous_flag = self.adapters_disabled
        if len(set(previous)) > 1:
            # Some layers switched off one by one (``layer.enable_adapters(False)``): as PEFT, say so and leave
            # them all on at the end of the block, since "the state before" is rarely what such code wants back
            warnings.warn("The model contains some adapter layers that are enabled and others that are disabled. "
                          f"{previous.count(True)} of {len(previous)} are off now; all of them will be on after "
                          "this disable_adapter() block.", UserWarning, stacklevel=3)
            previous = [False] * len(layers)
        # As in PEFT the adapter's own parameters stop requiring gradients inside the block (nothing can train
        # what the forward pass does not use); each gets its own flag back afterwards.
        frozen = [p for p in self._adapter_parameters() if p.requires_grad]
        for layer in layers:
            if layer.disabled is False:
                layer.unmerge()
            layer.disabled = True
        self.adapters_disabled = True
        for p in frozen:
            p.requires_grad_(False)
        try:
            yield
        finally:
            self.adapters_disabled = previous_flag
            for layer, was in zip(layers, previous):
                layer.disabled = was
            for p in frozen:
                p.requires_grad_(True)

    def _adapter_parameters(self) -> list[nn.Parameter]:
        """Every parameter that belongs to an adapter (layers' adapter tensors, modules_to_save copies, encoders)."""
        params: list[nn.Parameter] = []
        for _, layer in self.base_model.adapter_layers():
            for pname, p in layer.named_parameters():
                if "base_layer" not in pname.split(".") and not pname.startswith("original_module."):
                    params.append(p)
        for encoder in (self._modules.get("prompt_encoder") or {}).values():
            params.extend(encoder.parameters())
        return params

    def set_requires_grad(self, adapter_names: str | list[str], requires_grad: bool = True) -> None:
        """Switch training of the named adapters' tensors on or off (PEFT's verb), whether active or not; the
        other adapters keep their flags. Unknown names are an error."""
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        unknown = [n for n in names if n not in self.peft_config]
        if unknown:
            raise ValueError(f"set_requires_grad: no adapter named '{unknown[0]}'. Adapters: {', '.join(self.peft_config)}.")
        for name in names:
            for _, _, p in self._own_parameters(name):
                p.requires_grad_(requires_grad)
        for _, layer in self.base_model.adapter_layers():
            refreeze = getattr(layer, "refreeze", None)  # weights an init keeps fixed (LoRA's MiCA B)
            if refreeze is not None:
                refreeze()

    def disable_adapter_layers(self) -> None:
        """Like entering :meth:`disable_adapter` until :meth:`enable_adapter_layers` (PEFT's tuner verbs)."""
        if self.__dict__.get("_disabled_block") is None:
            block = self.disable_adapter()
            block.__enter__()
            self.__dict__["_disabled_block"] = block

    def enable_adapter_layers(self) -> None:
        """Undo :meth:`disable_adapter_layers`."""
        block = self.__dict__.pop("_disabled_block", None)
        if block is not None:
            block.__exit__(None, None, None)

    def get_base_model(self) -> nn.Module:
        """The underlying transformers model (with adapter layers inside)."""
        return self.base_model.model

    # ---- merging ----------------------------------------------------------------------------------

    def merge_adapter(self, adapter_names: list[str] | None = None, safe_merge: bool = False) -> None:
        """Add the adapters' updates into the base weights (kept separable: :meth:`unmerge_adapter`)."""
        hook = self._method_hook("merge_adapter")
        if hook is not None:  # e.g. prompt learning: nothing to merge, the hook says so
            return hook(self, adapter_names=adapter_names, safe_merge=safe_merge)
        names = adapter_names if adapter_names is not None else self.active_adapters
        layers = [layer for _, layer in self.base_model.adapter_layers()]
        # layers whose adapters merge into weights (a modules_to_save copy replaces its module instead: it never
        # counts as merged, so it cannot tell whether a merge already happened)
        holding = [layer for layer in layers if set(names) & set(layer.adapter_names()) and not isinstance(layer, ModulesToSaveWrapper)]
        if holding and all(set(names) & set(l.adapter_names()) <= set(getattr(l, "merged_adapters", ())) for l in holding):
            # a second merge_adapter() is harmless but usually a mistake in the caller's bookkeeping: say so (as PEFT)
            warnings.warn(f"merge_adapter(): All adapters are already merged, nothing to do ({', '.join(names)}).",
                          UserWarning, stacklevel=2)
            return
        self._untie_adapted_weights()
        for layer in layers:
            layer.merge(names, safe_merge=safe_merge)

    def _untie_adapted_weights(self) -> None:
        """Before merging, give a module that shares its weight with an adapted layer its own copy.

        With tied embeddings (Bloom, SmolLM2) the input embedding and the output head are one tensor. The
        adapter changes only the layer it wraps, so merging into the shared tensor would change the other
        module too (PEFT only warns). Untying keeps merged outputs equal to the adapter model's; the config
        then says ``tie_word_embeddings=False`` so a saved merged model keeps both matrices.
        """
        model = self.base_model.model
        adapted: dict[int, str] = {}
        for path, layer in self.base_model.adapter_layers():
            weight = getattr(getattr(layer, "base_layer", None), "weight", None)
            if isinstance(weight, nn.Parameter):
                adapted[id(weight)] = path
        untied = False
        for name, module in model.named_modules(remove_duplicate=False):
            weight = module._parameters.get("weight")
            owner = adapted.get(id(weight)) if weight is not None else None
            if owner is None or name == owner or name.startswith(owner + "."):
                continue
            module.weight = nn.Parameter(weight.detach().clone(), requires_grad=weight.requires_grad)
            untied = True
        config = getattr(model, "config", None)
        if untied and config is not None:
            config.tie_word_embeddings = False
            text_config = getattr(config, "get_text_config", lambda: None)()
            if text_config is not None:
                text_config.tie_word_embeddings = False

    def unmerge_adapter(self) -> None:
        """Take merged updates out of the base weights again."""
        for _, layer in self.base_model.adapter_layers():
            layer.unmerge()

    def merge_and_unload(self, progressbar: bool = False, safe_merge: bool = False, adapter_names: list[str] | None = None) -> nn.Module:
        """Merge the active adapter into the weights and return the plain transformers model."""
        hook = self._method_hook("merge_and_unload")
        if hook is not None:
            return hook(self, progressbar=progressbar, safe_merge=safe_merge, adapter_names=adapter_names)
        names = adapter_names if adapter_names is not None else self.active_adapters
        model = self.base_model.model
        self._untie_adapted_weights()
        for path, layer in _deepest_first(self.base_model.adapter_layers()):
            if isinstance(layer, ModulesToSaveWrapper):
                _replace(model, path, layer.unwrap(merge=True))
                continue
            layer.merge(names, safe_merge=safe_merge)
            # only ``names``: unwrap's default (the active adapters) would also merge an active adapter not asked for
            _replace(model, path, layer.unwrap(merge=True, names=names))
        return model

    def unload(self) -> nn.Module:
        """Remove every adapter without merging and return the original transformers model."""
        model = self.base_model.model
        for path, layer in _deepest_first(self.base_model.adapter_layers()):
            _replace(model, path, layer.unwrap(merge=False))
        return model

    # ---- counting ---------------------------------------------------------------------------------

    def get_nb_trainable_parameters(self) -> tuple[int, int]:
        """(trainable, all) parameter counts; tied parameters counted once, as PEFT does."""
        trainable = total = 0
        for _, p in self.named_parameters():
            total += p.numel()
            if p.requires_grad:
                trainable += p.numel()
        return trainable, total

    def get_layer_status(self) -> list:
        """PEFT's per-layer status (see :func:`core.functional.get_layer_status`)."""
        from core.functional import get_layer_status

        return get_layer_status(self)

    def get_model_status(self) -> Any:
        """PEFT's model status (see :func:`core.functional.get_model_status`)."""
        from core.functional import get_model_status

        return get_model_status(self)

    def create_or_update_model_card(self, output_dir: str) -> None:
        """Write or update ``output_dir/README.md`` with the adapter's Hub metadata (``library_name: peft``, ...)."""
        from core.functional import create_or_update_model_card

        create_or_update_model_card(self, output_dir)

    def add_weighted_adapter(self, adapters: list[str], weights: list[float], adapter_name: str, **kwargs: Any) -> None:
        """A new adapter ``adapter_name`` that combines ``adapters`` (see :func:`core.arithmetic.add_weighted_adapter`)."""
        from core.arithmetic import add_weighted_adapter

        add_weighted_adapter(self, adapters, weights, adapter_name, **kwargs)

    def print_trainable_parameters(self) -> None:
        """Print PEFT's line: ``trainable params: … || all params: … || trainable%: …``."""
        print(format_trainable(*self.get_nb_trainable_parameters()))

    # ---- files ------------------------------------------------------------------------------------

    def _adapter_entries(self, name: str) -> Iterator[tuple[str, str, torch.Tensor]]:
        """(module path, key suffix, live tensor) for every tensor adapter ``name`` saves."""
        for path, layer in self.base_model.adapter_layers():
            for key, tensor in layer.adapter_state(name).items():
                yield path, key, tensor
        bias = getattr(self.peft_config[name], "bias", "none")
        if bias == "all":
            for pname, p in self.base_model.model.named_parameters():
                if pname.endswith(".bias") and ".original_module." not in pname and ".modules_to_save." not in pname:
                    yield pname.rpartition(".")[0], "bias", p
        elif bias == "lora_only":
            for path, layer in self.base_model.adapter_layers():
                b = getattr(getattr(layer, "base_layer", None), "bias", None)
                if b is not None:
                    yield path, "base_layer.bias", b

    def adapter_state_dict(self, adapter_name: str | None = None) -> dict[str, torch.Tensor]:
        """The adapter's tensors keyed as in PEFT's ``adapter_model.safetensors`` (live tensors, not copies)."""
        hook = self._method_hook("adapter_state_dict")
        if hook is not None:  # prompt learning: ``prompt_embeddings`` (+ what resuming training needs)
            return hook(self, adapter_name or self.active_adapter)
        return {f"{PREFIX}{path}.{key}": t for path, key, t in self._adapter_entries(adapter_name or self.active_adapter)}

    def _embedding_layers_to_save(self, adapter_name: str, save_embedding_layers: bool | str | None) -> dict[str, torch.Tensor]:
        """The embeddings' base weights (file key -> live tensor) that ``save_embedding_layers`` asks to save.

        ``None`` (our default): none — the base model has them. PEFT's values, when passed: ``True`` saves the input
        and output embeddings' base weights of a transformers model (a model without ``get_input_embeddings`` gets a
        warning and nothing); ``"auto"`` does so, with PEFT's warning, when a module named ``embed_tokens`` or
        ``lm_head`` is a target of this adapter (and no trainable tokens are used), else saves none. PEFT's "auto"
        also compares the vocabulary size with the base model's config on the Hub; we do not go online for that.
        """
        if save_embedding_layers is None or save_embedding_layers is False:
            return {}
        if save_embedding_layers not in (True, "auto"):
            raise ValueError(f"save_embedding_layers must be True, False or 'auto', got {save_embedding_layers!r}.")
        adapted = [n for n, m in self.base_model.model.named_modules() if isinstance(m, AdapterLayer) and adapter_name in m.adapter_names()]
        targeted = any(n.rpartition(".")[2] in ("embed_tokens", "lm_head") for n in adapted)
        if save_embedding_layers == "auto":
            if not targeted or getattr(self.peft_config[adapter_name], "trainable_token_indices", None) is not None:
                return {}
            warnings.warn("Setting `save_embedding_layers` to `True` as embedding layers found in `target_modules`.", stacklevel=3)
        if not hasattr(self.base_model.model, "get_input_embeddings"):
            warnings.warn("Could not identify embedding layer(s) because the model is not a 🤗 transformers model.", stacklevel=3)
            return {}
        # with an embedding among the targets only the adapted embeddings' base weights (…embed_tokens.base_layer),
        # else both (a resized vocabulary): PEFT's choice
        return {key: entry[2] for key, entry in self._embedding_weights().items()
                if not targeted or entry[0].endswith(".base_layer") or entry[0] == "base_layer"}

    def save_pretrained(self, save_directory: str | os.PathLike, selected_adapters: list[str] | None = None,
                        safe_serialization: bool = True, save_embedding_layers: bool | str | None = None) -> None:
        """Write each adapter as PEFT does: ``default`` into ``save_directory``, others into ``save_directory/<name>``,
        and the Hub model card ``save_directory/README.md`` (:meth:`create_or_update_model_card`).

        ``save_embedding_layers`` (PEFT's ``True`` / ``False`` / ``"auto"``) also writes the embeddings' base
        weights (:meth:`_embedding_layers_to_save`); left out, as by default, they are not written (PEFT's default
        is ``"auto"``: docs/peft-compatibility.md).
        Each file is written to a temporary name and renamed into place, so an interrupted save never
        leaves a half-written adapter behind.
        """
        from safetensors.torch import save_file

        root = Path(save_directory)
        if root.exists() and not root.is_dir():
            raise ValueError(f"Cannot save the adapter into {root}: it is a file, not a folder.")
        for name in selected_adapters or []:
            if name not in self.peft_config:
                raise ValueError(f"No adapter named '{name}'. Adapters: {', '.join(self.peft_config)}.")
        # PEFT writes the Hub model card (README.md: library_name peft, the method's tag) beside the adapter; an
        # existing card keeps its text
        root.mkdir(parents=True, exist_ok=True)
        self.create_or_update_model_card(str(root))
        for name in selected_adapters or list(self.peft_config):
            folder = root if name == "default" else root / name
            folder.mkdir(parents=True, exist_ok=True)
            tensors = {**self.adapter_state_dict(name), **self._embedding_layers_to_save(name, save_embedding_layers)}
            state = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}
            if safe_serialization:
                _atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
            else:
                _atomic_write(folder / PICKLED_WEIGHTS_NAME, lambda tmp: torch.save(state, tmp))
            text = self.peft_config[name].to_json()
            _atomic_write(folder / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def push_to_hub(
        self, repo_id: str, commit_message: str = "Upload adapter", private: bool | None = None, token: str | None = None,
        revision: str | None = None, create_pr: bool = False, selected_adapters: list[str] | None = None,
    ) -> Any:
        """Upload the adapter(s) to the Hugging Face Hub repo ``repo_id`` (created if needed), with a model card.

        The files are what :meth:`save_pretrained` writes, plus ``README.md`` (:meth:`create_or_update_model_card`).
        """
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="adapter-upload-") as folder:
            self.save_pretrained(folder, selected_adapters=selected_adapters)
            self.create_or_update_model_card(folder)
            return api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message,
                                     revision=revision, create_pr=create_pr)

    def load_adapter(
        self, model_id: str | os.PathLike, adapter_name: str, is_trainable: bool = False,
        torch_device: str | torch.device | None = None, autocast_adapter_dtype: bool = True,
        ephemeral_gpu_offload: bool = False, low_cpu_mem_usage: bool = False,
        key_mapping: dict[str, str] | None = None, *, allow_pickle: bool = False, **kwargs: Any,
    ) -> None:
        """Load a saved adapter (ours or PEFT's) as ``adapter_name`` beside the existing ones.

        PEFT's keywords, with PEFT's meaning: ``torch_device`` (where the file's tensors are read to; the adapter
        itself lives where its base layer lives), ``autocast_adapter_dtype``, ``low_cpu_mem_usage`` (the adapter
        is created empty on the meta device and takes the file's tensors as they are), ``key_mapping`` (regex ->
        replacement applied to the file's keys), ``subfolder``, and the hub download options (``revision``,
        ``token``, ``cache_dir``, ...), which change nothing for a local folder. Any other keyword is an error.
        """
        device_map = kwargs.pop("device_map", None)
        folder = _resolve_load_options("load_adapter", model_id, torch_device, ephemeral_gpu_offload, kwargs)
        config = load_config(folder)
        config.inference_mode = not is_trainable
        key_mapping = _key_mapping(self.base_model.model, config, key_mapping)
        state = _map_keys(read_adapter_weights(folder, allow_pickle=allow_pickle, device=torch_device), key_mapping)
        self.add_adapter(adapter_name, config, low_cpu_mem_usage=low_cpu_mem_usage,
                         autocast_adapter_dtype=autocast_adapter_dtype, initialise=False)
        try:
            self._load_weights(adapter_name, state, str(folder))
        except Exception:
            self._undo_init(adapter_name)
            self._drop_adapter_layers(adapter_name)
            del self.peft_config[adapter_name]
            self._refresh_trainable()
            raise
        _apply_device_map(self, device_map, "load_adapter")
        # the load is strict (a missing or unexpected tensor is an error above), so both lists are empty
        return LoadResult(missing_keys=[], unexpected_keys=[])

    def _undo_init(self, adapter_name: str) -> None:
        """After a failed load: undo what the adapter's init did to base weights (PiSSA), before removing it."""
        for _, layer in self.base_model.adapter_layers():
            if hasattr(layer, "undo_init") and adapter_name in layer.adapter_names():
                layer.undo_init(adapter_name)

    def _load_weights(
        self, adapter_name: str, state: dict[str, torch.Tensor], source: str, *, strict: bool = True,
        ignore_mismatched_sizes: bool = False,
    ) -> tuple[list[str], list[str]]:
        """Copy ``state`` (file keys) into adapter ``adapter_name``; every key must fit exactly.

        ``strict=False`` (``set_peft_model_state_dict``) loads what fits and returns (missing parameters by
        in-memory name, unexpected file keys) instead of raising; shapes must still agree unless
        ``ignore_mismatched_sizes`` (then the tensor is skipped and its parameter counts as missing).
        """
        hook = self._method_hook("load_weights")
        if hook is not None:
            hook(self, adapter_name, state, source)
            return [], []
        expected = {f"{PREFIX}{path}.{key}": (path, key, t) for path, key, t in self._adapter_entries(adapter_name)}
        given: dict[str, torch.Tensor] = {}
        for key, tensor in state.items():
            if not key.startswith(PREFIX):  # accept keys without PEFT's prefix
                key = PREFIX + key
            for name in (adapter_name, "default"):  # and keys that kept the adapter name
                if key not in expected:
                    key = key.replace(f".{name}.", ".").removesuffix(f".{name}")
            given[key] = tensor
        # PEFT also saves the full input/output embedding weight when one is a target or was resized
        # (`save_embedding_layers`, e.g. `…embed_tokens.base_layer.weight`) and loads it into the model: do the same.
        # With bias="all" its file also holds the biases inside modules_to_save wrappers under their in-memory
        # names (`…ln_f.modules_to_save.bias`, `…ln_f.original_module.bias`): accepted and loaded as PEFT does.
        extra = self._embedding_weights() | self._wrapped_biases(adapter_name)
        for key in given:
            if key not in expected and key in extra:
                expected[key] = extra[key]
        missing = sorted(set(expected) - set(given))
        unexpected = sorted(set(given) - set(expected))
        report: tuple[list[str], list[str]] = ([], [])
        if not strict:  # load what fits; report the rest by in-memory parameter name / file key
            if ignore_mismatched_sizes:
                missing += [k for k, (_, _, t) in expected.items() if k in given and tuple(given[k].shape) != tuple(t.shape)]
            names = {id(p): n for n, p in self.named_parameters(remove_duplicate=False)}
            report = (sorted(names.get(id(expected[k][2]), k) for k in missing), unexpected)
            for key in missing:
                del expected[key]
        elif missing or unexpected:
            parts = []
            if missing:
                parts.append(f"{len(missing)} tensor(s) this model needs are missing, e.g. {missing[0]}")
            if unexpected:
                parts.append(f"{len(unexpected)} tensor(s) fit no module of this model, e.g. {unexpected[0]}")
            raise AdapterLoadError(f"{source}: the adapter does not fit this model: {'; '.join(parts)}. Was it made for a different base model?")
        for key, (path, leaf, target) in expected.items():
            tensor = given[key]
            if tuple(tensor.shape) != tuple(target.shape):
                raise AdapterLoadError(
                    f"{source}: module '{path}': {leaf} has shape {tuple(tensor.shape)} in the adapter but "
                    f"{tuple(target.shape)} in this model. The adapter was made for a different base model."
                )
        owners = None
        with torch.no_grad():
            for key, (_, _, target) in expected.items():
                if target.device.type != "meta":
                    target.data.copy_(given[key].to(dtype=target.dtype, device=target.device))
                    continue
                # created empty (low_cpu_mem_usage): the parameter takes the file's tensor itself
                if owners is None:
                    owners = {id(p): (m, leaf) for m in self.modules() for leaf, p in m._parameters.items() if p is not None}
                module, leaf = owners[id(target)]
                module._parameters[leaf] = nn.Parameter(given[key].to(dtype=target.dtype), requires_grad=target.requires_grad)
        return report

    def _embedding_weights(self) -> dict[str, tuple[str, str, torch.Tensor]]:
        """File key -> (module path, leaf, live parameter) for the base weights of the input/output embeddings."""
        model = self.base_model.model
        modules = {getattr(model, getter)() for getter in ("get_input_embeddings", "get_output_embeddings") if hasattr(model, getter)}
        modules |= {getattr(m, "base_layer", None) for m in modules}
        modules.discard(None)
        out: dict[str, tuple[str, str, torch.Tensor]] = {}
        for pname, p in model.named_parameters(remove_duplicate=False):
            path, _, leaf = pname.rpartition(".")
            if ".original_module." in f".{pname}" or ".modules_to_save." in f".{pname}":
                continue
            if model.get_submodule(path) in modules:
                out[f"{PREFIX}{pname}"] = (path, leaf, p)
        return out

    def _wrapped_biases(self, adapter_name: str) -> dict[str, tuple[str, str, torch.Tensor]]:
        """File key -> (module path, leaf, live parameter) for biases in modules_to_save wrappers (bias='all' only)."""
        if getattr(self.peft_config[adapter_name], "bias", "none") != "all":
            return {}
        out: dict[str, tuple[str, str, torch.Tensor]] = {}
        for pname, p in self.base_model.model.named_parameters():
            if pname.endswith(".bias") and (".original_module." in pname or f".modules_to_save.{adapter_name}." in pname):
                key = PREFIX + pname.replace(f".modules_to_save.{adapter_name}.", ".modules_to_save.")
                out[key] = (pname.rpartition(".")[0], "bias", p)
        return out

    @classmethod
    def from_pretrained(
        cls, model: nn.Module, model_id: str | os.PathLike, adapter_name: str = "default", is_trainable: bool = False,
        config: PeftConfig | None = None, autocast_adapter_dtype: bool = True, ephemeral_gpu_offload: bool = False,
        low_cpu_mem_usage: bool = False, key_mapping: dict[str, str] | None = None, *, allow_pickle: bool = False,
        **kwargs: Any,
    ) -> "PeftModel":
        """Wrap ``model`` with the adapter saved in folder ``model_id`` (ours or PEFT's).

        Keywords as in PEFT (see :meth:`load_adapter`, plus ``torch_device``); an unknown keyword is an error.
        """
        torch_device = kwargs.pop("torch_device", None)
        device_map = kwargs.pop("device_map", None)
        folder = _resolve_load_options("from_pretrained", model_id, torch_device, ephemeral_gpu_offload, kwargs)
        config = config or load_config(folder)
        config.inference_mode = not is_trainable
        klass = cls
        if cls is PeftModel and config.task_type == TaskType.CAUSAL_LM:
            klass = PeftModelForCausalLM
        key_mapping = _key_mapping(model, config, key_mapping)
        state = _map_keys(read_adapter_weights(folder, allow_pickle=allow_pickle, device=torch_device), key_mapping)
        peft = klass(model, config, adapter_name, autocast_adapter_dtype=autocast_adapter_dtype,
                     low_cpu_mem_usage=low_cpu_mem_usage, initialise=False)
        try:
            peft._load_weights(adapter_name, state, str(folder))
        except Exception:
            peft._undo_init(adapter_name)
            peft.unload()  # give the caller their model back unchanged
            raise
        _apply_device_map(peft, device_map, "from_pretrained")
        if not is_trainable:
            peft.eval()
        return peft

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in ("base_model", "peft_config"):
                raise
            verbs = getattr(REGISTRY[self.peft_type], "MODEL_VERBS", {}) if self.peft_config else {}
            if name in verbs:
                return functools.partial(verbs[name], self)
            return getattr(self.base_model, name)


class PeftModelForCausalLM(PeftModel):
    """A :class:`PeftModel` for causal language models (``task_type=CAUSAL_LM``)."""


def get_peft_model(
    model: nn.Module, peft_config: PeftConfig, adapter_name: str = "default", mixed: bool = False,
    autocast_adapter_dtype: bool = True, revision: str | None = None, low_cpu_mem_usage: bool = False,
) -> PeftModel:
    """Inject a fresh adapter into ``model`` (in place) and return the wrapping :class:`PeftModel`.

    PEFT's keywords: ``revision`` is written into the config (the base model's revision, saved in
    ``adapter_config.json``); ``autocast_adapter_dtype=False`` keeps the adapter in a half-precision base's
    dtype instead of fp32; ``low_cpu_mem_usage=True`` creates the adapter empty on the meta device (load
    weights before using it). ``mixed=True`` (several methods in one model) is not supported and refused.
    """
    if mixed:
        raise ValueError(
            "get_peft_model(mixed=True): models that mix adapter methods are not supported; every adapter of a "
            "model uses one method. Call get_peft_model without mixed."
        )
    adapted = next(((name, m) for name, m in model.named_modules() if isinstance(m, AdapterLayer)), None)
    if adapted is not None:
        # an adapter of the same name in a layer the new config targets is re-initialised there, as PEFT does
        same = f" Its adapter '{adapter_name}' is re-initialised where the new config targets it." \
            if adapter_name in adapted[1].adapter_names() else ""
        warnings.warn(
            f"You are trying to modify a model that already holds adapter layers (e.g. '{adapted[0]}'): the new adapter "
            f"is added on top of them.{same} To start again from the base model, call unload() on the PeftModel first.",
            UserWarning, stacklevel=2,
        )
    # As PEFT: the config names the model the adapter is made on; a different name given in the config is replaced
    # (with a warning), so the saved adapter_config.json never names another base model
    old_name, new_name = peft_config.base_model_name_or_path, getattr(model, "name_or_path", None) or None
    if old_name is not None and old_name != new_name:
        warnings.warn(f"The PEFT config's `base_model_name_or_path` was renamed from '{old_name}' to '{new_name}': the "
                      f"adapter is made on this model, so its file names it. Please ensure that the correct base model "
                      f"is loaded when loading this checkpoint.", UserWarning, stacklevel=2)
    peft_config.base_model_name_or_path = new_name
    if revision is not None:
        if peft_config.revision is not None and peft_config.revision != revision:
            warnings.warn(f"The config's revision {peft_config.revision!r} is replaced by revision={revision!r}.", stacklevel=2)
        peft_config.revision = revision
    klass = PeftModelForCausalLM if peft_config.task_type == TaskType.CAUSAL_LM else PeftModel
    return klass(model, peft_config, adapter_name, autocast_adapter_dtype=autocast_adapter_dtype,
                 low_cpu_mem_usage=low_cpu_mem_usage)


# Keywords of PEFT's loaders that only steer a download from the Hugging Face Hub: nothing to do for a local
# folder (PEFT ignores them there too).
HUB_OPTIONS = frozenset({"revision", "token", "use_auth_token", "cache_dir", "local_files_only", "force_download",
                         "proxies", "resume_download", "user_agent"})


def _resolve_load_options(verb: str, model_id: str | os.PathLike, torch_device: Any, offload: bool, kwargs: dict) -> Path:
    """Check the keywords of ``from_pretrained`` / ``load_adapter``; the adapter folder (``subfolder`` applied)."""
    subfolder = kwargs.pop("subfolder", None)
    unknown = sorted(set(kwargs) - HUB_OPTIONS)
    if unknown:
        known = "is_trainable, config, torch_device, autocast_adapter_dtype, low_cpu_mem_usage, key_mapping, subfolder, " \
                "allow_pickle, " + ", ".join(sorted(HUB_OPTIONS))
        raise TypeError(f"{verb}() got unknown keyword argument(s) {', '.join(unknown)}; accepted: {known}.")
    if offload:
        raise ValueError(f"{verb}(ephemeral_gpu_offload=True): Adapter Studio does not offload models to the CPU, so "
                         f"there is nothing to move to the GPU ephemerally. Leave it False.")
    if torch_device is not None:
        try:
            device = torch.device(torch_device)
        except (RuntimeError, TypeError):
            raise ValueError(f"{verb}(torch_device={torch_device!r}): not a device name such as 'cpu' or 'cuda:0'.") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{verb}(torch_device={torch_device!r}): this process sees no CUDA device.")
    folder = Path(model_id) / subfolder if subfolder else Path(model_id)
    return folder


class LoadResult(NamedTuple):
    """What :meth:`PeftModel.load_adapter` returns, as PEFT (torch's ``load_state_dict`` result): the parameters the
    file did not provide and the file's keys that fit nothing. Our load is strict, so both are empty on success."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _apply_device_map(peft_model: nn.Module, device_map: Any, verb: str) -> None:
    """PEFT's ``device_map`` keyword when loading: ``{"": device}`` (or any map naming one device) places the whole
    model there. Spreading a model over several devices is the base model's business (transformers'
    ``from_pretrained(device_map=...)``; the adapter follows its base layers), so other maps are refused."""
    if device_map is None:
        return
    devices = set(device_map.values()) if isinstance(device_map, dict) else set()
    if len(devices) != 1:
        raise ValueError(
            f"{verb}(device_map={device_map!r}): only a map that puts the whole model on one device (e.g. {{'': 'cpu'}}) "
            f"is supported here. To spread the model over devices, load the base model with device_map=... in "
            f"transformers; the adapter is created where each of its base layers lives."
        )
    device = devices.pop()
    try:
        device = torch.device(f"cuda:{device}" if isinstance(device, int) else device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{verb}(device_map={device_map!r}): {device!r} is not a device name such as 'cpu' or 'cuda:0'.") from None
    peft_model.to(device)


def _key_mapping(model: nn.Module, config: PeftConfig, key_mapping: dict[str, str] | None) -> dict[str, str] | None:
    """The mapping to apply to a file's keys: the caller's, else (as PEFT) the model's own
    ``_checkpoint_conversion_mapping``, which newer transformers models carry to read checkpoints of their older
    layout (e.g. ``^model`` -> ``model.language_model``), so an adapter saved on the old layout loads on the new one.
    Prompt-learning files hold no module paths (``prompt_embeddings``): no mapping of the model's for them."""
    if key_mapping is None and not (config.is_prompt_learning or config.peft_type == PeftType.ADAPTION_PROMPT):
        key_mapping = getattr(model, "_checkpoint_conversion_mapping", None)
    return key_mapping or None


def _map_keys(state: dict[str, torch.Tensor], key_mapping: dict[str, str] | None) -> dict[str, torch.Tensor]:
    """PEFT's ``key_mapping``: the first regex that matches a key rewrites it (``re.sub``). As in PEFT the
    patterns see the module path inside the model, without the file's ``base_model.model.`` prefix (a
    ``^model`` pattern means the model's own ``model`` submodule)."""
    if not key_mapping:
        return state
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        prefix = next((p for p in ("base_model.model.", "base_model.") if key.startswith(p)), "")
        key = key[len(prefix):]
        for pattern, replacement in key_mapping.items():
            new, n = re.subn(pattern, replacement, key)
            if n:
                key = new
                break
        out[prefix + key] = tensor
    return out


def format_trainable(trainable: int, total: int) -> str:
    """PEFT's exact line for ``print_trainable_parameters``."""
    return f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {100 * trainable / total:.4f}"


def _save_wrapper_at(model: nn.Module, path: str) -> ModulesToSaveWrapper:
    """The `ModulesToSaveWrapper` at ``path`` in ``model``, wrapping the module there first if it is not one yet."""
    module = model.get_submodule(path)
    if not isinstance(module, ModulesToSaveWrapper):
        module = ModulesToSaveWrapper(module, path)
        parent, _, child = path.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, module)
    return module


def read_adapter_weights(folder: str | os.PathLike, *, allow_pickle: bool = False, device: Any = None) -> dict[str, torch.Tensor]:
    """The tensors of ``folder/adapter_model.safetensors`` (or ``adapter_model.bin``), on ``device``.

    A pickled ``.bin`` (PEFT writes one with ``safe_serialization=False``) is read with torch's restricted
    unpickler (``weights_only=True``), which builds tensors and plain containers only and refuses anything else,
    so the file cannot run code — from torch 2.6 on (2.4/2.5's unpickler had a hole, CVE-2025-32434). On an
    older torch the file is refused unless ``allow_pickle=True``."""
    import pickle

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    safe, pickled = folder / WEIGHTS_NAME, folder / PICKLED_WEIGHTS_NAME
    if safe.is_file():
        try:
            return load_file(str(safe), device=str(torch.device(device)) if device is not None else "cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise AdapterLoadError(f"{safe}: the adapter weights are corrupt or truncated ({exc}).") from None
    if pickled.is_file():
        if not allow_pickle and not restricted_unpickler_is_safe():
            raise AdapterLoadError(
                f"{pickled}: pickled weights can run arbitrary code when loaded with torch {torch.__version__} "
                f"(torch 2.6 or newer reads them safely), so they are refused. Upgrade torch, convert the file to "
                f"safetensors, or, if you trust it, load it with allow_pickle=True."
            )
        try:
            state = torch.load(pickled, map_location=device if device is not None else "cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise AdapterLoadError(
                f"{pickled}: refused: it holds something other than tensors, which torch's safe reader does not "
                f"build ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}). Nothing in it was run."
            ) from None
        except Exception as exc:  # noqa: BLE001 - any other failure to read means the same thing to the user
            raise AdapterLoadError(f"{pickled}: cannot read the adapter weights ({exc}).") from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise AdapterLoadError(f"{pickled}: not a file of adapter weights (expected names mapped to tensors).")
        return state
    raise AdapterLoadError(f"{folder}: no {WEIGHTS_NAME} (or {PICKLED_WEIGHTS_NAME}) found.")


def restricted_unpickler_is_safe() -> bool:
    """Whether ``torch.load(..., weights_only=True)`` can be trusted with a file from anywhere (torch >= 2.6)."""
    return torch.__version__ >= "2.6"


def _check_adapter_name(name: str) -> None:
    if not isinstance(name, str) or not name or "." in name:
        raise ValueError(f"Adapter name {name!r} is not allowed: use a non-empty name without dots.")
    if any(name.startswith(p) for p in RESERVED_PREFIXES):
        raise ValueError(f"Adapter name {name!r} is not allowed: it starts like an internal parameter name.")


def _deepest_first(layers: Iterator[tuple[str, AdapterLayer]]) -> list[tuple[str, AdapterLayer]]:
    """Adapter layers, nested ones before the layer around them.

    LoRA on parameters nests wrappers (``…experts`` around ``…experts.base_layer``, core/methods/_param_lora.py):
    unwrapping the inner one first keeps every path valid while the layers are put back one by one.
    """
    return list(layers)[::-1]


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, new)


def _atomic_write(target: Path, write) -> None:
    """Run ``write(tmp_path)`` on a temporary file next to ``target``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
