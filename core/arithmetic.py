"""Adapter arithmetic: a new adapter made from weighted existing ones (PEFT's ``add_weighted_adapter``).

LoRA combinations (``combination_type``), for adapters ``i`` with weights ``w_i`` and scales ``s_i``:

- ``linear``: same rank r. ``A' = Σ sign(w_i s_i)·sqrt(|w_i s_i|)·A_i``, ``B' = Σ sqrt(|w_i s_i|)·B_i`` — a
  cheap approximation of ``Σ w_i ΔW_i`` (cross terms ``B_i A_j`` appear);
- ``cat``: ranks add up, ``A' = [w_1 s_1 A_1; w_2 s_2 A_2; …]`` (rows), ``B' = [B_1 B_2 …]`` (columns): exactly
  ``Σ w_i ΔW_i``;
- ``svd``: ``ΔW = Σ w_i ΔW_i`` (each ``ΔW_i = s_i B_i A_i``, ``(out, in)``), then the top ``svd_rank`` singular
  triplets: ``B' = U_r diag(S_r)`` ``(out, r)``, ``A' = Vh_r`` ``(r, in)`` (``svd_clamp``: clamp both to that
  quantile of their values);
- ``ties``, ``dare_linear``, ``dare_ties``, ``magnitude_prune``: the same rule as ``linear`` applied to the
  A's and to the B's, with each tensor first pruned to ``density`` — by magnitude (ties, magnitude_prune) or at
  random with rescaling by ``1/density`` (dare: one Bernoulli draw per element, from torch's generator);
  ties variants keep, per element, only the tensors whose sign agrees with the majority (``majority_sign_method``
  "total": sign of the weighted sum; "frequency": the more frequent sign) and average them;
- ``*_svd``: the rule on the full ``ΔW_i`` instead of the factors, then ``svd``'s factorisation.

The new adapter's config is the first adapter's with ``r = lora_alpha`` = the new rank (scale 1, as PEFT),
the union of the targets and no rank/alpha patterns. A module that only some adapters adapt combines the ones
it has. With ``cat``/``svd``/``linear`` the result is deterministic; dare uses torch's global generator
(seed it for a reproducible result; the same seed gives PEFT's result).

IA3: ``l' = Σ w_i l_i`` (``linear`` only), targets and feed-forward modules united.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import TYPE_CHECKING

import torch

from core.config import PeftType

if TYPE_CHECKING:
    from core.peft_model import PeftModel

FACTOR_TYPES = ("linear", "ties", "dare_linear", "dare_ties", "magnitude_prune")
SVD_TYPES = ("svd", "ties_svd", "dare_linear_svd", "dare_ties_svd", "magnitude_prune_svd")
COMBINATION_TYPES = (*FACTOR_TYPES, "cat", *SVD_TYPES)
NEEDS_DENSITY = ("ties", "dare_linear", "dare_ties", "magnitude_prune")


# ---- the merge rules on lists of same-shape tensors --------------------------------------------------------


def _prune(t: torch.Tensor, density: float, random: bool) -> torch.Tensor:
    """Keep a ``density`` fraction of ``t``: the largest magnitudes, or random elements rescaled by 1/density."""
    if density >= 1:
        warnings.warn(f"density={density} keeps every value: nothing is pruned.", stacklevel=3)
        return t
    if density < 0:
        raise ValueError(f"density must be in [0, 1], got {density}.")
    if random:
        keep = torch.bernoulli(torch.full_like(t, density))  # one draw per element
        return t * keep / density
    flat = t.reshape(-1)
    k = int(density * flat.numel())
    mask = torch.zeros_like(flat)
    mask[torch.topk(flat.abs(), k=k, largest=True).indices] = 1
    return t * mask.reshape(t.shape)


def _weighted(tensors: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """(n, *shape) stacked tensors times their weights, broadcast over the trailing dimensions."""
    stacked = torch.stack(tensors, dim=0)
    return stacked * weights.reshape(weights.shape + (1,) * (stacked.dim() - 1))


def combine(kind: str, tensors: list[torch.Tensor], weights: torch.Tensor, density: float | None,
            majority_sign_method: str = "total") -> torch.Tensor:
    """Merge same-shape ``tensors`` with ``weights`` by rule ``kind`` (the name without ``_svd``)."""
    if kind in ("linear", "svd"):
        return _weighted(tensors, weights).sum(dim=0)
    if density is None:
        raise ValueError(f"combination_type '{kind}' needs density (the fraction of values kept, in [0, 1]).")
    if kind == "magnitude_prune":
        return _weighted([_prune(t, density, random=False) for t in tensors], weights).sum(dim=0)
    if kind == "dare_linear":
        return _weighted([_prune(t, density, random=True) for t in tensors], weights).sum(dim=0)
    if kind == "ties":
        pruned = [_prune(t, density, random=False) for t in tensors]
    elif kind == "dare_ties":
        pruned = [_prune(t, density, random=True) for t in tensors]
    else:
        raise ValueError(f"Unknown combination rule {kind!r}.")
    # the sign vote sees the pruned tensors before weighting; the average is of the weighted ones
    signs_from = torch.stack(pruned, dim=0)
    weighted = _weighted(pruned, weights)
    if majority_sign_method == "total":
        score = signs_from.sum(dim=0)
    elif majority_sign_method == "frequency":
        score = signs_from.sign().sum(dim=0)
    else:
        raise ValueError(f"majority_sign_method must be 'total' or 'frequency', got {majority_sign_method!r}.")
    agree = signs_from.sign() == torch.where(score >= 0, 1.0, -1.0).to(signs_from.dtype)
    return (weighted * agree).sum(dim=0) / agree.sum(dim=0).clamp(min=1)


# ---- the verb ----------------------------------------------------------------------------------------------


def add_weighted_adapter(
    peft_model: "PeftModel", adapters: list[str], weights: list[float], adapter_name: str,
    combination_type: str = "svd", svd_rank: int | None = None, svd_clamp: float | None = None,
    svd_full_matrices: bool = True, svd_driver: str | None = None, density: float | None = None,
    majority_sign_method: str = "total",
) -> None:
    """Add adapter ``adapter_name`` = ``adapters`` combined with ``weights`` (see the module docstring).

    The new adapter is inactive and frozen, like any added adapter; ``set_adapter(adapter_name)`` uses it.
    """
    adapters, weights = list(adapters), [float(w) for w in weights]
    if not adapters:
        raise ValueError("add_weighted_adapter needs at least one adapter to combine.")
    if len(weights) != len(adapters):
        raise ValueError(f"add_weighted_adapter: {len(adapters)} adapters but {len(weights)} weights; give one weight each.")
    unknown = [a for a in adapters if a not in peft_model.peft_config]
    if unknown:
        raise ValueError(f"No adapter named '{unknown[0]}'. Adapters: {', '.join(peft_model.peft_config)}.")
    if adapter_name in peft_model.peft_config:
        raise ValueError(f"An adapter named '{adapter_name}' already exists; pick another name for the combination.")
    ptype = peft_model.peft_type
    if ptype == PeftType.IA3:
        return _add_weighted_ia3(peft_model, adapters, weights, adapter_name)
    if ptype != PeftType.LORA:
        raise ValueError(f"add_weighted_adapter combines LoRA or IA3 adapters; these are {ptype.value} adapters.")
    configs = [peft_model.peft_config[a] for a in adapters]
    if any(c.use_dora for c in configs):
        raise ValueError("add_weighted_adapter cannot combine DoRA adapters: their magnitude vectors do not add up.")
    with_params = [a for a, c in zip(adapters, configs) if getattr(c, "target_parameters", None)]
    if with_params:  # as PEFT: the per-expert factors (core/methods/_param_lora.py) have no combination rule here
        raise ValueError(f"add_weighted_adapter cannot combine adapters that use target_parameters ('{with_params[0]}').")
    _check_modules_to_save(peft_model, adapters)
    combination_type = "linear" if len(adapters) == 1 else combination_type
    if combination_type not in COMBINATION_TYPES:
        raise ValueError(f"combination_type {combination_type!r} is not one of: {', '.join(COMBINATION_TYPES)}.")
    ranks = [max(c.r, *c.rank_pattern.values()) if c.rank_pattern else c.r for c in configs]
    if combination_type in FACTOR_TYPES:
        if len(set(ranks)) != 1:
            raise ValueError(
                f"combination_type '{combination_type}' adds the A and B matrices, so every adapter needs the same "
                f"rank; got r = {', '.join(map(str, ranks))}. Use 'cat' or 'svd' for different ranks."
            )
        new_rank = ranks[0]
    elif combination_type == "cat":
        new_rank = sum(ranks)
    else:
        new_rank = svd_rank or max(ranks)
    if combination_type.removesuffix("_svd") in NEEDS_DENSITY and density is None:
        raise ValueError(f"combination_type '{combination_type}' needs density (the fraction of values kept, in [0, 1]).")
    if majority_sign_method not in ("total", "frequency"):
        raise ValueError(f"majority_sign_method must be 'total' or 'frequency', got {majority_sign_method!r}.")
    config = dataclasses.replace(
        configs[0], r=new_rank, lora_alpha=new_rank, target_modules=_united_targets(configs, adapters),
        rank_pattern={}, alpha_pattern={}, inference_mode=False,
    )
    peft_model.add_adapter(adapter_name, config)
    try:
        _fill_lora(peft_model, adapters, weights, adapter_name, combination_type, new_rank, density, majority_sign_method,
                   svd_clamp, svd_full_matrices, svd_driver)
    except Exception:
        _remove(peft_model, adapter_name)  # an error leaves no half-made adapter behind
        raise


def _remove(peft_model: "PeftModel", adapter_name: str) -> None:
    peft_model._drop_adapter_layers(adapter_name)
    del peft_model.peft_config[adapter_name]
    peft_model._refresh_trainable()


def _fill_lora(peft_model, adapters, weights, adapter_name, combination_type, new_rank, density, majority_sign_method,
               svd_clamp, svd_full_matrices, svd_driver) -> None:
    with torch.no_grad():
        for _, layer in peft_model.base_model.adapter_layers():
            if adapter_name in getattr(layer, "lora_A", {}):
                A, B = layer.lora_A[adapter_name].weight, layer.lora_B[adapter_name].weight
            elif adapter_name in getattr(layer, "lora_embedding_A", {}):
                A, B = layer.lora_embedding_A[adapter_name], layer.lora_embedding_B[adapter_name]
            else:
                continue
            present = [(a, w) for a, w in zip(adapters, weights) if a in layer.r]
            if not present:
                continue
            new_A, new_B = _combine_layer(layer, present, combination_type, new_rank, A, density, majority_sign_method,
                                          svd_clamp, svd_full_matrices, svd_driver)
            A.zero_()
            B.zero_()
            A[: new_A.shape[0], : new_A.shape[1]] = new_A.to(A.dtype)
            B[: new_B.shape[0], : new_B.shape[1]] = new_B.to(B.dtype)


def _factors(layer, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(A (r, in), B (out, r)) of adapter ``name``; for an embedding A is (r, vocab), B (dim, r)."""
    if name in layer.lora_A:
        return layer.lora_A[name].weight, layer.lora_B[name].weight
    return layer.lora_embedding_A[name], layer.lora_embedding_B[name]


