"""LoRA (+DoRA), AdaLoRA (Conv2d) and (IA)³ on ``nn.Conv1d/2d/3d`` against peft 0.21.2 (the test-only oracle) on tiny conv models.

- tensors: the same keys and shapes as peft's (``lora_A`` (r, in, *k), ``lora_B`` (out, r/groups, 1, …), DoRA's
  magnitude (1, out, 1, …), (IA)³'s vector (1, channels, 1, …));
- files: ours loaded in peft gives our outputs, peft's loaded by us gives peft's outputs;
- gradients of one backward pass equal peft's (DoRA's norm is a constant in backward in both);
- merged equals unmerged, unmerge restores the base kernel; a grouped LoRA conv refuses to merge, as peft;
- deliberate difference: ``lora_A`` keeps the base's dilation (peft's does not, and fails on a dilated layer).
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

import core
from core.config import ConfigError
from core.targeting import TargetError
from tests.core.conftest import perturb_adapter

peft = pytest.importorskip("peft")

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures("single_thread"),
]

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
ATOL = 1e-5
MERGED = {"atol": 1e-5, "rtol": 1e-5}  # merging rounds the kernel once in fp32; outputs reach ~30 on these nets


class ConvNet(nn.Module):
    """in 3 channels -> c1 (k3, 8 ch) -> c2 (k3, stride 2, 6 ch, groups 2 when grouped) -> c3 (1×…×1, 4 ch)."""

    def __init__(self, dim: int, groups: int = 1, dilation: int = 1) -> None:
        super().__init__()
        conv = CONV[dim]
        self.c1 = conv(3, 8, 3, padding=dilation, dilation=dilation)
        self.c2 = conv(8, 6, 3, stride=2, padding=1, groups=groups)
        self.c3 = conv(6, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c3(torch.relu(self.c2(torch.relu(self.c1(x)))))


def _base(dim: int, **kwargs) -> ConvNet:
    torch.manual_seed(0)
    return ConvNet(dim, **kwargs).eval()


def _input(dim: int) -> torch.Tensor:
    return torch.randn(2, 3, *([6] * dim), generator=torch.Generator().manual_seed(1))


def _lora(engine, **kwargs):
    return engine.LoraConfig(r=4, lora_alpha=8, target_modules=["c1", "c2", "c3"], **kwargs)


def _ia3(engine, feedforward: bool):
    return engine.IA3Config(target_modules=["c1", "c2", "c3"], feedforward_modules=["c2"] if feedforward else [],
                            init_ia3_weights=False)


def _shapes(model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _randomise_ia3(model, seed: int = 3) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "ia3_l" in name:
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))


def _files_load_both_ways(ours, theirs, base, x, tmp_path) -> tuple[torch.Tensor, torch.Tensor]:
    """Save both adapters, check they change the output, and load each engine's file into the other engine: the
    same outputs within ATOL. Returns both adapted outputs (ours, peft's) for later merge checks."""
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "peft")
    with torch.no_grad():
        y_ours, y_theirs = ours(x), theirs(x)
        assert not torch.allclose(y_ours, base(x), atol=1e-3)  # the adapters do change the output
        in_peft = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "ours").eval()
        torch.testing.assert_close(in_peft(x), y_ours, atol=ATOL, rtol=0)
        in_ours = core.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "peft").eval()
        torch.testing.assert_close(in_ours(x), y_theirs, atol=ATOL, rtol=0)
    return y_ours, y_theirs


# ---- LoRA / DoRA ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dora", [False, True], ids=["lora", "dora"])
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_lora_conv_tensors_files_and_outputs_match_peft(dim, dora, tmp_path):
    base = _base(dim, groups=2)
    x = _input(dim)
    ours = core.get_peft_model(copy.deepcopy(base), _lora(core, use_dora=dora)).eval()
    theirs = peft.get_peft_model(copy.deepcopy(base), _lora(peft, use_dora=dora)).eval()
    assert _shapes(ours) == _shapes(theirs)
    if dora:
        # B starts at zero, so the magnitude starts at the kernel's per-output-channel norm in both engines
        for name in ("c1", "c2", "c3"):
            key = f"base_model.model.{name}.lora_magnitude_vector.default.weight"
            torch.testing.assert_close(ours.state_dict()[key], theirs.state_dict()[key])
    perturb_adapter(ours, seed=1)
    perturb_adapter(theirs, seed=2)
    _files_load_both_ways(ours, theirs, base, x, tmp_path)


