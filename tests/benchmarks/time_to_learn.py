"""Time to learn: the product's own path against transformers' ``Trainer`` + PEFT, side by side, on the same model,
data and machine, until the held-out made-up capitals are answered (≥ 0.95 exact match) or a step cap.

    OMP_NUM_THREADS=1 nice -n 19 python tests/benchmarks/time_to_learn.py [--steps N] [--sides ours,trainer,trainer-recipe]
        [--probe-every K] [--json out.json]

Sides (each in its own process, one after the other, in the order given):

- ``ours``: exactly what a user types: ``adapter-studio new P --model smollm2-135m-instruct --dataset
  assets/datasets/made_up_capitals.jsonl`` (nothing changed: the method's and the product's defaults, chat
  template, 10 % validation split, evaluations every 20 steps with 8 sampled answers, checkpoints every 50),
  then ``adapter-studio train P`` (``--steps N`` only when given), then ``adapter-studio eval P --data
  assets/datasets/made_up_capitals_heldout.jsonl`` for the held-out exact match. The wall time of ``new`` and
  ``train`` is the time to learn; where it went (start-up: process, model load, data preparation; the optimizer
  steps; evaluations; sampled answers; checkpoints) is read back from the project file's timestamps.
- ``trainer``: transformers' ``Trainer`` + PEFT with their documented defaults (``peft.LoraConfig(task_type=
  "CAUSAL_LM")``: r 8, α 8, the architecture's default targets; ``TrainingArguments(output_dir)``: lr 5e-5,
  linear decay, 3 epochs, batch 8 a device), on the same tokenized examples (the product's data preparation:
  chat template, prompt tokens masked, the same 90 % split), the same model and seed.
- ``trainer-recipe``: the same loop with our recipe (r 16, α 32, all linear layers, lr 2e-3, cosine, warm-up 5,
  gradient clipping 1, 60 steps): what the loop itself costs for the same learning.

Held-out exact match: greedy answers to the 40 held-out paraphrases, formatted as training formatted them,
against the whole completion sentence (``core.evaluate``, the function ``adapter-studio eval`` uses). For the
Trainer sides it is measured every ``--probe-every`` steps (and at the end); probe time is left out of their
training time. ``--steps`` caps every side (a smaller comparison for a busy machine).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "assets/datasets/made_up_capitals.jsonl"
HELDOUT = ROOT / "assets/datasets/made_up_capitals_heldout.jsonl"
MODEL = "smollm2-135m-instruct"
TARGET = 0.95


def _env() -> dict[str, str]:
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + extra if extra else "")}


def _cli(*argv: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "core.cli", *argv], cwd=ROOT, env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"adapter-studio {' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def run_ours(steps: int | None, work: Path) -> dict:
    """new (defaults) -> train -> eval on the held-out file, timed; the time split read from the project file."""
    from core.store import Project

    project = work / "capitals.adapterstudio"
    t0 = time.time()
    _cli("new", str(project), "--model", MODEL, "--dataset", str(TRAIN))
    t_new = time.time()
    _cli("train", str(project), *(["--steps", str(steps)] if steps else []))
    t_train = time.time()
    scored = json.loads(_cli("eval", str(project), "--data", str(HELDOUT), "--json"))
    t_eval = time.time()
    with Project.open(project, readonly=True) as proj:
        run = proj.runs()[-1]
        rows = proj.metrics(run.id)
        checkpoints = proj.checkpoints(run.id)
        samples = proj.samples(run.id)
        settings = {"steps": run.total_steps, "status": run.status}
    step_rows = [r for r in rows if r.get("loss") is not None]
    # Timestamps (seconds since the epoch, written as events arrive) -> where the run's time went.
    events = sorted([(r["time"], "step") for r in step_rows] + [(r["time"], "eval") for r in rows if r.get("eval_loss") is not None]
                    + [(c["time"], "checkpoint") for c in checkpoints]
                    + [(t, "samples") for t in sorted({s["time"] for s in samples if s.get("time")})])
    split = {"startup": step_rows[0]["time"] - step_rows[0]["elapsed_s"] - t_new} if step_rows else {}
    previous = step_rows[0]["time"] - step_rows[0]["elapsed_s"] if step_rows else t_new
    for when, kind in events:
        split[kind] = split.get(kind, 0.0) + (when - previous)
        previous = when
    split["after_last_event"] = t_train - previous  # the final save, the worker's exit, the CLI's return
    return {
        "side": "ours", "steps": len(step_rows), "status": settings["status"],
        "seconds": round(t_train - t0, 1), "new_s": round(t_new - t0, 1), "train_s": round(t_train - t_new, 1),
        "split_s": {k: round(v, 1) for k, v in split.items()},
        "loss_first": step_rows[0]["loss"] if step_rows else None, "loss_last": step_rows[-1]["loss"] if step_rows else None,
        "exact_match": scored["exact_match"], "scored_at_step": len(step_rows), "score_s": round(t_eval - t_train, 1),
    }


def run_trainer(recipe: bool, steps: int | None, probe_every: int) -> dict:
    """Trainer + PEFT on the product's tokenized examples; held-out exact match probed (probe time excluded)."""
    import peft
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from core.data import DataConfig, Example, collate, prepare
    from core.evaluate import exact_match, generate, prompts_from_file
    from core.models import load_model

    t0 = time.time()
    model, tok = load_model(MODEL)
    config = DataConfig(path=str(TRAIN))  # the product's data defaults: chat template, 10 % held out for validation
    data = prepare(config, tok)
    prompts = prompts_from_file(str(HELDOUT), config, tok)
    ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in data.train])

    def collator(rows):
        return collate([Example(r["input_ids"], r["labels"]) for r in rows], data.pad_token_id)

    if recipe:
        lora = peft.LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, target_modules="all-linear")
        hf = dict(learning_rate=2e-3, lr_scheduler_type="cosine", warmup_steps=5, max_grad_norm=1.0, max_steps=steps or 60)
    else:
        lora = peft.LoraConfig(task_type="CAUSAL_LM")  # documented defaults
        hf = dict(max_steps=steps) if steps else {}  # documented defaults: 3 epochs
    torch.manual_seed(42)
    model = peft.get_peft_model(model, lora)
    probes: list[dict] = []
    state = {"probe_s": 0.0, "reached": None}

    def probe(step: int) -> None:
        start = time.time()
        answers = generate(model, tok, prompts, max_new_tokens=32)
        score = sum(exact_match(a, p.reference) for a, p in zip(answers, prompts)) / len(prompts)
        probes.append({"step": step, "exact_match": score})
        if score >= TARGET and state["reached"] is None:
            state["reached"] = {"step": step, "seconds": round(time.time() - t0 - state["probe_s"], 1)}
        state["probe_s"] += time.time() - start

    class Probe(TrainerCallback):
        def on_step_end(self, args, st, control, **kw):
            if probe_every and st.global_step % probe_every == 0 and st.global_step < st.max_steps:
                probe(st.global_step)
                if state["reached"]:
                    control.should_training_stop = True

    with tempfile.TemporaryDirectory(prefix="ttl-trainer-") as out:
        args = TrainingArguments(output_dir=out, report_to=[], seed=42, remove_unused_columns=False, disable_tqdm=True,
                                 per_device_train_batch_size=8, **hf)
        trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=collator, callbacks=[Probe()])
        result = trainer.train()
        final_step = trainer.state.global_step
        if not probes or probes[-1]["step"] != final_step:
            probe(final_step)
    t_end = time.time()
    return {
        "side": "trainer-recipe" if recipe else "trainer", "steps": final_step,
        "seconds": round(t_end - t0 - state["probe_s"], 1), "probe_s": round(state["probe_s"], 1),
        "loss_last": result.training_loss, "exact_match": probes[-1]["exact_match"], "probes": probes,
        "reached": state["reached"], "lora": {"r": lora.r, "lora_alpha": lora.lora_alpha, "targets": sorted(model.peft_config["default"].target_modules)},
        "training_args": {k: getattr(args, k) for k in ("learning_rate", "lr_scheduler_type", "warmup_steps", "num_train_epochs", "max_steps", "per_device_train_batch_size", "max_grad_norm", "save_strategy", "save_steps", "logging_steps")},
    }


