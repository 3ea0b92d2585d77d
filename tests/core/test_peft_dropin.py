"""PEFT's public API on our engine: the drop-in cases of issue 14 (bugs, keyword arguments, helper functions).

Where PEFT's behaviour is the reference, the test runs the same steps on peft 0.21.2 (the test-only oracle)
and compares. Tiny seeded models from ``tests/core/conftest.py``.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from torch import nn

import core
from tests.core.conftest import FINAL_NORM, logits, make_model, perturb_adapter

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

IDS = torch.tensor([[5, 17, 42, 8, 99, 3], [7, 7, 120, 250, 1, 2]])


def lora(**kwargs) -> core.LoraConfig:
    kwargs.setdefault("target_modules", ["q_proj", "v_proj"])
    return core.LoraConfig(r=4, lora_alpha=8, **kwargs)


# ---- bug 1: only one adapter may train the base biases -----------------------------------------------------


@pytest.mark.parametrize("first", ["all", "lora_only"])
@pytest.mark.parametrize("second", ["all", "lora_only"])
def test_a_second_adapter_with_bias_is_refused(first, second):
    model = make_model("llama")
    peft_model = core.get_peft_model(model, lora(bias=first))
    # PEFT's phrase, then which adapters
    with pytest.raises(ValueError, match=r"LORA supports only 1 adapter with bias\. When using multiple adapters.*"
                                         r"bias='%s'.*adapter 'default' already trains" % second):
        peft_model.add_adapter("other", lora(bias=second))
    assert list(peft_model.peft_config) == ["default"]
    # the refused adapter left nothing behind
    assert not [n for n, _ in peft_model.named_parameters() if ".other." in n or n.endswith(".other")]


def test_a_second_adapter_without_bias_is_accepted_as_in_peft():
    peft = pytest.importorskip("peft")
    for engine in (core, peft):
        model = make_model("llama")
        config = engine.LoraConfig(r=4, target_modules=["q_proj"], bias="all")
        peft_model = engine.get_peft_model(model, config)
        peft_model.add_adapter("other", engine.LoraConfig(r=4, target_modules=["q_proj"], bias="none"))
        assert set(peft_model.peft_config) == {"default", "other"}
        model = make_model("llama")
        peft_model = engine.get_peft_model(model, engine.LoraConfig(r=4, target_modules=["q_proj"], bias="all"))
        with pytest.raises(ValueError):
            peft_model.add_adapter("other", engine.LoraConfig(r=4, target_modules=["q_proj"], bias="lora_only"))


# ---- bug 2: .weight / .bias of a modules_to_save module are the active copy's --------------------------------


class HeadByWeight(nn.Module):
    """A model that reads its head's weight instead of calling the head (as weight-tied heads do)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(6, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        h = self.lin(x)
        return h @ self.head.weight.T + self.head.bias


def test_modules_to_save_weight_and_bias_are_the_active_trained_copy():
    model = HeadByWeight()
    peft_model = core.get_peft_model(model, core.LoraConfig(r=2, target_modules=["lin"], modules_to_save=["head"]))
    wrapper = peft_model.base_model.model.head
    copy = wrapper.modules_to_save["default"]
    with torch.no_grad():
        copy.weight.add_(1.0)
        copy.bias.add_(1.0)
    assert wrapper.weight is copy.weight and wrapper.bias is copy.bias
    x = torch.randn(2, 6)
    assert torch.allclose(peft_model(x), wrapper(model.lin(x)))
    # the gradient reaches the trained copy, not the frozen original
    peft_model(x).sum().backward()
    assert copy.weight.grad is not None and wrapper.original_module.weight.grad is None
    with peft_model.disable_adapter():
        assert wrapper.weight is wrapper.original_module.weight
        assert wrapper.bias is wrapper.original_module.bias


def test_modules_to_save_weight_follows_the_active_adapter():
    model = make_model("llama")
    norm = FINAL_NORM["llama"]
    peft_model = core.get_peft_model(model, lora(modules_to_save=[norm]))
    peft_model.add_adapter("other", lora(modules_to_save=[norm]))
    wrapper = peft_model.base_model.model.model.norm
    assert wrapper.weight is wrapper.modules_to_save["default"].weight
    peft_model.set_adapter("other")
    assert wrapper.weight is wrapper.modules_to_save["other"].weight


# ---- bug 3: containers in modules_to_save are refused when the adapter is made -------------------------------


class WithContainers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2)})
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(4))])
        self.shifts = nn.ParameterDict({"s": nn.Parameter(torch.zeros(4))})

    def forward(self, x):
        x = self.lin(x) * self.scales[0] + self.shifts["s"]
        for block in self.blocks:
            x = block(x)
        return self.heads["a"](x)


@pytest.mark.parametrize("entry, kind", [("blocks", "ModuleList"), ("heads", "ModuleDict"),
                                         ("scales", "ParameterList"), ("shifts", "ParameterDict")])
def test_a_container_in_modules_to_save_is_refused_at_wrap_time(entry, kind):
    model = WithContainers()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    # PEFT's phrase, then where and what to write instead
    with pytest.raises(TypeError, match=rf"modules_to_save cannot be applied to modules of type {kind} \('{entry}'\).*"
                                        rf"Name the modules inside it instead \(e\.g\. '{entry}\."):
        core.get_peft_model(model, core.LoraConfig(r=2, target_modules=["lin"], modules_to_save=[entry]))
    # nothing was wrapped: the model is as it was and still runs
    assert type(model.lin) is nn.Linear and not any("modules_to_save" in k for k in model.state_dict())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model(torch.randn(1, 4))


