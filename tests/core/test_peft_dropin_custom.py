"""PEFT's behaviour that its own ``test_custom_models.py`` / ``test_low_level_api.py`` found missing in our engine
(issue 14, round 4), each checked against peft 0.21.2 (the test-only oracle) on the same model and weights.

- ``target_parameters`` alone on a custom model (no ``config``, no architecture defaults): only the parameters;
- ``get_peft_model_state_dict`` of a model with adapters injected keys tensors as that model names them;
- ``save_pretrained(save_embedding_layers=...)``: PEFT's three values, with its warnings;
- MiCA init (``init_lora_weights="mica"``): B from the weight's smallest singular directions, frozen; A zero.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import core
from tests.core.conftest import make_model

peft = pytest.importorskip("peft")


class _LinearFromParameter(nn.Module):
    """A layer that holds its weight as a bare parameter (no nn.Linear): only ``target_parameters`` reaches it."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) * 0.3)  # (out, in)

    def forward(self, x):
        return x @ self.weight.T


class _Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin0 = _LinearFromParameter(6, 8)
        self.lin1 = nn.Linear(8, 3)

    def forward(self, x):
        return self.lin1(torch.relu(self.lin0(x)))


def _copy_adapter(source: nn.Module, target: nn.Module) -> None:
    """Give both engines the same adapter values (their parameter names differ only by the engines' layouts)."""
    src = {k: v for k, v in core.get_peft_model_state_dict(source).items()}
    missing = core.set_peft_model_state_dict(target, src) if isinstance(target, core.PeftModel) else \
        peft.set_peft_model_state_dict(target, src)
    assert not missing.unexpected_keys


def test_target_parameters_alone_on_a_custom_model_adapts_only_those_parameters():
    torch.manual_seed(0)
    base = _Custom()
    x = torch.randn(4, 6)
    ours = core.get_peft_model(copy.deepcopy(base), core.LoraConfig(r=2, target_parameters=["lin0.weight"], init_lora_weights=False))
    theirs = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(r=2, target_parameters=["lin0.weight"], init_lora_weights=False))
    # the same tensors under the same file keys, nothing on lin1
    ours_keys, their_keys = core.get_peft_model_state_dict(ours), peft.get_peft_model_state_dict(theirs)
    assert sorted(ours_keys) == sorted(their_keys)
    assert all("lin0" in k for k in ours_keys)
    assert {k: tuple(v.shape) for k, v in ours_keys.items()} == {k: tuple(v.shape) for k, v in their_keys.items()}
    assert ours.peft_config["default"].target_modules is None  # None stays None, as PEFT keeps it
    peft.set_peft_model_state_dict(theirs, {k: v.detach().clone() for k, v in ours_keys.items()})
    with torch.no_grad():
        assert not torch.allclose(ours(x), base(x))
        torch.testing.assert_close(ours(x), theirs(x))


def test_state_dict_of_an_injected_model_is_keyed_as_that_model_names_its_tensors():
    torch.manual_seed(0)
    base = _Custom()
    config = dict(r=2, target_modules=["lin1"], modules_to_save=["lin0"])
    ours = core.inject_adapter_in_model(core.LoraConfig(**config), copy.deepcopy(base))
    theirs = peft.inject_adapter_in_model(peft.LoraConfig(**config), copy.deepcopy(base))
    ours_state, their_state = core.get_peft_model_state_dict(ours), peft.get_peft_model_state_dict(theirs)
    assert sorted(ours_state) == sorted(their_state) == ["lin0.weight", "lin1.lora_A.weight", "lin1.lora_B.weight"]
    # from a given state_dict (the injected model's own names) too
    given = core.get_peft_model_state_dict(ours, state_dict=ours.state_dict())
    assert sorted(given) == sorted(their_state)
    # a PeftModel keeps PEFT's 'base_model.model.' prefix
    wrapped = core.get_peft_model(copy.deepcopy(base), core.LoraConfig(**config))
    assert all(k.startswith("base_model.model.") for k in core.get_peft_model_state_dict(wrapped))


