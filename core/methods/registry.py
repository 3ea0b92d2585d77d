"""The registry and the factory: ``PeftType`` -> the method's module (`REGISTRY`, in `catalog.METHODS`
order) and a saved config -> the right method's ``Config`` (`config_from_dict`, `load_config`).

This module sits above ``core.config`` and the method files (it imports them; they never import it), so
there is no cycle between the configs, the methods and ``core.peft_model``. Importing it loads torch.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from core.config import CONFIG_NAME, ConfigError, PeftConfig, PeftType


class MissingKeysError(ConfigError, TypeError):
    """A JSON file that is no adapter config (no ``peft_type``); a TypeError too, as PEFT raises."""
from core.methods import catalog

# PeftType -> method module; the method files are listed (one line each) in `catalog.METHODS`.
REGISTRY: dict[PeftType, ModuleType] = {PeftType(name): importlib.import_module(module) for name, module in catalog.METHODS.items()}


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
        raise MissingKeysError(f"The config that is trying to be loaded is missing required keys: {{'peft_type'}}. "
                               f"({source}: without 'peft_type' the adapter method is unknown; is it an adapter config?)")
    try:
        ptype = PeftType(data["peft_type"])
    except ValueError:
        allowed = ", ".join(t.value for t in PeftType)
        raise ConfigError(f"{source}: peft_type {data['peft_type']!r} is not one of: {allowed}.") from None
    if ptype not in REGISTRY:
        raise ConfigError(f"{source}: {ptype.value} adapters are not supported by this version of Adapter Studio yet.")
    return REGISTRY[ptype].Config.from_dict(data, source=source)