def test_a_member_of_a_container_can_be_saved():
    model = WithContainers()
    peft_model = core.get_peft_model(model, core.LoraConfig(r=2, target_modules=["lin"], modules_to_save=["blocks.1"]))
    assert peft_model(torch.randn(1, 4)).shape == (1, 2)
    assert "base_model.model.blocks.1.weight" in peft_model.adapter_state_dict()


# ---- bug 4: inside disable_adapter() nothing of the adapter requires gradients --------------------------------


@pytest.mark.parametrize("method", ["lora", "ia3", "adalora", "prompt_tuning"])
def test_disable_adapter_freezes_the_adapter_and_gives_the_flags_back(method):
    model = make_model("llama")
    config = {
        "lora": lambda: lora(modules_to_save=["norm"], bias="lora_only"),
        "ia3": lambda: core.IA3Config(target_modules=["k_proj", "down_proj"], feedforward_modules=["down_proj"]),
        "adalora": lambda: core.AdaLoraConfig(init_r=4, target_r=2, total_step=10, target_modules=["q_proj"]),
        "prompt_tuning": lambda: core.PromptTuningConfig(num_virtual_tokens=3, task_type="CAUSAL_LM"),
    }[method]()
    peft_model = core.get_peft_model(model, config)
    before = {n: p.requires_grad for n, p in peft_model.named_parameters()}
    adapter = [n for n, flag in before.items() if flag and "bias" not in n]
    assert adapter
    with peft_model.disable_adapter():
        inside = {n: p.requires_grad for n, p in peft_model.named_parameters()}
        assert not [n for n in adapter if inside[n]]
    assert {n: p.requires_grad for n, p in peft_model.named_parameters()} == before


def test_disable_adapter_requires_grad_as_peft():
    peft = pytest.importorskip("peft")
    flags = {}
    for engine in (core, peft):
        peft_model = engine.get_peft_model(make_model("llama"), engine.LoraConfig(r=4, target_modules=["q_proj"]))
        with peft_model.disable_adapter():
            flags[engine.__name__] = sorted(n for n, p in peft_model.named_parameters() if p.requires_grad)
        flags[engine.__name__ + " after"] = sorted(n for n, p in peft_model.named_parameters() if p.requires_grad)
    assert flags["core"] == flags["peft"] == []
    assert flags["core after"] == flags["peft after"] != []


# ---- keyword arguments of get_peft_model / from_pretrained / load_adapter -----------------------------------


def test_get_peft_model_revision_is_written_into_the_config(tmp_path):
    peft_model = core.get_peft_model(make_model("llama"), lora(), revision="v1.2")
    assert peft_model.peft_config["default"].revision == "v1.2"
    peft_model.save_pretrained(tmp_path)
    assert '"revision": "v1.2"' in (tmp_path / "adapter_config.json").read_text()


@pytest.mark.parametrize("autocast, dtype", [(True, torch.float32), (False, torch.bfloat16)])
def test_autocast_adapter_dtype_as_peft(autocast, dtype):
    peft = pytest.importorskip("peft")
    seen = {}
    for engine in (core, peft):
        model = make_model("llama").to(torch.bfloat16)
        peft_model = engine.get_peft_model(model, engine.LoraConfig(r=4, target_modules=["q_proj"]), autocast_adapter_dtype=autocast)
        seen[engine.__name__] = {p.dtype for n, p in peft_model.named_parameters() if "lora_" in n}
        peft_model(IDS)  # runs in the chosen dtype
    assert seen["core"] == seen["peft"] == {dtype}


def test_low_cpu_mem_usage_creates_the_adapter_on_meta_and_loading_fills_it(tmp_path):
    trained = core.get_peft_model(make_model("llama"), lora(init_lora_weights=False))
    trained.save_pretrained(tmp_path)
    empty = core.get_peft_model(make_model("llama"), lora(), low_cpu_mem_usage=True)
    assert {p.device.type for n, p in empty.named_parameters() if "lora_" in n} == {"meta"}
    result = core.set_peft_model_state_dict(empty, core.get_peft_model_state_dict(trained))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert {p.device.type for n, p in empty.named_parameters() if "lora_" in n} == {"cpu"}
    assert torch.allclose(logits(empty, IDS), logits(trained, IDS))
    loaded = core.PeftModel.from_pretrained(make_model("llama"), tmp_path, low_cpu_mem_usage=True, torch_device="cpu")
    assert torch.allclose(logits(loaded, IDS), logits(trained, IDS))


def test_from_pretrained_keywords(tmp_path):
    trained = core.get_peft_model(make_model("llama"), lora(init_lora_weights=False))
    trained.save_pretrained(tmp_path / "sub")
    loaded = core.PeftModel.from_pretrained(make_model("llama"), tmp_path, subfolder="sub", is_trainable=True,
                                            revision="main", key_mapping={r"q_proj": "q_proj"})
    assert loaded.training and any(p.requires_grad for n, p in loaded.named_parameters() if "lora_" in n)
    assert torch.allclose(logits(loaded, IDS), logits(trained, IDS))
    frozen = core.PeftModel.from_pretrained(make_model("llama"), tmp_path / "sub", is_trainable=False)
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    # key_mapping renames the file's keys before they are matched (here: into names that fit nothing)
    with pytest.raises(core.AdapterLoadError, match="fit no module"):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path / "sub", key_mapping={r"\.q_proj\.": ".qq_proj."})


