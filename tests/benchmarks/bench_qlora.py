"""A LoRA step on SmolLM2-135M-Instruct with a float32, 8-bit and 4-bit base, side by side, on the CPU.

    .venv/bin/python tests/benchmarks/bench_qlora.py [--steps 4] [--batch 4] [--seq 256] [--precisions float32,8bit,4bit]

Each precision runs in a fresh process: the base loaded by `core.quantize.load_base` (4-bit: NF4 with double
quantization, compute dtype float32), the default LoRA (r=16, alpha 32, all linear layers), ``core.train.train``
for ``--steps`` optimizer steps on random tokens (every row full length, every token trained).

- peak: the live tensor bytes at the step's peak = the model's resident tensors (parameters, buffers and
  bitsandbytes' quantization state, summed by storage) + the largest rise of the CPU allocator's own count
  (the profiler's allocation events, ``total_allocated``) during the steps above its value before them;
- estimate: `core.estimate.cost` with the same ``base_precision`` (`core.quantize.weight_bytes` for the base);
- step: the median wall time of the steps after the first (2 threads).

Prints a table with ratios to the float32 base. Not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, statistics, sys, tempfile, time, warnings
sys.path.insert(0, sys.argv[1])
warnings.filterwarnings("ignore")
import torch
from core import estimate
from core.data import DataStats, Example, PreparedData
from core.defaults import method_defaults
from core.methods import lora
from core.models import skeleton
from core.peft_model import get_peft_model
from core.quantize import load_base
from core.train import TrainingArguments, train

precision, batch, seq, steps = json.loads(sys.argv[2])
torch.set_num_threads(2)
ref = "smollm2-135m-instruct"
config, _ = method_defaults("LORA")
t0 = time.perf_counter()
model, _ = load_base(ref, base_precision=precision, device="cpu")
print(f"{precision}: loaded in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
torch.manual_seed(0)
peft = get_peft_model(model, lora.Config.from_dict(config))
storages = {}
for t in [*peft.parameters(), *peft.buffers()]:
    storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
for m in peft.modules():  # bitsandbytes keeps 4-bit scales in a quant_state beside the packed weight
    state = getattr(getattr(m, "weight", None), "quant_state", None)
    if state is not None:
        for t in [state.absmax, state.code, *( [state.state2.absmax, state.state2.code] if state.nested else [])]:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
resident = sum(storages.values())
meta = skeleton(ref)
est = estimate.cost(meta, lora, dict(config), batch_size=batch, seq_len=seq, dtype="float32",
                    base_precision=None if precision == "float32" else precision)["memory"]
g = torch.Generator().manual_seed(0)
rows = [torch.randint(0, meta.config.vocab_size, (seq,), generator=g).tolist() for _ in range(batch)]
data = PreparedData([Example(r, list(r)) for r in rows], [], DataStats(), "text", 0)
args = TrainingArguments(max_steps=steps, batch_size=batch, warmup_steps=0, save_steps=0, eval_steps=0, eval_samples=0,
                         device="cpu")
from torch.profiler import ProfilerActivity, profile
from tests.benchmarks._profile import allocation_rise

times = []
with tempfile.TemporaryDirectory() as out, profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
    last = time.perf_counter()
    for event in train(peft, None, data, args, out):
        name = type(event).__name__
        if name == "Failed":
            raise SystemExit(event.reason)
        if name == "Step":
            now = time.perf_counter()
            print(f"{precision}: step {len(times) + 1} {now - last:.1f} s", file=sys.stderr, flush=True)
            times.append(now - last)
            last = now
rise = allocation_rise(prof)
print(json.dumps({"precision": precision, "resident": resident, "peak": resident + rise, "estimate": est,
                  "step_s": statistics.median(times[1:]) if len(times) > 1 else times[0]}))
"""


def measure(precision: str, batch: int, seq: int, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), json.dumps([precision, batch, seq, steps])],
                         stdout=subprocess.PIPE, text=True)  # progress on stderr, passed through
    if out.returncode:
        raise SystemExit(f"{precision}: exit status {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--precisions", default="float32,8bit,4bit")
    a = parser.parse_args()
    results = [measure(p, a.batch, a.seq, a.steps) for p in a.precisions.split(",")]
    mib = 1 / 2**20
    ref = results[0]
    print(f"SmolLM2-135M-Instruct, LoRA r=16 all-linear, batch {a.batch} x {a.seq} tokens, {a.steps} steps, CPU, 2 threads")
    print(f"{'base':<9} {'weights MiB':>12} {'peak MiB':>9} {'estimate MiB':>13} {'est/peak':>9} {'step s':>7} "
          f"{'peak ratio':>11} {'step ratio':>11}")
    for r in results:
        est = r["estimate"]["total"]
        print(f"{r['precision']:<9} {r['resident'] * mib:>12.1f} {r['peak'] * mib:>9.1f} {est * mib:>13.1f} "
              f"{est / r['peak']:>9.2f} {r['step_s']:>7.2f} {r['peak'] / ref['peak']:>11.2f} {r['step_s'] / ref['step_s']:>11.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
