"""Differential tests: our LoRA engine against peft 0.21.2 (the test-only oracle) on the same tiny models.

For every config of the shared configuration space (``conftest.CASES``):
- the same trainable/all parameter counts, the same trainable parameter names, the same adapted modules and
  the same ``print_trainable_parameters`` line;
- files: the same tensor keys and shapes, the same adapter_config.json values that matter;
- logits: our file loaded in peft gives our logits, peft's file loaded by us gives peft's logits; merged too.

Deliberate differences (documented in core and tested in the invariant / config tests instead):
- peft also saves the full embedding weight when ``embed_tokens``/``lm_head`` is a target
  (``save_embedding_layers="auto"``), and with ``bias="all"`` the biases inside modules_to_save wrappers a second
  time under their in-memory names; we do not write these, but we load them;
- biases trained by ``bias="all"/"lora_only"`` follow the *active* adapter with us; peft leaves them
  trainable after switching to an adapter with ``bias="none"``;
- an adapter added with ``load_adapter(is_trainable=True)`` stays frozen until it is made active, and an adapter
  loaded for inference stays frozen when made active (peft unfreezes it on ``set_adapter``).
"""

from __future__ import annotations

import json
import re
import warnings

import pytest
import torch
import transformers
from safetensors.torch import load_file

import core
from tests.core.conftest import CASE_PARAMS, EMBEDDING, lora_kwargs, logits, make_model, perturb_adapter

peft = pytest.importorskip("peft")

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures("single_thread"),
]

ATOL = 1e-5
# adapter_config.json fields whose values must agree (lists compared as sets: both engines keep name sets)
CONFIG_FIELDS = (
    "peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "bias", "fan_in_fan_out", "use_rslora", "use_dora",
    "init_lora_weights", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern",
    "base_model_name_or_path", "revision", "inference_mode", "target_modules", "exclude_modules", "modules_to_save",
)
# What peft adds under save_embedding_layers="auto" (docs/peft-compatibility.md) when embed_tokens or lm_head is a target:
# the base weight of each adapted input/output embedding. We do not write these (but load them).
PEFT_EMBEDDING_KEYS = tuple(f"{name}.base_layer.weight" for name in ("lm_head", *EMBEDDING.values()))


def _pair(family: str, tied: bool, kwargs: dict, seed: int = 0):
    torch.manual_seed(seed)
    ours = core.get_peft_model(make_model(family, tied), core.LoraConfig(**lora_kwargs(kwargs)))
    torch.manual_seed(seed)
    theirs = peft.get_peft_model(make_model(family, tied), peft.LoraConfig(**lora_kwargs(kwargs)))
    return ours, theirs


