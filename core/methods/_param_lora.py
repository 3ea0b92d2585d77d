"""LoRA on named parameters (``LoraConfig.target_parameters``): mixture-of-experts weights and other tensors
that are not held by a Linear layer.

transformers 5 keeps each MoE block's experts as fused 3-D parameters of one module, e.g. qwen3_moe's and
mixtral's ``experts.gate_up_proj (E, 2·I, H)`` and ``experts.down_proj (E, H, I)``, each expert's slice an
``(out, in)`` matrix used as ``F.linear(x, W[e])``. There is no Linear layer to wrap, so the adapter wraps the
module that owns the parameter and, while that module runs, lets it see ``W + ΔW`` instead of ``W``.

Per expert ``e`` the update is ``ΔW[e] = s · B_e A_e`` with ``A_e (r, in)``, ``B_e (out, r)``, ``s = alpha / r``
(``/ √r`` with rsLoRA). The factors are stored as PEFT stores them, so files are interchangeable:

- ``lora_A.<adapter>.weight (E·r, in)``: expert ``e``'s ``A_e`` is rows ``e·r … e·r + r - 1`` (expert-major);
- ``lora_B.<adapter>.weight (out, E·r)``: expert ``e``'s ``B_e`` is columns ``e, E + e, 2E + e, …`` (rank-major).

A 2-D parameter ``(out, in)`` is the case ``E = 1``. Experts stored ``(E, in, out)`` (a module with
``is_transposed = True``, e.g. gpt_oss) get ``ΔW[e]`` transposed to match.

Two parameters of one module (gate_up_proj and down_proj) are two wrappers, nested through ``base_layer``
in the order the module registered them (the first one innermost), which is PEFT's nesting; the saved keys
follow it: ``…experts.base_layer.lora_A.weight`` (gate_up_proj) and ``…experts.lora_A.weight`` (down_proj).
Every adapter of a model must therefore target the same parameters (a different set would move the keys).

Not supported here, as in PEFT: dropout (it would act on the module's input, which no longer factors out of
``W + ΔW``), DoRA, fan_in_fan_out and PiSSA init; the config says so before anything is built.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from core import targeting
from core.errors import ConfigError, TargetError


class _NotAList(ConfigError, TypeError):
    """target_parameters given as a string: a TypeError too, as PEFT raises."""


def check_config(config: Any) -> None:
    """Refuse the LoRA settings that cannot apply to a parameter; ``config.target_parameters`` is normalised."""
    names = config.target_parameters
    if names is None:
        return
    if isinstance(names, str):
        # PEFT's sentence first (code written for PEFT matches it; a TypeError too, as PEFT raises), then ours
        raise _NotAList(
            f"`target_parameters` must be a list of strings or None. Write a list of parameter names such as "
            f"['experts.gate_up_proj'], not the string {names!r} (a regular expression is not supported here)."
        )
    try:
        names = sorted({str(n) for n in names})
    except TypeError:
        raise ConfigError(f"target_parameters must be a list of parameter names, got {names!r}.") from None
    if any(not n or n.startswith(".") or n.endswith(".") for n in names):
        raise ConfigError(f"target_parameters has an empty or malformed name: {names!r}.")
    config.target_parameters = names
    if not names:
        return
    why = "LoRA on target_parameters adds its update to the weight itself"
    if float(config.lora_dropout) > 0:
        raise ConfigError(
            f"lora_dropout must be 0 with target_parameters (got {config.lora_dropout}): {why}, so there is no "
            f"separate input of the update to drop out."
        )
    if config.use_dora:
        raise ConfigError(f"use_dora cannot be combined with target_parameters: {why} and has no DoRA form.")
    if config.fan_in_fan_out:
        raise ConfigError("fan_in_fan_out cannot be combined with target_parameters: the layout comes from the parameter.")
    if isinstance(config.init_lora_weights, str) and config.init_lora_weights.startswith("pissa"):
        raise ConfigError("PiSSA init cannot be combined with target_parameters; use init_lora_weights true or 'gaussian'.")


def parameter_hint(module: nn.Module) -> str:
    """For a module LoRA cannot wrap: which of its own weights ``target_parameters`` could adapt, or ''."""
    weights = [(n, tuple(p.shape)) for n, p in module.named_parameters(recurse=False) if p.ndim in (2, 3)]
    if not weights:
        return ""
    listed = ", ".join(f"{n} {s}" for n, s in weights)
    return f" Its weights are parameters ({listed}): name them in target_parameters instead, e.g. '<module>.{weights[0][0]}'."


class ParamLoraLayer(nn.Module):
    """Wraps the module that owns one targeted parameter and holds any number of named LoRA adapters for it."""

    def __init__(self, base_layer: nn.Module, parameter_name: str) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.parameter_name = parameter_name
        param = self.param()
        self.transposed = param.ndim == 3 and bool(getattr(self.owner(), "is_transposed", False))
        if param.ndim == 3:
            self.num_experts = param.shape[0]
            # (E, out, in) as F.linear reads each slice; (E, in, out) where the module says it multiplies x @ W[e]
            self.in_features, self.out_features = (param.shape[1], param.shape[2]) if self.transposed else (param.shape[2], param.shape[1])
        elif param.ndim == 2:
            self.num_experts = 1
            self.out_features, self.in_features = param.shape
        else:
            raise TargetError(
                f"target_parameters: '{parameter_name}' of {type(self.owner()).__name__} has shape {tuple(param.shape)}; "
                f"LoRA adapts 2-D (out, in) and 3-D (experts, out, in) parameters only."
            )
        self.lora_A = nn.ModuleDict()
        self.lora_B = nn.ModuleDict()
        self.r: dict[str, int] = {}
        self.lora_alpha: dict[str, float] = {}
        self.scaling: dict[str, float] = {}
        self.active_adapters: list[str] = []
        self.merged_adapters: list[str] = []
        self.disabled = False

    def owner(self) -> nn.Module:
        """The model's own module that holds the parameter (below any nested wrappers)."""
        module = self.base_layer
        while isinstance(module, ParamLoraLayer):
            module = module.base_layer
        return module

    def param(self) -> nn.Parameter:
        return getattr(self.owner(), self.parameter_name)

    def _path_in_base(self) -> str:
        """The parameter's name as seen from ``self.base_layer`` (one ``base_layer.`` per nested wrapper)."""
        depth, module = 0, self.base_layer
        while isinstance(module, ParamLoraLayer):
            depth, module = depth + 1, module.base_layer
        return "base_layer." * depth + self.parameter_name

    # ---- adapters ---------------------------------------------------------------------------------

    def add_adapter(self, name: str, config: Any, key: str, *, initialise: bool = True) -> None:
        """Create adapter ``name`` with the rank/alpha that ``config``'s patterns give parameter ``key``."""
        from core.methods.lora import _pattern_value  # the rank/alpha pattern rule LoRA layers use

        r = _pattern_value(config.rank_pattern, key, config.r)
        alpha = _pattern_value(config.alpha_pattern, key, config.lora_alpha)
        self.r[name], self.lora_alpha[name] = r, alpha
        self.scaling[name] = alpha / math.sqrt(r) if config.use_rslora else alpha / r
        param = self.param()
        # fp32 factors on a half-precision base, as LoraLayer (PEFT's autocast_adapter_dtype default)
        half = param.dtype in (torch.float16, torch.bfloat16) or not param.is_floating_point()
        factory = {"device": param.device, "dtype": torch.float32 if half else param.dtype}
        E = self.num_experts
        # A (E·r, in) and B (out, E·r): PEFT's shapes, so nn.Linear's default init draws A as PEFT does
        self.lora_A[name] = nn.Linear(self.in_features, r * E, bias=False, **factory)
        self.lora_B[name] = nn.Linear(r * E, self.out_features, bias=False, **factory)
        init = config.init_lora_weights
        if initialise and init is not False:
            with torch.no_grad():
                if init == "gaussian":
                    nn.init.normal_(self.lora_A[name].weight, std=1 / r)
                else:
                    nn.init.kaiming_uniform_(self.lora_A[name].weight, a=math.sqrt(5))
                nn.init.zeros_(self.lora_B[name].weight)  # the update starts at exactly zero
        if not self.active_adapters:
            self.active_adapters = [name]

    def delete_adapter(self, name: str) -> None:
        if name in self.merged_adapters:
            self.unmerge()
        for container in (self.lora_A, self.lora_B):
            if name in container:
                del container[name]
        for table in (self.r, self.lora_alpha, self.scaling):
            table.pop(name, None)
        self.active_adapters = [a for a in self.active_adapters if a != name]

    def adapter_names(self) -> list[str]:
        return list(self.r)

    def set_adapter(self, names: str | list[str], trainable: bool = True) -> None:
        names = [names] if isinstance(names, str) else names  # PEFT's layers take one name too
        self.active_adapters = [n for n in names if n in self.r]
        for name in self.r:
            for p in (*self.lora_A[name].parameters(), *self.lora_B[name].parameters()):
                p.requires_grad_(trainable and name in self.active_adapters)

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        """PEFT's keys for this wrapper (the caller prefixes the wrapper's path, nesting included)."""
        if name not in self.r:
            return {}
        return {"lora_A.weight": self.lora_A[name].weight, "lora_B.weight": self.lora_B[name].weight}

    # ---- the math ---------------------------------------------------------------------------------

    def delta_weight(self, name: str) -> torch.Tensor:
        """``ΔW`` in the parameter's own layout, (E, out, in) / (E, in, out) / (out, in), in the factors' dtype."""
        E, r = self.num_experts, self.r[name]
        A = self.lora_A[name].weight.view(E, r, self.in_features)  # rows e·r + k -> (E, r, in)
        # columns k·E + e -> (out, r, E) -> (E, out, r)
        B = self.lora_B[name].weight.view(self.out_features, r, E).permute(2, 0, 1)
        delta = torch.bmm(B, A) * self.scaling[name]  # (E, out, in)
        if self.transposed:
            delta = delta.transpose(1, 2)  # (E, in, out)
        return delta if self.param().ndim == 3 else delta[0]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.disabled and self.merged_adapters:
            self.unmerge()
        names = [] if self.disabled else [n for n in self.active_adapters if n not in self.merged_adapters]
        if not names:
            return self.base_layer(*args, **kwargs)
        W = self.param()
        delta = sum(self.delta_weight(n) for n in names)
        # The wrapped module runs with W + ΔW in the parameter's place (a tensor that carries the factors'
        # gradients; W itself stays frozen and unchanged). torch.func.functional_call puts it back afterwards.
        adapted = W + delta.to(W.dtype)
        return torch.func.functional_call(self.base_layer, {self._path_in_base(): adapted}, args, kwargs)

    # ---- merging ----------------------------------------------------------------------------------

    def merge(self, names: list[str] | None = None, safe_merge: bool = False) -> None:
        W = self.param()
        for name in names if names is not None else self.active_adapters:
            if name in self.merged_adapters or name not in self.r:
                continue
            with torch.no_grad():
                new = W.float() + self.delta_weight(name).float()
                if safe_merge and not torch.isfinite(new).all():
                    raise ValueError(f"NaNs detected in the merged weights. The adapter {name} seems to be broken: merging "
                                     f"it would put NaN/inf into '{self.parameter_name}'; nothing was merged.")
                W.data.copy_(new.to(W.dtype))
            self.merged_adapters.append(name)

    def unmerge(self) -> None:
        W = self.param()
        while self.merged_adapters:
            name = self.merged_adapters.pop()
            with torch.no_grad():
                W.data.copy_((W.float() - self.delta_weight(name).float()).to(W.dtype))

    def unwrap(self, merge: bool, names: list[str] | None = None) -> nn.Module:
        """What to put back in this wrapper's place (its own parameter merged or restored): its ``base_layer``.
        Nested wrappers are unwrapped innermost first (`core.peft_model` walks the layers deepest first)."""
        if merge:
            self.merge(names)
        else:
            self.unmerge()
        return self.base_layer

    def extra_repr(self) -> str:
        shape = tuple(self.param().shape)
        return f"parameter_name={self.parameter_name!r}, shape={shape}, experts={self.num_experts}, adapters={self.adapter_names()}"


