"""The training-memory estimate (`core.estimate.cost`) against measured peaks of the real training loop on the CPU.

    .venv/bin/python tests/benchmarks/bench_memory_estimate.py [--cases tiny-llama,smollm2-4x256] [--modes tensors,rss,rss-fixed,rss-cold]

Each case and measurement runs in a fresh process, float32, LoRA (r=8, dropout 0.05, the default
project's q_proj + v_proj unless the case says otherwise), ``core.train.train`` for ``--steps``
optimizer steps on random tokens (every row full length, every token trained). Before measuring,
the process runs one step of the built-in tiny model of the same architecture, so that code pages,
thread pools and Accelerate's state are in (a fixed ~20 MiB per process that is not the model's;
``rss-cold`` skips this). The model is built inside the measured span, so weights count, as in the estimate.

What is measured (Linux):

- ``tensors``: the exact peak of live tensor bytes from the CPU allocator's own count (the profiler's
  allocation events, ``total_allocated``) — what the estimate models (``max_memory_allocated`` on a GPU);
- ``rss``: peak resident set size (``VmHWM`` after resetting it via ``/proc/self/clear_refs``) minus
  the resident size before, with glibc's default malloc settings;
- ``rss-fixed``: the same with ``MALLOC_MMAP_THRESHOLD_=131072``: every allocation of 128 KiB or more
  is its own mapping and goes back to the kernel when freed. By default glibc raises that threshold
  to the size of the largest block freed so far (up to 32 MiB), so later activations come from the
  heap, and freed activations stay resident in it;
- ``rss-cold``: ``rss`` without the warm-up step.

Not pass/fail: it prints a table of estimate / measured ratios (target: within ±25 %).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QV = ["q_proj", "v_proj"]
CASES = {
    # name: (built-in model whose architecture is used, LoRA config changes, batch, seq)
    "tiny-llama": ("tiny-llama", {"target_modules": QV}, 8, 256),
    "tiny-gpt2": ("tiny-gpt2", {"target_modules": ["c_attn"]}, 8, 256),
    "tiny-bloom": ("tiny-bloom", {"target_modules": ["query_key_value"]}, 8, 256),
    "smollm2-4x256": ("smollm2-135m-instruct", {"target_modules": QV}, 4, 256),
    "smollm2-2x1024": ("smollm2-135m-instruct", {"target_modules": QV}, 2, 1024),
    "smollm2-all-linear": ("smollm2-135m-instruct", {"r": 16, "target_modules": "all-linear"}, 4, 256),
}
WARM_UP = {"llama": "tiny-llama", "gpt2": "tiny-gpt2", "bloom": "tiny-bloom"}
MODES = ("tensors", "rss", "rss-fixed", "rss-cold")

CHILD = r"""
import gc, json, sys, tempfile
sys.path.insert(0, sys.argv[1])
import torch
from transformers import AutoModelForCausalLM
from core import estimate
from core.data import DataStats, Example, PreparedData
from core.methods import lora
from core.models import skeleton
from core.peft_model import get_peft_model
from core.train import TrainingArguments, train

ref, warm_ref, lora_kw, batch, seq, steps, mode = json.loads(sys.argv[2])
torch.set_num_threads(2)
cfg = {"peft_type": "LORA", "r": 8, "lora_dropout": 0.05, **lora_kw}


def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024


def run(config, batch, seq, steps):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)  # random weights, float32
    peft = get_peft_model(model, lora.Config.from_dict({**cfg, "task_type": "CAUSAL_LM"}))
    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(0, config.vocab_size, (seq,), generator=g).tolist() for _ in range(batch)]
    data = PreparedData([Example(r, list(r)) for r in rows], [], DataStats(), "text", 0)
    args = TrainingArguments(max_steps=steps, batch_size=batch, warmup_steps=0, save_steps=0, eval_steps=0)
    with tempfile.TemporaryDirectory() as out:
        for event in train(peft, None, data, args, out):
            if type(event).__name__ == "Failed":
                raise SystemExit(event.reason)


meta = skeleton(ref)
est = estimate.cost(meta, lora, cfg, batch_size=batch, seq_len=seq, dtype="float32")["memory"]
if mode != "rss-cold":
    run(skeleton(warm_ref).config, 1, 16, 1)
    gc.collect()
if mode == "tensors":
    from torch.profiler import ProfilerActivity, profile

    from tests.benchmarks._profile import allocation_rise

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run(meta.config, batch, seq, steps)
    measured = allocation_rise(prof)
else:
    before = status("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM to the current RSS
    run(meta.config, batch, seq, steps)
    measured = status("VmHWM") - before
print(json.dumps({"estimate": est, "measured": measured}))
"""


def measure(case: str, mode: str, steps: int) -> dict:
    ref, lora_kw, batch, seq = CASES[case]
    from core.models import skeleton  # light: the config only

    warm = WARM_UP.get(skeleton(ref).config.model_type, "tiny-llama")
    env = dict(os.environ)
    if mode == "rss-fixed":
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), json.dumps([ref, warm, lora_kw, batch, seq, steps, mode])],
        capture_output=True, text=True, env=env,
    )
    if out.returncode:
        raise SystemExit(f"{case} {mode}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of {', '.join(CASES)}")
    parser.add_argument("--modes", default="tensors,rss,rss-fixed", help=f"comma list of {', '.join(MODES)}")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    modes = args.modes.split(",")
    head = f"{'case':<20} {'batch x seq':>11} {'estimate':>10}" + "".join(f" {m:>18}" for m in modes) + "   estimate parts (MiB)"
    print(head, flush=True)
    for case in args.cases.split(","):
        _, _, batch, seq = CASES[case]
        cells, est = [], None
        for mode in modes:
            r = measure(case, mode, args.steps)
            est = r["estimate"]
            cells.append(f"{r['measured'] / 2**20:>8.1f} MiB ({est['total'] / r['measured']:.2f})")
        parts = " ".join(f"{k[:4]} {v / 2**20:.1f}" for k, v in est.items() if k != "total")
        print(f"{case:<20} {f'{batch} x {seq}':>11} {est['total'] / 2**20:>6.1f} MiB" + "".join(f" {c:>18}" for c in cells)
              + f"   {parts}", flush=True)


if __name__ == "__main__":
    main()
