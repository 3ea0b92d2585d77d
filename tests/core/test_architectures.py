"""The architectures people bring, proven on tiny random models built from their transformers configs.

For each of llama, qwen2, qwen3, qwen3_moe, mixtral, mistral, gemma2, gemma3_text, phi3, gpt_neox, opt,
falcon, bloom and gpt2 (hidden 32, 2 layers, vocab 300):

- the module tree (`core.tree.render`) is ``print(model)`` line for line;
- the default targets (LoRA's ``all-linear``, and the short per-architecture list used when a config names
  none) are the attention and MLP projections by their real names, never the output head;
- LoRA injects, one AdamW step trains (finite loss, every ``lora_B`` gets a nonzero gradient), the adapter
  saves and reloads on a fresh base with equal logits, and the merged export (verified by `core.export`)
  reloads in plain transformers with equal logits;
- prompt tuning, P-tuning and prefix tuning train a step on every architecture; adaption prompt serves
  llama, mistral, gpt2 and bloom and refuses the others with a message that names the model type and why.

Mixture-of-experts models (qwen3_moe, mixtral): transformers 5 stores each block's experts as fused 3-D
parameters (``experts.gate_up_proj (E, 2·I, H)``, ``experts.down_proj (E, H, I)``), not as Linear layers,
and the router as a parameter of its own module, so ``all-linear`` adapts the attention projections only.
The experts are adapted when named in LoRA's ``target_parameters`` (one low-rank update per expert,
core/methods/_param_lora.py): the train/save/reload/merge/export test below runs on these two with
``all-linear`` plus ``target_parameters=["experts.gate_up_proj", "experts.down_proj"]`` and also checks that
every expert parameter's update got a gradient and that the merged export changed the expert weights.
Naming ``experts`` in ``target_modules`` is refused with the layer's class name and a pointer to
``target_parameters``. Parity with PEFT on the experts: tests/core/test_param_lora.py.

The product's LoRA default for a MoE model (`core.defaults.model_method_defaults`, what ``adapter-studio new``
applies) is ``all-linear`` plus those two ``target_parameters``, so a new qwen3_moe / mixtral project trains
attention and experts; llama's default is unchanged.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import transformers as T

import core
from core.defaults import method_defaults, model_method_defaults, sample_dataset
from core.errors import ConfigError, TargetError
from core.export import export_merged
from core.models import tiny_tokenizer
from core.tree import describe, render

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")]

VOCAB = 300
_SPECIAL = {"vocab_size": VOCAB, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3}
_LLAMAISH = {
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "max_position_embeddings": 64, **_SPECIAL,
}  # fmt: skip

CONFIGS = {
    "llama": lambda: T.LlamaConfig(**_LLAMAISH),
    "qwen2": lambda: T.Qwen2Config(**_LLAMAISH),
    "qwen3": lambda: T.Qwen3Config(head_dim=8, **_LLAMAISH),
    "qwen3_moe": lambda: T.Qwen3MoeConfig(
        head_dim=8, moe_intermediate_size=16, num_experts=4, num_experts_per_tok=2, decoder_sparse_step=1, **_LLAMAISH
    ),
    "mixtral": lambda: T.MixtralConfig(num_local_experts=4, num_experts_per_tok=2, **_LLAMAISH),
    "mistral": lambda: T.MistralConfig(**_LLAMAISH),
    "gemma2": lambda: T.Gemma2Config(head_dim=8, **_LLAMAISH),
    "gemma3_text": lambda: T.Gemma3TextConfig(head_dim=8, sliding_window=16, **_LLAMAISH),
    "phi3": lambda: T.Phi3Config(**_LLAMAISH),
    "gpt_neox": lambda: T.GPTNeoXConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
        **_SPECIAL,
    ),
    "opt": lambda: T.OPTConfig(
        hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=4, word_embed_proj_dim=32,
        max_position_embeddings=64, **_SPECIAL,
    ),
    "falcon": lambda: T.FalconConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, **_SPECIAL),
    "bloom": lambda: T.BloomConfig(hidden_size=32, n_layer=2, n_head=4, **_SPECIAL),
    "gpt2": lambda: T.GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=64, **_SPECIAL),
}
ARCHS = tuple(CONFIGS)

# The attention and MLP projections of one block, by the names each architecture really uses.
PROJECTIONS = {
    **{a: {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
       for a in ("llama", "qwen2", "qwen3", "mistral", "gemma2", "gemma3_text")},
    "qwen3_moe": {"q_proj", "k_proj", "v_proj", "o_proj"},  # experts are fused 3-D parameters (module docstring)
    "mixtral": {"q_proj", "k_proj", "v_proj", "o_proj"},
    "phi3": {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"},  # fused q/k/v and gate/up, as the checkpoints
    "gpt_neox": {"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"},
    "opt": {"q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"},
    "falcon": {"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"},
    "bloom": {"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"},
    "gpt2": {"c_attn", "c_proj", "c_fc"},  # Conv1D layers
}  # fmt: skip
# When a config names no targets: the architecture's attention query/value (or its fused qkv) projection.
SHORT_DEFAULTS = {
    **{a: {"q_proj", "v_proj"} for a in ("llama", "qwen2", "qwen3", "qwen3_moe", "mixtral", "mistral", "gemma2",
                                         "gemma3_text", "opt")},
    "phi3": {"qkv_proj"},
    **{a: {"query_key_value"} for a in ("gpt_neox", "falcon", "bloom")},
    "gpt2": {"c_attn"},
}  # fmt: skip
ADAPTION_PROMPT_SERVES = {"llama", "mistral", "gpt2", "bloom"}
IDS = torch.tensor([[5, 17, 42, 99, 7, 250, 31, 64], [9, 8, 7, 6, 5, 4, 3, 200]])


def make(arch: str, seed: int = 0) -> torch.nn.Module:
    """A tiny random model of ``arch`` in eval mode; same (arch, seed), same weights."""
    torch.manual_seed(seed)
    return T.AutoModelForCausalLM.from_config(CONFIGS[arch]()).eval()


def lora_defaults(**override) -> dict:
    config, _ = method_defaults("LORA")
    return {**{k: v for k, v in config.items() if k not in ("peft_type", "task_type")}, **override}


def suffixes(names) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name in names}


@torch.no_grad()
def logits(model) -> torch.Tensor:
    return model(input_ids=IDS).logits.float()


@pytest.mark.parametrize("arch", ARCHS)
def test_tree_renders_like_print_model(arch):
    model = make(arch)
    assert model.config.model_type == arch
    assert render(describe(model), counts=False) == repr(model)


@pytest.mark.parametrize("arch", ARCHS)
def test_default_targets_are_the_attention_and_mlp_projections(arch):
    peft = core.get_peft_model(make(arch), core.LoraConfig(**lora_defaults()))
    targets = peft.peft_config["default"].target_modules
    assert suffixes(targets) == PROJECTIONS[arch]
    assert not any(t.endswith(("lm_head", "embed_out")) for t in targets)  # never the output head
    per_block = [{t.replace(f".{i}.", ".N.") for t in targets if f".{i}." in t} for i in (0, 1)]
    assert per_block[0] and per_block[0] == per_block[1] and len(targets) == 2 * len(per_block[0])  # every block
    short = core.get_peft_model(make(arch), core.LoraConfig(target_modules=None))
    assert set(short.peft_config["default"].target_modules) == SHORT_DEFAULTS[arch]


MOE_EXPERTS = ["experts.gate_up_proj", "experts.down_proj"]


@pytest.mark.parametrize("arch", ["qwen3_moe", "mixtral"])
def test_moe_experts_in_target_modules_point_to_target_parameters(arch):
    with pytest.raises(TargetError, match=r"experts.*Experts.*gate_up_proj \(4, \d+, 32\).*target_parameters"):
        core.get_peft_model(make(arch), core.LoraConfig(target_modules=["experts"]))


@pytest.mark.parametrize("arch", ["qwen3_moe", "mixtral", "llama"])
def test_lora_defaults_for_a_moe_model_train_the_experts_and_dense_defaults_are_unchanged(arch):
    config, _ = method_defaults("LORA")
    added = model_method_defaults(config, make(arch))
    if arch == "llama":
        assert added == [] and config == method_defaults("LORA")[0]
        return
    assert added == MOE_EXPERTS and config["target_parameters"] == MOE_EXPERTS
    assert config["target_modules"] == "all-linear"  # the modules' default means what it means in PEFT
    torch.manual_seed(1)
    peft = core.get_peft_model(make(arch), core.LoraConfig(**{k: v for k, v in config.items() if k not in ("peft_type", "task_type")}))
    assert suffixes(peft.peft_config["default"].target_modules) == PROJECTIONS[arch]  # attention, as before
    # lora_B starts at zero, so ΔW = s·B·A of every expert is zero until a step moves B: (out, E·r) per parameter.
    expert_b = {n: p for n, p in peft.named_parameters() if ".experts." in n and "lora_B" in n}
    assert len(expert_b) == 2 * 2 and all(p.abs().sum() == 0 for p in expert_b.values())  # 2 blocks x 2 parameters
    peft.train()
    optimizer = torch.optim.AdamW([p for p in peft.parameters() if p.requires_grad], lr=1e-2)
    peft(input_ids=IDS, labels=IDS).loss.backward()
    optimizer.step()
    moved = {n: float(p.abs().sum()) for n, p in expert_b.items()}
    assert all(v > 0 for v in moved.values()), moved


@pytest.mark.parametrize("arch", ["qwen3_moe", "llama"])
def test_new_project_on_a_moe_model_adapts_the_experts_unless_told_otherwise(arch, tmp_path):
    from core.runs import create_project
    from core.store import Project

    CONFIGS[arch]().save_pretrained(tmp_path / "model")  # a config alone: `new` builds a meta skeleton
    data = str(sample_dataset())

    def made(name, **kw):
        path, summary = create_project(tmp_path / name, model=str(tmp_path / "model"), method="lora", dataset=data, **kw)
        with Project.open(path, readonly=True) as project:
            return project.settings().method_config.get("target_parameters"), summary

    chosen, summary = made("default.adapterstudio")
    if arch == "llama":
        assert chosen is None and "experts" not in summary
        return
    assert sorted(chosen) == sorted(MOE_EXPERTS) and "the experts" in summary  # the file keeps them sorted
    assert made("modules.adapterstudio", targets="q_proj,v_proj")[0] is None  # modules a person chose: only those
    assert made("attention.adapterstudio", sets=["target_parameters=[]"])[0] in (None, [])
    with pytest.raises(ConfigError, match=r"lora_dropout.*target_parameters=\[]"):
        made("dropout.adapterstudio", sets=["lora_dropout=0.1"])


# 5-20 s each on a loaded 2-core machine (the export reloads and checks): llama and gpt2 always, the rest marked slow.
@pytest.mark.parametrize(
    "arch", [a if a in ("llama", "gpt2") else pytest.param(a, marks=pytest.mark.slow) for a in ARCHS]
)
def test_lora_trains_a_step_saves_reloads_merges_and_exports(arch, tmp_path):
    torch.manual_seed(1)
    moe = {"target_parameters": MOE_EXPERTS} if arch in ("qwen3_moe", "mixtral") else {}
    peft = core.get_peft_model(make(arch), core.LoraConfig(**lora_defaults(r=4, lora_alpha=8, **moe)))
    peft.train()
    optimizer = torch.optim.AdamW([p for p in peft.parameters() if p.requires_grad], lr=1e-2)
    loss = peft(input_ids=IDS, labels=IDS).loss
    loss.backward()
    assert torch.isfinite(loss)
    grads = {n: p.grad for n, p in peft.named_parameters() if p.requires_grad}
    b_grads = {n: g for n, g in grads.items() if "lora_B" in n}
    assert b_grads and all(g is not None and g.abs().sum() > 0 for g in b_grads.values()), "a lora_B got no gradient"
    frozen = [n for n, p in peft.named_parameters() if not p.requires_grad and p.grad is not None]
    assert not frozen
    if moe:  # every expert parameter of every block has its own update, and each got a gradient
        expert_b = [n for n in b_grads if ".experts." in n]
        assert len(expert_b) == 2 * 2, expert_b  # 2 blocks x (gate_up_proj, down_proj)
        base_experts = make(arch).model.layers[0].mlp.experts.gate_up_proj.detach().clone()
    optimizer.step()
    peft.eval()
    trained = logits(peft)
    assert not torch.allclose(trained, logits(make(arch)), atol=1e-6), "the step changed nothing"

    peft.save_pretrained(tmp_path / "adapter")
    reloaded = core.PeftModel.from_pretrained(make(arch), tmp_path / "adapter")
    torch.testing.assert_close(logits(reloaded), trained, rtol=0, atol=1e-5)

    result = export_merged(peft, tiny_tokenizer(), tmp_path / "merged")
    assert result.kind == "merged" and result.max_abs_diff < 1e-3
    merged = T.AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    torch.testing.assert_close(logits(merged), trained, rtol=0, atol=1e-4)
    if moe:  # the expert updates are in the exported weights
        assert (merged.model.layers[0].mlp.experts.gate_up_proj - base_experts).abs().max() > 1e-4
    torch.testing.assert_close(logits(peft), trained, rtol=0, atol=1e-5)  # the live model after merge + unmerge


PROMPT_CONFIGS = {
    "prompt_tuning": lambda: core.PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4),
    "p_tuning": lambda: core.PromptEncoderConfig(task_type="CAUSAL_LM", num_virtual_tokens=4, encoder_hidden_size=16),
    "prefix_tuning": lambda: core.PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4),
    "adaption_prompt": lambda: core.AdaptionPromptConfig(task_type="CAUSAL_LM", adapter_len=4, adapter_layers=1),
}


@pytest.mark.parametrize("method", PROMPT_CONFIGS)
@pytest.mark.parametrize("arch", ARCHS)
def test_prompt_methods_train_or_say_why_not(arch, method):
    torch.manual_seed(0)
    if method == "adaption_prompt" and arch not in ADAPTION_PROMPT_SERVES:
        with pytest.raises(ConfigError, match=rf"cannot serve a '{arch}' model.*queries"):
            core.get_peft_model(make(arch), PROMPT_CONFIGS[method]())
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft = core.get_peft_model(make(arch), PROMPT_CONFIGS[method]())
    peft.train()
    loss = peft(input_ids=IDS, labels=IDS).loss
    loss.backward()
    assert torch.isfinite(loss)
    trainable = [p for p in peft.parameters() if p.requires_grad]
    assert trainable and any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)