@pytest.mark.parametrize("dora", [False, True], ids=["lora", "dora"])
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_lora_conv_gradients_match_peft(dim, dora):
    base = _base(dim, groups=2)
    x = _input(dim)
    ours = core.get_peft_model(copy.deepcopy(base), _lora(core, use_dora=dora))
    theirs = peft.get_peft_model(copy.deepcopy(base), _lora(peft, use_dora=dora))
    perturb_adapter(theirs, seed=4)
    ours.load_state_dict(theirs.state_dict())
    for model in (ours, theirs):
        model(x).square().mean().backward()
    grads = {n: p.grad for n, p in theirs.named_parameters() if p.requires_grad}
    for name, p in ours.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, grads[name], atol=1e-5, rtol=1e-4)
    assert {n for n, p in ours.named_parameters() if p.requires_grad} == set(grads)


@pytest.mark.parametrize("dora", [False, True], ids=["lora", "dora"])
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_lora_conv_merged_equals_unmerged(dim, dora):
    base = _base(dim)
    x = _input(dim)
    model = core.get_peft_model(copy.deepcopy(base), _lora(core, use_dora=dora)).eval()
    perturb_adapter(model, seed=5)
    kernels = {n: m.base_layer.weight.detach().clone() for n, m in model.named_modules() if hasattr(m, "lora_A")}
    with torch.no_grad():
        unmerged = model(x)
        model.merge_adapter()
        torch.testing.assert_close(model(x), unmerged, **MERGED)
        model.unmerge_adapter()
        for n, m in model.named_modules():
            if n in kernels:
                torch.testing.assert_close(m.base_layer.weight, kernels[n], atol=1e-6, rtol=0)
        merged = model.merge_and_unload()
        assert all(type(m) in CONV.values() for m in (merged.c1, merged.c2, merged.c3))
        torch.testing.assert_close(merged(x), unmerged, **MERGED)


def test_grouped_lora_conv_refuses_to_merge_like_peft():
    model = core.get_peft_model(_base(2, groups=2), _lora(core))
    perturb_adapter(model)
    kernel = model.base_model.model.c2.base_layer.weight.detach().clone()
    with pytest.raises(NotImplementedError, match="groups=2"):
        model.base_model.model.c2.merge()
    assert torch.equal(model.base_model.model.c2.base_layer.weight, kernel)
    theirs = peft.get_peft_model(_base(2, groups=2), _lora(peft))
    with pytest.raises(NotImplementedError):
        theirs.base_model.model.c2.merge()


def test_rank_not_divisible_by_groups_is_refused_with_the_module_name():
    with pytest.raises(ConfigError, match=r"c2: .*groups=2.*r=3"):
        core.get_peft_model(_base(2, groups=2), core.LoraConfig(r=3, target_modules=["c2"]))


def test_dilated_conv_keeps_its_dilation_where_peft_fails():
    """lora_A convolves with the base's dilation, so its output has the base's size and B·A merges exactly."""
    base = _base(2, dilation=2)
    x = _input(2)
    model = core.get_peft_model(copy.deepcopy(base), _lora(core)).eval()
    assert model.base_model.model.c1.lora_A["default"].dilation == (2, 2)
    perturb_adapter(model)
    with torch.no_grad():
        unmerged = model(x)
        torch.testing.assert_close(model.merge_and_unload()(x), unmerged, **MERGED)
    theirs = peft.get_peft_model(copy.deepcopy(base), _lora(peft))
    with pytest.raises(RuntimeError):
        theirs(x)


def test_pissa_on_conv_is_refused_clearly():
    with pytest.raises(ConfigError, match="c1: PiSSA init needs a Linear or Conv1D layer, not a Conv2d"):
        core.get_peft_model(_base(2), core.LoraConfig(target_modules=["c1"], init_lora_weights="pissa"))


