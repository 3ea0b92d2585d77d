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


# ---- LoRA on nn.MultiheadAttention ----------------------------------------------------------------------------


class _Mha(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2)
        self.lin0 = nn.Linear(8, 3)

    def forward(self, x):
        x, _ = self.mha(x, x, x)
        return self.lin0(x)


def test_lora_on_multihead_attention_matches_peft_in_keys_outputs_merge_and_gradients():
    torch.manual_seed(0)
    base = _Mha().eval()
    x = torch.randn(5, 2, 8)  # (seq, batch, embed)
    kwargs = dict(r=2, target_modules=["mha", "lin0"], init_lora_weights=False)
    ours = core.get_peft_model(copy.deepcopy(base), core.LoraConfig(**kwargs)).eval()
    theirs = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(**kwargs)).eval()
    state = core.get_peft_model_state_dict(ours)
    # PEFT's layout: in_proj's A (r, E) / B (3E, r) on the layer, out_proj a LoRA Linear inside it
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in peft.get_peft_model_state_dict(theirs).items()}
    assert tuple(state["base_model.model.mha.lora_B.weight"].shape) == (24, 2)
    assert "base_model.model.mha.base_layer.out_proj.lora_A.weight" in state
    # The reference is the layer with both weights updated once, W + s·B A (in_proj (3E, E), out_proj (E, E)).
    # PEFT 0.21.2's MultiheadAttention adds out_proj's update twice in its forward and merge (it assigns W + ΔW,
    # then lets the inner LoRA Linear merge ΔW again): docs/peft-compatibility.md. Its files load the same.
    s = ours.base_model.model.mha.scaling["default"]  # alpha / r
    A, B = state["base_model.model.mha.lora_A.weight"], state["base_model.model.mha.lora_B.weight"]
    A_o = state["base_model.model.mha.base_layer.out_proj.lora_A.weight"]
    B_o = state["base_model.model.mha.base_layer.out_proj.lora_B.weight"]
    head = base.lin0.weight + ours.base_model.model.lin0.scaling["default"] * (
        state["base_model.model.lin0.lora_B.weight"] @ state["base_model.model.lin0.lora_A.weight"])
    with torch.no_grad():
        updated = {"mha.in_proj_weight": base.mha.in_proj_weight + s * B @ A,
                   "mha.out_proj.weight": base.mha.out_proj.weight + s * B_o @ A_o, "lin0.weight": head}
        expected = torch.func.functional_call(base, updated, (x,))
        assert not torch.allclose(ours(x), base(x))
        torch.testing.assert_close(ours(x), expected)
        with ours.disable_adapter():
            torch.testing.assert_close(ours(x), base(x))
        ours.merge_adapter()
        torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)
        ours.unmerge_adapter()
        torch.testing.assert_close(ours.base_model.model.mha.base_layer.in_proj_weight, base.mha.in_proj_weight)
    # the update trains (gradients reach in_proj's and out_proj's A and B), the base weights stay frozen
    ours.train()
    ours(x).sum().backward()
    grads = {n for n, p in ours.named_parameters() if p.grad is not None}
    assert {"base_model.model.mha.lora_A.default.weight", "base_model.model.mha.lora_B.default.weight",
            "base_model.model.mha.base_layer.out_proj.lora_B.default.weight"} <= grads
    assert not ours.base_model.model.mha.base_layer.in_proj_weight.requires_grad
    merged = ours.merge_and_unload()
    assert type(merged.mha) is nn.MultiheadAttention and isinstance(merged.mha.out_proj, nn.Linear)
    with torch.no_grad():
        torch.testing.assert_close(merged.eval()(x), expected, atol=1e-5, rtol=1e-5)


def test_lora_on_multihead_attention_with_separate_qkv_weights_is_refused():
    model = nn.Sequential(nn.MultiheadAttention(8, 2, kdim=4, vdim=4))
    with pytest.raises(core.TargetError, match="same size"):
        core.get_peft_model(model, core.LoraConfig(target_modules=["0"]))


# ---- mixed adapter batches --------------------------------------------------------------------------------


class _Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.lin0 = nn.Linear(6, 6)
        self.lin1 = nn.Linear(6, 2)

    def forward(self, ids):
        return self.lin1(torch.relu(self.lin0(self.emb(ids)))).mean(1)


def test_mixed_adapter_batch_gives_each_sample_its_adapters_output_as_peft():
    torch.manual_seed(0)
    base = _Mlp().eval()
    ids = torch.randint(0, 20, (6, 4))
    first = dict(r=2, target_modules=["emb", "lin0"], modules_to_save=["lin1"], init_lora_weights=False)
    second = dict(r=3, target_modules=["lin0"], modules_to_save=["lin1"], init_lora_weights=False)
    names = ["__base__", "a", "b", "b", "a", "__base__"]
    outputs = {}
    for engine in (core, peft):
        torch.manual_seed(1)
        model = engine.get_peft_model(copy.deepcopy(base), engine.LoraConfig(**first), adapter_name="a")
        model.add_adapter("b", engine.LoraConfig(**second))
        with torch.no_grad():
            for copy_ in (model.base_model.model.lin1.modules_to_save["a"], model.base_model.model.lin1.modules_to_save["b"]):
                copy_.weight.add_(torch.randn_like(copy_.weight))
        model.eval()
        if engine is core:
            state = {n: core.get_peft_model_state_dict(model, adapter_name=n) for n in ("a", "b")}
        else:
            for n in ("a", "b"):
                peft.set_peft_model_state_dict(model, state[n], adapter_name=n)
        with torch.no_grad():
            mixed = model(ids, adapter_names=names)
            single = {}
            for n in ("a", "b"):
                model.set_adapter(n)
                single[n] = model(ids)
            with model.disable_adapter():
                single["__base__"] = model(ids)
        for i, n in enumerate(names):
            torch.testing.assert_close(mixed[i], single[n][i])
        outputs[engine.__name__] = mixed
    torch.testing.assert_close(outputs["core"], outputs["peft"])


