"""Which modules a config selects, with PEFT's matching rules, and why an entry selects nothing.

PEFT's rules (reproduced, not imported):

- ``target_modules`` as a string is a regular expression that must match the whole qualified name;
- as a list, an entry matches a module whose qualified name equals it or ends with ``"." + entry``;
- ``"all-linear"`` means every ``nn.Linear``/``Conv1D`` except the model's output head;
- ``layers_to_transform`` keeps only modules under those block indices (the first number after
  ``layers_pattern``, or after any ``<name>.<index>.`` when no pattern is given); list targets only;
- ``exclude_modules`` (same string/list semantics) wins over everything; ``modules_to_save`` are never targets.

Where PEFT silently drops a list entry that matches nothing (as long as another entry matches), we stop
with an error naming the entry and the closest real module names: a user who asked for
``["q_proj", "v_projj"]`` must not train with half the parameters they think they have.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import TargetError

if TYPE_CHECKING:  # torch loads lazily: the GUI thread uses the name rules below before torch is imported
    from torch import nn

ALL_LINEAR = "all-linear"
# Block containers transformers models commonly use; for messages only (matching follows PEFT's regex).
COMMON_LAYER_CONTAINERS = ("layers", "h", "block", "blocks", "layer")

# Default targets per `config.model_type` when a config names none (PEFT's mappings; data, not code).
LORA_DEFAULT_TARGETS: dict[str, list[str]] = {
    "bloom": ["query_key_value"],
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "mixtral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "qwen3": ["q_proj", "v_proj"],
    "qwen2_moe": ["q_proj", "v_proj"],
    "qwen3_moe": ["q_proj", "v_proj"],
    "gemma": ["q_proj", "v_proj"],
    "gemma2": ["q_proj", "v_proj"],
    "gemma3_text": ["q_proj", "v_proj"],
    "phi": ["q_proj", "v_proj", "fc1", "fc2"],
    "phi3": ["qkv_proj"],
    "gpt2": ["c_attn"],
    "gpt_neox": ["query_key_value"],
    "gptj": ["q_proj", "v_proj"],
    "gpt_neo": ["q_proj", "v_proj"],
    "gpt_bigcode": ["c_attn"],
    "falcon": ["query_key_value"],
    "opt": ["q_proj", "v_proj"],
    "bert": ["query", "value"],
    "roberta": ["query", "value"],
    "t5": ["q", "v"],
    "mt5": ["q", "v"],
    "bart": ["q_proj", "v_proj"],
    "stablelm": ["q_proj", "v_proj"],
    "starcoder2": ["q_proj", "v_proj"],
}


@dataclass
class TargetSelection:
    """The outcome of matching a config against a model."""

    selected: list[str] = field(default_factory=list)  # qualified names that will be adapted
    excluded: list[str] = field(default_factory=list)  # matched, but removed by exclude_modules/modules_to_save
    target_modules: list[str] | str | None = None  # the targets as resolved (all-linear / defaults expanded)


def default_targets(model: nn.Module, table: dict[str, list[str]], method: str) -> list[str]:
    """The architecture's usual targets for ``method`` from ``table``, or a clear error."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type in table:
        return list(table[model_type])
    # PEFT's sentence first (code written for PEFT matches it), then ours
    raise TargetError(
        f"Please specify `target_modules` in `peft_config`. No target_modules given and {method} has no default "
        f"targets for model type {model_type!r}. "
        f"Pick modules in the tree, or pass target_modules (e.g. a list such as ['q_proj', 'v_proj'], "
        f"or 'all-linear')."
    )


def _is_linear(module: nn.Module) -> bool:
    from torch import nn

    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def expand_all_linear(model: nn.Module) -> list[str]:
    """Every Linear/Conv1D layer's qualified name except the output head (PEFT's ``all-linear``)."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = []
    for name, module in iter_modules(model):
        base = getattr(module, "base_layer", module)
        if base is head:
            continue
        if _is_linear(base):
            names.append(name)
    return sorted(names)


def iter_modules(model: nn.Module) -> Iterable[tuple[str, nn.Module]]:
    """Named modules, not descending into adapter wrappers (their insides are not targets)."""
    skip: list[str] = []
    for name, module in model.named_modules():
        if not name or any(name.startswith(s) for s in skip):
            continue
        if hasattr(module, "base_layer") or hasattr(module, "original_module"):
            skip.append(name + ".")
        yield name, module


def _name_matches(spec: str | list[str] | None, key: str) -> bool:
    """PEFT's name rule: a string is a full-match regex, a list matches exact names or dotted suffixes."""
    if not spec:
        return False
    if isinstance(spec, str):
        return re.fullmatch(spec, key) is not None
    return key in spec or any(key.endswith("." + entry) for entry in spec)


def layer_index(key: str, layers_pattern: str | list[str] | None) -> int | None:
    """The block index of a qualified name: the first number after ``layers_pattern`` (or any container)."""
    if not layers_pattern:
        # lazy: the first numbered segment, not e.g. an expert index deeper down
        match = re.match(r".*?\.[^.]*\.(?P<idx>\d+)\.", key)
    else:
        patterns = [layers_pattern] if isinstance(layers_pattern, str) else layers_pattern
        match = None
        for pattern in patterns:
            match = re.match(rf"(?:^|.*?\.){pattern}\.(?P<idx>\d+)\.", key)
            if match:
                break
    return int(match.group("idx")) if match else None


