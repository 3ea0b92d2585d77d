"""AdaLoRA: invariants, the rank allocator (schedule, training, step-by-step parity with peft), files and figures.

Invariants per config: output equals the base at init (E = 0); an optimizer step changes only A, E, B
(``ranknum`` is frozen); merged equals unmerged, unmerge restores; disabled equals base; save/load exact.
The allocator is checked against PEFT's own ``update_and_allocate`` fed with identical weights and gradients.
"""

from __future__ import annotations

import copy
import json
import warnings

import pytest
import torch

import core
from core.config import ConfigError
from core.methods.adalora import RankAllocator, SVDLayer
from core.models import skeleton
from tests.core.conftest import logits, make_model, peft_available

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures("single_thread"),
]
needs_peft = pytest.mark.skipif(not peft_available(), reason="peft (the test oracle) is not installed")

CASES = [
    pytest.param("bloom", True, dict(task_type="CAUSAL_LM", total_step=20), id="bloom-defaults"),
    pytest.param("llama", True, dict(total_step=20, init_r=4, target_r=2, lora_alpha=16), id="llama-defaults"),
    pytest.param("gpt2", True, dict(total_step=20, task_type="CAUSAL_LM"), id="gpt2-defaults-conv1d"),
    pytest.param("llama", False, dict(total_step=20, target_modules="all-linear", lora_dropout=0.1, init_r=6, target_r=3,
                                      modules_to_save=["lm_head"]), id="llama-all-linear-dropout-save-untied"),
    pytest.param("bloom", True, dict(total_step=20, target_modules=["dense_h_to_4h", "dense_4h_to_h"], bias="all"),
                 id="bloom-mlp-bias-all"),
]
# A run on a tiny model: 8 modules, budget 32 -> 16, masks every 2 steps, fixed from step 18.
TRAIN = dict(target_modules=["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"], init_r=4, target_r=2,
             tinit=4, tfinal=6, deltaT=2, total_step=24, lora_alpha=8, task_type="CAUSAL_LM")


def _build(family, tied, kwargs):
    return core.get_peft_model(make_model(family, tied), core.AdaLoraConfig(**copy.deepcopy(kwargs)))


