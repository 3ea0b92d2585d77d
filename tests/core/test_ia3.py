"""(IA)³: invariants on tiny Bloom / Llama (GQA) / GPT-2 (Conv1D), parity with peft, PEFT's printed figures.

Invariants per config: output equals the base at init; an optimizer step changes only the vectors; merged
equals unmerged and unmerge restores the weights (IA³ unmerge divides by ``l + 1e-8``: equal up to rounding);
disabled equals base; a save/load round trip is exact. Parity: PEFT loads our files and we load PEFT's with
equal logits; same trainable counts, key sets, shapes and config.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

import core
from core.config import ConfigError
from core.methods.ia3 import IA3Layer
from core.models import skeleton
from core.targeting import TargetError
from tests.core.conftest import logits, make_model, peft_available

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures("single_thread"),
]

CASES = [
    pytest.param("bloom", True, dict(task_type="CAUSAL_LM"), id="bloom-defaults"),
    pytest.param("llama", True, dict(), id="llama-defaults"),
    pytest.param("gpt2", True, dict(task_type="CAUSAL_LM"), id="gpt2-defaults-conv1d"),
    pytest.param("llama", False, dict(target_modules=r".*\.(q_proj|up_proj|down_proj)", feedforward_modules=r".*down_proj"),
                 id="llama-regex-untied"),
    pytest.param("bloom", True, dict(target_modules=["dense", "dense_h_to_4h"], feedforward_modules=["dense"],
                                     modules_to_save=["ln_f"]), id="bloom-list-ff-suffix-save"),
    pytest.param("gpt2", True, dict(target_modules="all-linear", feedforward_modules=r".*mlp\.c_fc",
                                    exclude_modules=["h.0.attn.c_proj"]), id="gpt2-all-linear-exclude"),
]


def _build(family, tied, kwargs, adapter="default"):
    return core.get_peft_model(make_model(family, tied), core.IA3Config(**copy.deepcopy(kwargs)), adapter)


def _perturb(model, seed=7):
    """Vectors away from one (any engine: names contain ``ia3_l``)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "ia3_l" in name:
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))


def _base_weights(model):
    return {k.replace(".base_layer.", ".").replace(".original_module.", "."): v.detach().clone()
            for k, v in model.base_model.model.state_dict().items() if "ia3_l" not in k and ".modules_to_save." not in k}