def _trainable(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def _adapted(model) -> dict[str, tuple[int, ...]]:
    """Qualified module name -> shape of its A matrix, for every LoRA-adapted module (either engine)."""
    out = {}
    for name, p in model.named_parameters():
        for marker in (".lora_A.", ".lora_embedding_A."):
            if marker in name:
                out[name.split(marker)[0] + "|" + name.split(marker)[1].split(".")[0]] = tuple(p.shape)
    return out


def _normalised(value):
    if isinstance(value, list):
        return sorted(value, key=str)
    return value


@pytest.mark.parametrize("family,tied,kwargs", CASE_PARAMS)
def test_counts_trainable_names_and_targets_match_peft(family, tied, kwargs, capsys):
    ours, theirs = _pair(family, tied, kwargs)
    assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()
    assert _trainable(ours) == _trainable(theirs)
    assert _adapted(ours) == _adapted(theirs)  # same modules, same (per-module) ranks
    ours.print_trainable_parameters()
    mine = capsys.readouterr().out
    theirs.print_trainable_parameters()
    assert mine == capsys.readouterr().out


@pytest.mark.parametrize("family,tied,kwargs", CASE_PARAMS)
def test_files_and_logits_match_peft_both_ways(family, tied, kwargs, tmp_path, input_ids, attention_mask):
    ours, theirs = _pair(family, tied, kwargs)
    perturb_adapter(ours, seed=1)
    perturb_adapter(theirs, seed=2)
    ours.eval()
    theirs.eval()
    ours_dir, peft_dir = tmp_path / "ours", tmp_path / "peft"
    ours.save_pretrained(ours_dir)
    theirs.save_pretrained(peft_dir)

    # the same keys (but peft's extra embedding copies) and shapes
    mine, their = load_file(ours_dir / "adapter_model.safetensors"), load_file(peft_dir / "adapter_model.safetensors")
    assert set(mine) <= set(their)
    extra = {k for k in set(their) - set(mine) if not k.endswith(PEFT_EMBEDDING_KEYS)}
    if kwargs.get("bias") == "all":  # peft's bias="all" also writes the biases inside modules_to_save wrappers
        extra = {k for k in extra if not re.search(r"\.(modules_to_save|original_module)\.bias$", k)}
    assert not extra, sorted(extra)
    assert {k: tuple(v.shape) for k, v in mine.items()} == {k: tuple(their[k].shape) for k in mine}
    assert all(v.dtype == their[k].dtype for k, v in mine.items())

    # the same config values
    my_cfg = json.loads((ours_dir / "adapter_config.json").read_text())
    their_cfg = json.loads((peft_dir / "adapter_config.json").read_text())
    for name in CONFIG_FIELDS:
        assert _normalised(my_cfg.get(name)) == _normalised(their_cfg.get(name)), name

    # ours -> peft
    my_logits = logits(ours, input_ids, attention_mask)
    torch.manual_seed(0)  # pissa_niter re-runs its randomised SVD on load: same draws as at creation
    in_peft = peft.PeftModel.from_pretrained(make_model(family, tied), ours_dir).eval()
    torch.testing.assert_close(logits(in_peft, input_ids, attention_mask), my_logits, atol=ATOL, rtol=0)

    # peft -> ours
    their_logits = logits(theirs, input_ids, attention_mask)
    torch.manual_seed(0)
    in_ours = core.PeftModel.from_pretrained(make_model(family, tied), peft_dir)
    torch.testing.assert_close(logits(in_ours, input_ids, attention_mask), their_logits, atol=ATOL, rtol=0)

    # both merge the same file into the same weights
    torch.manual_seed(0)
    peft_again = peft.PeftModel.from_pretrained(make_model(family, tied), peft_dir)
    merged_theirs = peft_again.merge_and_unload().eval()
    merged_ours = in_ours.merge_and_unload().eval()
    targets = kwargs.get("target_modules") or []
    if tied and isinstance(targets, list) and {EMBEDDING[family], "lm_head"} & set(targets):
        # PEFT merges into the shared embedding/head tensor and so changes the other module too; we untie
        # first, so our merged model equals the adapter model and PEFT's does not.
        torch.testing.assert_close(logits(merged_ours, input_ids, attention_mask), their_logits, atol=1e-4, rtol=0)
    else:
        torch.testing.assert_close(logits(merged_ours, input_ids), logits(merged_theirs, input_ids), atol=1e-4, rtol=0)


# ---- several adapters: which parameters train ------------------------------------------------------

MULTI = [
    pytest.param("llama", dict(r=4), dict(r=2, target_modules=["k_proj", "o_proj"], modules_to_save=["norm"]), id="llama"),
    pytest.param("gpt2", dict(r=4, modules_to_save=["ln_f"]), dict(r=2, modules_to_save=["ln_f"], use_dora=True), id="gpt2-both-save"),
    pytest.param("bloom", dict(r=4, modules_to_save=["ln_f"]), dict(r=8, target_modules=["word_embeddings", "dense"]), id="bloom-one-save"),
]


@pytest.mark.parametrize("family,first,second", MULTI)
def test_multi_adapter_trainable_sets_match_peft(family, first, second, input_ids):
    ours = core.get_peft_model(make_model(family), core.LoraConfig(**lora_kwargs(first)))
    theirs = peft.get_peft_model(make_model(family), peft.LoraConfig(**lora_kwargs(first)))

    def check(step):
        assert _trainable(ours) == _trainable(theirs), step
        assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters(), step
        assert ours.active_adapter == theirs.active_adapter, step
        assert _adapted(ours) == _adapted(theirs), step

    check("get_peft_model")
    ours.add_adapter("second", core.LoraConfig(**lora_kwargs(second)))
    theirs.add_adapter("second", peft.LoraConfig(**lora_kwargs(second)))
    check("add_adapter: the new adapter is inactive and frozen")
    ours.set_adapter("second")
    theirs.set_adapter("second")
    check("set_adapter(second)")
    ours.set_adapter("default")
    theirs.set_adapter("default")
    check("set_adapter(default)")
    ours.set_adapter("second")
    theirs.set_adapter("second")
    ours.delete_adapter("default")
    theirs.delete_adapter("default")
    check("delete_adapter(default)")
    assert list(ours.peft_config) == list(theirs.peft_config) == ["second"]


@pytest.mark.parametrize("family,first,second", MULTI)
def test_multi_adapter_outputs_match_peft(family, first, second, tmp_path, input_ids):
    """Two adapters from files: switching the active one gives peft's logits for each."""
    torch.manual_seed(0)
    src = core.get_peft_model(make_model(family), core.LoraConfig(**lora_kwargs(first)))
    src.add_adapter("second", core.LoraConfig(**lora_kwargs(second)))
    perturb_adapter(src, seed=3)
    src.save_pretrained(tmp_path)  # default in tmp_path, second in tmp_path/second
    ours = core.PeftModel.from_pretrained(make_model(family), tmp_path)
    ours.load_adapter(tmp_path / "second", "second")
    theirs = peft.PeftModel.from_pretrained(make_model(family), tmp_path)
    theirs.load_adapter(tmp_path / "second", "second")
    for name in ("second", "default"):
        ours.set_adapter(name)
        theirs.set_adapter(name)
        torch.testing.assert_close(logits(ours, input_ids), logits(theirs, input_ids), atol=ATOL, rtol=0)
    with ours.disable_adapter(), theirs.disable_adapter():
        torch.testing.assert_close(logits(ours, input_ids), logits(theirs, input_ids), atol=0, rtol=0)


@pytest.mark.parametrize("is_trainable", [False, True])
def test_from_pretrained_trainability_matches_peft(is_trainable, tmp_path):
    src = peft.get_peft_model(make_model("llama"), peft.LoraConfig(r=4, init_lora_weights=False, modules_to_save=["norm"]))
    src.save_pretrained(tmp_path)
    ours = core.PeftModel.from_pretrained(make_model("llama"), tmp_path, is_trainable=is_trainable)
    theirs = peft.PeftModel.from_pretrained(make_model("llama"), tmp_path, is_trainable=is_trainable)
    assert _trainable(ours) == _trainable(theirs)
    assert bool(_trainable(ours)) is is_trainable
    assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()
    assert ours.training == theirs.training


def test_load_adapter_is_frozen_until_active_unlike_peft(tmp_path):
    """Deliberate difference: peft unfreezes an inactive adapter loaded with is_trainable=True; we keep only the
    active adapter trainable, and one loaded for inference stays frozen when activated."""
    src = core.get_peft_model(make_model("llama"), core.LoraConfig(r=4, init_lora_weights=False))
    src.save_pretrained(tmp_path)
    ours = core.get_peft_model(make_model("llama"), core.LoraConfig(r=2))
    active = _trainable(ours)
    ours.load_adapter(tmp_path, "loaded", is_trainable=True)
    assert _trainable(ours) == active
    ours.set_adapter("loaded")
    assert _trainable(ours) and all(".loaded." in n for n in _trainable(ours))
    ours.load_adapter(tmp_path, "frozen", is_trainable=False)
    ours.set_adapter("frozen")
    assert _trainable(ours) == set()


def test_bias_follows_the_active_adapter(tmp_path):
    """Deliberate difference: bias='all' biases train only while that adapter is active (peft leaves them on)."""
    ours = core.get_peft_model(make_model("bloom"), core.LoraConfig(r=4, bias="all"))
    biases = {n for n in _trainable(ours) if n.endswith(".bias")}
    assert biases and len(biases) == sum(1 for n, _ in ours.named_parameters() if n.endswith(".bias"))
    ours.add_adapter("plain", core.LoraConfig(r=4))
    ours.set_adapter("plain")
    assert not {n for n in _trainable(ours) if n.endswith(".bias")}
    ours.set_adapter("default")
    assert {n for n in _trainable(ours) if n.endswith(".bias")} == biases


@pytest.mark.parametrize("safe", [True, False])
def test_peft_bin_and_minimal_config_load(safe, tmp_path, input_ids):
    """A peft adapter written as pickled .bin (with allow_pickle) and a hand-written minimal config both load."""
    theirs = peft.get_peft_model(make_model("bloom"), peft.LoraConfig(r=4, init_lora_weights=False))
    theirs.eval()
    theirs.save_pretrained(tmp_path, safe_serialization=safe)
    if not safe:
        (tmp_path / "adapter_config.json").write_text(json.dumps(
            {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["query_key_value"], "task_type": "CAUSAL_LM"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = core.PeftModel.from_pretrained(make_model("bloom"), tmp_path, allow_pickle=not safe)
    torch.testing.assert_close(logits(ours, input_ids), logits(theirs, input_ids), atol=ATOL, rtol=0)


@pytest.mark.parametrize("family,kwargs", [
    pytest.param("bloom", dict(r=4, target_modules=["query_key_value", "word_embeddings"]), id="bloom"),
    pytest.param("gpt2", dict(r=4, use_dora=True), id="gpt2-dora"),
])
def test_bf16_base_matches_peft(family, kwargs, tmp_path, input_ids):
    """On a bf16 base both engines keep fp32 adapters, write fp32 files, and agree up to bf16 rounding."""
    ours, theirs = (lib.get_peft_model(make_model(family).to(torch.bfloat16), lib.LoraConfig(**lora_kwargs(kwargs)))
                    for lib in (core, peft))
    assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()
    assert ({n: p.dtype for n, p in ours.named_parameters()} == {n: p.dtype for n, p in theirs.named_parameters()})
    perturb_adapter(theirs, scale=0.05)
    theirs.eval()
    theirs.save_pretrained(tmp_path)
    loaded = core.PeftModel.from_pretrained(make_model(family).to(torch.bfloat16), tmp_path)
    torch.testing.assert_close(logits(loaded, input_ids).float(), logits(theirs, input_ids).float(), atol=0.1, rtol=0.02)


def _seq_cls_model(family: str):
    torch.manual_seed(0)
    common = dict(vocab_size=300, num_labels=3, pad_token_id=0)
    if family == "llama":
        return transformers.LlamaForSequenceClassification(transformers.LlamaConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, **common)).eval()
    if family == "gpt2":
        return transformers.GPT2ForSequenceClassification(transformers.GPT2Config(
            n_embd=32, n_layer=2, n_head=4, n_positions=64, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **common)).eval()
    return transformers.BloomForSequenceClassification(transformers.BloomConfig(hidden_size=32, n_layer=2, n_head=4, **common)).eval()


@pytest.mark.parametrize("family", ["bloom", "llama", "gpt2"])
def test_seq_cls_matches_peft_both_ways(family, tmp_path, input_ids):
    """task_type=SEQ_CLS: the head (score) is trained and saved; peft's config lists 'classifier' too."""
    ours = core.get_peft_model(_seq_cls_model(family), core.LoraConfig(r=4, task_type="SEQ_CLS"))
    theirs = peft.get_peft_model(_seq_cls_model(family), peft.LoraConfig(r=4, task_type="SEQ_CLS"))
    assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()
    assert _trainable(ours) == _trainable(theirs)
    for model, seed, folder in ((ours, 1, tmp_path / "ours"), (theirs, 2, tmp_path / "peft")):
        perturb_adapter(model, seed=seed)
        model.eval()
        model.save_pretrained(folder)
    assert set(load_file(tmp_path / "ours" / "adapter_model.safetensors")) == set(load_file(tmp_path / "peft" / "adapter_model.safetensors"))
    in_ours = core.PeftModel.from_pretrained(_seq_cls_model(family), tmp_path / "peft")
    torch.testing.assert_close(in_ours(input_ids=input_ids).logits, theirs(input_ids=input_ids).logits, atol=ATOL, rtol=0)
    in_peft = peft.PeftModel.from_pretrained(_seq_cls_model(family), tmp_path / "ours")
    torch.testing.assert_close(in_peft(input_ids=input_ids).logits, ours(input_ids=input_ids).logits, atol=ATOL, rtol=0)