def _perturb(model, seed=7):
    """Random A, E, B (any engine) so the adapter changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if any(part in name for part in ("lora_A", "lora_E", "lora_B")):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def _base_weights(model):
    return {k.replace(".base_layer.", ".").replace(".original_module.", "."): v.detach().clone()
            for k, v in model.base_model.model.state_dict().items()
            if "lora_" not in k and "ranknum" not in k and ".modules_to_save." not in k}


@pytest.mark.parametrize("family,tied,kwargs", CASES)
def test_invariants(family, tied, kwargs, input_ids, attention_mask, tmp_path):
    base = logits(make_model(family, tied), input_ids, attention_mask)
    model = _build(family, tied, kwargs)
    torch.testing.assert_close(logits(model, input_ids, attention_mask), base, atol=0, rtol=0)  # E = 0

    weights = _base_weights(model)
    ranknums = {n: p.detach().clone() for n, p in model.named_parameters() if "ranknum" in n}
    assert ranknums and all(float(v) == model.peft_config["default"].init_r for v in ranknums.values())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all(any(s in n for s in ("lora_A", "lora_E", "lora_B", ".modules_to_save.")) or n.endswith(".bias") for n in trainable)
    _perturb(model)  # non-zero E: A and B get gradients too
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(input_ids=input_ids, labels=input_ids).loss.backward()
    opt.step()
    model.eval()
    for n, p in model.named_parameters():
        if "lora_" in n:
            assert p.grad is not None and p.requires_grad, n
    for k, v in _base_weights(model).items():
        if not (kwargs.get("bias") == "all" and k.endswith(".bias")):
            assert torch.equal(v, weights[k]), f"frozen {k} changed"
    for n, v in ranknums.items():
        assert torch.equal(dict(model.named_parameters())[n], v)

    adapted = logits(model, input_ids, attention_mask)
    weights = _base_weights(model)
    with model.disable_adapter():
        disabled = logits(model, input_ids, attention_mask)
    model.merge_adapter()
    torch.testing.assert_close(logits(model, input_ids, attention_mask), adapted, atol=1e-5, rtol=1e-5)
    with model.disable_adapter():
        torch.testing.assert_close(logits(model, input_ids, attention_mask), disabled, atol=1e-5, rtol=1e-5)
    for k, v in _base_weights(model).items():
        torch.testing.assert_close(v, weights[k], atol=1e-6, rtol=1e-6)
    if kwargs.get("bias") != "all" and not kwargs.get("modules_to_save"):
        torch.testing.assert_close(disabled, base, atol=0, rtol=0)

    model.save_pretrained(tmp_path)
    again = core.PeftModel.from_pretrained(make_model(family, tied), tmp_path)
    saved = model.adapter_state_dict()
    assert again.adapter_state_dict().keys() == saved.keys() and not any("ranknum" in k for k in saved)
    for k, v in saved.items():
        assert torch.equal(again.adapter_state_dict()[k], v), k
    torch.testing.assert_close(logits(again, input_ids, attention_mask), adapted, atol=0, rtol=0)
    plain = model.merge_and_unload()
    assert not any(isinstance(m, SVDLayer) for m in plain.modules())
    torch.testing.assert_close(logits(plain, input_ids, attention_mask), adapted, atol=1e-5, rtol=1e-5)


def test_orthogonality_penalty_is_added_to_the_training_loss(input_ids):
    model = _build("llama", True, dict(total_step=10, orth_reg_weight=0.3))
    with torch.no_grad():
        plain = model.base_model(input_ids=input_ids, labels=input_ids).loss
        total = model(input_ids=input_ids, labels=input_ids).loss
        A = model.base_model.model.model.layers[0].self_attn.q_proj.lora_A["default"]  # (12, 32)
        expected_first = torch.linalg.matrix_norm(A @ A.T - torch.eye(12))
    penalty = model.orthogonality_penalty()
    assert penalty > 0 and abs(float(total - plain - 0.3 * penalty)) < 1e-5
    assert float(expected_first) > 0


def test_budget_schedule_matches_peft_trace():
    """docs/peft-compatibility.md, "AdaLoRA's rank schedule": 2 modules, init_r 12, target_r 4, tinit 2, tfinal 3, deltaT 2, T 12."""
    config = core.AdaLoraConfig(init_r=12, target_r=4, tinit=2, tfinal=3, deltaT=2, total_step=12)
    allocator = RankAllocator.__new__(RankAllocator)
    allocator.config, allocator.init_bgt, allocator.target_bgt = config, 24, 8
    schedule = [allocator.budget_schedule(t) for t in range(13)]
    assert [b for b, _ in schedule[:11]] == [24, 24, 24, 18, 13, 10, 9, 8, 8, 8, 8]
    assert [t for t, (_, m) in enumerate(schedule) if m] == [4, 6, 8, 10, 11, 12]


def _train(model, input_ids, steps):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    model.train()
    losses = []
    for step in range(steps):
        loss = model(input_ids=input_ids, labels=input_ids).loss
        loss.backward()
        opt.step()
        model.update_and_allocate(step)
        opt.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


def test_training_reaches_the_target_budget(input_ids, attention_mask, tmp_path):
    model = _build("bloom", True, TRAIN)
    n = len(model.rank_pattern())
    assert n == 8 and set(model.rank_pattern().values()) == {4}
    losses = _train(model, input_ids, TRAIN["total_step"])
    assert losses[-1] < losses[0] - 0.1

    ranks = model.rank_pattern()
    assert sum(ranks.values()) == TRAIN["target_r"] * n
    assert len(set(ranks.values())) > 1, ranks  # the budget went where the importance was
    config = model.peft_config["default"]
    for path, layer in model.base_model.adapter_layers():
        E = layer.lora_E["default"]
        assert int((E != 0).sum()) <= ranks[path]  # pruned singular values are exactly zero
        assert config.rank_pattern[f"{path}.lora_E"] == (layer.saved_mask("default")).tolist()
    history = model.allocation_history()
    assert [e.step for e in history] == [6, 8, 10, 12, 14, 16, 18]  # masks every deltaT=2 after tinit, final at 18
    assert history[-1].final and history[-1].ranks == ranks and history[-1].budget == 16
    assert [e.budget for e in history] == sorted((e.budget for e in history), reverse=True)

    expected = logits(model, input_ids, attention_mask)
    model.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "adapter_config.json").read_text())
    assert set(data["rank_pattern"]) == {f"{p}.lora_E" for p in ranks}
    assert all(len(v) == 4 for v in data["rank_pattern"].values())
    from safetensors.torch import load_file

    state = load_file(tmp_path / "adapter_model.safetensors")
    for path, r in ranks.items():
        assert state[f"base_model.model.{path}.lora_A"].shape[0] == r
        assert state[f"base_model.model.{path}.lora_E"].shape == (r, 1)
        assert state[f"base_model.model.{path}.lora_B"].shape[1] == r
    again = core.PeftModel.from_pretrained(make_model("bloom"), tmp_path)
    assert again.rank_pattern() == ranks
    assert all(float(p) == 4 for n_, p in again.named_parameters() if "ranknum" in n_)  # ranknum stays init_r
    torch.testing.assert_close(logits(again, input_ids, attention_mask), expected, atol=1e-5, rtol=1e-5)

    if peft_available():
        import peft

        theirs = peft.PeftModel.from_pretrained(make_model("bloom"), tmp_path)
        torch.testing.assert_close(logits(theirs, input_ids, attention_mask), expected, atol=1e-5, rtol=1e-5)
        theirs.save_pretrained(tmp_path / "theirs")  # and PEFT's re-save of the pruned adapter loads in ours
        mine = core.PeftModel.from_pretrained(make_model("bloom"), tmp_path / "theirs")
        torch.testing.assert_close(logits(mine, input_ids, attention_mask), expected, atol=1e-5, rtol=1e-5)


def test_rank_zero_module_loads(input_ids, tmp_path):
    model = _build("llama", True, dict(total_step=10, init_r=3, target_r=1))
    _perturb(model)
    paths = list(model.rank_pattern())
    config = model.peft_config["default"]
    config.rank_pattern = {f"{p}.lora_E": [i == 0, False, i == 0] for i, p in enumerate(paths)}
    for path, layer in model.base_model.adapter_layers():  # apply the pattern as the allocator would
        keep = torch.tensor(config.rank_pattern[f"{path}.lora_E"])
        layer.lora_E["default"].data[~keep] = 0
    expected = logits(model, input_ids)
    model.save_pretrained(tmp_path)
    again = core.PeftModel.from_pretrained(make_model("llama"), tmp_path)
    assert list(again.rank_pattern().values()) == [2] + [0] * (len(paths) - 1)
    torch.testing.assert_close(logits(again, input_ids), expected, atol=1e-6, rtol=1e-6)
    if peft_available():
        import peft

        theirs = peft.PeftModel.from_pretrained(make_model("llama"), tmp_path)
        torch.testing.assert_close(logits(theirs, input_ids), expected, atol=1e-6, rtol=1e-6)


def test_call_contract_errors(input_ids, tmp_path):
    model = _build("llama", True, dict(total_step=10))
    with pytest.raises(RuntimeError, match="after loss.backward"):
        model.update_and_allocate(0)
    with pytest.raises(ValueError, match="0-based optimizer-step"):
        model.update_and_allocate(-1)
    model.save_pretrained(tmp_path)
    frozen = core.PeftModel.from_pretrained(make_model("llama"), tmp_path)
    with pytest.raises(RuntimeError, match="is_trainable=True"):
        frozen.update_and_allocate(0)


def test_config_errors():
    with pytest.raises(ConfigError, match="total_step is required"):
        core.AdaLoraConfig()
    with pytest.raises(ConfigError, match="larger than tinit \\+ tfinal"):
        core.AdaLoraConfig(total_step=10, tinit=5, tfinal=5)
    with pytest.raises(ConfigError, match="target_r \\(16\\) cannot exceed init_r \\(12\\)"):
        core.AdaLoraConfig(total_step=10, target_r=16)
    with pytest.raises(ConfigError, match="beta1"):
        core.AdaLoraConfig(total_step=10, beta1=1.0)
    with pytest.raises(ConfigError, match="`orth_reg_weight` should be greater than or equal to 0, but the value passed is"):
        core.AdaLoraConfig(total_step=10, orth_reg_weight=-1)
    with pytest.raises(ConfigError, match="deltaT"):
        core.AdaLoraConfig(total_step=10, deltaT=0)
    with pytest.raises(ConfigError, match="use_dora"):
        core.AdaLoraConfig.from_dict({"peft_type": "ADALORA", "total_step": 10, "use_dora": True})
    # PEFT's own file fields that AdaLoRA ignores load silently
    cfg = core.AdaLoraConfig.from_dict({"peft_type": "ADALORA", "total_step": 10, "use_rslora": False, "alpha_pattern": {}})
    assert cfg.total_step == 10


@pytest.mark.parametrize("ref,line", [
    ("bloomz-560m", "trainable params: 1,179,936 || all params: 560,394,552 || trainable%: 0.2106"),
    ("smollm2-135m-instruct", "trainable params: 691,920 || all params: 135,206,988 || trainable%: 0.5117"),
])
def test_print_trainable_parameters_matches_peft(ref, line, capsys):
    """The meta-device skeleton prints PEFT's CPU figure (ranknum counted once per module in "all")."""
    core.get_peft_model(skeleton(ref), core.AdaLoraConfig(task_type="CAUSAL_LM", total_step=1000)).print_trainable_parameters()
    assert capsys.readouterr().out.strip() == line