@pytest.mark.parametrize("verb", ["from_pretrained", "load_adapter"])
def test_an_unknown_keyword_is_refused(tmp_path, verb):
    trained = core.get_peft_model(make_model("llama"), lora())
    trained.save_pretrained(tmp_path)
    with pytest.raises(TypeError, match="unknown keyword argument.*is_trainabel"):
        if verb == "from_pretrained":
            core.PeftModel.from_pretrained(make_model("llama"), tmp_path, is_trainabel=True)
        else:
            trained.load_adapter(tmp_path, "again", is_trainabel=True)
    with pytest.raises(TypeError):
        core.get_peft_model(make_model("llama"), lora(), autocast_dtype=False)
    with pytest.raises(ValueError, match="mixed"):
        core.get_peft_model(make_model("llama"), lora(), mixed=True)
    with pytest.raises(ValueError, match="ephemeral_gpu_offload"):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path, ephemeral_gpu_offload=True)


def test_load_adapter_reports_its_keys_and_device_map_places_the_model(tmp_path):
    """PEFT's load_adapter returns (missing_keys, unexpected_keys); device_map={"": device} is PEFT's keyword for
    where the model goes: honoured (the model ends up there) or, for a map over several devices, refused."""
    trained = core.get_peft_model(make_model("llama"), lora(init_lora_weights=False))
    trained.save_pretrained(tmp_path)
    loaded = core.PeftModel.from_pretrained(make_model("llama"), tmp_path, device_map={"": "cpu"})
    result = loaded.load_adapter(tmp_path, adapter_name="other", device_map={"": "cpu"})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert {p.device.type for p in loaded.parameters()} == {"cpu"}
    assert torch.allclose(logits(loaded, IDS), logits(trained, IDS))
    with pytest.raises(ValueError, match="one device"):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path, device_map="auto")


def test_a_second_merge_adapter_warns_and_changes_nothing():
    peft_model = core.get_peft_model(make_model("llama"), lora(init_lora_weights=False))
    peft_model.merge_adapter()
    merged = logits(peft_model, IDS)
    with pytest.warns(UserWarning, match="All adapters are already merged, nothing to do"):
        peft_model.merge_adapter()
    assert torch.equal(logits(peft_model, IDS), merged)
    peft_model.unmerge_adapter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a first merge does not warn
        peft_model.merge_adapter()


