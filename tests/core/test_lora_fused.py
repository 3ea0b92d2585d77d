"""The LoRA training fast path (core/methods/_lora_fused.py) computes what the generic path computes.

Both paths draw the dropout masks with the same generator calls, so under one seed a training step through
either gives the same loss and the same gradients (float64, so the comparison is tight); the fast path keeps
fewer bytes for backward. PEFT parity of training itself is in test_lora_peft_parity.py."""

from __future__ import annotations

import pytest
import torch

import core
from core.methods import _lora_fused
from tests.core.conftest import make_model


def _step(family: str, kwargs: dict, fused: bool, monkeypatch) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    """One forward + backward of a tiny model in float64 training mode -> (loss, gradients, fused layer calls)."""
    calls = []
    real = _lora_fused.LoraLinearFunction.apply
    with monkeypatch.context() as m:
        if fused:
            m.setattr(_lora_fused.LoraLinearFunction, "apply", lambda *a: calls.append(1) or real(*a))
        else:
            m.setattr(_lora_fused, "try_forward", lambda *a: None)
        model = core.get_peft_model(make_model(family, True).double(), core.LoraConfig(init_lora_weights=False, **kwargs))
        model.train()
        torch.manual_seed(7)
        ids = torch.randint(4, 300, (2, 9))
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert all(g is not None for g in grads.values())
    return loss.detach(), grads, len(calls)


@pytest.mark.parametrize("family, kwargs", [
    ("llama", dict(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear")),
    ("llama", dict(r=4, lora_alpha=8, lora_dropout=0.3, target_modules="all-linear")),
    ("llama", dict(r=4, lora_alpha=8, lora_dropout=0.3, target_modules="all-linear", use_rslora=True,
                   rank_pattern={"v_proj": 2})),
    ("bloom", dict(r=4, lora_alpha=16, lora_dropout=0.3, target_modules="all-linear", bias="all")),  # biases train
])
def test_fused_step_equals_generic_step(family, kwargs, monkeypatch):
    loss, grads, calls = _step(family, kwargs, True, monkeypatch)
    loss_ref, grads_ref, _ = _step(family, kwargs, False, monkeypatch)
    assert calls > 0  # the fast path ran
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-12)
    assert grads.keys() == grads_ref.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], grads_ref[name], rtol=1e-9, atol=1e-12, msg=name)


def test_fused_path_keeps_less_for_backward():
    """q/k/v read one tensor: the fast path keeps it once plus a one-byte mask per layer, the generic path a
    dropped float copy per layer plus the one-byte mask (measured 0.86 of the generic path's bytes here)."""

    def saved_bytes(fused: bool) -> int:
        model = core.get_peft_model(make_model("llama", True), core.LoraConfig(r=4, lora_dropout=0.1, target_modules="all-linear"))
        model.train()
        weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
        seen: dict[int, int] = {}

        def pack(t):
            if t.untyped_storage().data_ptr() not in weights:
                seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        real = _lora_fused.try_forward
        _lora_fused.try_forward = real if fused else (lambda *a: None)
        try:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                model(input_ids=torch.randint(4, 300, (4, 32)), labels=torch.randint(4, 300, (4, 32)))
        finally:
            _lora_fused.try_forward = real
        return sum(seen.values())

    assert saved_bytes(True) < 0.9 * saved_bytes(False)


def test_generic_path_where_the_fast_path_does_not_apply(monkeypatch):
    """No gradients (generation), DoRA and several active adapters run the generic path."""
    calls = []
    real = _lora_fused.LoraLinearFunction.apply
    monkeypatch.setattr(_lora_fused.LoraLinearFunction, "apply", lambda *a: calls.append(1) or real(*a))
    ids = torch.randint(4, 300, (1, 5))
    model = core.get_peft_model(make_model("llama", True), core.LoraConfig(r=4, target_modules=["q_proj"], use_dora=True))
    model.train()
    model(input_ids=ids).logits.sum().backward()
    plain = core.get_peft_model(make_model("llama", True), core.LoraConfig(r=4, target_modules=["q_proj"]))
    plain.train()
    with torch.no_grad():
        plain(input_ids=ids)
    assert calls == []
    plain(input_ids=ids).logits.sum().backward()
    assert calls  # and the same model with gradients on takes it


def _autocast_step(fused: bool, monkeypatch, autocast: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor], list]:
    """One bf16-autocast forward + backward of a float32 tiny Llama (how the loop trains on a GPU), on the CPU;
    ``autocast=False``: the same step in float32 throughout."""
    calls = []
    real = _lora_fused.LoraLinearFunction.apply
    with monkeypatch.context() as m:
        if fused:
            m.setattr(_lora_fused.LoraLinearFunction, "apply", lambda *a: calls.append(a[0].dtype) or real(*a))
        else:
            m.setattr(_lora_fused, "try_forward", lambda *a: None)
        torch.manual_seed(0)
        model = core.get_peft_model(make_model("llama", True), core.LoraConfig(
            r=4, lora_alpha=8, lora_dropout=0.3, target_modules="all-linear", init_lora_weights=False))
        model.train()
        torch.manual_seed(7)
        ids = torch.randint(4, 300, (2, 9))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    return loss.detach(), grads, calls


def test_fused_step_under_autocast_matches_the_generic_step(monkeypatch):
    """Under bf16 autocast the fast path runs on bf16 inputs (as autocast casts the generic path's linears), the
    float32 adapter weights get float32 gradients, and loss and gradients agree with the generic path to bf16's
    precision (the two round in different places: the generic path scales the dropped input before casting)."""
    loss, grads, calls = _autocast_step(True, monkeypatch)
    loss_ref, grads_ref, _ = _autocast_step(False, monkeypatch)
    assert calls and set(calls) == {torch.bfloat16}  # the fast path ran, on bf16 inputs
    torch.testing.assert_close(loss, loss_ref, rtol=2e-2, atol=2e-2)
    assert grads.keys() == grads_ref.keys()
    for name, g in grads.items():
        assert g.dtype == torch.float32, name
        # bf16 has 8 bits of mantissa: compare each gradient tensor as a whole, relative to its size; each path
        # is up to ~4 % from the float32 step (below), in its own direction, so up to ~8 % from the other
        assert (g - grads_ref[name]).norm() <= 0.08 * grads_ref[name].norm() + 1e-6, name
    # and the fast path rounds no worse than the generic one: each path's largest relative distance from the
    # float32 step (measured with these seeds: 0.039 fused, 0.037 generic; the two differ by up to 0.052)
    _, exact, _ = _autocast_step(False, monkeypatch, autocast=False)

    def worst(found):
        return max(((found[n] - exact[n]).norm() / exact[n].norm()).item() for n in exact)

    assert worst(grads) <= 0.06 and worst(grads) <= 1.2 * worst(grads_ref)
