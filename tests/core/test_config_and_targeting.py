"""Configs, enums, target selection, counting/printing, adapter names and reading files (errors included).

Deliberate differences from PEFT tested here:
- a target list entry that matches no module is an error naming the entry and the closest real names (PEFT
  silently drops it as long as another entry matches);
- missing or unexpected tensors in an adapter file are errors (PEFT only warns), keys without the
  ``base_model.model.`` prefix are accepted (PEFT silently skips them);
- pickled ``adapter_model.bin`` loads through torch's restricted unpickler (code in it never runs).
"""

from __future__ import annotations

import json
import warnings
import logging
import re
from pathlib import Path

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

import core
import core.peft_model
from core.config import ConfigError, PeftType, TaskType
from core.methods.lora import LoraLayer
from core.peft_model import AdapterLoadError, PeftModelForCausalLM, format_trainable
from core.targeting import TargetError
from tests.core.conftest import DEFAULT_TARGETS, EMBEDDING, FAMILIES, lora_kwargs, logits, make_model, perturb_adapter

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures("single_thread"),
]


def _adapted(model) -> set[str]:
    """Qualified names (inside the HF model) of the LoRA-adapted modules."""
    inner = model.base_model.model
    return {n for n, m in inner.named_modules() if isinstance(m, LoraLayer) or hasattr(m, "lora_A")}


def _saved(tmp_path, family="llama", tied=True, **kwargs):
    """An adapter with random A and B saved by us into tmp_path; returns the (eval) model."""
    model = core.get_peft_model(make_model(family, tied), core.LoraConfig(**({"r": 4, "init_lora_weights": False} | kwargs)))
    model.eval()
    model.save_pretrained(tmp_path)
    return model


# ---- enums ----------------------------------------------------------------------------------------------

def test_peft_type_has_exactly_the_seven_methods_with_value_equal_to_name():
    assert [t.name for t in PeftType] == [
        "PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING", "LORA", "ADALORA", "ADAPTION_PROMPT", "IA3"]
    assert all(t.value == t.name for t in PeftType)
    assert PeftType("LORA") is PeftType.LORA and PeftType.LORA == "LORA"
    assert core.PeftType is PeftType


def test_task_type_has_causal_lm_and_seq_cls():
    assert TaskType.CAUSAL_LM.value == "CAUSAL_LM" and TaskType.SEQ_CLS.value == "SEQ_CLS"
    assert all(t.value == t.name for t in TaskType)
    assert core.LoraConfig(task_type="CAUSAL_LM").task_type is TaskType.CAUSAL_LM
    with pytest.raises(ConfigError, match="task_type"):
        core.LoraConfig(task_type="CAUSAL")


def test_peft_type_and_task_type_names_exist_in_peft():
    peft = pytest.importorskip("peft")
    assert {t.value for t in PeftType} <= {t.value for t in peft.PeftType}
    assert {t.value for t in TaskType} <= {t.value for t in peft.TaskType}


# ---- config validation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,field", [
    (dict(r=0), "r"), (dict(r=-2), "r"), (dict(r=2.5), "r"), (dict(r=True), "r"), (dict(r="8"), "r"),
    (dict(lora_alpha="16"), "lora_alpha"), (dict(lora_alpha=None), "lora_alpha"),
    (dict(lora_dropout=-0.1), "lora_dropout"), (dict(lora_dropout=1.0), "lora_dropout"), (dict(lora_dropout=1.5), "lora_dropout"),
    (dict(bias="some"), "bias"), (dict(bias=None), "bias"), (dict(bias="None"), "bias"),
    (dict(init_lora_weights="olora"), "init_lora_weights"), (dict(init_lora_weights="pissa_niter_"), "init_lora_weights"),
    (dict(init_lora_weights="Gaussian_"), "init_lora_weights"), (dict(init_lora_weights=None), "init_lora_weights"),
    (dict(target_modules=r".*q_proj", layers_to_transform=[0]), "layers_to_transform"),
    (dict(target_modules="all-linear", layers_to_transform=0), "layers_to_transform"),
    (dict(target_modules=["q_proj"], layers_pattern="layers"), "layers_pattern"),
    (dict(rank_pattern={"q_proj": 0}), "rank_pattern"),
    (dict(target_modules=5), "target_modules"),
])
def test_invalid_config_values_are_rejected(kwargs, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        core.LoraConfig(**kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(r=1), dict(r=64, lora_alpha=0.5), dict(lora_dropout=0.0), dict(lora_dropout=0.999),
    dict(bias="none"), dict(bias="all"), dict(bias="lora_only"),
    dict(init_lora_weights=True), dict(init_lora_weights=False), dict(init_lora_weights="gaussian"),
    dict(init_lora_weights="pissa"), dict(init_lora_weights="pissa_niter_4"), dict(init_lora_weights="pissa_niter_16"),
    dict(target_modules=["q_proj"], layers_to_transform=0), dict(target_modules=["q_proj"], layers_to_transform=[0, 1], layers_pattern="layers"),
    dict(target_modules=("q_proj", "v_proj")), dict(rank_pattern={"q_proj": 2}, alpha_pattern={"v_proj": 3.5}),
])
def test_valid_config_values_are_accepted(kwargs):
    config = core.LoraConfig(**kwargs)
    assert config.peft_type is PeftType.LORA
    if isinstance(kwargs.get("target_modules"), tuple):
        assert config.target_modules == ["q_proj", "v_proj"]  # a name set, written as a sorted list