@pytest.mark.parametrize("family,tied,kwargs", CASES)
def test_invariants(family, tied, kwargs, input_ids, attention_mask, tmp_path):
    base = logits(make_model(family, tied), input_ids, attention_mask)
    model = _build(family, tied, kwargs)
    assert any(isinstance(m, IA3Layer) for m in model.modules())
    torch.testing.assert_close(logits(model, input_ids, attention_mask), base, atol=0, rtol=0)  # l = 1

    # one optimizer step: only the vectors (and modules_to_save copies) move
    weights = _base_weights(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("ia3_l" in n or ".modules_to_save." in n for n in trainable)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(input_ids=input_ids, labels=input_ids).loss.backward()
    opt.step()
    model.eval()
    for n, p in model.named_parameters():
        if n in trainable:
            assert p.grad is not None, n
    for k, v in _base_weights(model).items():
        assert torch.equal(v, weights[k]), f"frozen {k} changed"

    _perturb(model)
    adapted = logits(model, input_ids, attention_mask)
    assert (adapted - base).abs().max() > 1e-3
    with model.disable_adapter():
        torch.testing.assert_close(logits(model, input_ids, attention_mask), base, atol=0, rtol=0)

    # merge / unmerge (division by l + 1e-8, as PEFT: equal up to rounding)
    model.merge_adapter()
    torch.testing.assert_close(logits(model, input_ids, attention_mask), adapted, atol=1e-5, rtol=1e-5)
    with model.disable_adapter():  # unmerges
        torch.testing.assert_close(logits(model, input_ids, attention_mask), base, atol=1e-5, rtol=1e-5)
    model.merge_adapter()
    model.unmerge_adapter()
    for k, v in _base_weights(model).items():
        torch.testing.assert_close(v, weights[k], atol=1e-6, rtol=1e-6)

    # save / load: tensors and logits exact
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["peft_type"] == "IA3" and config["inference_mode"] is True
    again = core.PeftModel.from_pretrained(make_model(family, tied), tmp_path)
    assert again.adapter_state_dict().keys() == model.adapter_state_dict().keys()
    for k, v in model.adapter_state_dict().items():
        assert torch.equal(again.adapter_state_dict()[k], v), k
    torch.testing.assert_close(logits(again, input_ids, attention_mask), adapted, atol=0, rtol=0)
    assert not any(p.requires_grad for p in again.parameters())

    plain = model.merge_and_unload()
    assert not any(isinstance(m, IA3Layer) for m in plain.modules())
    torch.testing.assert_close(logits(plain, input_ids, attention_mask), adapted, atol=1e-5, rtol=1e-5)


def test_init_false_changes_output(input_ids):
    base = logits(make_model("llama"), input_ids)
    model = _build("llama", True, dict(init_ia3_weights=False))
    assert (logits(model, input_ids) - base).abs().max() > 1e-3


def test_shapes_and_feedforward_placement():
    model = _build("bloom", True, {})
    layer = model.base_model.model.transformer.h[0]
    assert tuple(layer.self_attention.query_key_value.ia3_l["default"].shape) == (96, 1)  # (out, 1)
    assert tuple(layer.mlp.dense_4h_to_h.ia3_l["default"].shape) == (1, 128)  # (1, in): feed-forward
    gpt2 = _build("gpt2", True, {})
    block = gpt2.base_model.model.transformer.h[0]
    assert tuple(block.attn.c_attn.ia3_l["default"].shape) == (96, 1)  # Conv1D (32 -> 96)
    assert tuple(block.mlp.c_proj.ia3_l["default"].shape) == (1, 128)
    assert gpt2.peft_config["default"].fan_in_fan_out is True


def test_multi_adapter_switch_save_and_product(input_ids, tmp_path):
    model = _build("llama", True, {})
    _perturb(model, seed=1)
    first = logits(model, input_ids)
    model.add_adapter("second", core.IA3Config())
    assert logits(model, input_ids).equal(first)  # added adapters start inactive
    model.set_adapter("second")
    _perturb(model, seed=2)  # re-draws both; keep the new first for the product check
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith(".second") for n in trainable)
    model.set_adapter("default")
    first = logits(model, input_ids)
    model.set_adapter("second")
    second = logits(model, input_ids)
    assert (first - second).abs().max() > 1e-3

    # several active vectors multiply (PEFT's rule), merged or not
    layers = [m for m in model.modules() if isinstance(m, IA3Layer)]
    for m in layers:
        m.set_adapter(["default", "second"])
    both = logits(model, input_ids)
    for m in layers:
        m.merge(["default"])
        m.set_adapter(["second"])
    torch.testing.assert_close(logits(model, input_ids), both, atol=1e-5, rtol=1e-5)
    for m in layers:
        m.unmerge()
    model.set_adapter("second")

    model.save_pretrained(tmp_path)
    assert (tmp_path / "adapter_model.safetensors").is_file() and (tmp_path / "second" / "adapter_config.json").is_file()
    again = core.PeftModel.from_pretrained(make_model("llama"), tmp_path)
    again.load_adapter(tmp_path / "second", "second")
    torch.testing.assert_close(logits(again, input_ids), first, atol=0, rtol=0)
    again.set_adapter("second")
    torch.testing.assert_close(logits(again, input_ids), second, atol=0, rtol=0)
    again.delete_adapter("second")
    torch.testing.assert_close(logits(again, input_ids), first, atol=0, rtol=0)


def test_config_errors():
    with pytest.raises(ConfigError, match="feedforward_modules .* not in target_modules"):
        core.IA3Config(target_modules=["q_proj"], feedforward_modules=["down_proj"])
    with pytest.raises(TargetError, match="feedforward_modules entry 'down_projj'"):
        core.get_peft_model(make_model("llama"), core.IA3Config(target_modules=r".*proj", feedforward_modules=["down_projj"]))
    with pytest.raises(TargetError, match="LayerNorm"):
        core.get_peft_model(make_model("bloom"), core.IA3Config(target_modules=["ln_f"]))
    with pytest.raises(ConfigError, match="init_ia3_weights"):
        core.IA3Config(init_ia3_weights="yes")


