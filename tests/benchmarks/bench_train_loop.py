"""Benchmark: training throughput of our loop (`core.train.train` + our LoRA) against transformers'
`Trainer` + PEFT, same model, data, settings and tokens, in one run. Not a pass/fail test.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_train_loop.py [--model smollm2-135m-instruct]
        [--steps 20] [--skip 3] [--batch-size 8] [--threads N] [--bf16] [--repeats 5] [--json out.json]

Each side runs in its own subprocess (so peak memory is measured per side): the model is loaded, LoRA
r=16 on all linear layers is added (AdamW 2e-3, cosine, warm-up 5, batch 8, grad clipping 1.0), and
``--steps`` optimizer steps are taken on assets/datasets/made_up_capitals.jsonl rendered with the
chat template. Tokens/s counts non-padding input tokens of the steps after the first ``--skip``.
Peak memory: the process's peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on CUDA. The sides
alternate ``--repeats`` times (the order flipped every round); the figure is the median of the per-round
throughput ratios, with their range, and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "assets/datasets/made_up_capitals.jsonl"


def setup(args):
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from core.data import DataConfig, prepare
    from core.models import load_model

    model, tok = load_model(args.model)
    if torch.cuda.is_available():
        model = model.cuda()
    data = prepare(DataConfig(path=str(DATA), validation_split=0.0, max_length=256), tok)
    return model, tok, data


def peak_memory() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB


def run_ours(args) -> dict:
    import torch

    from core import LoraConfig, get_peft_model
    from core.protocol import Failed, Step
    from core.train import TrainingArguments, train

    model, tok, data = setup(args)
    torch.manual_seed(0)
    peft = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    targs = TrainingArguments(max_steps=args.steps, batch_size=args.batch_size, eval_steps=0, save_steps=0,
                              mixed_precision="bf16" if args.bf16 else "no")
    tokens, t_first, t_last = 0, None, None
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        for e in train(peft, tok, data, targs, out):
            if isinstance(e, Failed):
                raise SystemExit(e.reason + e.detail)
            if isinstance(e, Step):
                if e.step == args.skip:
                    t_first = time.perf_counter()
                elif e.step > args.skip:
                    tokens += _step_tokens(data, targs, e.step)
                    t_last = time.perf_counter()
    return {"tokens_per_s": tokens / (t_last - t_first), "peak_mib": peak_memory()}


def _step_tokens(data, targs, step: int) -> int:
    from core.data import stream_indices

    G = targs.batch_size * targs.gradient_accumulation_steps
    return sum(len(data.train[i].input_ids) for i in stream_indices(len(data.train), targs.seed, (step - 1) * G, G))


def run_trainer(args) -> dict:
    import peft as hf_peft
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback
    from transformers import TrainingArguments as HFArgs

    from core.data import collate

    model, tok, data = setup(args)
    torch.manual_seed(0)
    model = hf_peft.get_peft_model(model, hf_peft.LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in data.train])
    counted = {"tokens": 0}

    def collator(rows):
        from core.data import Example

        counted["tokens"] += sum(len(r["input_ids"]) for r in rows)
        return collate([Example(r["input_ids"], r["labels"]) for r in rows], data.pad_token_id)

    marks = {}

    class Timer(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            if state.global_step == args.skip:
                marks["t0"], marks["tok0"] = time.perf_counter(), counted["tokens"]
            marks["t1"], marks["tok1"] = time.perf_counter(), counted["tokens"]

    hf_args = HFArgs(
        output_dir=os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench_trainer"), per_device_train_batch_size=args.batch_size,
        max_steps=args.steps, learning_rate=2e-3, lr_scheduler_type="cosine", warmup_steps=5, max_grad_norm=1.0,
        weight_decay=0.0, logging_steps=1, save_strategy="no", report_to=[], bf16=args.bf16, seed=42,
        dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=True,
    )
    Trainer(model=model, args=hf_args, train_dataset=ds, data_collator=collator, callbacks=[Timer()]).train()
    # The collator runs one batch ahead of the step that consumes it (prefetch); per step it is the same count.
    return {"tokens_per_s": (marks["tok1"] - marks["tok0"]) / (marks["t1"] - marks["t0"]), "peak_mib": peak_memory()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--skip", type=int, default=3, help="warm-up steps not timed")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--bf16", action="store_true", help="bf16 mixed precision (CUDA)")
    p.add_argument("--repeats", type=int, default=5, help="alternate the two sides this many times (the order flips each time)")
    p.add_argument("--json", help="also write every run's figures and the load to this JSON file")
    p.add_argument("--side", choices=["ours", "trainer"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        result = (run_ours if args.side == "ours" else run_trainer)(args)
        print("RESULT " + json.dumps(result), flush=True)
        return
    runs: dict[str, list[dict]] = {"ours": [], "trainer": []}
    load_before = os.getloadavg()
    for i in range(args.repeats):  # alternating, the order flipped each round, so a busy spell hits both sides
        for side in (("ours", "trainer") if i % 2 == 0 else ("trainer", "ours")):
            cmd = [sys.executable, __file__, "--side", side] + sys.argv[1:]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not line:
                raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
            got = json.loads(line[-1][7:])
            print(f"  round {i + 1} {side}: {got['tokens_per_s']:.0f} tokens/s, peak {got['peak_mib']:.0f} MiB", flush=True)
            runs[side].append(got)
    load_after = os.getloadavg()
    # per round: ours' throughput over the Trainer's (the two ran back to back)
    ratios = [o["tokens_per_s"] / t["tokens_per_s"] for o, t in zip(runs["ours"], runs["trainer"])]
    med = {side: statistics.median(r["tokens_per_s"] for r in rs) for side, rs in runs.items()}
    peak = {side: statistics.median(r["peak_mib"] for r in rs) for side, rs in runs.items()}
    print(f"model {args.model}, LoRA r=16 all-linear, batch {args.batch_size}, {args.steps} steps ({args.skip} untimed), "
          f"{args.repeats} alternating rounds, {args.threads or 'default'} threads")
    print(f"  load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}")
    print(f"{'':10s}{'tokens/s (median, min..max)':>30s}{'peak MiB':>12s}")
    for side, label in (("ours", "ours"), ("trainer", "Trainer")):
        tps = [r["tokens_per_s"] for r in runs[side]]
        print(f"{label:10s}{med[side]:>12.0f} ({min(tps):.0f}..{max(tps):.0f}){'':8s}{peak[side]:12.0f}")
    print(f"ours/Trainer throughput, median of per-round ratios: {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}); peak memory {peak['ours'] / peak['trainer']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "load_before": load_before, "load_after": load_after,
                                               "runs": runs, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()