def test_config_errors_are_value_errors():
    assert issubclass(ConfigError, ValueError) and issubclass(TargetError, ValueError) and issubclass(AdapterLoadError, ValueError)


def test_config_json_round_trip_and_format(tmp_path):
    config = core.LoraConfig(r=4, lora_alpha=8.5, target_modules={"v_proj", "q_proj"}, exclude_modules=["o_proj"],
                             layers_to_transform=[1], layers_pattern="layers", task_type="CAUSAL_LM",
                             rank_pattern={"q_proj": 2}, alpha_pattern={r"layers\.1\..*": 3})
    path = config.save_pretrained(tmp_path)
    text = path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    # as PEFT: a config saves itself as it is (PeftModel.save_pretrained writes inference_mode true), with the
    # PEFT version whose format it follows
    assert data["inference_mode"] is False and data["peft_type"] == "LORA" and data["task_type"] == "CAUSAL_LM"
    assert data["peft_version"] == core.LoraConfig().peft_version == "0.21.2"
    assert data["target_modules"] == ["q_proj", "v_proj"]
    again = core.PeftConfig.from_pretrained(tmp_path)
    assert type(again) is core.LoraConfig
    for field in ("r", "lora_alpha", "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern",
                  "task_type", "rank_pattern", "alpha_pattern"):
        assert getattr(again, field) == getattr(config, field), field


def test_peft_reads_our_config(tmp_path):
    peft = pytest.importorskip("peft")
    core.LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj"], use_rslora=True, use_dora=True, bias="lora_only",
                    modules_to_save=["norm"], init_lora_weights="gaussian").save_pretrained(tmp_path)
    theirs = peft.LoraConfig.from_pretrained(tmp_path)
    assert (theirs.r, theirs.lora_alpha, set(theirs.target_modules), theirs.use_rslora, theirs.use_dora, theirs.bias,
            theirs.modules_to_save, theirs.init_lora_weights) == (4, 16, {"q_proj"}, True, True, "lora_only", ["norm"], "gaussian")


def test_unknown_keys_from_a_newer_peft_load_with_a_warning(tmp_path, caplog, input_ids):
    model = _saved(tmp_path)
    data = json.loads((tmp_path / "adapter_config.json").read_text())
    data |= {"some_future_option": {"a": 1}, "another_new_flag": True, "peft_version": "9.9.9"}
    (tmp_path / "adapter_config.json").write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        loaded = core.PeftModel.from_pretrained(make_model("llama"), tmp_path)
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "some_future_option" in warning and "another_new_flag" in warning
    torch.testing.assert_close(logits(loaded, input_ids), logits(model, input_ids), atol=0, rtol=0)


@pytest.mark.parametrize("key,value", [("use_qalora", True), ("layer_replication", [[0, 2]]), ("use_bdlora", {"r": 2}),
                                       ("alora_invocation_tokens", [5, 6])])
def test_unsupported_peft_features_in_a_config_are_refused(tmp_path, key, value):
    _saved(tmp_path)
    data = json.loads((tmp_path / "adapter_config.json").read_text()) | {key: value}
    (tmp_path / "adapter_config.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=key):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


def test_unsupported_features_at_their_off_value_are_fine(tmp_path):
    _saved(tmp_path)
    data = json.loads((tmp_path / "adapter_config.json").read_text())
    data |= {"use_qalora": False, "layer_replication": None, "lora_bias": False, "loftq_config": {},
             "megatron_core": "megatron.core", "auto_mapping": {"base_model_class": "LlamaForCausalLM", "parent_library": "x"}}
    (tmp_path / "adapter_config.json").write_text(json.dumps(data))
    core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


@pytest.mark.parametrize("content,error,pattern", [
    (None, FileNotFoundError, "adapter_config.json"),
    ("{not json", ConfigError, "adapter_config.json"),
    ('{"r": 4}', ConfigError, "peft_type"),
    ('{"peft_type": "SOMETHING"}', ConfigError, "SOMETHING"),
])
def test_broken_configs_name_the_problem(tmp_path, content, error, pattern):
    _saved(tmp_path)
    if content is None:
        (tmp_path / "adapter_config.json").unlink()
    else:
        (tmp_path / "adapter_config.json").write_text(content)
    with pytest.raises(error, match=pattern):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


# ---- targeting ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_no_targets_means_the_architecture_defaults(family, tmp_path):
    model = core.get_peft_model(make_model(family), core.LoraConfig(r=4))
    adapted = _adapted(model)
    assert len(adapted) == 2 * len(DEFAULT_TARGETS[family])
    assert {n.rsplit(".", 1)[1] for n in adapted} == set(DEFAULT_TARGETS[family])
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "adapter_config.json").read_text())["target_modules"] == sorted(DEFAULT_TARGETS[family])