@pytest.mark.parametrize("ref,line", [
    ("bloomz-560m", "trainable params: 172,032 || all params: 559,386,624 || trainable%: 0.0308"),
    ("smollm2-135m-instruct", "trainable params: 57,600 || all params: 134,572,608 || trainable%: 0.0428"),
])
def test_print_trainable_parameters_matches_peft(ref, line, capsys):
    core.get_peft_model(skeleton(ref), core.IA3Config(task_type="CAUSAL_LM")).print_trainable_parameters()
    assert capsys.readouterr().out.strip() == line


# ---- parity with peft ---------------------------------------------------------------------------------

needs_peft = pytest.mark.skipif(not peft_available(), reason="peft (the test oracle) is not installed")


def _peft_model(family, tied, kwargs):
    import peft

    return peft.get_peft_model(make_model(family, tied), peft.IA3Config(**copy.deepcopy(kwargs)))


@needs_peft
@pytest.mark.parametrize("family,tied,kwargs", CASES)
def test_parity_with_peft(family, tied, kwargs, input_ids, attention_mask, tmp_path):
    import peft

    ours, theirs = _build(family, tied, kwargs), _peft_model(family, tied, kwargs)
    assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()
    ours_state = {k: v for k, v in ours.state_dict().items() if "ia3_l" in k}
    theirs_state = {k: v for k, v in theirs.state_dict().items() if "ia3_l" in k}
    assert {k: tuple(v.shape) for k, v in ours_state.items()} == {k: tuple(v.shape) for k, v in theirs_state.items()}
    _perturb(ours)
    expected = logits(ours, input_ids, attention_mask)

    # ours -> peft
    ours.save_pretrained(tmp_path / "ours")
    loaded = peft.PeftModel.from_pretrained(make_model(family, tied), tmp_path / "ours")
    torch.testing.assert_close(logits(loaded, input_ids, attention_mask), expected, atol=1e-6, rtol=1e-6)
    # peft -> ours: PEFT's own vectors and file
    _perturb(theirs, seed=11)
    theirs.save_pretrained(tmp_path / "theirs")
    mine = core.PeftModel.from_pretrained(make_model(family, tied), tmp_path / "theirs")
    torch.testing.assert_close(logits(mine, input_ids, attention_mask), logits(theirs, input_ids, attention_mask),
                               atol=1e-6, rtol=1e-6)
    # same files: keys, shapes, config
    from safetensors.torch import load_file

    a, b = load_file(tmp_path / "ours" / "adapter_model.safetensors"), load_file(tmp_path / "theirs" / "adapter_model.safetensors")
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
    ca = json.loads((tmp_path / "ours" / "adapter_config.json").read_text())
    cb = json.loads((tmp_path / "theirs" / "adapter_config.json").read_text())
    for key in ("target_modules", "feedforward_modules", "fan_in_fan_out", "exclude_modules", "modules_to_save", "init_ia3_weights"):
        same = sorted(ca[key]) == sorted(cb[key]) if isinstance(ca[key], list) else ca[key] == cb[key]
        assert same, key  # PEFT writes sets in hash order
    # merged models agree too
    torch.testing.assert_close(logits(loaded.merge_and_unload(), input_ids, attention_mask), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_half_precision_base_keeps_fp32_vectors(family, input_ids):
    model = core.get_peft_model(make_model(family).to(torch.bfloat16), core.IA3Config())
    assert {p.dtype for n, p in model.named_parameters() if "ia3_l" in n} == {torch.float32}  # as PEFT
    _perturb(model)
    out = logits(model, input_ids)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    model.merge_adapter()
    assert model.base_model.model.lm_head.weight.dtype == torch.bfloat16
    torch.testing.assert_close(logits(model, input_ids), out, atol=0.1, rtol=0.05)
