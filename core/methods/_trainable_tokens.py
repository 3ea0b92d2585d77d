"""Trainable tokens: LoRA's ``trainable_token_indices`` — a few rows of an embedding trained, the rest frozen.

Adding tokens to a vocabulary (or re-training a few special tokens) needs those rows of the embedding to train;
training the whole table (``modules_to_save``) costs vocab × dim parameters and a full copy in the file. Here
each adapter holds only its rows: ``trainable_tokens_delta[adapter]`` (n, dim), a trainable copy of the listed
rows (despite PEFT's name it holds the new rows, not a difference), and ``trainable_tokens_original[adapter]``
(n, dim), the rows as they were, to undo a merge. The forward pass reads the embedding with the listed rows
replaced (an index copy, so a resized and re-initialised vocabulary still gives defined rows).

PEFT's layout, so files and code written for PEFT work on ours: the embedding at ``<path>`` becomes a
:class:`TrainableTokensWrapper` holding ``token_adapter`` (a :class:`TrainableTokensLayer`) whose ``base_layer`` is
the embedding; the file key is ``base_model.model.<path>.token_adapter.trainable_tokens_delta`` (n, dim).

Tied embeddings: when the output head shares its weight with the input embedding (``lm_head.weight is
embed_tokens.weight``), the head is wrapped too, by a wrapper *tied* to the embedding's layer: it reads the same
rows and tensors (so the logits of a new token use the trained row, as PEFT), saves nothing, and trains nothing
of its own. Merging writes the rows into the shared weight once; both modules then see them.

Only one adapter's tokens can be active per wrapper (rows replace rather than add); several adapters may train
tokens of different embeddings at the same time.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.config import ConfigError
from core.methods._layer import AdapterSwitch


def check_indices(value: Any) -> Any:
    """``trainable_token_indices`` as PEFT takes it: a list of row numbers, or {module name: list}; else ConfigError."""
    if value is None:
        return None

    def rows(v: Any, where: str) -> list[int]:
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise ConfigError(f"trainable_token_indices{where} must be a list of token ids (whole numbers), got {v!r}.")
        # a form's text field gives "5 17" as strings: whole numbers written as text are read as such
        out = [int(i) if isinstance(i, str) and i.strip().isdigit() else i for i in v]
        if not out or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in out):
            raise ConfigError(f"trainable_token_indices{where} must be a non-empty list of token ids ≥ 0, got {v!r}.")
        if len(set(out)) != len(out):
            raise ConfigError(f"trainable_token_indices{where} lists a token id twice: {v!r}.")
        return out

    if isinstance(value, dict):
        if not value:
            raise ConfigError("trainable_token_indices is an empty dict; name an embedding module and its token ids.")
        return {str(k): rows(v, f"['{k}']") for k, v in value.items()}
    return rows(value, "")


class _Originals(nn.Module):
    """adapter name -> the listed rows as they were (n, dim): buffers (they follow ``.to()``), not saved."""

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._buffers[name]

    def __setitem__(self, name: str, rows: torch.Tensor) -> None:
        self.register_buffer(name, rows, persistent=False)

    def __delitem__(self, name: str) -> None:
        del self._buffers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._buffers

    def __iter__(self):
        return iter(list(self._buffers))

    def __len__(self) -> int:
        return len(self._buffers)

    def keys(self):
        return self._buffers.keys()


class TrainableTokensLayer(nn.Module):
    """The rows of one embedding (or tied head) that adapters train; ``base_layer`` is the module itself.

    A layer *tied* to another (the head that shares the input embedding's weight) reads the other's tensors and
    registers none of its own: they are not counted, moved or saved twice.
    """

    def __init__(self, base_layer: nn.Module, tied_to: "TrainableTokensLayer | None" = None) -> None:
        super().__init__()
        self.base_layer = base_layer
        if tied_to is None:
            self.trainable_tokens_delta = nn.ParameterDict()  # adapter -> (n, dim), trained
            self.trainable_tokens_original = _Originals()  # adapter -> (n, dim), the rows before training
            self.token_indices: dict[str, list[int]] = {}  # adapter -> the n row numbers
        else:  # plain attributes (not submodules): the tied layer's tensors stay registered once, in their owner
            self.__dict__["trainable_tokens_delta"] = tied_to.trainable_tokens_delta
            self.__dict__["trainable_tokens_original"] = tied_to.trainable_tokens_original
            self.__dict__["token_indices"] = tied_to.token_indices
        self.__dict__["tied_adapter"] = tied_to

    def add(self, name: str, indices: list[int], path: str) -> None:
        """Adapter ``name`` trains rows ``indices``; they start equal to the embedding's (the model is unchanged)."""
        weight = self.base_layer.weight  # (vocab, dim): an embedding's table, or a tied head's (vocab, hidden)
        vocab = weight.shape[0]
        bad = [i for i in indices if i >= vocab]
        if bad:
            raise ConfigError(
                f"trainable_token_indices: token id {bad[0]} is outside '{path}', which has {vocab} rows (ids 0–{vocab - 1}). "
                f"Resize the embeddings first (model.resize_token_embeddings) or fix the ids."
            )
        rows = weight.detach()[torch.tensor(indices, device=weight.device)].clone()  # (n, dim)
        self.token_indices[name] = list(indices)
        self.trainable_tokens_original[name] = rows
        self.trainable_tokens_delta[name] = nn.Parameter(rows.clone())

    def remove(self, name: str) -> None:
        for table in (self.trainable_tokens_delta, self.trainable_tokens_original):
            if name in table:
                del table[name]
        self.token_indices.pop(name, None)

    def merged_weight(self, names: list[str]) -> torch.Tensor:
        """The base weight (vocab, dim) with each of ``names``' rows replaced (a new tensor; gradients reach the rows)."""
        weight = self.base_layer.weight
        for name in names:
            index = torch.tensor(self.token_indices[name], device=weight.device)
            weight = weight.index_copy(0, index, self.trainable_tokens_delta[name].to(weight))
        return weight

    def forward(self, x: torch.Tensor, names: list[str]) -> torch.Tensor:
        base = self.base_layer
        # A copy of the full table per call (vocab × dim), as PEFT: simple, and exact for any lookup option the
        # embedding has (padding_idx, max_norm, ...). Only the listed rows receive gradients.
        weight = self.merged_weight(names)
        if isinstance(base, nn.Embedding):
            out = F.embedding(x, weight, base.padding_idx, base.max_norm, base.norm_type, base.scale_grad_by_freq, base.sparse)
            scale = getattr(base, "embed_scale", None)  # Gemma-style embeddings multiply in their own forward
            if scale is not None:
                out = out * (scale.to(out.dtype) if isinstance(scale, torch.Tensor) else scale)
            return out
        if isinstance(base, nn.Linear):  # a head tied to the input embedding: (..., hidden) -> (..., vocab)
            return F.linear(x, weight, base.bias)
        raise TypeError(f"Trainable tokens wrap an embedding or a tied linear head, not a {type(base).__name__}.")


class TrainableTokensWrapper(AdapterSwitch):
    """Sits where the embedding was (``<path>``); routes through ``token_adapter`` with the active adapter's rows."""

    single_active = True  # like a modules_to_save copy: one adapter's rows at a time (they replace, not add)

    def __init__(self, module: nn.Module, tied_to: TrainableTokensLayer | None = None) -> None:
        super().__init__()
        self.token_adapter = TrainableTokensLayer(module, tied_to)
        self.names: list[str] = []  # adapters with rows here (a tied wrapper: those of the layer it follows)
        self.active_adapters: list[str] = []
        self.merged_adapters: list[str] = []
        self.disabled = False

    @property
    def tied(self) -> bool:
        return self.token_adapter.tied_adapter is not None

    def add_adapter(self, name: str, indices: list[int], path: str) -> None:
        if not self.tied:
            self.token_adapter.add(name, indices, path)
        self.names.append(name)
        if not self.active_adapters:
            self.active_adapters = [name]

    def adapter_names(self) -> list[str]:
        return list(self.names)

    def set_adapter(self, names: str | list[str], trainable: bool = True) -> None:
        """Activate the one of ``names`` that has rows here (PeftModel.set_adapter refuses two); only it trains."""
        names = [names] if isinstance(names, str) else names  # PEFT's layers take one name too
        mine = [n for n in names if n in self.names]
        if len(mine) > 1:
            raise ValueError(f"Only one adapter can be set at a time for TrainableTokensWrapper: adapters "
                             f"{', '.join(mine)} each replace rows of this embedding.")
        self.active_adapters = mine
        if not self.tied:  # a tied wrapper's rows belong to (and are frozen or trained by) the embedding's wrapper
            for name, p in self.token_adapter.trainable_tokens_delta.items():
                p.requires_grad_(trainable and name in mine)

    def delete_adapter(self, name: str) -> None:
        if name in self.merged_adapters:
            self.unmerge()
        if not self.tied:
            self.token_adapter.remove(name)
        self.names = [n for n in self.names if n != name]
        self.active_adapters = [n for n in self.active_adapters if n != name]

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        """PEFT's key for the rows, (n, dim); a tied wrapper saves nothing (its rows are the embedding's)."""
        if self.tied or name not in self.names:
            return {}
        return {"token_adapter.trainable_tokens_delta": self.token_adapter.trainable_tokens_delta[name]}

    def merge(self, names: list[str] | None = None, safe_merge: bool = False) -> None:
        """Write the rows into the base weight (the originals are kept to unmerge). Rows of two adapters must not overlap."""
        todo = [n for n in (names if names is not None else self.active_adapters) if n in self.names and n not in self.merged_adapters]
        if not todo:
            return
        seen: dict[int, str] = {}
        for name in [*self.merged_adapters, *todo]:
            for i in self.token_adapter.token_indices[name]:
                if i in seen and seen[i] != name:
                    raise ValueError(f"Token indices of adapter {name} are already defined and would result in undefined "
                                     f"merging behavior: adapters {seen[i]} and {name} both replace row {i}. Merge one of them.")
                seen[i] = name
        weight = self.token_adapter.base_layer.weight
        with torch.no_grad():
            merged = self.token_adapter.merged_weight(todo)
            if safe_merge and not torch.isfinite(merged).all():
                raise ValueError(f"Merging adapter(s) {', '.join(todo)} would put NaN/inf into the weights; nothing was merged.")
            weight.data.copy_(merged)
        self.merged_adapters.extend(todo)

    def unmerge(self) -> None:
        """Put the original rows back, newest merge first."""
        weight = self.token_adapter.base_layer.weight
        with torch.no_grad():
            while self.merged_adapters:
                name = self.merged_adapters.pop()
                index = torch.tensor(self.token_adapter.token_indices[name], device=weight.device)
                weight.data.index_copy_(0, index, self.token_adapter.trainable_tokens_original[name].to(weight))

    def unwrap(self, merge: bool, names: list[str] | None = None) -> nn.Module:
        if merge:
            self.merge(names)
        else:
            self.unmerge()
        return self.token_adapter.base_layer

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        base = self.token_adapter.base_layer
        if self.disabled:
            if self.merged_adapters:
                self.unmerge()
            return base(x, *args, **kwargs)
        todo = [n for n in self.active_adapters if n not in self.merged_adapters]
        if not todo:
            return base(x, *args, **kwargs)
        return self.token_adapter(x, todo)

    @property
    def weight(self) -> torch.Tensor:
        """What the forward pass uses (vocab, dim): the base weight with the active rows (a model may read ``.weight``)."""
        todo = [] if self.disabled else [n for n in self.active_adapters if n not in self.merged_adapters]
        return self.token_adapter.merged_weight(todo) if todo else self.token_adapter.base_layer.weight

    def __getattr__(self, name: str) -> Any:
        # the embedding's other attributes (num_embeddings, padding_idx, embed_scale, a head's bias) as before wrapping
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["token_adapter"].base_layer, name)

    def extra_repr(self) -> str:
        return f"adapters={self.names}" + (", tied to the input embedding" if self.tied else "")