def test_no_targets_on_an_unknown_architecture_is_an_error():
    model = make_model("llama")
    model.config.model_type = "mystery"
    with pytest.raises(TargetError, match="mystery"):
        core.get_peft_model(model, core.LoraConfig(r=4))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("tied", [True, False])
def test_all_linear_is_every_linear_layer_but_the_output_head(family, tied):
    base = make_model(family, tied)
    linear = {n for n, m in base.named_modules() if isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D"}
    assert "lm_head" in linear
    model = core.get_peft_model(base, core.LoraConfig(r=4, target_modules="all-linear"))
    assert _adapted(model) == linear - {"lm_head"}
    assert model.peft_config["default"].target_modules == sorted(linear - {"lm_head"})  # resolved, as PEFT writes it


@pytest.mark.parametrize("targets,missing,closest", [
    (["q_proj", "v_projj"], "v_projj", "v_proj"),
    (["self_attn.q_prj", "v_proj"], "self_attn.q_prj", "self_attn.q_proj"),
    (["embed_token"], "embed_token", "embed_tokens"),
    (["query_key_value"], "query_key_value", None),  # another architecture's name: nothing similar, still real names
])
def test_a_target_entry_matching_nothing_is_an_error_naming_it_and_the_closest_names(targets, missing, closest):
    model = make_model("llama")
    real = {n.split(".")[-1] for n, _ in model.named_modules()}
    with pytest.raises(TargetError) as info:
        core.get_peft_model(model, core.LoraConfig(r=4, target_modules=targets))
    message = str(info.value)
    assert f"'{missing}'" in message
    named = re.search(r"Closest real names: (.*)\.$", message).group(1).split(", ")
    assert named and all(n.split(".")[-1] in real for n in named), named
    if closest:
        assert named[0] == closest


def test_peft_silently_ignores_an_unmatched_entry():
    """Why we differ: peft trains half of what was asked for without a word."""
    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(make_model("llama"), peft.LoraConfig(r=4, target_modules=["q_proj", "v_projj"]))
    assert {n.rsplit(".", 1)[1] for n, m in model.base_model.model.named_modules() if hasattr(m, "lora_A")} == {"q_proj"}


def test_a_regex_matching_nothing_is_an_error():
    with pytest.raises(TargetError, match="selected no module"):
        core.get_peft_model(make_model("bloom"), core.LoraConfig(r=4, target_modules=r".*\.q_proj"))


def test_a_target_that_cannot_be_adapted_is_an_error_naming_it():
    with pytest.raises(TargetError, match=r"input_layernorm.*LayerNorm"):
        core.get_peft_model(make_model("bloom"), core.LoraConfig(r=4, target_modules=["input_layernorm"]))


@pytest.mark.parametrize("family,kwargs,expected", [
    ("bloom", dict(target_modules=["query_key_value"], layers_to_transform=1), {"transformer.h.1.self_attention.query_key_value"}),
    ("bloom", dict(target_modules=["query_key_value", "dense"], layers_to_transform=[0], layers_pattern="h"),
     {"transformer.h.0.self_attention.query_key_value", "transformer.h.0.self_attention.dense"}),
    ("llama", dict(target_modules=["q_proj"], layers_to_transform=[0, 1], layers_pattern=["blocks", "layers"]),
     {"model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"}),
    ("llama", dict(target_modules=["q_proj", "model.layers.0.self_attn.v_proj"], layers_to_transform=[1]),
     {"model.layers.1.self_attn.q_proj", "model.layers.0.self_attn.v_proj"}),  # a full name is not filtered (PEFT)
    ("gpt2", dict(target_modules=["c_attn", "c_fc"], layers_to_transform=0, layers_pattern="h"),
     {"transformer.h.0.attn.c_attn", "transformer.h.0.mlp.c_fc"}),
    ("llama", dict(target_modules="all-linear", exclude_modules=["q_proj", "mlp.down_proj", "model.layers.1.mlp.up_proj"]),
     {f"model.layers.{i}.{m}" for i in (0, 1) for m in ("self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj")}
     | {"model.layers.0.mlp.up_proj"}),
    ("llama", dict(target_modules=["q_proj", "v_proj"], exclude_modules=r"model\.layers\.1\..*"),
     {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"}),
    ("gpt2", dict(target_modules=r"transformer\.h\.\d\.(attn\.c_attn|mlp\.c_proj)", exclude_modules=["h.1.mlp.c_proj"]),
     {"transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn", "transformer.h.0.mlp.c_proj"}),
    ("bloom", dict(target_modules=["query_key_value", "dense_4h_to_h"], modules_to_save=["mlp"]),  # never a target inside modules_to_save
     {"transformer.h.0.self_attention.query_key_value", "transformer.h.1.self_attention.query_key_value"}),
])
def test_selection_rules_match_peft(family, kwargs, expected):
    model = core.get_peft_model(make_model(family), core.LoraConfig(r=4, **lora_kwargs(kwargs)))
    assert _adapted(model) == expected
    peft = pytest.importorskip("peft")
    theirs = peft.get_peft_model(make_model(family), peft.LoraConfig(r=4, **lora_kwargs(kwargs)))
    assert {n for n, m in theirs.base_model.model.named_modules() if hasattr(m, "lora_A")} == expected
    assert model.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()


def test_exclude_modules_wins_over_targets():
    # PEFT's sentence first, then which modules were kept out
    with pytest.raises(TargetError, match=r"No modules were targeted for adaptation. This might be caused by a combination.*"
                                          r"matched only model.layers.0.self_attn.q_proj"):
        core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, target_modules=["q_proj"], exclude_modules=["q_proj"]))
    with pytest.raises(TargetError, match=r"No modules were targeted for adaptation.*modules_to_save keep out"):
        core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, target_modules=["lm_head"], modules_to_save=["lm_head"]))