# ---- parity with peft ---------------------------------------------------------------------------------

def _peft_model(family, tied, kwargs):
    import peft

    return peft.get_peft_model(make_model(family, tied), peft.AdaLoraConfig(**copy.deepcopy(kwargs)))


def _adapter_params(model):
    return {n: p for n, p in model.named_parameters() if "lora_" in n}


@needs_peft
@pytest.mark.parametrize("family,tied,kwargs", CASES)
def test_parity_with_peft(family, tied, kwargs, input_ids, attention_mask, tmp_path):
    import peft

    ours, theirs = _build(family, tied, kwargs), _peft_model(family, tied, kwargs)
    assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()
    shapes = {n: tuple(p.shape) for n, p in ours.named_parameters() if "lora_" in n or "ranknum" in n}
    assert shapes == {n: tuple(p.shape) for n, p in theirs.named_parameters() if "lora_" in n or "ranknum" in n}
    _perturb(ours)
    _perturb(theirs)  # same names, same draws
    ours.eval(), theirs.eval()
    loss_ours = ours(input_ids=input_ids, labels=input_ids).loss  # with the penalty (eval mode: no dropout)
    loss_theirs = theirs(input_ids=input_ids, labels=input_ids).loss
    if kwargs.get("task_type") != "CAUSAL_LM":
        # PEFT's plain PeftModel (no task_type) calls the transformers model directly and so never adds the
        # penalty; ours adds it for every task type. Compare the rest.
        loss_theirs = loss_theirs + kwargs.get("orth_reg_weight", 0.5) * ours.orthogonality_penalty()
    torch.testing.assert_close(loss_ours, loss_theirs, atol=1e-5, rtol=1e-6)
    expected = logits(ours, input_ids, attention_mask)
    torch.testing.assert_close(logits(theirs, input_ids, attention_mask), expected, atol=1e-6, rtol=1e-6)

    ours.save_pretrained(tmp_path / "ours")
    loaded = peft.PeftModel.from_pretrained(make_model(family, tied), tmp_path / "ours")
    torch.testing.assert_close(logits(loaded, input_ids, attention_mask), expected, atol=1e-6, rtol=1e-6)
    theirs.save_pretrained(tmp_path / "theirs")
    mine = core.PeftModel.from_pretrained(make_model(family, tied), tmp_path / "theirs")
    torch.testing.assert_close(logits(mine, input_ids, attention_mask), expected, atol=1e-6, rtol=1e-6)
    from safetensors.torch import load_file

    a, b = load_file(tmp_path / "ours" / "adapter_model.safetensors"), load_file(tmp_path / "theirs" / "adapter_model.safetensors")
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
    torch.testing.assert_close(logits(loaded.merge_and_unload(), input_ids, attention_mask), expected, atol=1e-4, rtol=1e-4)