def _machine() -> str:
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, help="cap every side at this many optimizer steps")
    parser.add_argument("--sides", default="ours,trainer,trainer-recipe")
    parser.add_argument("--probe-every", type=int, default=20, help="Trainer sides: held-out exact match every K steps (0: at the end only)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child process: one side, one JSON line
        if args.side == "ours":
            with tempfile.TemporaryDirectory(prefix="ttl-ours-") as work:
                result = run_ours(args.steps, Path(work))
        else:
            result = run_trainer(args.side == "trainer-recipe", args.steps, args.probe_every)
        print("RESULT " + json.dumps(result), flush=True)
        return
    import torch

    header = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": _machine(),
              "torch": torch.__version__, "threads": os.environ.get("OMP_NUM_THREADS", str(torch.get_num_threads())),
              "load_before": os.getloadavg(), "steps_cap": args.steps}
    results = []
    for side in args.sides.split(","):
        argv = [sys.executable, __file__, "--side", side, "--probe-every", str(args.probe_every)]
        argv += ["--steps", str(args.steps)] if args.steps else []
        proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=ROOT)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not line:
            raise SystemExit(f"{side} failed:\n{proc.stderr[-4000:]}")
        results.append(json.loads(line[-1][7:]))
        print(json.dumps(results[-1]), flush=True)
    header["load_after"] = os.getloadavg()
    print(json.dumps(header))
    for r in results:
        reached = "reached" if r["exact_match"] >= TARGET else "not reached"
        print(f"{r['side']:15s} {r['steps']:4d} steps {r['seconds']:8.1f} s  held-out exact match {r['exact_match']:.2f} ({reached} {TARGET})")
    if args.json:
        Path(args.json).write_text(json.dumps({**header, "results": results}, indent=1))


if __name__ == "__main__":
    main()
