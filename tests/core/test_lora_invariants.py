"""LoRA invariants on tiny Bloom / Llama (GQA) / GPT-2 (Conv1D) models, over the whole configuration space.

For every config in ``conftest.CASES``:
- at init the output equals the base model's (``init_lora_weights=False`` must change it);
- an optimizer step changes only trainable parameters: every frozen base weight is bitwise unchanged;
- merged equals unmerged, unmerge restores the base weights, merge_and_unload gives a plain model;
- ``disable_adapter()`` computes the base model, also over a merged adapter;
- unload gives back the base weights;
- a save/load round trip is exact (tensors and logits bitwise), also with ``is_trainable=True``.

PiSSA keeps the residual ``W - s·B0A0`` in the base layer (as PEFT does): for it "the base" is the model's base
weights after init, and unload returns the residual, not the original weights.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import core
from core.methods.lora import LoraLayer
from core.modules_to_save import ModulesToSaveWrapper
from tests.core.conftest import CASE_PARAMS, EMBEDDING, base_state, lora_kwargs, logits, make_model, perturb_adapter

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures("single_thread"),
]


def _is_pissa(kwargs: dict) -> bool:
    return str(kwargs.get("init_lora_weights", "")).startswith("pissa")


def _build(family: str, tied: bool, kwargs: dict, seed: int = 0):
    torch.manual_seed(seed)  # pissa_niter draws random numbers: the same model for the same seed
    return core.get_peft_model(make_model(family, tied), core.LoraConfig(**lora_kwargs(kwargs)))


def _is_adapter_param(name: str) -> bool:
    return "lora_" in name or ".modules_to_save." in name


def _base_weights(peft_model) -> dict[str, torch.Tensor]:
    """Copies of the wrapped model's base tensors, keyed as in the plain transformers model."""
    return {k: v.detach().clone() for k, v in _plain_state(peft_model.base_model.model).items()}


def _assert_same(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], atol: float = 0.0) -> None:
    assert actual.keys() == expected.keys()
    for k in expected:
        torch.testing.assert_close(actual[k], expected[k], atol=atol, rtol=0, msg=lambda m, k=k: f"{k}: {m}")


