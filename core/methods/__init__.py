"""The adapter methods, one file each (`core.methods.contract` names what a file provides).

- `core.methods.catalog`: the methods and their facts (label, defaults, ...), torch-free;
- `core.methods.registry`: ``REGISTRY`` (``PeftType`` -> module) and the config factory
  (`config_from_dict`, `load_config`), which import the method files and so torch.

Importing this package imports neither: the names below load on first use (PEP 562), so the window can
import `core.methods.catalog` without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = ("REGISTRY", "target_support", "config_from_dict", "load_config")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("core.methods.registry"), name)
    raise AttributeError(f"module 'core.methods' has no attribute {name!r}")
