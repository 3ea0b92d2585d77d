"""The adapter methods, one file each, the explicit registry that maps a `PeftType` to its file, and the
factory that turns a saved config into the right method's ``Config`` (`config_from_dict`, `load_config`).

The factory lives here, above ``core.config`` and the method files, so that neither has to import it back.

Every method module exposes the same small set of names so they diff cleanly:

- ``Config``            the method's dataclass config (also exported under PEFT's name, e.g. ``LoraConfig``)
- ``can_target(module)`` -> ``None`` if the method can adapt this module, else a reason for a person
- ``inject(model, config, adapter_name)`` wraps the selected modules of ``model`` in place
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from core.config import CONFIG_NAME, ConfigError, PeftConfig, PeftType
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


def load_config(directory: str | os.PathLike) -> PeftConfig:
    """Read ``directory/adapter_config.json`` and dispatch on its ``peft_type``."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"No {CONFIG_NAME} in {directory}: is this a PEFT adapter folder?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from None
    return config_from_dict(data, source=str(path))


def config_from_dict(data: dict[str, Any], *, source: str = "config") -> PeftConfig:
    """Build the right config class for ``data['peft_type']``."""
    if "peft_type" not in data:
        raise ConfigError(f"{source}: 'peft_type' is missing, so the adapter method is unknown.")
    try:
        ptype = PeftType(data["peft_type"])
    except ValueError:
        allowed = ", ".join(t.value for t in PeftType)
        raise ConfigError(f"{source}: peft_type {data['peft_type']!r} is not one of: {allowed}.") from None
    if ptype not in REGISTRY:
        raise ConfigError(f"{source}: {ptype.value} adapters are not supported by this version of Adapter Studio yet.")
    return REGISTRY[ptype].Config.from_dict(data, source=source)