def matches(config, key: str) -> bool | None:
    """True if ``config`` targets ``key``; ``None`` if it matched but was excluded; False otherwise."""
    if _name_matches(getattr(config, "exclude_modules", None), key):
        return None
    for m in getattr(config, "modules_to_save", None) or []:
        if re.match(rf"(^|.*\.){m}($|\..*)", key):
            return None
    targets = config.target_modules
    if isinstance(targets, str):
        return re.fullmatch(targets, key) is not None
    if key in targets:
        return True
    if not any(key.endswith("." + entry) for entry in targets):
        return False
    wanted = config.layers_to_transform
    if wanted is None or (isinstance(wanted, list) and not wanted):
        return True
    index = layer_index(key, config.layers_pattern)
    if index is None:
        return False
    return index == wanted if isinstance(wanted, int) else index in wanted


def select(
    model: nn.Module,
    config,
    can_target: Callable[[nn.Module], str | None],
    method: str,
    default_table: dict[str, list[str]] | None = None,
) -> TargetSelection:
    """Resolve ``config.target_modules`` against ``model`` and check every selected module can be adapted.

    ``config`` needs ``target_modules``, ``exclude_modules``, ``layers_to_transform``, ``layers_pattern`` and
    ``modules_to_save`` attributes. ``config.target_modules`` is not modified; the resolved form is returned.
    Raises :class:`TargetError` with the closest real names when an entry matches nothing.
    """

    class _View:  # the config with target_modules resolved, without mutating the caller's config
        pass

    view = _View()
    for attr in ("exclude_modules", "layers_to_transform", "layers_pattern", "modules_to_save"):
        setattr(view, attr, getattr(config, attr, None))
    targets = config.target_modules
    if targets is None:
        if default_table is None:
            raise TargetError(f"{method} needs target_modules.")
        targets = default_targets(model, default_table, method)
    if isinstance(targets, str) and targets.lower() == ALL_LINEAR:
        targets = expand_all_linear(model)
    elif not isinstance(targets, str):
        targets = list(targets)
    view.target_modules = targets

    modules = list(iter_modules(model))
    selection = TargetSelection(target_modules=targets)
    for name, module in modules:
        verdict = matches(view, name)
        if verdict is None:
            if _name_matches(targets, name):
                selection.excluded.append(name)
            continue
        if not verdict:
            continue
        reason = can_target(getattr(module, "base_layer", module))
        if reason is not None:
            raise TargetError(f"Module '{name}' ({type(module).__name__}) was selected by target_modules, but {reason}")
        selection.selected.append(name)

    names = [n for n, _ in modules]
    # Modules inside a modules_to_save wrapper exist (under their own path) but are never targets, like excluded ones.
    wrapped = [n.replace(".original_module.", ".") for n, _ in model.named_modules() if ".original_module." in n]
    if isinstance(targets, list):
        for entry in targets:
            if not any(n == entry or n.endswith("." + entry) for n in names + wrapped):
                raise TargetError(
                    f"target_modules entry '{entry}' matches no module of this model. "
                    f"Closest real names: {', '.join(closest_names(entry, names)) or '(none)'}."
                )
    if not selection.selected:
        what = f"the regular expression {targets!r}" if isinstance(targets, str) else f"target_modules {targets}"
        hint = ""
        if isinstance(targets, str):
            hint = f" Closest real names: {', '.join(closest_names(targets, names))}."
        elif getattr(config, "layers_to_transform", None) is not None:
            hint = f" (layers_to_transform={config.layers_to_transform} removed every match.)"
        if selection.excluded:
            # PEFT's sentence first (code written for PEFT matches it), then which modules and why
            raise TargetError(
                f"No modules were targeted for adaptation. This might be caused by a combination of target_modules with "
                f"exclude_modules or modules_to_save: {method}'s {what} matched only {', '.join(selection.excluded[:5])}, "
                f"which exclude_modules or modules_to_save keep out (a module trained in full is never also adapted).")
        raise TargetError(f"{method}: {what} selected no module of this model.{hint}")
    return selection


def closest_names(entry: str, names: list[str], n: int = 5) -> list[str]:
    """Real module names closest to ``entry``: compared on the last components, distinct suffixes first.

    Bare block indices ("0", "h.0") are left out: they are never what a person meant.
    """
    depth = entry.count(".") + 1
    suffixes = sorted({".".join(name.split(".")[-depth:]) for name in names} - {""})
    suffixes = [s for s in suffixes if not s.split(".")[-1].isdigit()]
    close = difflib.get_close_matches(entry, suffixes, n=n, cutoff=0.4)
    # Nothing similar (another architecture's names, e.g. 'query_key_value' on Llama): still name real modules.
    return close or difflib.get_close_matches(entry, suffixes, n=n, cutoff=0.0)
