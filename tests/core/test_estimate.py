"""core/estimate.py: PEFT-exact counts on the meta skeleton, and the memory estimate's parts."""

from __future__ import annotations

from core import estimate
from core.methods import lora
from core.models import skeleton


def test_counts_are_peft_figures_and_leave_the_skeleton_alone():
    model = skeleton("bloomz-560m")
    before = sum(p.numel() for p in model.parameters())
    counts = estimate.count_parameters(model, lora, {"peft_type": "LORA", "r": 8, "target_modules": ["query_key_value"]})
    assert counts == (786_432, 560_001_024)
    assert sum(p.numel() for p in model.parameters()) == before


def test_memory_parts():
    model = skeleton("tiny-llama")
    fp32 = estimate.training_memory(model, trainable=1000, batch_size=2, seq_len=64)
    bf16 = estimate.training_memory(model, trainable=1000, batch_size=2, seq_len=64, dtype="bfloat16")
    ckpt = estimate.training_memory(model, trainable=1000, batch_size=2, seq_len=64, gradient_checkpointing=True)
    assert fp32["total"] == sum(v for k, v in fp32.items() if k != "total")
    assert fp32["weights"] == 4 * sum(p.numel() for p in model.parameters())
    assert bf16["weights"] * 2 == fp32["weights"]
    assert (fp32["adapter"], fp32["gradients"], fp32["optimizer"]) == (4000, 4000, 8000)
    assert ckpt["activations"] < fp32["activations"]
    longer = estimate.training_memory(model, trainable=1000, batch_size=2, seq_len=128)
    assert longer["activations"] == 2 * fp32["activations"]  # sdpa: linear in tokens
