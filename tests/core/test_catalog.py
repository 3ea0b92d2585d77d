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
    assert result["facts"]["ADAPTION_PROMPT"] == ["Adaption prompt", False, {"adapter_len": 10, "adapter_layers": 30}]


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
    # a low-rank method tells the Adaptation tab what its update is (contract.LowRankMethod)
    assert facts.low_rank == (callable(getattr(module, "update_size", None)) and hasattr(module, "UPDATE_METRIC"))


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


def test_low_rank_update_size_is_the_scaled_delta_w():
    """LoRA: ‖ΔW‖_F = alpha / r · ‖B A‖_F (rank_pattern / alpha_pattern and rsLoRA honoured); AdaLoRA: the
    rank kept is the count of non-zero lora_E, ΔW = B (A ⊙ E) · alpha / init_r."""
    import torch

    from core.methods import adalora, lora

    A, B = torch.ones(4, 3), torch.ones(5, 4)  # (r, in), (out, r): B A is all 4s, ‖B A‖_F = 4·√15
    plain = lora.update_size("model.layers.0.q_proj", {"lora_A": A, "lora_B": B}, {"r": 4, "lora_alpha": 8})
    assert plain["rank"] == 4 and abs(plain["norm"] - 2 * 4 * 15 ** 0.5) < 1e-4
    pattern = {"r": 4, "lora_alpha": 8, "alpha_pattern": {"q_proj": 4}, "use_rslora": True}
    # q_proj's alpha 4 with rsLoRA: 4 / √4 = 2, the same scaling as 8 / 4 without
    assert abs(lora.update_size("model.layers.0.q_proj", {"lora_A": A, "lora_B": B}, pattern)["norm"] - 2 * 4 * 15 ** 0.5) < 1e-4
    pattern["alpha_pattern"] = {"k_proj": 4}  # another module's entry: 8 / √4 = 4
    assert abs(lora.update_size("model.layers.0.q_proj", {"lora_A": A, "lora_B": B}, pattern)["norm"] - 4 * 4 * 15 ** 0.5) < 1e-4
    E = torch.tensor([[1.0], [0.0], [2.0], [0.0]])  # two triplets kept
    kept = adalora.update_size("q_proj", {"lora_A": A, "lora_B": B, "lora_E": E}, {"lora_alpha": 8, "init_r": 4})
    assert kept["rank"] == 2 and abs(kept["norm"] - 2 * 3 * 15 ** 0.5) < 1e-4  # B (A ⊙ E) is all 3s
    assert (lora.UPDATE_METRIC, adalora.UPDATE_METRIC) == ("norm", "rank")


def test_adaption_prompts_default_layers_fit_the_model():
    """Adaption prompt's default adapts every block up to 30 (measured, docs/method-defaults.md); a model with
    fewer blocks gets all of its own when a project is made for it, since more layers than blocks is refused."""
    from core.defaults import method_defaults, model_method_defaults
    from core.models import skeleton

    for ref, layers in (("tiny-llama", 2), ("smollm2-135m-instruct", 30)):
        config, _ = method_defaults("ADAPTION_PROMPT")
        assert config["adapter_layers"] == 30
        assert model_method_defaults(config, skeleton(ref)) == []
        assert config["adapter_layers"] == layers, ref
    config = {**method_defaults("ADAPTION_PROMPT")[0], "adapter_layers": 1}  # a person's choice stays
    model_method_defaults(config, skeleton("tiny-llama"))
    assert config["adapter_layers"] == 1