def _owners(model: nn.Module) -> Iterator[tuple[str, nn.Module, nn.Module | None]]:
    """(name without wrappers, module whose own parameters count, the adapter layer around it or None)."""
    seen: set[int] = set()

    def walk(module: nn.Module, path: str) -> Iterator[tuple[str, nn.Module, nn.Module | None]]:
        if isinstance(module, ParamLoraLayer):
            yield from walk(module.owner(), path)  # a wrapped owner keeps its name: its parameters stay targets
            return
        if id(module) in seen:
            return
        seen.add(id(module))
        inner = getattr(module, "base_layer", None)
        if inner is None:
            inner = getattr(module, "original_module", None)
        if isinstance(inner, nn.Module):  # another adapter layer (LoRA on a Linear, modules_to_save): not ours
            yield path, inner, module
            return
        yield path, module, None
        for child, sub in module.named_children():
            yield from walk(sub, f"{path}.{child}" if path else child)

    yield from walk(model, "")


def select(model: nn.Module, names: list[str]) -> list[tuple[str, str]]:
    """(owner path, parameter name) for every parameter ``names`` selects: a key equal to an entry or ending
    in ``'.' + entry`` (PEFT's rule), owners in module order, each owner's parameters in registration order."""
    chosen: list[tuple[str, str]] = []
    every: list[str] = []
    used: set[str] = set()
    for path, module, wrapper in _owners(model):
        for pname, p in module.named_parameters(recurse=False):
            key = f"{path}.{pname}" if path else pname
            every.append(key)
            hits = [n for n in names if key == n or key.endswith("." + n)]
            if not hits:
                continue
            used.update(hits)
            if wrapper is not None:
                # PEFT's sentence first (code written for PEFT matches it), then where the clash comes from
                base = getattr(wrapper, "base_layer", None) or getattr(wrapper, "original_module", None) or wrapper
                raise TargetError(
                    f"Trying to wrap an `nn.Parameter` of layer '{path}' of type {type(base).__name__}, which is not a "
                    f"valid target. target_parameters entry '{hits[0]}' selects '{key}', but '{path}' is already "
                    f"wrapped by {type(wrapper).__name__} (it is in target_modules or modules_to_save). Name it in "
                    f"one place only."
                )
            if not path:
                raise TargetError(f"target_parameters entry '{hits[0]}' selects '{key}', a parameter of the model "
                                  f"itself; only parameters of its submodules can be adapted.")
            chosen.append((path, pname))
    for entry in names:
        if entry not in used:
            raise TargetError(
                f"target_parameters entry '{entry}' matches no parameter of this model. "
                f"Closest real names: {', '.join(targeting.closest_names(entry, every)) or '(none)'}."
            )
    return chosen