@needs_peft
@pytest.mark.parametrize("family", ["bloom", "gpt2"])
def test_allocation_matches_peft_step_by_step(family):
    """Identical weights, identical gradients each step: identical budgets, masks, E values and final pattern."""
    kwargs = dict(init_r=6, target_r=2, tinit=2, tfinal=3, deltaT=2, total_step=14, beta1=0.8, beta2=0.9,
                  target_modules="all-linear" if family == "bloom" else ["c_attn", "c_fc"])
    ours, theirs = _build(family, True, kwargs), _peft_model(family, True, kwargs)
    _perturb(ours), _perturb(theirs)
    ours_p, theirs_p = _adapter_params(ours), _adapter_params(theirs)
    assert ours_p.keys() == theirs_p.keys()
    g = torch.Generator().manual_seed(3)
    for step in range(18):
        for name in sorted(ours_p):
            grad = torch.randn(ours_p[name].shape, generator=g)
            ours_p[name].grad, theirs_p[name].grad = grad.clone(), grad.clone()
        event = ours.update_and_allocate(step)
        theirs.base_model.update_and_allocate(step)
        ours_pattern = ours.peft_config["default"].rank_pattern
        theirs_pattern = theirs.peft_config["default"].rank_pattern
        if theirs_pattern is None:
            assert ours_pattern is None and event is None, step
        else:
            assert ours_pattern == {k.replace(".default", ""): v for k, v in theirs_pattern.items()}, step
        for name in ours_p:
            assert torch.equal(ours_p[name], theirs_p[name]), (step, name)
        with torch.no_grad():  # the same "optimizer step" on both (it also revives masked E between masks)
            for name in ours_p:
                ours_p[name] -= 0.05 * ours_p[name].grad
                theirs_p[name] -= 0.05 * theirs_p[name].grad
                ours_p[name].grad = theirs_p[name].grad = None
    final = ours.rank_pattern()
    assert sum(final.values()) == 2 * len(final)