def test_deleting_the_last_adapter_leaves_the_base_model_as_peft():
    base = make_model("llama")
    expected = logits(base, IDS)
    peft_model = core.get_peft_model(base, lora(init_lora_weights=False))
    peft_model.add_adapter("other", lora(init_lora_weights=False))
    peft_model.delete_adapter("other")
    assert peft_model.active_adapters == ["default"]
    peft_model.delete_adapter("default")
    assert peft_model.peft_config == {} and peft_model.active_adapters == []
    assert not any("lora_" in n for n, _ in peft_model.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(peft_model.base_model(IDS).logits, expected)


def test_a_merged_adapter_cannot_be_deleted_and_nothing_changes():
    peft_model = core.get_peft_model(make_model("llama"), lora(init_lora_weights=False), adapter_name="a")
    peft_model.add_adapter("b", lora(init_lora_weights=False))
    peft_model.set_adapter("b")
    peft_model.merge_adapter()
    state = {k: v.clone() for k, v in peft_model.state_dict().items()}
    with pytest.raises(ValueError, match=re.escape("Cannot delete adapter(s) ['b'] while they are merged")):
        peft_model.delete_adapter("b")
    assert set(peft_model.peft_config) == {"a", "b"}
    assert all(torch.equal(v, peft_model.state_dict()[k]) for k, v in state.items())
    with pytest.raises(ValueError, match="Adapter c does not exist: no adapter named 'c'"):  # PEFT's sentence, then ours
        peft_model.delete_adapter("c")
    peft_model.delete_adapter("a")  # the unmerged one may go; the merge stays
    assert set(peft_model.peft_config) == {"b"}
    peft_model.unmerge_adapter()
    peft_model.delete_adapter("b")
    assert not peft_model.peft_config


def test_the_tuner_reports_several_active_adapters_as_a_list():
    peft_model = core.get_peft_model(make_model("llama"), lora())
    peft_model.add_adapter("other", lora())
    assert peft_model.base_model.active_adapter == "default"
    peft_model.base_model.set_adapter(["default", "other"])
    assert peft_model.active_adapters == ["default", "other"]
    assert peft_model.base_model.active_adapter == ["default", "other"]


# ---- helper functions and several active adapters ----------------------------------------------------------


def test_state_dict_helpers_see_through_a_wrapper_holding_the_model_as_module():
    """torch's FSDP and DistributedDataParallel hold the wrapped model as ``.module``: the helpers use that model."""
    peft_model = core.get_peft_model(make_model("llama"), lora(init_lora_weights=False))

    class Wrapper(nn.Module):  # what DDP / FSDP look like from outside: the model is the child ``module``
        def __init__(self, module):
            super().__init__()
            self.module = module

    state = core.get_peft_model_state_dict(Wrapper(peft_model))
    assert state.keys() == peft_model.adapter_state_dict().keys()
    fresh = core.get_peft_model(make_model("llama"), lora())
    assert core.set_peft_model_state_dict(Wrapper(fresh), state).unexpected_keys == []
    assert torch.allclose(logits(fresh, IDS), logits(peft_model, IDS))


@pytest.mark.parametrize("config", [
    {"target_modules": ["q_proj", "v_proj"], "modules_to_save": ["lm_head"]},
    {"peft_type": "ADALORA", "target_modules": ["q_proj"], "total_step": 10},
])
def test_base_model_state_dict_round_trip_as_peft(config):
    """get_base_model_state_dict gives the base model's own keys and tensors (as peft's helper on peft's model);
    set_base_model_state_dict puts them back under the adapters."""
    peft = pytest.importorskip("peft")
    config = dict(config)
    kind = config.pop("peft_type", "LORA")
    want = make_model("llama").state_dict()
    keys = {}
    for engine in (core, peft):
        make = engine.AdaLoraConfig if kind == "ADALORA" else engine.LoraConfig
        peft_model = engine.get_peft_model(make_model("llama"), make(**config))
        got = engine.get_base_model_state_dict(peft_model)
        keys[engine.__name__] = set(got)
        assert all(torch.equal(got[k], want[k]) for k in want), engine.__name__
    assert keys["core"] == keys["peft"] == set(want)
    peft_model = core.get_peft_model(make_model("llama"), (core.AdaLoraConfig if kind == "ADALORA" else core.LoraConfig)(**config))
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if not p.requires_grad:
                p.add_(0.1)
    result = core.set_base_model_state_dict(peft_model, want)
    assert result.missing_keys == [] and result.unexpected_keys == []
    got = core.get_base_model_state_dict(peft_model)
    assert all(torch.equal(got[k], want[k]) for k in want)
    with pytest.raises(RuntimeError, match="name nothing in the base model"):
        core.set_base_model_state_dict(peft_model, {**want, "nope.weight": torch.zeros(1)})


def test_state_dict_helpers_match_peft_keys():
    peft = pytest.importorskip("peft")
    keys = {}
    for engine in (core, peft):
        peft_model = engine.get_peft_model(make_model("llama"), engine.LoraConfig(r=4, target_modules=["q_proj"], modules_to_save=["norm"]))
        keys[engine.__name__] = sorted(engine.get_peft_model_state_dict(peft_model))
    assert keys["core"] == keys["peft"]


def test_set_peft_model_state_dict_reports_like_load_state_dict():
    source = core.get_peft_model(make_model("llama"), lora(init_lora_weights=False))
    target = core.get_peft_model(make_model("llama"), lora())
    state = core.get_peft_model_state_dict(source)
    first = next(iter(state))
    result = core.set_peft_model_state_dict(target, {first: state[first], "base_model.model.nowhere.lora_A.weight": state[first]})
    assert result.unexpected_keys == ["base_model.model.nowhere.lora_A.weight"]
    assert len(result.missing_keys) == len(state) - 1 and all(".default." in k for k in result.missing_keys)
    # the state dict given to get_peft_model_state_dict supplies the values
    doubled = {k: v * 2 for k, v in source.state_dict().items()}
    assert torch.equal(core.get_peft_model_state_dict(source, state_dict=doubled)[first], state[first] * 2)


def test_inject_adapter_in_model_as_peft():
    peft = pytest.importorskip("peft")
    result = {}
    for engine in (core, peft):
        model = engine.inject_adapter_in_model(engine.LoraConfig(r=4, target_modules=["q_proj"]), make_model("llama"))
        result[engine.__name__] = sorted(n for n, p in model.named_parameters() if p.requires_grad)
        assert type(model).__name__ == "LlamaForCausalLM"
    assert result["core"] == result["peft"]
    with pytest.raises(ValueError, match="get_peft_model"):
        core.inject_adapter_in_model(core.PromptTuningConfig(num_virtual_tokens=2), make_model("llama"))


def test_layer_and_model_status_as_peft():
    peft = pytest.importorskip("peft")
    status = {}
    for engine in (core, peft):
        peft_model = engine.get_peft_model(make_model("llama"), engine.LoraConfig(r=4, target_modules=["q_proj"]))
        peft_model.add_adapter("other", engine.LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
        layers = engine.get_layer_status(peft_model)
        model_status = engine.get_model_status(peft_model)
        status[engine.__name__] = (
            [(s.name, s.enabled, s.active_adapters, s.available_adapters, s.requires_grad) for s in layers],
            (model_status.num_adapter_layers, model_status.trainable_params, model_status.total_params,
             model_status.active_adapters, model_status.available_adapters, model_status.requires_grad,
             model_status.peft_types, model_status.enabled),
        )
    assert status["core"] == status["peft"]


def test_several_active_adapters_add_up_as_in_peft():
    peft = pytest.importorskip("peft")
    out = {}
    for engine in (core, peft):
        peft_model = engine.get_peft_model(make_model("llama"), engine.LoraConfig(r=4, target_modules=["q_proj"], init_lora_weights=False))
        peft_model.add_adapter("other", engine.LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
        torch.manual_seed(3)
        perturb_adapter(peft_model)
        peft_model.base_model.set_adapter(["default", "other"])
        out[engine.__name__] = (logits(peft_model, IDS), sorted(n for n, p in peft_model.named_parameters() if p.requires_grad),
                                list(peft_model.active_adapters))
        peft_model.delete_adapter("default")
        out[engine.__name__ + " deleted"] = (list(peft_model.active_adapters), logits(peft_model, IDS))
    assert torch.allclose(out["core"][0], out["peft"][0], atol=1e-5)
    assert out["core"][1:] == out["peft"][1:]
    assert out["core deleted"][0] == out["peft deleted"][0] == ["other"]
    assert torch.allclose(out["core deleted"][1], out["peft deleted"][1], atol=1e-5)


def test_model_card(tmp_path):
    peft_model = core.get_peft_model(make_model("llama"), lora(task_type="CAUSAL_LM"))
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n\nMy notes.\n")
    peft_model.create_or_update_model_card(str(tmp_path))
    text = (tmp_path / "README.md").read_text()
    assert "library_name: peft" in text and "license: mit" in text and "My notes." in text
    assert "pipeline_tag: text-generation" in text and "- lora" in text


def test_save_pretrained_writes_the_model_card_like_peft(tmp_path):
    """PEFT's save_pretrained writes README.md (library_name peft, the method's tag; no base_model for a model
    without a config); an existing card keeps its text."""
    import yaml

    peft = pytest.importorskip("peft")
    for engine in (core, peft):
        folder = tmp_path / engine.__name__
        model = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        peft_model = engine.get_peft_model(model, engine.LoraConfig(target_modules=["0"], base_model_name_or_path="my/model"))
        folder.mkdir()
        (folder / "README.md").write_text("---\nlicense: mit\n---\n\nMy notes.\n")
        peft_model.save_pretrained(folder)
        text = (folder / "README.md").read_text()
        meta = yaml.safe_load(text.split("---")[1])
        assert meta["library_name"] == "peft" and "lora" in meta["tags"] and "base_model" not in meta, engine.__name__
        assert meta["license"] == "mit" and "My notes." in text
        assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= {p.name for p in folder.iterdir()}


def test_get_peft_model_on_an_adapted_model_warns_unless_unloaded():
    model = torch.nn.Sequential(torch.nn.Linear(10, 2), torch.nn.Linear(2, 10))
    peft_model = core.get_peft_model(model, core.LoraConfig(target_modules=["0"]))
    with pytest.warns(UserWarning, match=r"already holds adapter layers \(e\.g\. '0'\).*unload\(\)"):
        core.get_peft_model(model, core.LoraConfig(target_modules=["1"]), adapter_name="other")
    peft_model.unload()
    model = torch.nn.Sequential(torch.nn.Linear(10, 2), torch.nn.Linear(2, 10))
    core.get_peft_model(model, core.LoraConfig(target_modules=["0"])).unload()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        core.get_peft_model(model, core.LoraConfig(target_modules=["0"]))


@pytest.mark.parametrize("engine", ["core", "peft"])
@pytest.mark.parametrize("config", [{"lora": {"target_modules": ["0"], "init_lora_weights": False}},
                                    {"ia3": {"target_modules": ["0"], "feedforward_modules": [], "init_ia3_weights": False}}])
def test_get_peft_model_twice_with_the_same_name_reinitialises_the_adapter(engine, config):
    """PEFT re-initialises an adapter when get_peft_model is called again on the same model with the same adapter
    name (with its "You are trying to modify a model" warning); our engine does the same instead of refusing."""
    lib = pytest.importorskip("peft") if engine == "peft" else core
    (method, kwargs), = config.items()
    make = {"lora": lib.LoraConfig, "ia3": lib.IA3Config}[method]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 2), torch.nn.Linear(2, 10))
    first = lib.get_peft_model(model, make(**kwargs))
    before = {k: v.clone() for k, v in first.state_dict().items() if "lora_" in k or "ia3_" in k}
    with pytest.warns(UserWarning, match="You are trying to modify a model"):
        second = lib.get_peft_model(model, make(**kwargs))
    after = {k: v for k, v in second.state_dict().items() if "lora_" in k or "ia3_" in k}
    assert sorted(after) == sorted(before) and len(after) >= 1  # the same adapter, not a second copy
    assert any(not torch.equal(before[k], after[k]) for k in after)  # re-drawn (random init)
    x = torch.randn(3, 10)
    torch.testing.assert_close(first(x), second(x))  # both wrappers share the model's (new) adapter


@pytest.mark.parametrize("method", ["lora", "adalora", "ia3"])
def test_a_model_that_reads_its_layers_weight_keeps_working(method):
    """Models that read ``self.conv.weight`` (its device, dtype) in forward, as PEFT's layers allow: the wrapper
    hands out the wrapped layer's own weight and bias."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3)

        def forward(self, x):
            return self.conv(x.to(self.conv.weight.dtype)) + self.conv.bias.view(1, -1, 1, 1)

    torch.manual_seed(0)
    config = {"lora": core.LoraConfig(target_modules=["conv"]), "ia3": core.IA3Config(target_modules=["conv"], feedforward_modules=[]),
              "adalora": core.AdaLoraConfig(target_modules=["conv"], total_step=10)}[method]
    net = Net()
    weight, bias = net.conv.weight, net.conv.bias
    peft_model = core.get_peft_model(net, config)
    layer = peft_model.base_model.model.conv
    assert layer.weight is weight and layer.bias is bias
    assert peft_model(torch.ones(1, 2, 5, 5, dtype=torch.int64)).shape == (1, 4, 3, 3)


def test_has_active_enabled_adapter_follows_disable_adapter():
    peft_model = core.get_peft_model(make_model("llama"), lora())
    assert peft_model.has_active_enabled_adapter
    with peft_model.disable_adapter():
        with peft_model.disable_adapter():
            assert not peft_model.has_active_enabled_adapter
        assert not peft_model.has_active_enabled_adapter
    assert peft_model.has_active_enabled_adapter


def test_set_peft_model_state_dict_loads_base_tensors_it_names_as_peft():
    """A state dict saved with bias="all" holds the base biases; loading it into an adapter without bias training
    puts them into the model (PEFT's non-strict load), and they are not reported as unexpected."""
    peft = pytest.importorskip("peft")
    results = {}
    for engine in (core, peft):
        trained = engine.get_peft_model(make_model("gpt2"), engine.LoraConfig(r=4, target_modules=["c_attn"], bias="all",
                                                                                init_lora_weights=False))
        with torch.no_grad():
            for n, p in trained.named_parameters():
                if n.endswith(".bias"):
                    p.fill_(0.5)
        state = engine.get_peft_model_state_dict(trained)
        assert any(k.endswith(".bias") for k in state)
        fresh = engine.get_peft_model(make_model("gpt2"), engine.LoraConfig(r=4, target_modules=["c_attn"]))
        result = engine.set_peft_model_state_dict(fresh, state)
        results[engine.__name__] = (logits(fresh, IDS), result.unexpected_keys, logits(trained, IDS))
    assert results["core"][1] == [] and results["peft"][1] == []
    torch.testing.assert_close(results["core"][0], results["core"][2])
    torch.testing.assert_close(results["core"][0], results["peft"][0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", ["lora", "ia3"])
def test_merge_and_unload_merges_only_the_adapters_named(method):
    """``merge_and_unload(adapter_names=[...])`` merges those adapters only, also when another one is active
    (it used to merge the active adapter as well)."""
    make = lora if method == "lora" else (lambda: core.IA3Config(target_modules=["q_proj", "down_proj"],
                                                                 feedforward_modules=["down_proj"]))
    model = core.get_peft_model(make_model("llama"), make())
    model.add_adapter("other", make())
    perturb_adapter(model, seed=1)
    if method == "ia3":
        with torch.no_grad():
            for name, p in sorted(model.named_parameters()):
                if "ia3_l" in name:
                    p.copy_(torch.rand(p.shape, generator=torch.Generator().manual_seed(len(name))) + 0.5)
    model.set_adapter("other")
    only_other = logits(model, IDS)
    model.set_adapter("default")
    assert not torch.allclose(logits(model, IDS), only_other)
    merged = model.merge_and_unload(adapter_names=["other"])
    torch.testing.assert_close(logits(merged, IDS), only_other, atol=1e-5, rtol=0)


def test_disable_adapter_with_some_layers_switched_off_warns_and_leaves_all_on():
    """As PEFT: entering ``disable_adapter()`` while only some layers are switched off warns (PEFT's opening
    words), and leaves every layer on at the end; every layer lists its adapters (PEFT's
    ``_all_available_adapter_names``)."""
    model = core.get_peft_model(make_model("llama"), lora())
    model.add_adapter("other", lora())
    perturb_adapter(model, seed=2)
    layers = [layer for _, layer in model.base_model.adapter_layers()]
    assert all(sorted(layer._all_available_adapter_names()) == ["default", "other"] for layer in layers)
    model.merge_adapter()
    assert all(layer.merged for layer in layers)  # PEFT's layer flag
    model.unmerge_adapter()
    assert not any(layer.merged for layer in layers)
    before = logits(model, IDS)
    layers[0].enable_adapters(False)
    with pytest.warns(UserWarning, match="some adapter layers that are enabled and others that are disabled"):
        with model.disable_adapter():
            assert all(layer.disable_adapters for layer in layers)
    assert not any(layer.disable_adapters for layer in layers)
    torch.testing.assert_close(logits(model, IDS), before)
    with warnings.catch_warnings(record=True) as caught:  # a regular state: no warning, the same state afterwards
        warnings.simplefilter("always")
        with model.disable_adapter():
            pass
    assert not any(layer.disable_adapters for layer in layers)
    assert not [w for w in caught if "enabled and others" in str(w.message)]


def test_a_layer_takes_one_adapter_name_and_can_be_switched_off_alone():
    """PEFT's layer verbs: ``layer.set_adapter("name")`` and ``layer.enable_adapters(False)`` (that layer computes
    its base module, its adapter stops training; the model's status then says enabled == "irregular")."""
    model = core.get_peft_model(make_model("llama"), lora())
    model.add_adapter("other", lora())
    perturb_adapter(model, seed=2)
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    layer.set_adapter("other")
    assert layer.active_adapters == ["other"]
    assert layer.lora_A["other"].weight.requires_grad and not layer.lora_A["default"].weight.requires_grad
    layer.set_adapter("default")
    before = logits(model, IDS)
    layer.enable_adapters(False)
    assert layer.disable_adapters and not layer.lora_A["default"].weight.requires_grad
    assert model.get_model_status().enabled == "irregular"
    assert not torch.allclose(logits(model, IDS), before)
    layer.enable_adapters(True)
    assert layer.lora_A["default"].weight.requires_grad and model.get_model_status().enabled is True
    torch.testing.assert_close(logits(model, IDS), before)


def test_set_requires_grad_and_status_as_peft():
    """PEFT's ``set_requires_grad(names, flag)`` on the model and its tuner; the status names PEFT's layer kinds,
    "other" for a base that is no transformers model, and an adapter merged in only some of its layers as irregular."""
    peft = pytest.importorskip("peft")
    model = core.get_peft_model(make_model("llama"), lora())
    model.add_adapter("other", lora(target_modules=["q_proj"]))
    model.set_requires_grad("other")
    model.base_model.set_requires_grad("default", requires_grad=False)
    status = model.get_model_status()
    assert status.requires_grad == {"default": False, "other": True}
    with pytest.raises(ValueError, match="no adapter named 'nope'"):
        model.set_requires_grad(["nope"])
    theirs = peft.get_peft_model(make_model("llama"), peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj", "embed_tokens"]))
    ours = core.get_peft_model(make_model("llama"), lora(target_modules=["q_proj", "v_proj", "embed_tokens"]))
    assert [s.module_type for s in ours.get_layer_status()] == [s.module_type for s in theirs.get_layer_status()]
    model.merge_adapter(["default"])
    assert model.get_model_status().merged_adapters == ["default"]
    model.base_model.model.model.layers[0].self_attn.v_proj.unmerge()
    assert model.get_model_status().merged_adapters == "irregular"
    plain = core.get_peft_model(nn.Sequential(nn.Linear(4, 4)), core.LoraConfig(target_modules=["0"]))
    # as PEFT: inside a PeftModel the base model's class, whatever module it is
    assert plain.get_model_status().base_model_type == "Sequential"
    injected = core.inject_adapter_in_model(core.LoraConfig(target_modules=["0"]), nn.Sequential(nn.Linear(4, 4)))
    assert core.get_model_status(injected).base_model_type == "other"
    with pytest.raises(ValueError, match="No adapter layers found in the model"):
        core.get_layer_status(nn.Linear(2, 2))


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.Linear(6, 6)


class _OldLayout(nn.Module):
    """A model as transformers once laid it out: ``model.layers.N.attn``."""

    def __init__(self) -> None:
        super().__init__()
        self.model = nn.ModuleDict({"layers": nn.ModuleList([_Block(), _Block()])})

    def forward(self, x):
        for block in self.model["layers"]:
            x = block.attn(x)
        return x


class _NewLayout(nn.Module):
    """The same model in a newer layout (``model.language_model.layers.N.attn``), carrying the regexes transformers
    gives such models to read checkpoints of the old one."""

    _checkpoint_conversion_mapping = {"^model(?!\\.(language_model|visual))": "model.language_model"}

    def __init__(self) -> None:
        super().__init__()
        self.model = nn.ModuleDict({"language_model": nn.ModuleDict({"layers": nn.ModuleList([_Block(), _Block()])})})

    def forward(self, x):
        for block in self.model["language_model"]["layers"]:
            x = block.attn(x)
        return x


@pytest.mark.parametrize("saver", ["core", "peft"])
@pytest.mark.parametrize("loader", ["core", "peft"])
def test_an_adapter_saved_on_the_old_layout_loads_on_the_new_one(saver, loader, tmp_path):
    """PEFT applies the model's ``_checkpoint_conversion_mapping`` to an adapter file's keys when no key_mapping is
    given; so do we: an adapter saved on the old layout loads on the new one, either engine to either engine."""
    save_lib = pytest.importorskip("peft") if saver == "peft" else core
    load_lib = pytest.importorskip("peft") if loader == "peft" else core
    torch.manual_seed(0)
    old = _OldLayout()
    new = _NewLayout()
    new.model["language_model"].load_state_dict(old.model.state_dict())
    trained = save_lib.get_peft_model(old, save_lib.LoraConfig(target_modules=["attn"], init_lora_weights=False))
    x = torch.randn(3, 6)
    expected = trained(x)
    trained.save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "missing adapter keys" warning: every tensor found its module
        loaded = load_lib.PeftModel.from_pretrained(new, tmp_path)
    torch.testing.assert_close(loaded(x), expected)


def _tied_llama(tie: bool = True):
    import transformers

    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=tie)
    return transformers.LlamaForCausalLM(config).eval()


def _one_sgd_step(model, ids, lr: float) -> None:
    """One training step of ``model`` on ``ids`` (train mode, plain SGD on its trainable tensors)."""
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    model(input_ids=ids, labels=ids).loss.backward()
    opt.step()


@pytest.mark.parametrize("to_save", [["lm_head"], ["embed_tokens"], ["embed_tokens", "lm_head"]])
def test_ensure_weight_tying_keeps_the_trained_copies_of_tied_modules_one_matrix(to_save, tmp_path):
    """LoRA with ``ensure_weight_tying=True`` on a model whose lm_head shares the input embedding's weight: as in
    PEFT, modules_to_save becomes the embedding's path, both modules get a trained copy, and the copies share one
    (V, D) Parameter, so training keeps them tied; PEFT and our engine write the same config and load each other's
    files to the same logits."""
    peft = pytest.importorskip("peft")
    ids = torch.tensor([[3, 9, 27, 4, 51]])
    made = {}
    for lib in (core, peft):
        model = lib.get_peft_model(_tied_llama(), lib.LoraConfig(target_modules=["q_proj"], modules_to_save=list(to_save),
                                                                 ensure_weight_tying=True))
        inner = model.base_model.model
        assert inner.model.embed_tokens.modules_to_save["default"].weight is inner.lm_head.modules_to_save["default"].weight
        made[lib.__name__] = model
    assert made["core"].peft_config["default"].modules_to_save == sorted(made["peft"].peft_config["default"].modules_to_save)
    ours = made["core"]
    _one_sgd_step(ours, ids, lr=0.5)
    inner = ours.base_model.model
    assert inner.model.embed_tokens.modules_to_save["default"].weight is inner.lm_head.modules_to_save["default"].weight
    assert not torch.equal(inner.lm_head.modules_to_save["default"].weight, inner.lm_head.original_module.weight)
    ours.eval()
    expected = ours(input_ids=ids).logits
    ours.save_pretrained(tmp_path)
    for lib in (core, peft):
        loaded = lib.PeftModel.from_pretrained(_tied_llama(), tmp_path)
        torch.testing.assert_close(loaded(input_ids=ids).logits, expected)


def test_weight_tying_warnings():
    """PEFT's three warnings, in our words with PEFT's phrases: a tied module trained without ensure_weight_tying,
    ensure_weight_tying on an untied model, and ensure_weight_tying with nothing tied in the adapter."""
    with pytest.warns(UserWarning, match="ties lm_head to its input embedding.*`ensure_weight_tying` is not set to True"):
        core.get_peft_model(_tied_llama(), core.LoraConfig(target_modules=["q_proj"], modules_to_save=["lm_head"]))
    with pytest.warns(UserWarning, match="no tied modules were found in the model"):
        core.get_peft_model(_tied_llama(tie=False), core.LoraConfig(target_modules=["q_proj"], modules_to_save=["lm_head"],
                                                                    ensure_weight_tying=True))
    with pytest.warns(UserWarning, match="no tied modules are added"):
        core.get_peft_model(_tied_llama(), core.LoraConfig(target_modules=["q_proj"], ensure_weight_tying=True))


@pytest.mark.parametrize("engine", ["core", "peft"])
@pytest.mark.parametrize("own_name", [None, "my/base"])
def test_get_peft_model_names_the_model_it_adapts(engine, own_name):
    """PEFT's get_peft_model writes the adapted model's name into base_model_name_or_path, replacing (with a warning)
    a different name the config carried; our engine does the same."""
    lib = pytest.importorskip("peft") if engine == "peft" else core
    model = nn.Sequential(nn.Linear(4, 4))
    if own_name is not None:
        model.name_or_path = own_name
    config = lib.LoraConfig(target_modules=["0"], base_model_name_or_path="another/base")
    with pytest.warns(UserWarning, match=f"`base_model_name_or_path` was renamed from 'another/base' to '{own_name}'"):
        lib.get_peft_model(model, config)
    assert config.base_model_name_or_path == own_name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same name: no warning
        lib.get_peft_model(nn.Sequential(nn.Linear(4, 4)), lib.LoraConfig(target_modules=["0"]))


@pytest.mark.parametrize("targets", [["q_proj", "lm_head"], ["q_proj", "embed_tokens"], r".*(q_proj|lm_head)"])
def test_ensure_weight_tying_ties_the_lora_updates_of_tied_modules(targets, tmp_path):
    """LoRA with ``ensure_weight_tying=True`` targeting a module tied to the input embedding: as in PEFT, the
    embedding gets the adapter and every module tied to it uses the embedding's matrices -- lm_head's lora_A (r, D)
    is the embedding's lora_B (D, r) transposed and its lora_B (V, r) the embedding's lora_A (r, V) transposed, on the
    same storage. The configs match PEFT's, training keeps the tie, files load both ways to the same logits, and
    merging writes the one update into both (now untied) matrices."""
    peft = pytest.importorskip("peft")
    ids = torch.tensor([[3, 9, 27, 4, 51]])
    made = {}
    for lib in (core, peft):
        model = lib.get_peft_model(_tied_llama(), lib.LoraConfig(r=4, target_modules=targets, ensure_weight_tying=True,
                                                                 init_lora_weights=False))
        inner = model.base_model.model
        embed, head = inner.model.embed_tokens, inner.lm_head
        assert head.lora_A["default"].weight.data_ptr() == embed.lora_embedding_B["default"].data_ptr()
        assert head.lora_B["default"].weight.data_ptr() == embed.lora_embedding_A["default"].data_ptr()
        made[lib.__name__] = model
    ours, theirs = made["core"].peft_config["default"].target_modules, made["peft"].peft_config["default"].target_modules
    assert ours == (theirs if isinstance(theirs, str) else sorted(theirs))
    model = made["core"]
    _one_sgd_step(model, ids, lr=0.1)
    inner = model.base_model.model
    torch.testing.assert_close(inner.lm_head.lora_A["default"].weight, inner.model.embed_tokens.lora_embedding_B["default"].t())
    model.eval()
    expected = model(input_ids=ids).logits
    model.save_pretrained(tmp_path)
    for lib in (core, peft):
        torch.testing.assert_close(lib.PeftModel.from_pretrained(_tied_llama(), tmp_path)(input_ids=ids).logits, expected)
    merged = model.merge_and_unload()
    torch.testing.assert_close(merged(input_ids=ids).logits, expected, rtol=1e-4, atol=1e-5)