def test_layers_to_transform_that_removes_every_match_is_an_error():
    with pytest.raises(TargetError, match="layers_to_transform"):
        core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, target_modules=["q_proj"], layers_to_transform=[5]))
    with pytest.raises(TargetError):
        core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, target_modules=["q_proj"], layers_to_transform=0,
                                                                  layers_pattern="h"))


def test_rank_and_alpha_patterns_apply_per_module():
    model = core.get_peft_model(make_model("llama"), core.LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"],
        rank_pattern={"v_proj": 2, r"model\.layers\.1\.self_attn\.q_proj": 6}, alpha_pattern={"o_proj": 1}))
    layers = model.base_model.model.model.layers
    assert [layers[i].self_attn.q_proj.r["default"] for i in (0, 1)] == [4, 6]
    assert [layers[i].self_attn.v_proj.r["default"] for i in (0, 1)] == [2, 2]
    assert layers[0].self_attn.o_proj.scaling["default"] == 1 / 4
    assert layers[0].self_attn.v_proj.scaling["default"] == 8 / 2


def test_scaling_plain_and_rslora():
    plain = core.get_peft_model(make_model("bloom"), core.LoraConfig(r=16, lora_alpha=8))
    rs = core.get_peft_model(make_model("bloom"), core.LoraConfig(r=16, lora_alpha=8, use_rslora=True))
    qkv = lambda m: m.base_model.model.transformer.h[0].self_attention.query_key_value  # noqa: E731
    assert qkv(plain).scaling["default"] == 0.5 and qkv(rs).scaling["default"] == 2.0


def test_conv1d_sets_fan_in_fan_out_with_a_warning():
    config = core.LoraConfig(r=4, target_modules=["c_attn"])
    with pytest.warns(UserWarning, match="fan_in_fan_out"):
        core.get_peft_model(make_model("gpt2"), config)
    assert config.fan_in_fan_out is True


def test_embedding_refuses_pissa():
    # (DoRA on an embedding is supported since the conv work: tests/core/test_conv_peft_parity.py checks it against peft.)
    with pytest.raises(ConfigError, match="PiSSA"):
        core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, target_modules=["embed_tokens"], init_lora_weights="pissa"))


def test_a_modules_to_save_entry_matching_nothing_is_an_error_and_changes_nothing():
    model = make_model("llama")
    with pytest.raises(ValueError, match="'classifier'"):
        core.get_peft_model(model, core.LoraConfig(r=4, modules_to_save=["norm", "classifier"]))
    assert not any(hasattr(m, "original_module") or isinstance(m, LoraLayer) for m in model.modules())


def test_failed_injection_leaves_the_model_unchanged():
    model = make_model("llama")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(TargetError):
        core.get_peft_model(model, core.LoraConfig(r=4, target_modules=["q_proj", "nope"], modules_to_save=["norm"]))
    assert not any(isinstance(m, LoraLayer) or hasattr(m, "original_module") for m in model.modules())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


# ---- wrapper class, counting and printing ------------------------------------------------------------------------

def test_task_type_picks_the_wrapper_class():
    assert type(core.get_peft_model(make_model("bloom"), core.LoraConfig(task_type="CAUSAL_LM"))) is PeftModelForCausalLM
    assert type(core.get_peft_model(make_model("bloom"), core.LoraConfig())) is core.PeftModel


