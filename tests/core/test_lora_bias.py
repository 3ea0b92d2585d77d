"""LoRA's ``lora_bias`` (PEFT's name): ``lora_B`` gets a trainable bias (out,), scaled by ``s`` like the update,
stored as ``lora_B.bias``; merging adds ``s · bias`` to the layer's bias. Checked against peft 0.21.2 (the
test-only oracle) on a Linear and a Conv2d: keys and shapes, outputs, files both ways, merge and unmerge."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

import core
from core.config import ConfigError
from tests.core.conftest import perturb_adapter

peft = pytest.importorskip("peft")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


class Net(nn.Module):
    """x (2, 3, 6, 6) -> conv (3 -> 4 channels, k3) -> flatten (64) -> lin (64 -> 5)."""

    def __init__(self, conv_bias: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=conv_bias)
        self.lin = nn.Linear(64, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(torch.relu(self.conv(x)).flatten(1))


def _config(engine, **kwargs):
    return engine.LoraConfig(r=2, lora_alpha=6, target_modules=["conv", "lin"], lora_bias=True, **kwargs)


def test_lora_bias_matches_peft(tmp_path):
    torch.manual_seed(0)
    base = Net().eval()
    x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    ours = core.get_peft_model(copy.deepcopy(base), _config(core)).eval()
    theirs = peft.get_peft_model(copy.deepcopy(base), _config(peft)).eval()
    shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert shapes["base_model.model.lin.lora_B.default.bias"] == (5,)
    assert shapes["base_model.model.conv.lora_B.default.bias"] == (4,)
    assert "base_model.model.lin.lora_B.default.bias" in {n for n, p in ours.named_parameters() if p.requires_grad}
    with torch.no_grad():
        torch.testing.assert_close(ours(x), base(x))  # B and its bias start at zero: no change yet
    perturb_adapter(ours, seed=1)
    perturb_adapter(theirs, seed=2)
    assert "base_model.model.lin.lora_B.bias" in ours.adapter_state_dict()
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "peft")
    with torch.no_grad():
        y_ours, y_theirs = ours(x), theirs(x)
        in_peft = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "ours").eval()
        torch.testing.assert_close(in_peft(x), y_ours, atol=1e-5, rtol=0)
        in_ours = core.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "peft").eval()
        torch.testing.assert_close(in_ours(x), y_theirs, atol=1e-5, rtol=0)
        # merging adds s · bias to the layer's bias; unmerging takes it out again
        ours.merge_adapter()
        torch.testing.assert_close(ours(x), y_ours, atol=1e-5, rtol=1e-5)
        ours.unmerge_adapter()
        torch.testing.assert_close(ours.base_model.model.lin.base_layer.bias, base.lin.bias, atol=1e-6, rtol=0)
        merged = ours.merge_and_unload()
        torch.testing.assert_close(merged(x), y_ours, atol=1e-5, rtol=1e-5)


def test_lora_bias_on_a_layer_without_bias_warns_and_refuses_to_merge():
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="conv: lora_bias=True on a Conv2d without a bias"):
        model = core.get_peft_model(Net(conv_bias=False), _config(core))
    perturb_adapter(model)
    conv = model.base_model.model.conv
    kernel = conv.base_layer.weight.detach().clone()
    with pytest.raises(RuntimeError, match="lora_bias=True but its Conv2d layer has no bias"):
        conv.merge()
    assert torch.equal(conv.base_layer.weight, kernel) and not conv.merged_adapters


@pytest.mark.parametrize("kwargs,pattern", [({"use_dora": True}, "The argument lora_bias=True is not supported with DoRA"),
                                            ({"init_lora_weights": "gaussian"}, "The argument lora_bias=True is only supported "
                                                                                "with init_lora_weights true or false, got 'gaussian'")])
def test_lora_bias_refuses_what_peft_refuses(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        core.LoraConfig(target_modules=["lin"], lora_bias=True, **kwargs)
    with pytest.raises(ValueError):
        peft.LoraConfig(target_modules=["lin"], lora_bias=True, **kwargs)


def test_lora_bias_on_an_embedding_is_refused_by_name():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    with warnings.catch_warnings(), pytest.raises(ConfigError, match="0: lora_bias=True is not supported for Embedding layers"):
        warnings.simplefilter("ignore")
        core.get_peft_model(model, core.LoraConfig(target_modules=["0"], lora_bias=True))
