"""core.methods.catalog: every method's facts from its own file, without torch; each file keeps the contract."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.methods import catalog
from core.methods.contract import HOOKS, MethodFacts

ROOT = Path(__file__).resolve().parents[2]


def test_the_catalog_answers_without_importing_torch():
    code = (
        "import json, sys\n"
        "from core.methods import catalog\n"
        "out = {m: [catalog.label(m), catalog.facts(m).mergeable, catalog.facts(m).suggested] for m in catalog.names()}\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'facts': out}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["torch"] is False
    assert result["facts"]["IA3"][:2] == ["IA³", True]
    assert result["facts"]["ADAPTION_PROMPT"] == ["Adaption prompt", False, {"adapter_len": 10, "adapter_layers": 2}]


@pytest.mark.parametrize("method", catalog.names())
def test_each_method_file_keeps_the_contract(method):
    import importlib

    from core.config import PeftType
    from core.train import TrainingArguments

    module = importlib.import_module(catalog.METHODS[method])
    assert module.FACTS == catalog.facts(method), "the catalog read FACTS differently from Python"
    assert module.Config.peft_type == PeftType(method)
    assert callable(module.can_target) and (callable(getattr(module, "inject", None)) or callable(getattr(module, "peft_inject", None)))
    hooks = {name.removeprefix("peft_") for name in vars(module) if name.startswith("peft_")}
    assert hooks <= set(HOOKS), f"{module.__name__} defines hooks the contract does not name: {hooks - set(HOOKS)}"
    config_fields = {f.name for f in dataclasses.fields(module.Config)}
    facts = catalog.facts(method)
    assert set(facts.adapter_defaults) <= config_fields
    assert set(facts.form_first_values) <= set(facts.adapter_defaults)
    assert set(facts.training_defaults) <= {f.name for f in dataclasses.fields(TrainingArguments)}
    module.Config(**facts.adapter_defaults)  # the defaults are a valid config


def test_a_fact_that_is_not_a_literal_is_refused_with_file_and_line():
    source = "from core.methods.contract import MethodFacts\nRATE = 3\n\nFACTS = MethodFacts(\n    label='X', mergeable=RATE,\n)\n"
    with pytest.raises(TypeError, match=r"core/methods/x\.py, line 4: every value of FACTS must be a literal"):
        catalog._facts_from_source(source, "core.methods.x")
    assert catalog._facts_from_source("FACTS = MethodFacts(label='Y', mergeable=False, adapter_defaults={},"
                                      " training_defaults={'learning_rate': 0.1})\n", "core.methods.y").label == "Y"
    with pytest.raises(catalog.UnknownMethod, match="'loha' is not a method"):
        catalog.facts("loha")
    assert catalog.get("LOHA") is None and catalog.label("LOHA") == "Loha"
    assert catalog.no_targets_reason("LORA") == "LoRA does not adapt individual modules."
    assert isinstance(catalog.facts("prefix-tuning"), MethodFacts)