def test_print_trainable_parameters_exact_format(capsys):
    model = core.get_peft_model(make_model("bloom"), core.LoraConfig(r=8))
    trainable = 2 * 8 * (32 + 96)  # 2 layers of query_key_value (32 -> 96)
    total = sum(p.numel() for p in make_model("bloom").parameters()) + trainable  # tied head counted once
    assert model.get_nb_trainable_parameters() == (trainable, total)
    model.print_trainable_parameters()
    assert capsys.readouterr().out == (
        f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {100 * trainable / total:.4f}\n")
    assert (trainable, total) == (2048, 37184)
    assert format_trainable(2048, 37184) == "trainable params: 2,048 || all params: 37,184 || trainable%: 5.5077"


def test_format_matches_the_bloomz_560m_line_from_peft():
    assert format_trainable(786_432, 560_001_024) == "trainable params: 786,432 || all params: 560,001,024 || trainable%: 0.1404"
    assert format_trainable(460_800, 134_975_808) == "trainable params: 460,800 || all params: 134,975,808 || trainable%: 0.3414"


# ---- adapter names and adapter management ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a.b", ".x", "x.", "", "lora_A", "lora_x", "base_layer"])
def test_bad_adapter_names_are_rejected(name, tmp_path):
    with pytest.raises(ValueError, match="not allowed"):
        core.get_peft_model(make_model("llama"), core.LoraConfig(r=4), adapter_name=name)
    model = core.get_peft_model(make_model("llama"), core.LoraConfig(r=4))
    with pytest.raises(ValueError, match="not allowed"):
        model.add_adapter(name, core.LoraConfig(r=2))
    model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="not allowed"):
        model.load_adapter(tmp_path, name)
    assert list(model.peft_config) == ["default"]
    assert {n.split(".")[-2] for n, _ in model.named_parameters() if "lora_A" in n} == {"default"}


def test_adapter_management_errors():
    model = core.get_peft_model(make_model("llama"), core.LoraConfig(r=4))
    with pytest.raises(ValueError, match="already exists"):
        model.add_adapter("default", core.LoraConfig(r=2))
    with pytest.raises(ValueError, match="nope"):
        model.set_adapter("nope")
    with pytest.raises(ValueError, match="nope"):
        model.delete_adapter("nope")
    model.add_adapter("b", core.LoraConfig(r=2))
    assert model.active_adapter == "default"
    model.delete_adapter("default")
    assert model.active_adapter == "b" and list(model.peft_config) == ["b"]
    assert not any(".default" in n for n, _ in model.named_parameters())


def test_a_failed_add_adapter_leaves_the_existing_ones_intact(input_ids):
    model = core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, init_lora_weights=False))
    model.eval()
    before = logits(model, input_ids)
    names = {n for n, _ in model.named_parameters()}
    with pytest.raises(TargetError):
        model.add_adapter("bad", core.LoraConfig(r=2, target_modules=["q_proj", "k_prj"]))
    assert list(model.peft_config) == ["default"] and {n for n, _ in model.named_parameters()} == names
    torch.testing.assert_close(logits(model, input_ids), before, atol=0, rtol=0)


# ---- reading adapter files ----------------------------------------------------------------------------------------

def _rewrite_weights(folder, change):
    path = folder / "adapter_model.safetensors"
    state = change(load_file(path))
    save_file(state, path, metadata={"format": "pt"})


def test_shape_mismatch_names_the_module_and_both_shapes(tmp_path):
    wide = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=300, hidden_size=48, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64))
    core.get_peft_model(wide, core.LoraConfig(r=4, target_modules=["q_proj"])).save_pretrained(tmp_path)
    base = make_model("llama")
    before = {k: v.clone() for k, v in base.state_dict().items()}
    with pytest.raises(AdapterLoadError) as info:
        core.PeftModel.from_pretrained(base, tmp_path)
    message = str(info.value)
    assert "model.layers.0.self_attn.q_proj" in message
    assert "(4, 48)" in message and "(4, 32)" in message
    # the caller's model is given back unchanged
    assert not any(isinstance(m, LoraLayer) for m in base.modules())
    assert all(torch.equal(v, before[k]) for k, v in base.state_dict().items())


