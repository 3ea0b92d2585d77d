"""Measure a method's settings through the product's own path: ``adapter-studio new --method M [--set k=v ...]``
→ ``train --steps N`` → ``eval`` on a task's held-out file: ``--task facts`` (default), the made-up capitals (new
phrasings of the trained questions); ``--task style``, the reply template "Answer: X. Confidence: high." on new
questions (docs/method-defaults.md).

Each variant prints one JSON line: the method, the settings changed from its defaults, steps, the first and
last logged training loss (the objective the optimizer saw: for AdaLoRA it includes the orthogonality
penalty), the final held-out eval loss, held-out exact match of the whole sentence (the ``completion``
column, what the data teaches: "The capital of X is Y."), ``contains`` of the bare answer (the ``answer``
column), ``follows_format`` (the reply has the completion's form with any answer in it, `core.evaluate`), the seconds of training and of scoring, and the date, machine, torch version and threads.

    # LoRA, IA3 and AdaLoRA at their defaults, one after the other in one process (side by side):
    OMP_NUM_THREADS=1 nice -n 19 python tests/benchmarks/sweep_defaults.py --variant lora --variant ia3 --variant adalora
    # AdaLoRA with a changed setting (any `new --set` key; several in one variant, space-separated):
    OMP_NUM_THREADS=1 nice -n 19 python tests/benchmarks/sweep_defaults.py --variant "adalora lora_alpha=256 learning_rate=5e-3"
    # Every prompt method on the style task (scored by the template: ``follows_format`` in the row):
    OMP_NUM_THREADS=1 nice -n 19 python tests/benchmarks/sweep_defaults.py --plain --task style --variant prompt_tuning \
        --variant p_tuning --variant prefix_tuning --variant adaption_prompt

``--plain`` trains on "prompt\\ncompletion" rows instead of the chat template (the product default, ~53 tokens
a row with SmolLM2's template and default system prompt against ~22 plain): a ~2x cheaper proxy. Same seed
(the product's, 42) for every variant, so a rerun prints the same numbers on the same machine and threads.
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
# The tasks: (training file, held-out file). "facts": 40 made-up capitals asked three ways, scored on a fourth
# way (new facts to store). "style": 80 easy questions answered "Answer: X. Confidence: high.", scored on 40
# new questions (a reply format to steer, the content the model already knows).
TASKS = {
    "facts": (ROOT / "assets/datasets/made_up_capitals.jsonl", ROOT / "assets/datasets/made_up_capitals_heldout.jsonl"),
    "style": (ROOT / "assets/datasets/reply_template.jsonl", ROOT / "assets/datasets/reply_template_heldout.jsonl"),
}


def _cli(*argv: str, env: dict[str, str]) -> str:
    """Run ``python -m core.cli ARGV`` (the product's CLI) and return its stdout; raise with its stderr on failure."""
    proc = subprocess.run([sys.executable, "-m", "core.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"adapter-studio {' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"


def measure(method: str, settings: list[str], *, steps: int, model: str, plain: bool, work: Path, max_new_tokens: int = 16,
            task: str = "facts") -> dict:
    """One variant through new → train → eval; the row printed as JSON."""
    from core.evaluate import follows_format
    import torch  # only for the version and thread count in the row (the worker is a child process)

    TRAIN, HELDOUT = TASKS[task]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")}
    project = work / f"{method}-{len(list(work.iterdir()))}.adapterstudio"
    sets = [f"validation_path={HELDOUT}", "eval_steps=0", "eval_samples=0", "save_steps=0", "save_total_limit=0",
            *(["use_chat_template=false", "max_length=128"] if plain else []), *settings]
    _cli("new", str(project), "--model", model, "--method", method, "--dataset", str(TRAIN),
         *[a for s in sets for a in ("--set", s)], env=env)
    t0 = time.perf_counter()
    _cli("train", str(project), "--steps", str(steps), env=env)
    train_s = time.perf_counter() - t0

    from core.store import Project

    with Project.open(project, readonly=True) as proj:
        run = proj.runs()[-1]
        rows = proj.metrics(run.id)
        status = run.status
    losses = [r["loss"] for r in rows if r.get("loss") is not None]
    eval_losses = [r["eval_loss"] for r in rows if r.get("eval_loss") is not None]
    t0 = time.perf_counter()
    common = ["--data", str(HELDOUT), "--json", "--max-new-tokens", str(max_new_tokens)]
    sentence = json.loads(_cli("eval", str(project), *common, "--samples", env=env))
    # The bare answer (city) in the reply, and the reply's form (`follows_format`), from the same answers (one
    # generation pass instead of a second `eval`).
    heldout = [json.loads(line) for line in HELDOUT.read_text().splitlines() if line.strip()]
    contains = sum(r["answer"].lower() in row["output"].lower() for r, row in zip(heldout, sentence["samples"])) / len(heldout)
    form = sum(follows_format(row["output"], r["completion"], r["answer"]) for r, row in zip(heldout, sentence["samples"])) / len(heldout)
    eval_s = time.perf_counter() - t0
    return {
        "task": task, "method": method, "settings": settings, "format": "plain" if plain else "chat", "steps": steps, "status": status,
        "loss_first": round(losses[0], 3) if losses else None, "loss_last": round(losses[-1], 3) if losses else None,
        "eval_loss": round(eval_losses[-1], 3) if eval_losses else None,
        "exact_match": sentence["exact_match"], "contains_answer": contains, "follows_format": form, "example": sentence["samples"][0]["output"], "n": sentence["n"],
        "train_s": round(train_s, 1), "eval_s": round(eval_s, 1),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": _machine(),
        "torch": torch.__version__, "threads": os.environ.get("OMP_NUM_THREADS", str(torch.get_num_threads())), "model": model,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", required=True,
                        help='"METHOD [key=value ...]": a method and the `new --set` settings changed from its defaults (repeatable)')
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps (default 60, the product's max_steps)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--plain", action="store_true", help='train on plain "prompt\\ncompletion" rows (a cheaper proxy)')
    parser.add_argument("--task", choices=sorted(TASKS), default="facts",
                        help="facts: made-up capitals (default); style: the 'Answer: X. Confidence: high.' template")
    parser.add_argument("--keep", help="keep the projects in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sweep-defaults-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for variant in args.variant:
            method, *settings = variant.split()
            try:
                row = measure(method, settings, steps=args.steps, model=args.model, plain=args.plain, work=work, task=args.task)
            except RuntimeError as exc:
                row = {"method": method, "settings": settings, "error": str(exc)[-1500:]}
            print(json.dumps(row, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
