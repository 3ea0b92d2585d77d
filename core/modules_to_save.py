"""``modules_to_save``: whole modules (a new head, a norm) trained in full beside an adapter.

The original module stays frozen; each adapter gets its own trainable copy. Names follow PEFT
(``original_module``, ``modules_to_save.<adapter>``), and in the saved file the copy's tensors appear
under the module's own path (``…ln_f.weight``), as PEFT writes them.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from core import mixed_batch


class ModulesToSaveWrapper(nn.Module):
    """Routes calls to the active adapter's trainable copy of a module, or to the frozen original."""

    single_active = True  # a copy replaces the module: one adapter's copy at a time

    def __init__(self, module: nn.Module, path: str = "") -> None:
        super().__init__()
        reason = cannot_wrap(module, path)
        if reason:
            raise TypeError(reason)
        self.original_module = module
        self.modules_to_save = nn.ModuleDict()
        self.active_adapters: list[str] = []
        self.disabled = False

    def add_adapter(self, name: str, tied_to: nn.Module | None = None) -> None:
        """Give adapter ``name`` its own copy of the original module. ``tied_to``: the trained copy of the input
        embedding this module's weight is tied to (``ensure_weight_tying``): the copy then uses that copy's
        ``weight`` Parameter itself, so the tied modules train, save and merge as one matrix (V, D)."""
        memo = {}
        if tied_to is not None:
            # deepcopy would clone the tied (V, D) weight; hand it the trained copy's Parameter instead
            memo[id(self.original_module.weight)] = tied_to.weight
        self.modules_to_save[name] = copy.deepcopy(self.original_module, memo)
        if not self.active_adapters:
            self.active_adapters = [name]

    def adapter_names(self) -> list[str]:
        """Names of the adapters that have a copy here."""
        return list(self.modules_to_save.keys())

    def set_adapter(self, names: str | list[str], trainable: bool = True) -> None:
        """Route to the first of ``names`` that has a copy; only that copy trains."""
        names = [names] if isinstance(names, str) else names  # PEFT's layers take one name too
        self.active_adapters = [n for n in names if n in self.modules_to_save][:1]
        self.original_module.requires_grad_(False)
        for name, module in self.modules_to_save.items():
            module.requires_grad_(trainable and name in self.active_adapters)

    def delete_adapter(self, name: str) -> None:
        """Drop adapter ``name``'s copy."""
        if name in self.modules_to_save:
            del self.modules_to_save[name]
        self.active_adapters = [a for a in self.active_adapters if a != name]

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        """The copy's tensors, keyed relative to the module (PEFT drops ``modules_to_save.<adapter>.``)."""
        if name not in self.modules_to_save:
            return {}
        return dict(self.modules_to_save[name].state_dict(keep_vars=True))

    def merge(self, names: list[str] | None = None, safe_merge: bool = False) -> None:
        """Nothing to merge: the copy replaces the original only when unloading."""

    def unmerge(self) -> None:
        """Nothing to unmerge."""

    @property
    def merged_adapters(self) -> list[str]:
        return []

    def unwrap(self, merge: bool) -> nn.Module:
        """The module to put back: the active copy when merging, the original otherwise."""
        if merge and self.active_adapters:
            return self.modules_to_save[self.active_adapters[0]]
        return self.original_module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        mixed = mixed_batch.current()
        if mixed is not None and not self.disabled:
            return self._mixed_forward(mixed, *args, **kwargs)
        if self.disabled or not self.active_adapters:
            return self.original_module(*args, **kwargs)
        return self.modules_to_save[self.active_adapters[0]](*args, **kwargs)

    def _mixed_forward(self, adapter_names: list[str], x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """A mixed batch (core/mixed_batch.py): each row through its adapter's copy ("__base__" or an adapter without
        a copy here: the original); rows along the first dimension of ``x``."""
        if not isinstance(self.original_module, mixed_batch.SUPPORTED):
            raise mixed_batch.unsupported_module_error(self.original_module)
        result = None
        for name, rows in mixed_batch.groups(adapter_names, len(x), x.device).items():
            module = self.modules_to_save[name] if name in self.modules_to_save else self.original_module
            part = module(x[rows], *args, **kwargs)
            if result is None:
                result = part.new_zeros((len(x), *part.shape[1:]))
            result = result.index_copy(0, rows, part.to(result.dtype))
        return result

    def __getattr__(self, name: str) -> Any:
        # Callers read attributes such as `.weight` / `.bias` of the wrapped module (a model that uses
        # `self.lm_head.weight` directly, transformers' tie_weights): they get the copy that the forward
        # pass would use, i.e. the active adapter's trained copy, or the original while disabled.
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__["_modules"]
            active = self.__dict__.get("active_adapters") or []
            if not self.__dict__.get("disabled") and active and active[0] in modules["modules_to_save"]:
                return getattr(modules["modules_to_save"][active[0]], name)
            return getattr(modules["original_module"], name)


# Containers have no forward of their own: a model indexes them (`self.heads[0]`, `self.scales["a"]`), which a
# wrapper cannot pass through. Their members can be named instead.
_CONTAINERS = (nn.ModuleDict, nn.ModuleList, nn.ParameterDict, nn.ParameterList)


def cannot_wrap(module: nn.Module, path: str = "") -> str | None:
    """None if ``module`` (at ``path``) can be trained in full beside an adapter; otherwise why not."""
    if isinstance(module, _CONTAINERS):
        member = next(iter(module._modules or module._parameters), "0")
        # PEFT's phrase first (code written for PEFT matches it), then why and what to write instead
        return (
            f"modules_to_save cannot be applied to modules of type {type(module).__name__} ('{path}'): the model "
            f"indexes such a container rather than calling it, so it cannot be swapped for a trainable copy. Name "
            f"the modules inside it instead (e.g. '{path}.{member}')."
        )
    if hasattr(module, "adapter_names") and hasattr(module, "base_layer"):
        return (
            f"modules_to_save: '{path}' is already adapted ({type(module).__name__}); a module cannot be both a "
            f"target and trained in full. Remove it from target_modules or from modules_to_save."
        )
    return None


# The module names PEFT treats as the tied pair of a language model (the input embedding and the output head).
EMBEDDING_NAMES = ("embed_tokens", "lm_head")


def tied_with_embedding(model: nn.Module) -> list[str]:
    """Paths of the modules whose weight *is* the input embedding's weight (``lm_head`` of a model with tied word
    embeddings), as the model declares them in ``_tied_weights_keys`` (a list of parameter names, transformers v4,
    or a {tied: source} dict, v5, also on submodules). Empty when the model's config says
    ``tie_word_embeddings=False`` (tying switched off for this checkpoint) or the model declares nothing."""
    if getattr(getattr(model, "config", None), "tie_word_embeddings", None) is False:
        return []
    declared = getattr(model, "_tied_weights_keys", None)
    if not declared:
        return []
    if not isinstance(declared, dict):
        return sorted({name.rpartition(".")[0] for name in declared})
    pairs: dict[str, str] = {}
    for prefix, module in model.named_modules():
        own = getattr(module, "_tied_weights_keys", None)
        if isinstance(own, dict):
            pairs.update({f"{prefix}.{k}" if prefix else k: f"{prefix}.{v}" if prefix else v for k, v in own.items()})
    get = getattr(model, "get_input_embeddings", None)
    embedding = get() if callable(get) else None
    if embedding is None:
        return []
    mine = {id(p) for p in embedding.parameters()}
    # every name a parameter of the input embedding goes by (tied names included), wrapper segments removed
    names = {n.replace("original_module.", "").replace("base_layer.", "")
             for n, p in model.named_parameters(remove_duplicate=False) if id(p) in mine}
    return sorted({k.rpartition(".")[0] for k, v in pairs.items() if v in names})
