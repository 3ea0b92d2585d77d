"""core/estimate.py: PEFT-exact counts on the meta skeleton, and the memory estimate's parts.

The activation trace runs on the meta device; the check that matters is that it finds exactly the
tensors autograd keeps when the same adapted model runs forward and the loss on the CPU."""

from __future__ import annotations

import pytest

from core import estimate
from core.methods import REGISTRY, lora
from core.config import PeftType
from core.models import load_model, skeleton


def test_counts_are_peft_figures_and_leave_the_skeleton_alone():
    model = skeleton("bloomz-560m")
    before = sum(p.numel() for p in model.parameters())
    counts = estimate.count_parameters(model, lora, {"peft_type": "LORA", "r": 8, "target_modules": ["query_key_value"]})
    assert counts == (786_432, 560_001_024)
    assert sum(p.numel() for p in model.parameters()) == before


def test_memory_parts_from_the_formula():
    """Without the adapted model: the per-token formula, every part present and consistent."""
    model = skeleton("tiny-llama")
    fp32 = estimate.training_memory(model, trainable=1000, batch_size=2, seq_len=64)
    bf16 = estimate.training_memory(model, trainable=1000, batch_size=2, seq_len=64, dtype="bfloat16")
    ckpt = estimate.training_memory(model, trainable=1000, batch_size=2, seq_len=64, gradient_checkpointing=True)
    assert set(fp32) == {*estimate.PARTS, "total"}
    assert fp32["total"] == sum(fp32[k] for k in estimate.PARTS)
    assert fp32["weights"] == 4 * sum(p.numel() for p in model.parameters())
    assert bf16["weights"] * 2 == fp32["weights"]
    assert (fp32["adapter"], fp32["gradients"], fp32["optimizer"]) == (4000, 4000, 8000)
    assert ckpt["activations"] < fp32["activations"]
    vocab = model.config.vocab_size
    assert fp32["workspace"] == 2 * 2 * 63 * vocab * 4  # two more (B·(T-1), V) float32 tensors beside the log-probs


def _saved_on_cpu(peft, batch: int, seq: int) -> tuple[int, int]:
    """(bytes, largest) that autograd keeps for backward when ``peft`` runs forward and the loop's loss
    on the CPU, parameters excluded — what the trace must find."""
    import torch

    params = {t.untyped_storage().data_ptr() for t in [*peft.parameters(), *peft.buffers()]}
    seen: dict[int, int] = {}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in params:
            seen[st.data_ptr()] = st.nbytes()
        return t

    torch.manual_seed(0)
    ids = torch.randint(0, peft.get_base_model().config.vocab_size, (batch, seq))
    peft.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits = peft(input_ids=ids).logits[:, -seq:]  # as core.train._loss_sum
        torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten(), reduction="sum")
    return sum(seen.values()), max(seen.values())


@pytest.mark.parametrize(
    "model_name, method, config",
    [
        ("tiny-llama", "LORA", {"r": 8, "target_modules": ["q_proj", "v_proj"], "lora_dropout": 0.05}),
        ("tiny-llama", "LORA", {"r": 4, "target_modules": "all-linear", "use_dora": True}),
        ("tiny-llama", "PROMPT_TUNING", {"num_virtual_tokens": 5}),
        ("tiny-gpt2", "LORA", {"r": 8, "target_modules": ["c_attn"], "fan_in_fan_out": True}),
        ("tiny-gpt2", "PREFIX_TUNING", {"num_virtual_tokens": 5}),
        ("tiny-bloom", "IA3", {}),
    ],
)
def test_the_trace_finds_what_autograd_keeps_on_the_cpu(model_name, method, config):
    module = REGISTRY[PeftType(method)]
    cfg = {"peft_type": method, **config}
    batch, seq = 2, 24
    meta = skeleton(model_name)
    traced = estimate.trace_activations(estimate._adapt(meta, module, cfg), batch, seq)

    from core.peft_model import get_peft_model

    model, _ = load_model(model_name)
    real, largest = _saved_on_cpu(get_peft_model(model, module.Config.from_dict({**cfg, "task_type": "CAUSAL_LM"})), batch, seq)
    assert traced["outside"] + sum(traced["blocks"]) == real
    assert traced["largest"] == largest
    assert all(traced["blocks"])  # every block is adapted (or feeds an adapted one)


def test_cost_traces_and_scales_with_tokens():
    model = skeleton("tiny-llama")
    cfg = {"peft_type": "LORA", "r": 8, "target_modules": ["q_proj", "v_proj"]}
    small = estimate.cost(model, lora, cfg, batch_size=2, seq_len=64)
    assert (small["trainable"], small["total"]) == estimate.count_parameters(model, lora, cfg)
    mem = small["memory"]
    assert mem["total"] == sum(mem[k] for k in estimate.PARTS)
    assert mem["adapter"] == 4 * small["trainable"]
    double = estimate.cost(model, lora, cfg, batch_size=4, seq_len=64)["memory"]
    # sdpa: linear in the batch, but for what does not depend on it (the rotary cos/sin tables, (1, T, d))
    assert abs(double["activations"] - 2 * mem["activations"]) < 0.01 * mem["activations"]
    ckpt = estimate.cost(model, lora, cfg, batch_size=2, seq_len=64, gradient_checkpointing=True)["memory"]
    assert ckpt["activations"] < mem["activations"]
    bf16 = estimate.cost(model, lora, cfg, batch_size=2, seq_len=64, dtype="bfloat16")["memory"]
    assert bf16["weights"] * 2 == mem["weights"] and bf16["activations"] < mem["activations"]
    # Adapting only the last block: the first keeps nothing for backward.
    top = estimate.cost(model, lora, {**cfg, "layers_to_transform": [1]}, batch_size=2, seq_len=64)["memory"]
    assert top["activations"] < mem["activations"]
    assert not any("lora" in name for name, _ in model.named_modules())  # the skeleton itself is never adapted


def test_device_decides_the_attention_kernel_the_trace_assumes():
    """With attention dropout the CPU's fused (flash) kernel does not apply: torch runs the math kernel,
    which keeps the (B, H, T, T) probabilities; on a GPU the fused kernels keep q, k, v, the output and a
    (B, H, T) log-sum-exp. Without dropout both devices run a fused kernel."""
    config = {"peft_type": "LORA", "target_modules": ["q_proj", "v_proj"], "r": 4}

    def activations(device, dropout):
        model = skeleton("tiny-llama")
        for module in model.modules():
            if hasattr(module, "attention_dropout"):
                module.attention_dropout = dropout
        return estimate.cost(model, lora, config, batch_size=2, seq_len=128, device=device)["memory"]["activations"]

    cpu, gpu = activations("cpu", 0.1), activations("cuda:1", 0.1)
    heads, blocks = skeleton("tiny-llama").config.num_attention_heads, skeleton("tiny-llama").config.num_hidden_layers
    assert cpu - gpu >= blocks * 2 * heads * 128 * 128 * 4  # at least the float32 probabilities per block
    assert activations("cpu", 0.0) == activations("cuda", 0.0) == gpu
    assert activations("auto", 0.1) == (gpu if estimate._trains_on_gpu("auto") else cpu)
