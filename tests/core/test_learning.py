"""Proof that each method's defaults teach what the method is for (issue #21, docs/method-defaults.md), on the CPU
with SmolLM2-135M-Instruct and plain "prompt\\ncompletion" rows:

- LoRA and AdaLoRA store new facts: 40 made-up capitals (assets/datasets/made_up_capitals.jsonl), answered on
  held-out paraphrases (a question form never trained) where the base model cannot;
- the methods recommended for style and format (`FACTS.good_for`: IA3 and the prompt methods) teach a reply
  template, "Answer: X. Confidence: high." (assets/datasets/reply_template.jsonl), followed on 40 new
  questions (`core.evaluate.follows_format`) where the base model never writes it.

LoRA's test goes through the product's own path (`new` -> the worker -> `eval` -> export -> peft) and is also the
proof of the evaluation (issue #17); the others train through `core.train.train`, the loop the worker runs. The
base model loads once per module; each of those tests trains a copy of it."""

from __future__ import annotations

import copy
import functools
import json
import os
import time
from pathlib import Path

import pytest
import torch

from core import get_peft_model
from core.config import PeftType
from core.data import DataConfig, prepare
from core.evaluate import follows_format
from core.methods import REGISTRY
from core.models import load_model
from core.protocol import Eval, Failed, Finished
from core.train import defaults_for, evaluate, train

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "assets/datasets/made_up_capitals.jsonl"
HELDOUT = ROOT / "assets/datasets/made_up_capitals_heldout.jsonl"
STYLE_TRAIN = ROOT / "assets/datasets/reply_template.jsonl"
STYLE_HELDOUT = ROOT / "assets/datasets/reply_template_heldout.jsonl"
TASKS = {"facts": (TRAIN, HELDOUT), "style": (STYLE_TRAIN, STYLE_HELDOUT)}