def test_mixed_adapter_batch_refusals_say_what_is_wrong():
    torch.manual_seed(0)
    model = core.get_peft_model(_Mlp(), core.LoraConfig(r=2, target_modules=["lin0"]), adapter_name="a").eval()
    ids = torch.randint(0, 20, (3, 4))
    with pytest.raises(ValueError, match=r"non-existing adapter\(s\): nope"):
        model(ids, adapter_names=["a", "nope", "__base__"])
    with pytest.raises(ValueError, match="Length of `adapter_names` should be the same as the number of inputs"):
        model(ids, adapter_names=["a", "a"])
    model.train()
    with pytest.raises(ValueError, match="training mode"):
        model(ids, adapter_names=["a"] * 3)
    model.eval()
    model.merge_adapter()
    with pytest.raises(ValueError, match="merged adapters"):
        model(ids, adapter_names=["a"] * 3)
    model.unmerge_adapter()
    model.add_adapter("d", core.LoraConfig(r=2, target_modules=["lin0"], use_dora=True))
    with pytest.raises(ValueError, match="DoRA"):
        model(ids, adapter_names=["d", "a", "a"])
    model(ids, adapter_names=["__base__", "a", "a"])  # DoRA adapter not named: fine, as PEFT
    ia3 = core.get_peft_model(_Mlp(), core.IA3Config(target_modules=["lin0"], feedforward_modules=[])).eval()
    with pytest.raises(ValueError, match="LoRA adapters only"):
        ia3(ids, adapter_names=["__base__"] * 3)


# ---- targeted_module_names --------------------------------------------------------------------------------


def test_targeted_module_and_parameter_names_as_peft():
    for kwargs, adapters in [
        (dict(target_modules="lin.*"), []),
        (dict(target_modules=["lin0", "lin1"], exclude_modules=["lin0"]), []),
        (dict(target_modules=["lin1"]), [dict(target_modules=["lin0", "lin1"])]),
        (dict(target_modules=["lin0"], target_parameters=["lin1.weight"]), []),
    ]:
        torch.manual_seed(0)
        found = []
        for engine in (core, peft):
            model = engine.get_peft_model(_Mlp(), engine.LoraConfig(r=2, **kwargs))
            for i, extra in enumerate(adapters):
                model.add_adapter(f"x{i}", engine.LoraConfig(r=2, **extra))
            found.append((model.targeted_module_names, model.base_model.targeted_parameter_names))
        assert found[0] == found[1], kwargs
    injected = core.inject_adapter_in_model(core.LoraConfig(r=2, target_modules=["lin1"]), _Mlp())
    assert injected.targeted_module_names == ["lin1"]


def test_second_merge_warns_also_with_modules_to_save_and_no_targets_error_has_peft_sentence():
    for engine in (core, peft):
        torch.manual_seed(0)
        model = engine.get_peft_model(_Mlp(), engine.LoraConfig(r=2, target_modules=["lin0"], modules_to_save=["lin1"]))
        model.merge_adapter()
        with pytest.warns(UserWarning, match="All adapters are already merged, nothing to do"):
            model.merge_adapter()
        with pytest.raises(ValueError, match="Please specify `target_modules`"):
            engine.get_peft_model(_Mlp(), engine.LoraConfig(r=2))


@pytest.mark.parametrize("method", ["lora", "ia3"])
def test_safe_merge_refuses_a_non_finite_bias_and_leaves_the_layer_as_it_was(method):
    torch.manual_seed(0)
    if method == "lora":
        config = core.LoraConfig(r=1, target_modules=["lin0"], lora_bias=True)
    else:
        config = core.IA3Config(target_modules=["lin0"], feedforward_modules=[])
    model = core.get_peft_model(_Mlp(), config)
    layer = model.base_model.model.lin0
    assert layer.get_base_layer() is layer.base_layer  # PEFT's tuner-layer method
    weight, bias = layer.base_layer.weight.detach().clone(), layer.base_layer.bias.detach().clone()
    with torch.no_grad():
        if method == "lora":
            layer.lora_B["default"].bias.fill_(float("inf"))
        else:
            layer.ia3_l["default"].fill_(float("inf"))
    with pytest.raises(ValueError, match="NaNs detected in the merged"):
        layer.merge(safe_merge=True)
    assert torch.equal(layer.base_layer.weight, weight) and torch.equal(layer.base_layer.bias, bias)
    assert not layer.merged_adapters