@pytest.mark.parametrize("kwargs", [dict(init_lora_weights="pissa"), dict(init_lora_weights="pissa", use_dora=True)])
def test_a_failed_pissa_load_gives_the_weights_back(tmp_path, kwargs):
    """Loading PiSSA rebuilds the residual base weight first; a file that then fails must not leave it behind."""
    core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, **kwargs)).save_pretrained(tmp_path)
    _rewrite_weights(tmp_path, lambda s: {k: v for k, v in s.items() if ".layers.1.self_attn.v_proj.lora_B" not in k})
    base = make_model("llama")
    before = {k: v.clone() for k, v in base.state_dict().items()}
    with pytest.raises(AdapterLoadError, match="missing"):
        core.PeftModel.from_pretrained(base, tmp_path)
    _assert_close_states(base.state_dict(), before)
    model = core.get_peft_model(make_model("llama"), core.LoraConfig(r=2, target_modules=["k_proj"]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(AdapterLoadError, match="missing"):
        model.load_adapter(tmp_path, "pissa")
    _assert_close_states(model.state_dict(), before)


def _assert_close_states(actual, expected):
    assert actual.keys() == expected.keys()
    for k, v in actual.items():
        torch.testing.assert_close(v, expected[k], atol=1e-6, rtol=0, msg=k)


def test_shape_mismatch_in_one_tensor(tmp_path):
    _saved(tmp_path)
    key = "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"
    _rewrite_weights(tmp_path, lambda s: s | {key: torch.zeros(20, 4)})
    with pytest.raises(AdapterLoadError, match=r"model\.layers\.1\.self_attn\.v_proj.*\(20, 4\).*\(16, 4\)"):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


def test_an_adapter_for_another_architecture_is_an_error(tmp_path):
    _saved(tmp_path, family="bloom")
    (tmp_path / "adapter_config.json").write_text(
        (tmp_path / "adapter_config.json").read_text().replace('"query_key_value"', '"q_proj"'))
    with pytest.raises(AdapterLoadError, match="query_key_value"):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


def test_missing_keys_are_an_error(tmp_path):
    _saved(tmp_path)
    key = "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"
    _rewrite_weights(tmp_path, lambda s: {k: v for k, v in s.items() if k != key})
    with pytest.raises(AdapterLoadError, match=re.escape(key)):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


def test_unexpected_keys_are_an_error(tmp_path):
    _saved(tmp_path)
    key = "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"
    _rewrite_weights(tmp_path, lambda s: s | {key: torch.zeros(4, 32)})
    with pytest.raises(AdapterLoadError, match=re.escape(key)):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


@pytest.mark.parametrize("rename", [
    pytest.param(lambda k: k.removeprefix("base_model.model."), id="no-prefix"),
    pytest.param(lambda k: k.replace(".weight", ".default.weight"), id="with-adapter-name"),
])
def test_key_variants_are_accepted(tmp_path, input_ids, rename):
    model = _saved(tmp_path)
    _rewrite_weights(tmp_path, lambda s: {rename(k): v for k, v in s.items()})
    loaded = core.PeftModel.from_pretrained(make_model("llama"), tmp_path)
    torch.testing.assert_close(logits(loaded, input_ids), logits(model, input_ids), atol=0, rtol=0)


def test_half_precision_tensors_are_cast(tmp_path, input_ids):
    model = _saved(tmp_path)
    _rewrite_weights(tmp_path, lambda s: {k: v.half() for k, v in s.items()})
    loaded = core.PeftModel.from_pretrained(make_model("llama"), tmp_path)
    assert all(v.dtype == torch.float32 for v in loaded.adapter_state_dict().values())
    torch.testing.assert_close(logits(loaded, input_ids), logits(model, input_ids), atol=0.05, rtol=0.01)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_safetensors_is_an_error_naming_the_file(tmp_path, damage):
    _saved(tmp_path)
    path = tmp_path / "adapter_model.safetensors"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00\xff" * 64, "empty": b""}[damage])
    with pytest.raises(AdapterLoadError, match=re.escape(str(path))):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


def test_no_weights_file_is_an_error(tmp_path):
    _saved(tmp_path)
    (tmp_path / "adapter_model.safetensors").unlink()
    with pytest.raises(AdapterLoadError, match="adapter_model.safetensors"):
        core.PeftModel.from_pretrained(make_model("llama"), tmp_path)


class _TouchesAFile:
    """Pickles to "call Path.touch(marker)" when loaded: what a booby-trapped adapter_model.bin would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_adapter_weights_load_through_the_safe_reader_and_code_in_them_never_runs(tmp_path, input_ids, monkeypatch):
    """PEFT's ``save_pretrained(safe_serialization=False)`` file loads as PEFT loads it (torch's restricted
    unpickler); a .bin that would run code is refused naming the file, and the code did not run; on a torch whose
    restricted unpickler is not safe (< 2.6) pickles are refused unless allowed."""
    model = core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, init_lora_weights=False))
    model.eval()
    folder = tmp_path / "plain"
    model.save_pretrained(folder, safe_serialization=False)
    assert (folder / "adapter_model.bin").is_file() and not (folder / "adapter_model.safetensors").exists()
    loaded = core.PeftModel.from_pretrained(make_model("llama"), folder)
    torch.testing.assert_close(logits(loaded, input_ids), logits(model, input_ids), atol=0, rtol=0)

    trap = tmp_path / "trap"
    trap.mkdir()
    (trap / "adapter_config.json").write_text((folder / "adapter_config.json").read_text())
    marker = tmp_path / "the-code-ran"
    state = torch.load(folder / "adapter_model.bin", weights_only=True)
    torch.save({**state, "payload": _TouchesAFile(marker)}, trap / "adapter_model.bin")
    other = core.get_peft_model(make_model("llama"), core.LoraConfig(r=2))
    with pytest.raises(AdapterLoadError, match="Nothing in it was run") as info:
        other.load_adapter(trap, "trapped")
    assert str(trap / "adapter_model.bin") in str(info.value)
    assert not marker.exists() and list(other.peft_config) == ["default"]

    monkeypatch.setattr(core.peft_model, "restricted_unpickler_is_safe", lambda: False)
    with pytest.raises(AdapterLoadError, match="allow_pickle=True") as info:
        core.PeftModel.from_pretrained(make_model("llama"), folder)
    assert str(folder / "adapter_model.bin") in str(info.value)
    loaded = core.PeftModel.from_pretrained(make_model("llama"), folder, allow_pickle=True)
    torch.testing.assert_close(logits(loaded, input_ids), logits(model, input_ids), atol=0, rtol=0)


def test_safetensors_is_preferred_over_bin(tmp_path, input_ids):
    model = _saved(tmp_path)
    torch.save({"garbage": torch.zeros(1)}, tmp_path / "adapter_model.bin")
    loaded = core.PeftModel.from_pretrained(make_model("llama"), tmp_path)
    torch.testing.assert_close(logits(loaded, input_ids), logits(model, input_ids), atol=0, rtol=0)


def test_saved_file_layout(tmp_path):
    model = core.get_peft_model(make_model("bloom"), core.LoraConfig(r=4, modules_to_save=["ln_f"], bias="lora_only"))
    model.add_adapter("second", core.LoraConfig(r=2))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "adapter_model.safetensors").is_file() and (tmp_path / "second" / "adapter_config.json").is_file()
    keys = set(load_file(tmp_path / "adapter_model.safetensors"))
    prefix = "base_model.model.transformer."
    assert keys == {f"{prefix}h.{i}.self_attention.query_key_value.{leaf}"
                    for i in (0, 1) for leaf in ("lora_A.weight", "lora_B.weight", "base_layer.bias")} | {
        f"{prefix}ln_f.weight", f"{prefix}ln_f.bias"}
    from safetensors import safe_open
    with safe_open(tmp_path / "adapter_model.safetensors", "pt") as f:
        assert f.metadata() == {"format": "pt"}
    second = load_file(tmp_path / "second" / "adapter_model.safetensors")
    assert {tuple(v.shape) for k, v in second.items() if k.endswith("lora_A.weight")} == {(2, 32)}
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_load_adapter_beside_another_and_switch(tmp_path, input_ids):
    first = _saved(tmp_path / "a", target_modules=["q_proj"])
    second = _saved(tmp_path / "b", target_modules=["v_proj", "embed_tokens"])
    model = core.PeftModel.from_pretrained(make_model("llama"), tmp_path / "a", adapter_name="a")
    model.load_adapter(tmp_path / "b", "b")
    assert model.active_adapter == "a"
    torch.testing.assert_close(logits(model, input_ids), logits(first, input_ids), atol=0, rtol=0)
    model.set_adapter("b")
    torch.testing.assert_close(logits(model, input_ids), logits(second, input_ids), atol=0, rtol=0)
    with pytest.raises(ValueError, match="already exists"):
        model.load_adapter(tmp_path / "b", "b")


def test_seq_cls_task_adds_the_head_to_modules_to_save():
    model = transformers.LlamaForSequenceClassification(transformers.LlamaConfig(
        vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, num_labels=3, pad_token_id=0))
    peft_model = core.get_peft_model(model, core.LoraConfig(r=4, task_type="SEQ_CLS"))
    assert peft_model.peft_config["default"].modules_to_save == ["score"]
    assert any(".score.modules_to_save.default." in n for n, p in peft_model.named_parameters() if p.requires_grad)


@pytest.mark.parametrize("family", FAMILIES)
def test_embedding_target_names(family):
    model = core.get_peft_model(make_model(family), core.LoraConfig(r=4, target_modules=[EMBEDDING[family]]))
    (name,) = _adapted(model)
    assert name.endswith(EMBEDDING[family])
    layer = model.base_model.model.get_submodule(name)
    assert tuple(layer.lora_embedding_A["default"].shape) == (4, 300)
    assert tuple(layer.lora_embedding_B["default"].shape) == (32, 4)
    perturb_adapter(model)


def test_config_file_api_as_peft(tmp_path):
    """PEFT's config-level API: from_json_file (a dict, runtime_config dropped), from_pretrained with subfolder and
    download keywords, the file's peft_version kept, PEFT's sentences for unknown keys, task types and non-configs."""
    peft = pytest.importorskip("peft")
    config = core.LoraConfig(r=4, target_modules=["q_proj"])
    config.save_pretrained(tmp_path, subfolder="sub")
    path = tmp_path / "sub" / "adapter_config.json"
    assert core.LoraConfig.from_json_file(path) == config.to_dict()
    assert peft.LoraConfig.from_json_file(str(path)) == config.to_dict()  # the same JSON as PEFT reads it
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data | {"runtime_config": {"ephemeral_gpu_offload": True}, "peft_version": "0.17.0"}))
    with pytest.warns(UserWarning, match="runtime_config"):
        assert "runtime_config" not in core.LoraConfig.from_json_file(path)
    again = core.LoraConfig.from_pretrained(tmp_path, subfolder="sub", revision="main", cache_dir=str(tmp_path))
    assert again.peft_version == "0.17.0" and again.r == 4  # the version that wrote the file
    assert {k: v for k, v in again.to_dict().items() if k != "peft_version"} == {
        k: v for k, v in config.to_dict().items() if k != "peft_version"}
    with pytest.raises(TypeError, match="unknown keyword argument.*r"):
        core.LoraConfig.from_pretrained(tmp_path / "sub", r=8)  # no overrides (as PEFT); said, not ignored
    with pytest.raises(ConfigError, match="not a IA3Config"):
        core.IA3Config.from_pretrained(tmp_path / "sub")
    path.write_text(json.dumps(data | {"foobar": 1, "spam": 2}))
    with pytest.warns(UserWarning, match=re.escape("Unexpected keyword arguments ['foobar', 'spam'] for class LoraConfig")):
        core.PeftConfig.from_pretrained(tmp_path / "sub")
    path.write_text(json.dumps({"foo": "bar"}))
    with pytest.raises(TypeError, match=re.escape("The LoraConfig config that is trying to be loaded is missing required keys: {'peft_type'}")):
        core.LoraConfig.from_pretrained(tmp_path / "sub")
    with pytest.raises(ValueError, match=re.escape("Invalid task type: 'nope'. Must be one of the following task types")):
        core.LoraConfig(task_type="nope")
    with pytest.raises(ValueError, match="`layers_pattern` cannot be used when `target_modules` is a str"):
        core.LoraConfig(target_modules=".*proj", layers_pattern="layers")
    with pytest.raises(ValueError, match="When `layers_pattern` is specified, `layers_to_transform` must also be specified"):
        core.LoraConfig(target_modules=["q_proj"], layers_pattern="layers")
    with pytest.raises(ValueError, match="The supplied schedule values don't allow for a budgeting phase"):
        core.AdaLoraConfig(target_modules=["q_proj"], total_step=10, tinit=5, tfinal=5)


@pytest.mark.parametrize("cls", [core.LoraConfig, core.IA3Config, core.PromptTuningConfig, core.AdaptionPromptConfig])
def test_peft_type_keyword_is_taken_as_peft_takes_it(cls):
    """PEFT's configs take ``peft_type=`` and keep their own method whatever it says; code written for PEFT passes it.
    Ours: the class's own method is accepted quietly, any other value is dropped with a warning (never silently)."""
    own = cls.peft_type
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cls(peft_type=own.value).peft_type is own and cls(peft_type=own).to_dict()["peft_type"] == own.value
    with pytest.warns(UserWarning, match=f"peft_type='test' is ignored: a {cls.__name__} is always {own.value}"):
        config = cls(peft_type="test")
    assert config.peft_type is own and config.to_dict()["peft_type"] == own.value
    peft = pytest.importorskip("peft")  # the oracle keeps its own method too
    assert getattr(peft, cls.__name__)(peft_type="test").peft_type.value == own.value


@pytest.mark.parametrize("engine", ["core", "peft"])
def test_a_rank_or_alpha_pattern_key_that_matches_no_adapted_module_warns(engine):
    """PEFT warns (RuntimeWarning) about rank_pattern / alpha_pattern keys that match no adapted module (a typo would
    otherwise be ignored silently), naming exactly those keys; matched keys never warn. Same on our engine."""
    lib = pytest.importorskip("peft") if engine == "peft" else core
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lib.get_peft_model(make_model("llama"), lib.LoraConfig(r=4, target_modules=["q_proj"], rank_pattern={"q_proj": 2},
                                                               alpha_pattern={r"layers\.0\.self_attn\.q_proj": 3}))
    assert not [w for w in caught if "did not match any targeted module" in str(w.message)]
    with pytest.warns(RuntimeWarning, match=r"rank_pattern keys did not match any targeted module and were ignored: "
                                            r"\['v_proj'\]"):
        lib.get_peft_model(make_model("llama"), lib.LoraConfig(r=4, target_modules=["q_proj"],
                                                               rank_pattern={"q_proj": 2, "v_proj": 2}))
