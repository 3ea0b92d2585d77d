"""The training-memory estimate (`core.estimate.training_memory`) against the measured peak on the CPU.

    .venv/bin/python tests/benchmarks/bench_memory_estimate.py [--steps 2]

Each case runs in a fresh process: build the model (random weights, float32), note the resident
set size (RSS), reset the kernel's peak-RSS counter (``/proc/self/clear_refs`` = 5), inject LoRA
(r=8, q_proj + v_proj, the default project), run ``--steps`` AdamW steps on random tokens, and read
the peak (``VmHWM``). Measured = peak - RSS before the model was built (so it includes the weights,
like the estimate). Linux only. Not pass/fail: it prints a table; the target is within ±25 %.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    # (name, config kwargs, batch, seq)
    ("tiny-llama", dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2), 8, 256),
    ("SmolLM2-135M", dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                          num_attention_heads=9, num_key_value_heads=3, head_dim=64, tie_word_embeddings=True), 4, 256),
    ("SmolLM2-135M", dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                          num_attention_heads=9, num_key_value_heads=3, head_dim=64, tie_word_embeddings=True), 8, 512),
]

CHILD = r"""
import copy, json, sys
sys.path.insert(0, sys.argv[1])
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from core import estimate
from core.methods import lora
from core.peft_model import get_peft_model

kwargs, batch, seq, steps = json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
torch.set_num_threads(2)
config = LlamaConfig(**kwargs)
with torch.device("meta"):
    meta = LlamaForCausalLM(config)
cfg = {"peft_type": "LORA", "r": 8, "target_modules": ["q_proj", "v_proj"]}
trainable, total = estimate.count_parameters(meta, lora, cfg)
est = estimate.training_memory(meta, trainable=trainable, batch_size=batch, seq_len=seq, dtype="float32")
ids = torch.randint(0, config.vocab_size, (batch, seq))
before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
torch.manual_seed(0)
model = LlamaForCausalLM(config)
peft_model = get_peft_model(model, lora.Config.from_dict({**cfg, "task_type": "CAUSAL_LM"}))
opt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-3)
for _ in range(steps):
    loss = peft_model(input_ids=ids, labels=ids).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
peak = status("VmHWM")
print(json.dumps({"estimate": est, "measured": peak - before}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    print(f"{'model':<14} {'batch x seq':>11} {'estimate':>10} {'measured':>10} {'ratio':>6}   estimate parts (MiB)")
    for name, kwargs, batch, seq in CASES:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(ROOT), json.dumps(kwargs), str(batch), str(seq), str(args.steps)],
            capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        est, measured = r["estimate"], r["measured"]
        parts = " ".join(f"{k[:3]} {v / 2**20:.0f}" for k, v in est.items() if k != "total")
        print(f"{name:<14} {f'{batch} x {seq}':>11} {est['total'] / 2**20:>7.0f} MiB {measured / 2**20:>6.0f} MiB "
              f"{est['total'] / measured:>6.2f}   {parts}")


if __name__ == "__main__":
    main()