def _combine_layer(layer, present, combination_type, new_rank, A_new, density, majority, clamp, full, driver):
    if combination_type == "cat":
        As = [_factors(layer, a)[0] * w * layer.scaling[a] for a, w in present]
        Bs = [_factors(layer, a)[1] for a, _ in present]
        return torch.cat(As, dim=0), torch.cat(Bs, dim=1)
    if combination_type in FACTOR_TYPES:
        # split each weight·scale between A and B so that B·A carries it: sign on A, sqrt on both
        ws = [w * layer.scaling[a] for a, w in present]
        wa = torch.tensor([math.copysign(math.sqrt(abs(x)), x) if x != 0 else 0.0 for x in ws])
        wb = torch.tensor([math.sqrt(abs(x)) for x in ws])
        dtype = _factors(layer, present[0][0])[0].dtype
        As = [_factors(layer, a)[0] for a, _ in present]
        Bs = [_factors(layer, a)[1] for a, _ in present]
        new_A = combine(combination_type, As, wa.to(As[0].device), density, majority)
        new_B = combine(combination_type, Bs, wb.to(Bs[0].device), density, majority)
        return new_A.to(dtype), new_B.to(dtype)
    # *_svd: combine the full updates ΔW_i = s_i B_i A_i, (out, in) (embedding: (dim, vocab)), then factorise
    # The rule runs on ΔW in the base weight's own layout (Conv1D (in, out), embedding (vocab, dim)), so that dare's
    # random draws land on the same elements as PEFT's for the same seed; the SVD takes the (out, in) view.
    # A convolution's ΔW is its kernel (out, in, *k); the SVD takes it as (out, in·k…) and the factors go back to
    # A (r, in, *k), B (out, r, 1, …). A grouped convolution has no such kernel (core.methods.lora refuses it).
    flip = layer.kind in ("conv1d", "embedding")
    conv = layer.kind == "conv"
    deltas = []
    for a, _ in present:
        A, B = _factors(layer, a)
        delta = layer._conv_delta(a) if conv else B @ A
        delta = delta * layer.scaling[a]
        deltas.append(delta.T if flip else delta)
    ws = torch.tensor([w for _, w in present]).to(deltas[0].device)
    delta = combine(combination_type.removesuffix("_svd") if combination_type != "svd" else "svd", deltas, ws, density, majority)
    delta = delta.T if flip else delta
    U, S, Vh = torch.linalg.svd(delta.flatten(1) if conv else delta, full_matrices=full, driver=driver)
    B_new = U[:, :new_rank] @ torch.diag(S[:new_rank])  # (out, r)
    A_new = Vh[:new_rank, :]  # (r, in) or (r, in·k…)
    if clamp is not None:
        high = torch.quantile(torch.cat([B_new.flatten(), A_new.flatten()]), clamp)
        B_new, A_new = B_new.clamp(-high, high), A_new.clamp(-high, high)
    if conv:
        ones = (1,) * (delta.dim() - 2)
        A_new = A_new.reshape(A_new.shape[0], *delta.shape[1:])  # (r, in, *k)
        B_new = B_new.reshape(*B_new.shape, *ones)  # (out, r, 1, …)
    return A_new, B_new


