"""Adapter Studio's adapter engine, with the names PEFT users know.

Imports are lazy (PEP 562): ``import core.protocol`` from the GUI process must not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PeftType": "core.config",
    "TaskType": "core.config",
    "PeftConfig": "core.config",
    "ConfigError": "core.errors",
    "LoraConfig": "core.methods.lora",
    "AdaLoraConfig": "core.methods.adalora",
    "PromptTuningConfig": "core.methods.prompt_tuning",
    "PromptTuningInit": "core.methods.prompt_tuning",
    "PromptEncoderConfig": "core.methods.p_tuning",
    "PromptEncoderReparameterizationType": "core.methods.p_tuning",
    "PrefixTuningConfig": "core.methods.prefix_tuning",
    "AdaptionPromptConfig": "core.methods.adaption_prompt",
    "IA3Config": "core.methods.ia3",
    "PeftModel": "core.peft_model",
    "PeftModelForCausalLM": "core.peft_model",
    "get_peft_model": "core.peft_model",
    "get_peft_model_state_dict": "core.functional",
    "set_peft_model_state_dict": "core.functional",
    "inject_adapter_in_model": "core.functional",
    "get_layer_status": "core.functional",
    "get_base_model_state_dict": "core.functional",
    "set_base_model_state_dict": "core.functional",
    "get_model_status": "core.functional",
    "TunerLayerStatus": "core.functional",
    "TunerModelStatus": "core.functional",
    "AdapterLoadError": "core.errors",
    "TargetError": "core.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