@pytest.mark.parametrize("value", ["auto", True, False, None])
def test_save_embedding_layers_writes_what_peft_writes(tmp_path, value):
    kwargs = dict(r=2, target_modules=["embed_tokens", "q_proj"], init_lora_weights=False)
    files = {}
    for engine in (core, peft):
        model = engine.get_peft_model(make_model("llama", tied=False), engine.LoraConfig(**kwargs))
        folder = tmp_path / engine.__name__
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if value is None:
                model.save_pretrained(folder)
            else:
                model.save_pretrained(folder, save_embedding_layers=value)
        said = [str(w.message) for w in caught if "save_embedding_layers" in str(w.message)]
        files[engine.__name__] = (sorted(load_file(folder / "adapter_model.safetensors")), said)
    ours, theirs = files["core"], files["peft"]
    if value is None:
        # our default: the base model has the embeddings, they are not copied into the adapter (PEFT: "auto")
        assert not [k for k in ours[0] if "base_layer" in k]
        assert [k for k in theirs[0] if k.endswith("embed_tokens.base_layer.weight")]
        return
    assert ours[0] == theirs[0]
    assert ("base_model.model.model.embed_tokens.base_layer.weight" in ours[0]) == (value in ("auto", True))
    assert bool(ours[1]) == bool(theirs[1]) == (value == "auto")


def test_save_embedding_layers_true_on_a_model_without_embedding_getters_warns_and_saves_no_base_weight(tmp_path):
    torch.manual_seed(0)
    model = core.get_peft_model(_Custom(), core.LoraConfig(r=2, target_modules=["lin1"]))
    with pytest.warns(UserWarning, match="not a 🤗 transformers model"):
        model.save_pretrained(tmp_path, save_embedding_layers=True)
    assert sorted(load_file(tmp_path / "adapter_model.safetensors")) == [
        "base_model.model.lin1.lora_A.weight", "base_model.model.lin1.lora_B.weight"]


def test_mica_init_matches_peft_and_trains_only_a(tmp_path):
    kwargs = dict(r=3, target_modules=["q_proj", "embed_tokens"], init_lora_weights="mica")
    ours = core.get_peft_model(make_model("llama", tied=False), core.LoraConfig(**kwargs))
    theirs = peft.get_peft_model(make_model("llama", tied=False), peft.LoraConfig(**kwargs))
    ours_state = core.get_peft_model_state_dict(ours)
    their_state = peft.get_peft_model_state_dict(theirs, save_embedding_layers=False)
    assert sorted(ours_state) == sorted(their_state)
    for key, value in ours_state.items():
        torch.testing.assert_close(value, their_state[key])
        if key.endswith(("lora_A.weight", "lora_embedding_A")):
            assert not value.any()  # the update starts at zero: the base output is unchanged
    ids = torch.tensor([[3, 9, 27, 81]])
    with torch.no_grad():
        torch.testing.assert_close(ours(input_ids=ids).logits, make_model("llama", tied=False)(input_ids=ids).logits)
    # B never trains, whatever turns the adapter's gradients on; A does
    trainable = {n for n, p in ours.named_parameters() if p.requires_grad}
    assert trainable == {n for n, p in theirs.named_parameters() if p.requires_grad}
    assert trainable and all("lora_A" in n or "lora_embedding_A" in n for n in trainable)
    ours.set_requires_grad("default", True)
    ours.set_adapter("default")
    assert {n for n, p in ours.named_parameters() if p.requires_grad} == trainable
    # a saved MiCA adapter loads with B frozen again
    ours.save_pretrained(tmp_path)
    loaded = core.PeftModel.from_pretrained(make_model("llama", tied=False), tmp_path, is_trainable=True)
    assert {n for n, p in loaded.named_parameters() if p.requires_grad} == trainable


def test_mica_refuses_a_rank_above_the_layer_size():
    with pytest.raises(core.ConfigError, match=r"MiCA init needs r ≤ min\(in, out\)"):
        core.get_peft_model(_Custom(), core.LoraConfig(r=5, target_modules=["lin1"], init_lora_weights="mica"))