def _united_targets(configs, adapters: list[str]):
    kinds = {isinstance(c.target_modules, str) for c in configs}
    if len(kinds) > 1:
        raise ValueError(
            f"Adapters {', '.join(adapters)} mix a regex target_modules with a list; combining them is not supported."
        )
    if kinds == {True}:
        return "|".join(f"({c.target_modules})" for c in configs)
    return sorted(set().union(*(c.target_modules or [] for c in configs)))


def _check_modules_to_save(peft_model: "PeftModel", adapters: list[str]) -> None:
    from core.modules_to_save import ModulesToSaveWrapper

    for path, layer in peft_model.base_model.adapter_layers():
        if isinstance(layer, ModulesToSaveWrapper) and sum(a in layer.adapter_names() for a in adapters) > 1:
            raise ValueError(
                f"Adapters {', '.join(a for a in adapters if a in layer.adapter_names())} each train their own copy of "
                f"'{path}' (modules_to_save); such copies cannot be combined. Combine adapters without it."
            )


def _add_weighted_ia3(peft_model: "PeftModel", adapters: list[str], weights: list[float], adapter_name: str) -> None:
    configs = [peft_model.peft_config[a] for a in adapters]
    targets = _united_targets(configs, adapters)
    kinds = {isinstance(c.feedforward_modules, str) for c in configs}
    if len(kinds) > 1:
        raise ValueError(f"Adapters {', '.join(adapters)} mix a regex feedforward_modules with a list; cannot combine them.")
    if kinds == {True}:
        feedforward = "|".join(f"({c.feedforward_modules})" for c in configs)
    else:
        feedforward = sorted(set().union(*(c.feedforward_modules or [] for c in configs)))
    config = dataclasses.replace(configs[0], target_modules=targets, feedforward_modules=feedforward, inference_mode=False)
    peft_model.add_adapter(adapter_name, config)
    with torch.no_grad():
        for _, layer in peft_model.base_model.adapter_layers():
            if adapter_name not in getattr(layer, "ia3_l", {}):
                continue
            new = layer.ia3_l[adapter_name]
            new.zero_()
            for adapter, weight in zip(adapters, weights):
                if adapter in layer.ia3_l:
                    new += layer.ia3_l[adapter] * weight