@torch.no_grad()
def answers(model, tok, prompts: list[str], chat: bool) -> list[str]:
    """Greedy answers to ``prompts`` (batched, left padding), in the format the data was trained in."""
    if chat:
        texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True) for p in prompts]
    else:
        texts = [p + DataConfig.separator for p in prompts]
    tok.padding_side = "left"
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(**batch, max_new_tokens=16, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


def accuracy(replies: list[str], expected: list[str]) -> float:
    return sum(e.lower() in r.lower() for r, e in zip(replies, expected)) / len(expected)


def form_rate(replies: list[str], rows: list[dict]) -> float:
    """The share of replies in the held-out rows' template (`follows_format`), whatever they answer."""
    return sum(follows_format(r, row["completion"], row["answer"]) for r, row in zip(replies, rows)) / len(rows)


def train_defaults(method: str, model, tok, data, out, **overrides):
    """``method`` (a PeftType name) with the product's defaults (`core.train.defaults_for`, its ``FACTS``;
    ``overrides`` change training arguments) trained on ``data`` to completion -> (the PEFT model, the base's
    held-out loss, the last eval loss). Also used by test_qlora's 4-bit run."""
    method_kwargs, args = defaults_for(method)
    for name, value in overrides.items():
        setattr(args, name, value)
    torch.manual_seed(args.seed)
    peft = get_peft_model(model, REGISTRY[PeftType(method)].Config(**method_kwargs))
    with peft.disable_adapter():
        base_loss = evaluate(peft, data.validation, data.pad_token_id)
    events = list(train(peft, tok, data, args, out))
    assert not isinstance(events[-1], Failed), events[-1].reason + events[-1].detail
    assert isinstance(events[-1], Finished) and events[-1].status == "completed"
    return peft, base_loss, [e for e in events if isinstance(e, Eval)][-1].eval_loss


class Base:
    """SmolLM2-135M-Instruct loaded once, each task's prepared data and the base model's held-out replies."""

    def __init__(self) -> None:
        if os.getloadavg()[0] > (os.cpu_count() or 1):
            # On a shared, overloaded machine two OpenMP threads spin at barriers: one thread is ~3x faster.
            torch.set_num_threads(1)
        self.model, self.tok = load_model("smollm2-135m-instruct")

    @functools.cache
    def task(self, name: str):
        """(prepared data, held-out rows, the base model's replies to them) of a task in `TASKS`."""
        train_path, heldout_path = TASKS[name]
        rows = [json.loads(line) for line in heldout_path.read_text().splitlines() if line.strip()]
        # Plain rows (~22 tokens a facts row, ~15 a style row; with SmolLM2's chat template and default system
        # prompt ~53): the chat path is covered by test_data.py.
        data = prepare(DataConfig(path=str(train_path), validation_path=str(heldout_path), max_length=128,
                                  use_chat_template=False), self.tok)
        return data, rows, answers(self.model, self.tok, [r["prompt"] for r in rows], False)


@pytest.fixture(scope="module")
def base():
    return Base()


def learn(base: Base, tmp_path: Path, method: str, task: str, **overrides) -> dict:
    """Train a copy of the base with ``method``'s defaults on ``task`` and score the held-out rows:
    ``base``/``tuned``: the share of replies containing the answer (facts) or in the template (style)."""
    t0 = time.perf_counter()
    data, rows, base_replies = base.task(task)
    score = (lambda replies: accuracy(replies, [r["answer"] for r in rows])) if task == "facts" else (lambda replies: form_rate(replies, rows))
    # The test scores every held-out row itself after training, so the loop's sampled answers at each evaluation
    # (8 greedy generations, 4 times a run; the LoRA test keeps them: it goes through the product's path) are skipped.
    overrides.setdefault("eval_samples", 0)
    peft, base_loss, eval_loss = train_defaults(method, copy.deepcopy(base.model), base.tok, data, tmp_path, **overrides)
    peft.eval()
    replies = answers(peft, base.tok, [r["prompt"] for r in rows], False)
    result = {"base_loss": base_loss, "eval_loss": eval_loss, "base": score(base_replies), "tuned": score(replies), "peft": peft}
    print(f"\n{method} on {task}: held-out eval loss {base_loss:.3f} -> {eval_loss:.3f}; held-out score base "
          f"{result['base']:.0%} -> tuned {result['tuned']:.0%}; {time.perf_counter() - t0:.0f} s; "
          f"e.g. {rows[0]['prompt']!r} -> {replies[0]!r}")
    return result


@pytest.mark.slow
@pytest.mark.timeout(2400)  # ~11 min of training under a load average of 13-14 (docs/training.md)
def test_lora_defaults_teach_made_up_facts(base, tmp_path, capsys):
    """LoRA stores new facts, through the product's own path: `new` with LoRA's defaults (plain rows, the held-out
    phrasings as the evaluation set) -> the worker trains 60 steps, scoring 8 held-out prompts every 20 steps into
    the project file -> `eval` of the base and of the run on all 40 -> export -> peft on transformers' model,
    scored by a plain loop, agrees. The same run proves issue #17's evaluation (docs/evaluation.md#measured)."""
    import io

    from core import evaluate as ev
    from core import worker
    from core.cli import main
    from core.store import Project

    # Plain "prompt\ncompletion" rows (as the other tests here), the held-out phrasings as the evaluation set.
    assert main(["new", str(tmp_path / "caps"), "--model", "smollm2-135m-instruct", "--dataset", str(TRAIN),
                 "--set", "max_length=128", "--set", "use_chat_template=false", "--set", f"validation_path={HELDOUT}",
                 "--set", "save_steps=20", "--set", "eval_steps=20", "--set", "save_total_limit=0",
                 "--set", "eval_max_new_tokens=16"]) == 0
    capsys.readouterr()
    path = tmp_path / "caps.adapterstudio"
    common = ["--data", str(HELDOUT), "--reference", "answer", "--json", "--max-new-tokens", "16"]
    assert main(["eval", str(path), "--base", *common]) == 0
    base_scores = json.loads(capsys.readouterr().out)
    with Project.open(path) as proj:
        run_id = proj.create_run()
    assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK
    with Project.open(path) as proj:
        scores = proj.eval_scores(run_id)
    # The tuned run scored against the whole sentence "The capital of X is Y." (the data's completion, the default
    # reference); its replies, which do not depend on the reference (the prompt is tokenized on its own), are then
    # scored against the short answers here: one generation pass instead of a second `eval --reference answer`
    # (the base above goes through that option).
    assert main(["eval", str(path), "--run", str(run_id), "--data", str(HELDOUT), "--json", "--max-new-tokens", "16",
                 "--samples"]) == 0
    tuned_sentence = json.loads(capsys.readouterr().out)
    records = [json.loads(line) for line in HELDOUT.read_text().splitlines() if line.strip()]
    rows = tuned_sentence["samples"]
    assert len(rows) == len(records) and all(row["prompt"].endswith(r["prompt"] + "\n") for row, r in zip(rows, records))
    assert [row["reference"] for row in rows] == [r["completion"] for r in records]
    tuned = {"n": len(rows), "contains": sum(ev.contains(row["output"], r["answer"]) for row, r in zip(rows, records)) / len(rows)}
    assert main(["export", str(path), "--run", str(run_id), "--adapter", str(tmp_path / "exported")]) == 0
    capsys.readouterr()
    independent = _peft_contains(tmp_path / "exported", HELDOUT)
    print(f"\nbase {base_scores}\ntuned (answer) {tuned}\ntuned (sentence) {tuned_sentence | {'samples': None}}\n"
          f"per step {[(s['step'], s['exact_match'], s['contains'], s['eval_loss']) for s in scores]}\n"
          f"peft on the exported adapter: contains {independent:.3f}")
    assert base_scores["n"] == tuned["n"] == tuned_sentence["n"] == 40
    assert base_scores["contains"] <= 0.05 and base_scores["exact_match"] <= 0.05
    assert tuned["contains"] >= 0.9
    assert tuned_sentence["exact_match"] >= 0.9  # the whole sentence "The capital of X is Y." as in the data
    # In the project file: the base (step 0) answers none of the 8 sampled prompts; exact match rises to >= 0.9.
    steps = [s["step"] for s in scores]
    assert steps == [0, 20, 40, 60]
    exact = [s["exact_match"] for s in scores]
    assert exact[0] == 0.0 and exact[-1] >= 0.9 and exact[-1] > exact[1]
    # The held-out eval loss (all 40 rows, as the worker computes it) falls below half the base model's.
    data, _, _ = base.task("facts")  # the same rows and settings as the project's; its base replies serve AdaLoRA's test
    base_loss = evaluate(base.model, data.validation, data.pad_token_id)
    print(f"held-out eval loss {base_loss:.3f} -> {scores[-1]['eval_loss']:.3f}")
    assert scores[-1]["eval_loss"] < 0.5 * base_loss
    # The exported adapter, loaded by peft onto transformers' model, scored by a plain loop: the same fraction.
    assert independent == pytest.approx(tuned["contains"], abs=1 / 40)


def _peft_contains(adapter: Path, heldout: Path) -> float:
    """The fraction of held-out answers found in greedy replies of transformers + peft (plain prompt + "\\n")."""
    import peft
    import torch
    import transformers

    from core.models import _smollm2_dir

    base = transformers.AutoModelForCausalLM.from_pretrained(_smollm2_dir(), torch_dtype=torch.float32)
    tok = transformers.AutoTokenizer.from_pretrained(_smollm2_dir())
    model = peft.PeftModel.from_pretrained(base, str(adapter)).eval()
    hits = 0
    records = [json.loads(line) for line in heldout.read_text().splitlines() if line.strip()]
    for record in records:
        ids = tok(record["prompt"] + "\n", return_tensors="pt")["input_ids"]
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False,
                                 pad_token_id=tok.eos_token_id)
        reply = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        hits += record["answer"].lower() in reply.lower()
    return hits / len(records)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # as the LoRA test: ~5 min of training under a load average of 4-6 on 2 cores