def _plain_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A model's tensors keyed as the plain transformers model (adapter wrappers' infixes removed)."""
    return {k.replace(".base_layer.", ".").replace(".original_module.", "."): v for k, v in model.state_dict().items()
            if not _is_adapter_param(k)}


# ---- at init -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,tied,kwargs", CASE_PARAMS)
def test_output_at_init_equals_base(family, tied, kwargs, input_ids, attention_mask):
    expected = logits(make_model(family, tied), input_ids, attention_mask)
    model = _build(family, tied, kwargs)
    model.eval()  # new adapter layers start in training mode (as PEFT's): LoRA dropout would act on PiSSA's B·A
    actual = logits(model, input_ids, attention_mask)
    if kwargs.get("init_lora_weights") is False:
        assert (actual - expected).abs().max() > 1e-3  # both matrices random: the adapter acts from the start
    else:
        # PiSSA moves the top singular directions from W into B·A: equal up to float rounding
        torch.testing.assert_close(actual, expected, atol=1e-4 if _is_pissa(kwargs) else 0.0, rtol=0)


# ---- training ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,tied,kwargs", CASE_PARAMS)
def test_optimizer_step_changes_only_trainable_parameters(family, tied, kwargs, input_ids):
    model = _build(family, tied, kwargs)
    if kwargs.get("init_lora_weights", True) is not False:
        perturb_adapter(model)  # non-zero B: A gets a gradient too
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(_is_adapter_param(n) or n.endswith(".bias") for n in trainable)

    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    out = model(input_ids=input_ids, labels=input_ids)
    out.loss.backward()
    optimizer.step()

    for name, p in model.named_parameters():
        if name in trainable:
            assert p.grad is not None, name
            assert not torch.equal(p.detach(), before[name]), f"{name} did not change"
        else:
            assert p.grad is None, f"frozen {name} got a gradient"
            assert torch.equal(p.detach(), before[name]), f"frozen {name} changed"


# ---- merge / unmerge / unload ---------------------------------------------------------------------------

def _tied_embedding_target(family: str, tied: bool, kwargs: dict) -> bool:
    targets = kwargs.get("target_modules") or []
    return tied and isinstance(targets, list) and bool({EMBEDDING[family], "lm_head"} & set(targets))


# Merging LoRA into an embedding that is tied to the output head would also change the head, which the
# unmerged adapter does not (it only adds to the looked-up rows). PEFT has that problem and only warns (issue
# #2777); our engine unties the pair before merging, so merged outputs equal the adapter model's.
MERGE_CASES = CASE_PARAMS


@pytest.mark.parametrize("family,tied,kwargs", MERGE_CASES)
def test_merged_equals_unmerged_and_unmerge_restores(family, tied, kwargs, input_ids, attention_mask):
    model = _build(family, tied, kwargs)
    perturb_adapter(model)
    model.eval()
    adapted = logits(model, input_ids, attention_mask)
    weights = _base_weights(model)

    model.merge_adapter()
    merged_weights = _base_weights(model)
    assert any(not torch.equal(merged_weights[k], weights[k]) for k in weights), "merge changed no weight"
    torch.testing.assert_close(logits(model, input_ids, attention_mask), adapted, atol=1e-4, rtol=0)
    model.merge_adapter()  # merging twice is a no-op
    _assert_same(_base_weights(model), merged_weights)

    model.unmerge_adapter()
    _assert_same(_base_weights(model), weights, atol=1e-6)
    torch.testing.assert_close(logits(model, input_ids, attention_mask), adapted, atol=1e-4, rtol=0)

    plain = model.merge_and_unload()
    assert type(plain) is type(make_model(family, tied))
    assert not any(isinstance(m, (LoraLayer, ModulesToSaveWrapper)) for m in plain.modules())
    assert not any("lora_" in n for n, _ in plain.named_parameters())
    torch.testing.assert_close(logits(plain, input_ids, attention_mask), adapted, atol=1e-4, rtol=0)
    if _tied_embedding_target(family, tied, kwargs):
        assert plain.get_output_embeddings().weight is not plain.get_input_embeddings().weight
        assert plain.config.tie_word_embeddings is False
    elif tied and not (kwargs.get("modules_to_save") and EMBEDDING[family] in kwargs["modules_to_save"]):
        assert plain.get_output_embeddings().weight is plain.get_input_embeddings().weight


@pytest.mark.parametrize("family,tied,kwargs", CASE_PARAMS)
def test_unload_returns_the_base_weights(family, tied, kwargs, input_ids):
    original = make_model(family, tied)
    expected_logits = logits(original, input_ids)
    model = _build(family, tied, kwargs)
    at_init = _base_weights(model)
    perturb_adapter(model)
    model.merge_adapter()  # unload must take a merged adapter out again
    plain = model.unload()
    assert not any(isinstance(m, (LoraLayer, ModulesToSaveWrapper)) for m in plain.modules())
    _assert_same(_plain_state(plain), at_init, atol=1e-6)
    if not _is_pissa(kwargs):
        _assert_same(_plain_state(plain), base_state(original), atol=1e-6)
        torch.testing.assert_close(logits(plain, input_ids), expected_logits, atol=1e-5, rtol=0)


# ---- disable_adapter --------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,tied,kwargs", CASE_PARAMS)
def test_disable_adapter_equals_base(family, tied, kwargs, input_ids, attention_mask):
    model = _build(family, tied, kwargs)
    base = make_model(family, tied)
    if _is_pissa(kwargs):  # the base of a PiSSA model is the residual
        base.load_state_dict(_base_weights(model))
    expected = logits(base, input_ids, attention_mask)
    perturb_adapter(model)
    model.eval()
    adapted = logits(model, input_ids, attention_mask)
    assert (adapted - expected).abs().max() > 1e-4

    with model.disable_adapter():
        torch.testing.assert_close(logits(model, input_ids, attention_mask), expected, atol=0, rtol=0)
        with model.disable_adapter():  # nested: still the base, and the outer block still restores
            torch.testing.assert_close(logits(model, input_ids, attention_mask), expected, atol=0, rtol=0)
        torch.testing.assert_close(logits(model, input_ids, attention_mask), expected, atol=0, rtol=0)
    torch.testing.assert_close(logits(model, input_ids, attention_mask), adapted, atol=0, rtol=0)

    model.merge_adapter()
    with model.disable_adapter():  # a merged adapter is taken out of the weights
        torch.testing.assert_close(logits(model, input_ids, attention_mask), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(logits(model, input_ids, attention_mask), adapted, atol=1e-4, rtol=0)


# ---- files --------------------------------------------------------------------------------------------------

def _perturb_trained_biases(model, kwargs: dict) -> None:
    """bias='all'/'lora_only' trains (and saves) base biases: give them new values too."""
    if kwargs.get("bias", "none") == "none":
        return
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad and name.endswith(".bias"):
                p.add_(0.5)


@pytest.mark.parametrize("family,tied,kwargs", CASE_PARAMS)
def test_save_load_round_trip_is_exact(family, tied, kwargs, tmp_path, input_ids, attention_mask):
    model = _build(family, tied, kwargs)
    perturb_adapter(model)
    _perturb_trained_biases(model, kwargs)
    model.eval()
    expected = logits(model, input_ids, attention_mask)
    state = {k: v.detach().clone() for k, v in model.adapter_state_dict().items()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    counts = model.get_nb_trainable_parameters()
    model.save_pretrained(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"adapter_config.json", "adapter_model.safetensors", "README.md"}

    torch.manual_seed(0)  # pissa_niter: the same randomised SVD as at creation
    loaded = core.PeftModel.from_pretrained(make_model(family, tied), tmp_path)
    assert loaded.training is False
    assert not any(p.requires_grad for p in loaded.parameters())
    _assert_same({k: v.detach() for k, v in loaded.adapter_state_dict().items()}, state)
    torch.testing.assert_close(logits(loaded, input_ids, attention_mask), expected, atol=0, rtol=0)

    torch.manual_seed(0)
    resumed = core.PeftModel.from_pretrained(make_model(family, tied), tmp_path, is_trainable=True)
    assert {n for n, p in resumed.named_parameters() if p.requires_grad} == trainable
    assert resumed.get_nb_trainable_parameters() == counts
    resumed.eval()
    torch.testing.assert_close(logits(resumed, input_ids, attention_mask), expected, atol=0, rtol=0)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["inference_mode"] is True and config["peft_type"] == "LORA"


# ---- dropout ---------------------------------------------------------------------------------------------------

DROPOUT_CASES = [p for p in CASE_PARAMS if p.values[2].get("lora_dropout", 0) > 0]


@pytest.mark.parametrize("family,tied,kwargs", DROPOUT_CASES)
def test_dropout_only_in_training_and_only_on_the_adapter_path(family, tied, kwargs, tmp_path, input_ids):
    model = _build(family, tied, kwargs)
    base = make_model(family, tied)
    base.load_state_dict(_base_weights(model))  # (PiSSA: the residual)
    perturb_adapter(model)
    model.eval()
    evaluated = logits(model, input_ids)
    torch.testing.assert_close(logits(model, input_ids), evaluated, atol=0, rtol=0)
    model.save_pretrained(tmp_path)  # the same adapter without dropout computes the same in eval mode
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    config["lora_dropout"] = 0.0
    (tmp_path / "adapter_config.json").write_text(json.dumps(config))
    no_dropout = core.PeftModel.from_pretrained(make_model(family, tied), tmp_path)
    torch.testing.assert_close(logits(no_dropout, input_ids), evaluated, atol=0, rtol=0)

    model.train()
    torch.manual_seed(1)
    first = logits(model, input_ids)
    assert (first - evaluated).abs().max() > 1e-4  # dropout acts in training
    with model.disable_adapter():  # ... and never on the base path
        torch.testing.assert_close(logits(model, input_ids), logits(base, input_ids), atol=0, rtol=0)


def test_each_layer_draws_its_own_dropout_mask_by_default(monkeypatch):
    """PEFT's semantics: q/k/v read the same tensor but each draws its own mask (in training the layers run
    core/methods/_lora_fused.py, which draws with `keep_mask`)."""
    import core.methods._lora_fused as fused

    model = _build("llama", True, dict(r=4, lora_dropout=0.5, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    masks: list[torch.Tensor] = []
    real_mask = fused.keep_mask
    monkeypatch.setattr(fused, "keep_mask", lambda shape, p, device: masks.append(real_mask(shape, p, device)) or masks[-1])
    attention = model.base_model.model.model.layers[0].self_attn
    inputs = []
    for layer in (attention.q_proj, attention.k_proj, attention.v_proj):
        layer.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
    model.train()
    model(input_ids=torch.randint(4, 300, (2, 16)))
    n_layers = len(model.base_model.model.model.layers)
    assert len(masks) == 4 * n_layers  # one mask per adapted layer
    assert inputs[1] is inputs[0] and inputs[2] is inputs[0]  # the same input tensor ...
    q, k, v = masks[:3]
    assert q.shape == k.shape == v.shape and 0.3 < q.float().mean() < 0.7
    assert not torch.equal(q, k) and not torch.equal(q, v)  # ... different masks


def test_layers_reading_the_same_input_share_one_dropout_mask_when_asked(monkeypatch):
    """`share_dropout_masks` (the training argument of that name): q/k/v get the same mask, one draw for them."""
    import core.methods.lora as lora

    model = _build("llama", True, dict(r=4, lora_dropout=0.5, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    shared = lora._shared_dropout
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []  # (input, dropped input) per adapted layer, in call order
    real_call = lora._SharedDropout.__call__

    def recording(self, x, p):
        out = real_call(self, x, p)
        calls.append((x, out))
        return out

    draws: list[int] = []
    real_draw = lora.bernoulli_dropout
    monkeypatch.setattr(lora._SharedDropout, "__call__", recording)
    monkeypatch.setattr(lora, "bernoulli_dropout", lambda x, p: draws.append(1) or real_draw(x, p))
    model.train()
    with lora.share_dropout_masks():
        model(input_ids=torch.randint(4, 300, (2, 16)))
    n_layers = len(model.base_model.model.model.layers)
    assert len(calls) == 4 * n_layers and len(draws) == 2 * n_layers  # one mask for q/k/v, one for o_proj
    (x, q), (_, k), (_, v), (o_in, o) = calls[:4]
    assert k is q and v is q
    dropped = q == 0
    assert 0.3 < dropped.float().mean() < 0.7
    torch.testing.assert_close(q[~dropped], x[~dropped] * 2)  # kept values scaled by 1 / (1 - p)
    assert o.shape[-1] == q.shape[-1] and not torch.equal(o, q) and o_in is not x
    assert not shared.enabled and shared.x is None  # left off and emptied on the way out


# ---- several adapters, generation ----------------------------------------------------------------------------

def test_delete_adapter_after_unmerge_restores_weights_and_other_adapter(input_ids):
    model = _build("llama", True, dict(r=4, target_modules=["q_proj", "v_proj"]))
    model.add_adapter("other", core.LoraConfig(r=2, target_modules=["v_proj", "o_proj"]))
    perturb_adapter(model)
    model.eval()
    base_weights = _base_weights(model)
    model.set_adapter("other")
    other = logits(model, input_ids)
    model.set_adapter("default")
    model.merge_adapter()
    with pytest.raises(ValueError, match="while they are merged"):  # as PEFT: unmerge first, nothing changes
        model.delete_adapter("default")
    assert "default" in model.peft_config
    model.unmerge_adapter()
    model.delete_adapter("default")
    assert model.active_adapter == "other"
    kept = _base_weights(model)
    for k in kept:
        torch.testing.assert_close(kept[k], base_weights[k], atol=1e-6, rtol=0)
    torch.testing.assert_close(logits(model, input_ids), other, atol=1e-5, rtol=0)
    # q_proj lost its only adapter: back to a plain Linear
    assert type(model.base_model.model.model.layers[0].self_attn.q_proj) is nn.Linear


def test_generate_matches_the_merged_model(input_ids):
    model = _build("gpt2", True, dict(r=4, target_modules="all-linear"))
    perturb_adapter(model)
    model.eval()
    kwargs = dict(max_new_tokens=5, do_sample=False, pad_token_id=0)
    generated = model.generate(input_ids=input_ids[:1], **kwargs)
    merged = model.merge_and_unload()
    assert torch.equal(generated, merged.generate(input_ids=input_ids[:1], **kwargs))


BF16_CONFIGS = [
    pytest.param("bloom", dict(r=4, target_modules=["query_key_value", "word_embeddings", "dense_h_to_4h"]), id="bloom-linear-embedding"),
    pytest.param("gpt2", dict(r=4, use_dora=True, lora_dropout=0.1), id="gpt2-dora-conv1d"),
    pytest.param("llama", dict(r=4, init_lora_weights="pissa", target_modules="all-linear"), id="llama-pissa"),
]


@pytest.mark.parametrize("family,kwargs", BF16_CONFIGS)
def test_bf16_base_keeps_fp32_adapters_and_merges_closely(family, kwargs, input_ids, tmp_path):
    """As PEFT (autocast_adapter_dtype): adapter weights stay fp32 on a bf16 base; outputs stay bf16; the update
    is merged in fp32 and cast once (docs/peft-compatibility.md, "Merging in reduced precision")."""
    torch.manual_seed(0)
    base = make_model(family, tied=False).to(torch.bfloat16)  # untied: merging into an embedding leaves the head alone
    model = core.get_peft_model(base, core.LoraConfig(**lora_kwargs(kwargs)))
    assert {p.dtype for n, p in model.named_parameters() if "lora_" in n} == {torch.float32}
    assert {p.dtype for n, p in model.named_parameters() if "lora_" not in n} == {torch.bfloat16}
    perturb_adapter(model, scale=0.05)
    model.train()
    model(input_ids=input_ids, labels=input_ids).loss.backward()  # mixed dtypes: no error, grads on fp32 weights
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters() if p.requires_grad)
    model.eval()
    weights = _base_weights(model)
    adapted = logits(model, input_ids)
    assert adapted.dtype == torch.bfloat16
    model.merge_adapter()
    torch.testing.assert_close(logits(model, input_ids).float(), adapted.float(), atol=0.15, rtol=0.02)
    model.unmerge_adapter()
    for k, v in _base_weights(model).items():  # at most a bf16 rounding step away
        torch.testing.assert_close(v.float(), weights[k].float(), atol=2e-2, rtol=1e-2)
    model.save_pretrained(tmp_path)
    assert {v.dtype for v in load_file(tmp_path / "adapter_model.safetensors").values()} == {torch.float32}