def _at(model: nn.Module, path: str) -> nn.Module:
    """The module at ``path`` (a name without wrappers), passing through wrapped owners: the outermost wrapper
    when the module there is wrapped."""
    module = model
    for part in path.split(".") if path else []:
        if isinstance(module, ParamLoraLayer):
            module = module.owner()
        module = getattr(module, part)
    return module


def _chain(head: nn.Module) -> list[ParamLoraLayer]:
    """The wrappers stacked on one owner, outermost first."""
    out = []
    while isinstance(head, ParamLoraLayer):
        out.append(head)
        head = head.base_layer
    return out


def inject(model: nn.Module, config: Any, adapter_name: str, *, initialise: bool = True) -> list[str]:
    """Add adapter ``adapter_name`` on every parameter ``config.target_parameters`` selects; returns their keys.

    Checks everything before it changes the model: each entry selects a parameter, and the selection
    equals the parameters earlier adapters wrapped (the nesting fixes the file keys).
    """
    chosen = select(model, config.target_parameters)
    wanted: dict[str, list[str]] = {}
    for path, pname in chosen:
        wanted.setdefault(path, []).append(pname)
    existing = {path: {w.parameter_name for w in _chain(_at(model, path))}
                for path, _, _ in _owners(model) if path and isinstance(_at(model, path), ParamLoraLayer)}
    if existing and {p: set(v) for p, v in wanted.items()} != existing:
        before = sorted(f"{p}.{n}" for p, ns in existing.items() for n in ns)
        raise TargetError(
            f"Adapter '{adapter_name}' targets other parameters than the adapters already in this model "
            f"({', '.join(before[:4])}{', …' if len(before) > 4 else ''}): all adapters must target the same set of "
            f"parameters (target_parameters), because their nesting decides the saved keys."
        )
    keys = []
    for path, pname in chosen:
        key = f"{path}.{pname}"
        head = _at(model, path)
        layer = next((w for w in _chain(head) if w.parameter_name == pname), None)
        if layer is None:
            layer = ParamLoraLayer(head, pname)
            parent, _, child = path.rpartition(".")
            holder = _at(model, parent)
            setattr(holder.owner() if isinstance(holder, ParamLoraLayer) else holder, child, layer)
        if adapter_name in layer.r:
            raise ValueError(f"Parameter {key} already has an adapter named '{adapter_name}'.")
        layer.add_adapter(adapter_name, config, key, initialise=initialise)
        keys.append(key)
    return keys
