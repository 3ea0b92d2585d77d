"""The adapter methods, one file each, and the explicit registry that maps a `PeftType` to its file.

Every method module exposes the same small set of names so they diff cleanly:

- ``Config``            the method's dataclass config (also exported under PEFT's name, e.g. ``LoraConfig``)
- ``can_target(module)`` -> ``None`` if the method can adapt this module, else a reason for a person
- ``inject(model, config, adapter_name)`` wraps the selected modules of ``model`` in place
"""

from __future__ import annotations

from types import ModuleType

from core.config import PeftType
from core.methods import adalora, ia3, lora
from core.methods import adaption_prompt, p_tuning, prefix_tuning, prompt_tuning

# PeftType -> method module. Filled as methods land; the GUI and `tree.describe` read it.
REGISTRY: dict[PeftType, ModuleType] = {
    PeftType.LORA: lora,
    PeftType.PROMPT_TUNING: prompt_tuning,
    PeftType.P_TUNING: p_tuning,
    PeftType.PREFIX_TUNING: prefix_tuning,
    PeftType.ADAPTION_PROMPT: adaption_prompt,
    PeftType.ADALORA: adalora,
    PeftType.IA3: ia3,
}


def target_support(module) -> dict[str, str | None]:
    """For each registered method: ``None`` if it can target ``module``, else why not (one sentence)."""
    return {ptype.value: method.can_target(module) for ptype, method in REGISTRY.items()}