# ---- (IA)³ ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("feedforward", [False, True], ids=["output", "feedforward"])
@pytest.mark.parametrize("dim", [2, 3])
def test_ia3_conv_vectors_files_and_outputs_match_peft(dim, feedforward, tmp_path):
    base = _base(dim, groups=2)
    x = _input(dim)
    ours = core.get_peft_model(copy.deepcopy(base), _ia3(core, feedforward)).eval()
    theirs = peft.get_peft_model(copy.deepcopy(base), _ia3(peft, feedforward)).eval()
    assert _shapes(ours) == _shapes(theirs)
    channels = 8 if feedforward else 6  # c2: 8 in, 6 out; c3 (output scaling): 4 out
    assert _shapes(ours)["base_model.model.c2.ia3_l.default"] == (1, channels, *([1] * dim))
    assert _shapes(ours)["base_model.model.c3.ia3_l.default"] == (1, 4, *([1] * dim))
    _randomise_ia3(ours, seed=1)
    _randomise_ia3(theirs, seed=2)
    _files_load_both_ways(ours, theirs, base, x, tmp_path)


@pytest.mark.parametrize("feedforward", [False, True], ids=["output", "feedforward"])
@pytest.mark.parametrize("dim", [2, 3])
def test_ia3_conv_merged_equals_unmerged_grouped_too(dim, feedforward):
    """c2 is grouped: a feed-forward vector scales input channel g·(in/g)+j, stored as column j of group g's rows."""
    base = _base(dim, groups=2)
    x = _input(dim)
    model = core.get_peft_model(copy.deepcopy(base), _ia3(core, feedforward)).eval()
    _randomise_ia3(model)
    kernel = model.base_model.model.c2.base_layer.weight.detach().clone()
    with torch.no_grad():
        unmerged = model(x)
        model.merge_adapter()
        torch.testing.assert_close(model(x), unmerged, **MERGED)
        model.unmerge_adapter()
        torch.testing.assert_close(model.base_model.model.c2.base_layer.weight, kernel, atol=1e-6, rtol=0)
        torch.testing.assert_close(model.merge_and_unload()(x), unmerged, **MERGED)


def test_ia3_refuses_conv1d_as_peft():
    with pytest.raises((TargetError, ConfigError, TypeError, ValueError), match="Conv1d"):
        core.get_peft_model(_base(1), core.IA3Config(target_modules=["c1"], feedforward_modules=[]))
    with warnings.catch_warnings(), pytest.raises(ValueError):
        warnings.simplefilter("ignore")
        peft.get_peft_model(_base(1), peft.IA3Config(target_modules=["c1"], feedforward_modules=[]))


# ---- add_weighted_adapter on convolutions -----------------------------------------------------------------------


@pytest.mark.parametrize("combination_type", ["linear", "cat", "svd", "ties_svd", "dare_linear"])
def test_weighted_adapter_on_conv2d_matches_peft(combination_type):
    """Two adapters on c1 (3×3) and c3 (1×1), the same seed before the call: the combined tensors and outputs agree."""
    x = _input(2)
    kwargs = {} if combination_type in ("linear", "cat", "svd") else {"density": 0.5}

    def combined(engine):
        model = engine.get_peft_model(_base(2), engine.LoraConfig(r=4, lora_alpha=8, target_modules=["c1", "c3"]))
        model.add_adapter("b", engine.LoraConfig(r=4, lora_alpha=4, target_modules=["c1", "c3"]))
        perturb_adapter(model)
        torch.manual_seed(11)
        model.add_weighted_adapter(["default", "b"], [0.7, -0.4], "mix", combination_type=combination_type, **kwargs)
        model.set_adapter("mix")
        state = {k: v.detach().clone() for k, v in engine.get_peft_model_state_dict(model, adapter_name="mix").items()}
        with torch.no_grad():
            return state, model.eval()(x)

    ours, y_ours = combined(core)
    theirs, y_theirs = combined(peft)
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y_ours, y_theirs, atol=ATOL, rtol=0)


# ---- DoRA on nn.Embedding -------------------------------------------------------------------------------------


class EmbNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.lin = nn.Linear(8, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lin(self.emb(ids))


def test_dora_on_embedding_matches_peft(tmp_path):
    """magnitude (dim,): the norm of W' = W + s·(BA)ᵀ over the vocabulary per feature; output m/‖W'‖ ⊙ (W' lookup)."""
    torch.manual_seed(0)
    base = EmbNet().eval()
    ids = torch.tensor([[1, 5, 19, 0], [7, 7, 3, 12]])
    config = {"r": 4, "lora_alpha": 8, "target_modules": ["emb"], "use_dora": True}
    ours = core.get_peft_model(copy.deepcopy(base), core.LoraConfig(**config)).eval()
    theirs = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(**config)).eval()
    assert _shapes(ours) == _shapes(theirs)
    key = "base_model.model.emb.lora_magnitude_vector.default.weight"
    torch.testing.assert_close(ours.state_dict()[key], theirs.state_dict()[key])  # B = 0 at init: ‖W‖ in both
    perturb_adapter(ours, seed=1)
    perturb_adapter(theirs, seed=2)
    _, y_theirs = _files_load_both_ways(ours, theirs, base, ids, tmp_path)
    # one backward pass with peft's weights: the same gradients (the norm is a constant in backward in both)
    ours.load_state_dict(theirs.state_dict())
    for model in (ours, theirs):
        model(ids).square().mean().backward()
    grads = {n: p.grad for n, p in theirs.named_parameters() if p.requires_grad}
    assert {n for n, p in ours.named_parameters() if p.requires_grad} == set(grads)
    for name, p in ours.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, grads[name], atol=1e-5, rtol=1e-4)
    # merged equals unmerged; unmerge restores the table
    table = ours.base_model.model.emb.base_layer.weight.detach().clone()
    with torch.no_grad():
        ours.merge_adapter()
        torch.testing.assert_close(ours(ids), y_theirs, **MERGED)
        ours.unmerge_adapter()
        torch.testing.assert_close(ours.base_model.model.emb.base_layer.weight, table, atol=1e-6, rtol=0)


def _adalora(engine, **kwargs):
    return engine.AdaLoraConfig(init_r=4, target_r=2, lora_alpha=8, total_step=10, target_modules=["c1", "c3"], **kwargs)


def test_adalora_conv2d_matches_peft(tmp_path):
    """AdaLoRA on ``nn.Conv2d`` (PEFT's SVDConv2d layout): A (r, in·kh·kw), E (r, 1), B (out, r); files both ways,
    outputs, one backward's gradients, and merged equals unmerged."""
    base = _base(2)
    x = _input(2)
    ours = core.get_peft_model(copy.deepcopy(base), _adalora(core))
    theirs = peft.get_peft_model(copy.deepcopy(base), _adalora(peft))
    assert _shapes(ours) == _shapes(theirs)
    assert tuple(ours.state_dict()["base_model.model.c1.lora_A.default"].shape) == (4, 3 * 3 * 3)
    perturb_adapter(theirs, seed=4)
    ours.load_state_dict(theirs.state_dict())
    for model in (ours, theirs):
        model(x).square().mean().backward()
    grads = {n: p.grad for n, p in theirs.named_parameters() if p.requires_grad}
    assert {n for n, p in ours.named_parameters() if p.requires_grad} == set(grads)
    for name, p in ours.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, grads[name], atol=1e-5, rtol=1e-4)
    ours.eval(), theirs.eval()
    perturb_adapter(ours, seed=1)
    y_ours, _ = _files_load_both_ways(ours, theirs, base, x, tmp_path)
    with torch.no_grad():
        ours.merge_adapter()
        torch.testing.assert_close(ours(x), y_ours, **MERGED)
        ours.unmerge_adapter()
        torch.testing.assert_close(ours.base_model.model.c1.base_layer.weight, base.c1.weight, atol=1e-6, rtol=0)


def test_adalora_refuses_a_grouped_conv2d_with_the_module_name():
    with pytest.raises((TargetError, ConfigError, TypeError), match="groups=2"):
        core.get_peft_model(_base(2, groups=2), core.AdaLoraConfig(total_step=10, target_modules=["c2"]))
