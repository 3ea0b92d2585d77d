"""Adapter arithmetic (``add_weighted_adapter``, core/arithmetic.py) against peft 0.21.2 and against the math.

Parity: the same two trained-looking adapters (random values, different targets and scales) in both engines,
the same seed right before the call (dare draws random masks) -> the combined adapter's tensors are equal
(``atol`` 1e-6) and so are the logits with it active (1e-5).
"""

from __future__ import annotations

import pytest
import torch

import core
from tests.core.conftest import logits, make_model, perturb_adapter

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
              pytest.mark.usefixtures("single_thread")]

IDS = torch.tensor([[5, 17, 42, 8, 99, 3], [7, 7, 120, 250, 1, 2]])
TYPES = ["linear", "cat", "svd", "ties", "ties_svd", "dare_linear", "dare_ties", "dare_linear_svd", "dare_ties_svd",
         "magnitude_prune", "magnitude_prune_svd"]
# (first adapter's targets, second adapter's targets): the second also adapts a module the first does not
TARGETS = {"llama": (["q_proj"], ["q_proj", "v_proj"]), "gpt2": (["c_attn"], ["c_attn", "c_proj"]),
           "bloom": (["query_key_value"], ["query_key_value", "dense_h_to_4h"])}


def two_adapters(engine, family: str, r2: int = 4):
    first, second = TARGETS[family]
    model = engine.get_peft_model(make_model(family), engine.LoraConfig(r=4, lora_alpha=8, target_modules=first, init_lora_weights=False))
    model.add_adapter("b", engine.LoraConfig(r=r2, lora_alpha=4, target_modules=second, init_lora_weights=False))
    perturb_adapter(model)
    return model


def combined(engine, family: str, combination_type: str, **kwargs):
    model = two_adapters(engine, family, r2=kwargs.pop("r2", 4))
    torch.manual_seed(11)
    model.add_weighted_adapter(["default", "b"], [0.7, -0.4], "mix", combination_type=combination_type, **kwargs)
    model.set_adapter("mix")
    state = {k: v.detach().clone() for k, v in engine.get_peft_model_state_dict(model, adapter_name="mix").items()}
    return state, logits(model, IDS), model


@pytest.mark.parametrize("family", ["llama", "gpt2", "bloom"])
@pytest.mark.parametrize("combination_type", TYPES)
def test_parity_with_peft(family, combination_type):
    peft = pytest.importorskip("peft")
    kwargs = {} if combination_type in ("linear", "cat", "svd") else {"density": 0.5}
    ours, our_logits, _ = combined(core, family, combination_type, **kwargs)
    theirs, their_logits, _ = combined(peft, family, combination_type, **kwargs)
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        assert torch.allclose(ours[key], theirs[key], atol=1e-6), key
    assert torch.allclose(our_logits, their_logits, atol=1e-5)


@pytest.mark.parametrize("combination_type, kwargs", [("svd", {"svd_rank": 3, "svd_clamp": 0.9}), ("ties", {"density": 0.3, "majority_sign_method": "frequency"}),
                                                       ("cat", {"r2": 2}), ("svd", {"r2": 2, "svd_full_matrices": False})])
def test_parity_with_peft_options(combination_type, kwargs):
    peft = pytest.importorskip("peft")
    ours, our_logits, _ = combined(core, "llama", combination_type, **dict(kwargs))
    theirs, their_logits, _ = combined(peft, "llama", combination_type, **dict(kwargs))
    for key in ours:
        assert torch.allclose(ours[key], theirs[key], atol=1e-5), key
    assert torch.allclose(our_logits, their_logits, atol=1e-5)


def test_cat_is_exactly_the_weighted_sum_of_the_updates():
    _, _, model = combined(core, "llama", "cat")
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    expected = 0.7 * layer.delta_weight("default") - 0.4 * layer.delta_weight("b")
    assert torch.allclose(layer.delta_weight("mix"), expected, atol=1e-6)
    v_proj = model.base_model.model.model.layers[0].self_attn.v_proj  # only "b" adapts it
    assert torch.allclose(v_proj.delta_weight("mix"), -0.4 * v_proj.delta_weight("b"), atol=1e-6)


def test_the_combination_is_saved_and_loads_like_any_adapter(tmp_path):
    _, expected, model = combined(core, "gpt2", "svd")
    model.save_pretrained(tmp_path, selected_adapters=["mix"])
    loaded = core.PeftModel.from_pretrained(make_model("gpt2"), tmp_path / "mix")
    assert torch.allclose(logits(loaded, IDS), expected, atol=1e-6)


def test_ia3_linear_as_peft():
    peft = pytest.importorskip("peft")
    out = {}
    for engine in (core, peft):
        model = engine.get_peft_model(make_model("llama"), engine.IA3Config(target_modules=["k_proj", "down_proj"], feedforward_modules=["down_proj"], init_ia3_weights=False))
        model.add_adapter("b", engine.IA3Config(target_modules=["v_proj", "down_proj"], feedforward_modules=["down_proj"], init_ia3_weights=False))
        model.add_weighted_adapter(["default", "b"], [0.5, 1.5], "mix")
        model.set_adapter("mix")
        out[engine.__name__] = logits(model, IDS)
    assert torch.allclose(out["core"], out["peft"], atol=1e-5)


def test_refusals():
    model = two_adapters(core, "llama", r2=2)
    with pytest.raises(ValueError, match="same rank.*'cat' or 'svd'"):
        model.add_weighted_adapter(["default", "b"], [1, 1], "x", combination_type="linear")
    with pytest.raises(ValueError, match="2 adapters but 1 weights"):
        model.add_weighted_adapter(["default", "b"], [1], "x", combination_type="cat")
    with pytest.raises(ValueError, match="No adapter named 'c'"):
        model.add_weighted_adapter(["default", "c"], [1, 1], "x")
    with pytest.raises(ValueError, match="needs density"):
        model.add_weighted_adapter(["default", "b"], [1, 1], "x", combination_type="ties_svd")
    with pytest.raises(ValueError, match="not one of"):
        model.add_weighted_adapter(["default", "b"], [1, 1], "x", combination_type="average")
    with pytest.raises(ValueError, match="already exists"):
        model.add_weighted_adapter(["default", "b"], [1, 1], "b", combination_type="cat")
    assert set(model.peft_config) == {"default", "b"}  # nothing half-made was left behind