def test_multi_adapter_switch_save_load(input_ids, tmp_path):
    model = _build("gpt2", True, dict(total_step=10, init_r=4, target_r=2))
    _perturb(model, seed=1)
    first = logits(model, input_ids)
    model.add_adapter("second", core.AdaLoraConfig(total_step=10, init_r=3, target_r=1, target_modules=["c_attn", "c_fc"]))
    assert logits(model, input_ids).equal(first)  # a new adapter starts inactive
    model.set_adapter("second")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith(".second") for n in trainable)
    assert set(model.rank_pattern().values()) == {3} and len(model.rank_pattern()) == 4
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(".second") and "lora_" in n:
                p.normal_(0, 0.5)
    second = logits(model, input_ids)
    model.save_pretrained(tmp_path)
    again = core.PeftModel.from_pretrained(make_model("gpt2"), tmp_path)
    again.load_adapter(tmp_path / "second", "second")
    torch.testing.assert_close(logits(again, input_ids), first, atol=0, rtol=0)
    again.set_adapter("second")
    torch.testing.assert_close(logits(again, input_ids), second, atol=0, rtol=0)
    again.delete_adapter("default")
    torch.testing.assert_close(logits(again, input_ids), second, atol=0, rtol=0)


def test_resume_mid_allocation_from_a_training_checkpoint(input_ids, tmp_path):
    """Stop at step 9 of 24, save the allocation state, resume in a fresh model: same end as one run (plain SGD)."""
    def run(model, steps, state=None):
        if state is not None:
            model.load_allocation_state_dict(torch.load(state, weights_only=False))
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
        model.train()
        for step in steps:
            model(input_ids=input_ids, labels=input_ids).loss.backward()
            opt.step()
            model.update_and_allocate(step)
            opt.zero_grad()
        return model

    whole = run(_build("bloom", True, TRAIN), range(24))
    first = run(_build("bloom", True, TRAIN), range(10))
    torch.save(first.allocation_state_dict(), tmp_path / "alloc.pt")
    resumed = run(_build("bloom", True, TRAIN), range(10, 24), tmp_path / "alloc.pt")
    assert resumed.rank_pattern() == whole.rank_pattern()
    assert [e.kept for e in resumed.allocation_history()] == [e.kept for e in whole.allocation_history()]
    for (n, a), (_, b) in zip(whole.named_parameters(), resumed.named_parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=n)


def test_half_precision_base_keeps_fp32_adapter(input_ids):
    model = core.get_peft_model(make_model("llama").to(torch.bfloat16), core.AdaLoraConfig(total_step=10))
    assert {p.dtype for n, p in model.named_parameters() if "lora_" in n or "ranknum" in n} == {torch.float32}  # as PEFT
    _perturb(model)
    model.train()
    loss = model(input_ids=input_ids, labels=input_ids).loss
    loss.backward()
    model.update_and_allocate(0)
    model.eval()
    out = logits(model, input_ids)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


def test_setting_r_warns_that_it_is_ignored():
    # PEFT's phrase (code written for PEFT matches it), then what was set and what counts instead
    with pytest.warns(UserWarning, match=r"`r` is not used in AdaLora and will be ignored: r=10 was set, but AdaLoRA's "
                                         r"starting rank is init_r \(12\)"):
        core.AdaLoraConfig(r=10, init_r=12, total_step=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        core.AdaLoraConfig(init_r=12, total_step=1)  # r left alone: no warning