def _input_embedding_path(model: nn.Module) -> str | None:
    get = getattr(model, "get_input_embeddings", None)
    if get is None:
        return None
    try:
        embedding = get()
    except (AttributeError, NotImplementedError):
        return None
    return next((n for n, m in model.named_modules() if m is embedding), None)


def _base_of(module: nn.Module) -> nn.Module:
    return module.token_adapter.base_layer if isinstance(module, TrainableTokensWrapper) else module


def inject(model: nn.Module, config: Any, adapter_name: str) -> list[str]:
    """Wrap the embeddings ``config.trainable_token_indices`` names (and a head tied to the input embedding);
    returns the wrapped paths. A list means the input embedding (``get_input_embeddings()``, else ``embed_tokens``)."""
    spec = getattr(config, "trainable_token_indices", None)
    if spec is None:
        return []
    input_path = _input_embedding_path(model)
    targets = dict(spec) if isinstance(spec, dict) else {input_path or "embed_tokens": list(spec)}
    for entry in targets:
        if entry in (getattr(config, "modules_to_save", None) or []):
            raise ValueError(
                f"The embedding layer is already marked to be trained fully, either specify `modules_to_save=[..., "
                f"\"{entry}\", ...]` or `trainable_tokens={{'{entry}': x}}` but not both. ('{entry}' cannot have both "
                f"all its rows trained and a few of them.)"
            )
    modules = dict(model.named_modules(remove_duplicate=False))
    # Heads that share the input embedding's weight (tied embeddings), by identity of the tensor, found before wrapping.
    tied_paths: list[str] = []
    if input_path is not None:
        shared = _base_of(modules[input_path]).weight
        for path, module in modules.items():
            base_path = path.removesuffix(".token_adapter.base_layer")
            if path == input_path or base_path == input_path or ".token_adapter" in base_path:
                continue
            if module._parameters.get("weight") is shared and base_path not in tied_paths:
                tied_paths.append(base_path)
    plan: list[tuple[str, list[int]]] = []
    for entry, indices in targets.items():
        # PEFT's rule for these names: the module path ends with the entry (inside wrappers: never)
        found = [p for p in modules if p and p.endswith(entry) and ".token_adapter" not in p and ".base_layer" not in p]
        if not found:
            raise ValueError(f"trainable_token_indices: '{entry}' matches no module of this model; name an embedding "
                             f"(e.g. 'embed_tokens').")
        plan += [(p, indices) for p in found]
    input_indices = next((ix for p, ix in plan if p == input_path), None)
    # a tied head listed with the input embedding's rows follows it (tied); with other rows it is wrapped on its own
    plan = [(p, ix) for p, ix in plan if not (p in tied_paths and input_indices is not None and ix == input_indices)]
    for path, _ in plan:
        module = modules[path]
        base = _base_of(module)
        if not isinstance(module, TrainableTokensWrapper) and hasattr(module, "adapter_names"):
            raise TypeError(f"trainable_token_indices: '{path}' is already adapted ({type(module).__name__}); a module "
                             f"cannot be both a LoRA target (or in modules_to_save) and have trainable tokens. Remove it "
                             f"from one of them.")
        if not isinstance(base, (nn.Embedding, nn.Linear)):
            raise TypeError(f"trainable_token_indices: '{path}' is a {type(base).__name__}; trainable tokens need an "
                             f"embedding (nn.Embedding).")
    wrapped = [_wrap(model, path, indices, adapter_name) for path, indices in plan]
    if input_indices is not None:
        owner = model.get_submodule(input_path).token_adapter
        for path in tied_paths:
            module = model.get_submodule(path)
            if isinstance(module, TrainableTokensWrapper) and not module.tied:
                continue  # listed with rows of its own
            if not isinstance(module, TrainableTokensWrapper) and hasattr(module, "adapter_names"):
                raise ValueError(f"'{path}' shares its weight with the input embedding '{input_path}' and is already "
                                 f"adapted ({type(module).__name__}); its trainable tokens could not stay consistent with "
                                 f"the embedding's. Untie the embeddings or do not target '{path}'.")
            if not isinstance(module, TrainableTokensWrapper):
                module = TrainableTokensWrapper(module, tied_to=owner)
                _set(model, path, module)
            module.add_adapter(adapter_name, input_indices, path)
            wrapped.append(path)
    return wrapped


def _wrap(model: nn.Module, path: str, indices: list[int], adapter_name: str) -> str:
    module = model.get_submodule(path)
    if not isinstance(module, TrainableTokensWrapper):
        module = TrainableTokensWrapper(module)
        _set(model, path, module)
    if adapter_name in module.names:
        raise ValueError(f"'{path}' already has trainable tokens of an adapter named '{adapter_name}'.")
    module.add_adapter(adapter_name, indices, path)
    return path


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)
