"""LoRA on parameters (``target_parameters``, core/methods/_param_lora.py) against real PEFT on tiny MoE models.

qwen3_moe and mixtral from their transformers configs (tests/core/test_architectures.py), experts fused as
``experts.gate_up_proj (E, 2·I, H)`` and ``experts.down_proj (E, H, I)``, E = 4. PEFT is the oracle: the same
factors give the same logits, each side's file loads in the other with equal logits, the saved keys are
PEFT's (nested ``…experts.base_layer.lora_A.weight``), and a few training steps lower the loss.
"""

from __future__ import annotations

import warnings

import peft
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import core
from core.errors import ConfigError, TargetError
from core.methods._param_lora import ParamLoraLayer
from tests.core.test_architectures import IDS, logits, make

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")]

MOE = ("qwen3_moe", "mixtral")
EXPERTS = ["experts.gate_up_proj", "experts.down_proj"]


def ours(arch: str, **kw) -> core.PeftModel:
    kw = {"r": 2, "lora_alpha": 4, "target_modules": [], "target_parameters": EXPERTS, **kw}
    return core.get_peft_model(make(arch), core.LoraConfig(**kw))


def theirs(arch: str, **kw) -> peft.PeftModel:
    kw = {"r": 2, "lora_alpha": 4, "target_modules": [], "target_parameters": EXPERTS, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(make(arch), peft.LoraConfig(**kw))


def randomise_b(model: nn.Module, seed: int = 3) -> None:
    """B starts at zero; random B (and A) make the update visible."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)


@pytest.mark.parametrize("arch", MOE)
def test_experts_are_wrapped_and_their_keys_are_peft_keys(arch):
    model = ours(arch)
    experts = model.base_model.model.model.layers[0].mlp.experts
    # PEFT's nesting: the first registered parameter innermost
    assert isinstance(experts, ParamLoraLayer) and experts.parameter_name == "down_proj"
    assert isinstance(experts.base_layer, ParamLoraLayer) and experts.base_layer.parameter_name == "gate_up_proj"
    E, H, I2 = 4, 32, experts.owner().gate_up_proj.shape[1]
    assert experts.base_layer.lora_A["default"].weight.shape == (2 * E, H)  # (E·r, in)
    assert experts.base_layer.lora_B["default"].weight.shape == (I2, 2 * E)  # (out, E·r)
    mine = {k: tuple(v.shape) for k, v in model.adapter_state_dict().items()}
    reference = theirs(arch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft_keys = {k: tuple(v.shape) for k, v in peft.get_peft_model_state_dict(reference).items()}
    assert mine == peft_keys
    assert "base_model.model.model.layers.0.mlp.experts.base_layer.lora_A.weight" in mine
    assert logits(model).allclose(logits(make(arch)), atol=1e-6)  # B = 0: the model is unchanged at init


@pytest.mark.parametrize("arch", MOE)
def test_same_factors_give_peft_logits_and_disable_gives_the_base(arch):
    model, reference = ours(arch), theirs(arch)
    randomise_b(model)
    peft.set_peft_model_state_dict(reference, {k: v.detach().clone() for k, v in model.adapter_state_dict().items()})
    got, base = logits(model), logits(make(arch))
    assert (got - base).abs().max() > 1e-2, "the update did not reach the experts"
    torch.testing.assert_close(got, logits(reference), rtol=0, atol=1e-5)
    with model.disable_adapter():
        torch.testing.assert_close(logits(model), base, rtol=0, atol=1e-6)


@pytest.mark.parametrize("arch", MOE)
def test_files_load_both_ways_with_equal_logits(arch, tmp_path):
    model = ours(arch, target_modules=["q_proj", "v_proj"])  # modules and parameters together, as PEFT allows
    randomise_b(model)
    model.save_pretrained(tmp_path / "ours")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_peft = peft.PeftModel.from_pretrained(make(arch), tmp_path / "ours")
    torch.testing.assert_close(logits(in_peft), logits(model), rtol=0, atol=1e-5)

    reference = theirs(arch, target_modules=["q_proj", "v_proj"])
    randomise_b(reference, seed=5)
    reference.save_pretrained(tmp_path / "peft")
    in_ours = core.PeftModel.from_pretrained(make(arch), tmp_path / "peft")
    torch.testing.assert_close(logits(in_ours), logits(reference), rtol=0, atol=1e-5)
    assert set(load_file(tmp_path / "ours" / "adapter_model.safetensors")) == set(
        load_file(tmp_path / "peft" / "adapter_model.safetensors")
    )


@pytest.mark.parametrize("arch", MOE)
def test_merge_unmerge_and_unload(arch):
    model = ours(arch)
    randomise_b(model)
    owner = model.base_model.model.model.layers[0].mlp.experts.owner()
    original = owner.gate_up_proj.detach().clone()
    adapted = logits(model)
    model.merge_adapter()
    assert not torch.allclose(owner.gate_up_proj, original)
    torch.testing.assert_close(logits(model), adapted, rtol=0, atol=1e-5)  # merged, not added twice
    model.unmerge_adapter()
    torch.testing.assert_close(owner.gate_up_proj, original, rtol=0, atol=1e-6)
    torch.testing.assert_close(logits(model), adapted, rtol=0, atol=1e-5)
    merged = model.merge_and_unload()
    assert type(merged.model.layers[0].mlp.experts).__name__.endswith("Experts")
    assert not any(isinstance(m, ParamLoraLayer) for m in merged.modules())
    torch.testing.assert_close(logits(merged), adapted, rtol=0, atol=1e-5)

    fresh = ours(arch)
    owner = fresh.base_model.model.model.layers[1].mlp.experts.owner()
    plain = fresh.unload()
    assert plain.model.layers[1].mlp.experts is owner


@pytest.mark.parametrize("arch", MOE)
def test_a_few_steps_lower_the_loss_and_train_only_the_factors(arch):
    torch.manual_seed(0)
    model = ours(arch, r=4, lora_alpha=8)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    model.train()
    losses = []
    for _ in range(8):
        loss = model(input_ids=IDS, labels=IDS).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05, losses
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, before[name]), f"{name} changed"


def test_transposed_experts_follow_peft():
    """Experts stored (E, in, out) and multiplied as x @ W[e] (``is_transposed``, e.g. gpt_oss)."""

    class Experts(nn.Module):
        is_transposed = True

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3, 6, 5))  # (E, in, out)

        def forward(self, x):
            return torch.einsum("bi,eio->beo", x, self.w)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.experts = Experts()

        def forward(self, x):
            return self.experts(x)

    torch.manual_seed(0)
    net = Net()
    x = torch.randn(4, 6)
    mine = core.get_peft_model(Net(), core.LoraConfig(r=2, target_modules=[], target_parameters=["experts.w"]))
    mine.base_model.model.load_state_dict(net.state_dict(), strict=False)
    layer = mine.base_model.model.experts
    assert (layer.in_features, layer.out_features) == (6, 5)
    randomise_b(mine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = peft.get_peft_model(Net(), peft.LoraConfig(r=2, target_modules=[], target_parameters=["experts.w"]))
    reference.base_model.model.experts.base_layer.load_state_dict(net.experts.state_dict())
    mine.base_model.model.experts.base_layer.load_state_dict(net.experts.state_dict())
    peft.set_peft_model_state_dict(reference, {k: v.detach().clone() for k, v in mine.adapter_state_dict().items()})
    with torch.no_grad():
        got, want, base = mine(x), reference(x), net(x)
    assert (got - base).abs().max() > 1e-2
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_settings_that_cannot_apply_are_refused_by_name():
    with pytest.raises(ConfigError, match="lora_dropout must be 0 with target_parameters"):
        core.LoraConfig(target_parameters=EXPERTS, lora_dropout=0.1)
    with pytest.raises(ConfigError, match="use_dora"):
        core.LoraConfig(target_parameters=EXPERTS, use_dora=True)
    # PEFT's sentence and exception type (TypeError), then ours
    with pytest.raises(TypeError, match=r"`target_parameters` must be a list of strings or None\. Write a list of parameter names"):
        core.LoraConfig(target_parameters="experts.gate_up_proj")
    with pytest.raises(ConfigError, match="PiSSA"):
        core.LoraConfig(target_parameters=EXPERTS, init_lora_weights="pissa")


def test_targets_that_select_nothing_or_clash_are_refused():
    with pytest.raises(TargetError, match=r"'experts.gate_proj' matches no parameter.*experts.gate_up_proj"):
        ours("qwen3_moe", target_parameters=["experts.gate_proj"])
    with pytest.raises(TargetError, match=r"Trying to wrap an `nn.Parameter` of layer '.*q_proj' of type Linear, which is "
                                          r"not a valid target\..*q_proj.weight.*already wrapped by LoraLayer"):
        ours("qwen3_moe", target_modules=["q_proj"], target_parameters=["q_proj.weight"])
    model = ours("qwen3_moe")
    with pytest.raises(TargetError, match=r"all adapters must target the same set of parameters \(target_parameters\)"):
        model.add_adapter("other", core.LoraConfig(target_modules=[], target_parameters=["experts.down_proj"]))
    assert "other" not in model.peft_config
    model.add_adapter("second", core.LoraConfig(target_modules=[], target_parameters=EXPERTS))  # same set: fine
    assert model.base_model.model.model.layers[0].mlp.experts.adapter_names() == ["default", "second"]


@pytest.mark.parametrize("target_modules", [None, [], ""])
def test_parameters_only_with_nothing_matched_says_so_as_peft(target_modules):
    """No module targets (None on a model without default targets, [] or "") and a parameter name that matches
    nothing: PEFT's sentence, then which entry matched nothing; with a parameter that exists, the adapter is made."""
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)

    with pytest.raises(TargetError, match=r"No `target_modules` passed but also no `target_parameters` found\. Please "
                                          r"check the values for these arguments\. \(target_parameters entry 'foobar.weight'"):
        core.get_peft_model(Net(), core.LoraConfig(target_modules=target_modules, target_parameters=["foobar.weight"]))
    model = core.get_peft_model(Net(), core.LoraConfig(target_modules=target_modules, target_parameters=["linear.weight"]))
    assert any("lora_A" in n for n, _ in model.named_parameters())


def test_parameters_only_config_round_trips_through_peft(tmp_path):
    import json

    model = ours("qwen3_moe", target_parameters=list(reversed(EXPERTS)))
    randomise_b(model)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "adapter_config.json").read_text())
    assert saved["target_modules"] == [] and saved["target_parameters"] == sorted(EXPERTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_peft = peft.PeftModel.from_pretrained(make("qwen3_moe"), tmp_path)
    torch.testing.assert_close(logits(in_peft), logits(model), rtol=0, atol=1e-5)
    again = core.PeftModel.from_pretrained(make("qwen3_moe"), tmp_path)
    torch.testing.assert_close(logits(again), logits(model), rtol=0, atol=1e-6)


def test_fan_in_fan_out_and_weighted_combination_are_refused():
    with pytest.raises(ConfigError, match="fan_in_fan_out"):
        core.LoraConfig(target_parameters=EXPERTS, fan_in_fan_out=True)
    model = ours("mixtral")
    with pytest.raises(ValueError, match="add_weighted_adapter cannot combine adapters that use target_parameters"):
        model.add_weighted_adapter(["default"], [1.0], "combined")
    assert "combined" not in model.peft_config