def test_adalora_defaults_teach_made_up_facts(base, tmp_path):
    # Issue #21: at lora_alpha 32 AdaLoRA's update stayed ~15x smaller than LoRA's (0.00 held-out exact match
    # through the CLI, loss 3.10 -> 1.36); at the measured default 2048 the CLI run scored 1.00 exact match
    # and LoRA's defaults 0.95 (docs/method-defaults.md). LoRA's own test asks >= 0.7; ask the same here.
    r = learn(base, tmp_path, "ADALORA", "facts")
    assert r["eval_loss"] < 0.5 * r["base_loss"]
    assert r["base"] <= 0.05
    assert r["tuned"] >= 0.7
    ranks = r["peft"].rank_pattern()
    assert sum(ranks.values()) <= 8 * len(ranks)  # the budget schedule ran: target_r 8 on average


STYLE_STEPS = {"PROMPT_TUNING": 60, "PREFIX_TUNING": 60}
"""Steps of the style tests: 30, half the product's 60 (docs/method-defaults.md has each method's score at 60), to
keep CI's learning tests short: the template is a simpler thing to learn than 40 facts. Prompt tuning and prefix
tuning followed the template for 48 % and 40 % of the questions after 30 steps (2026-12-07) and 97.5 % each after
60 (the CLI runs): they get the product's 60."""


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("method", ["IA3", "ADAPTION_PROMPT", "PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"])
def test_style_methods_defaults_teach_a_reply_template(base, tmp_path, method):
    # The base model never answers in the template; each of these methods at its defaults wrote it for 0.975-1.00
    # of the 40 new questions through the CLI at 60 steps (docs/method-defaults.md). Ask for a margin under that.
    r = learn(base, tmp_path, method, "style", max_steps=STYLE_STEPS.get(method, 30))
    assert r["base"] == 0.0
    assert r["eval_loss"] < 0.5 * r["base_loss"]
    assert r["tuned"] >= 0.7
