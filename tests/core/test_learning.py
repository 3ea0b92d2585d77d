"""Proof that training teaches: LoRA (and AdaLoRA) with the method defaults teaches SmolLM2-135M-Instruct 40 made-up
capitals (assets/datasets/made_up_capitals.jsonl) on the CPU, and it answers held-out paraphrases
(a question form it never saw) correctly where the base model cannot."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch

from core import AdaLoraConfig, LoraConfig, get_peft_model
from core.data import DataConfig, prepare
from core.models import load_model
from core.protocol import Eval, Failed, Finished
from core.train import defaults_for, evaluate, train

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "assets/datasets/made_up_capitals.jsonl"
HELDOUT = ROOT / "assets/datasets/made_up_capitals_heldout.jsonl"
CONFIGS = {"LORA": LoraConfig, "ADALORA": AdaLoraConfig}


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


def train_defaults(method: str, model, tok, data, out, **overrides):
    """``method`` (a PeftType name) with the product's defaults (`core.train.defaults_for`, untuned; ``overrides``
    change training arguments) trained on ``data`` to completion -> (the PEFT model, the base's held-out loss,
    the last eval loss). Also used by test_qlora's 4-bit run."""
    method_kwargs, args = defaults_for(method)
    for name, value in overrides.items():
        setattr(args, name, value)
    torch.manual_seed(args.seed)
    peft = get_peft_model(model, CONFIGS[method](**method_kwargs))
    with peft.disable_adapter():
        base_loss = evaluate(peft, data.validation, data.pad_token_id)
    events = list(train(peft, tok, data, args, out))
    assert not isinstance(events[-1], Failed), events[-1].reason + events[-1].detail
    assert isinstance(events[-1], Finished) and events[-1].status == "completed"
    return peft, base_loss, [e for e in events if isinstance(e, Eval)][-1].eval_loss


def train_facts(tmp_path: Path, method: str) -> dict:
    """Train SmolLM2-135M-Instruct on the made-up capitals with ``method``'s defaults (a PeftType name, its
    ``FACTS``), untuned, and score it on the held-out paraphrases: the shared machinery of the learning tests."""
    # Plain "prompt\ncompletion" rows (~22 tokens; with SmolLM2's chat template and its default system
    # prompt they are ~53) keep this run near a minute. The chat path is covered by test_data.py.
    chat = False
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        # On a shared, overloaded machine two OpenMP threads spin at barriers: one thread is ~3x faster.
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    heldout = [json.loads(line) for line in HELDOUT.read_text().splitlines()]
    prompts, expected = [r["prompt"] for r in heldout], [r["answer"] for r in heldout]
    model, tok = load_model("smollm2-135m-instruct")
    data = prepare(DataConfig(path=str(TRAIN), validation_path=str(HELDOUT), max_length=128, use_chat_template=chat), tok)
    base_acc = accuracy(answers(model, tok, prompts, chat), expected)

    peft, base_loss, eval_loss = train_defaults(method, model, tok, data, tmp_path)

    peft.eval()
    replies = answers(peft, tok, prompts, chat)
    tuned_acc = accuracy(replies, expected)
    print(f"\n{method}: held-out eval loss {base_loss:.3f} -> {eval_loss:.3f}; held-out accuracy base {base_acc:.0%} -> tuned "
          f"{tuned_acc:.0%}; {time.perf_counter() - t0:.0f} s ({data.stats.summary()['mean']:.0f} tokens/example); "
          f"e.g. {prompts[0]!r} -> {replies[0]!r}")
    return {"base_loss": base_loss, "eval_loss": eval_loss, "base_acc": base_acc, "tuned_acc": tuned_acc, "peft": peft}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # minutes on 2 quiet cores; 649 s under a load average of 13-14 (docs/training.md)
def test_lora_defaults_teach_made_up_facts(tmp_path):
    r = train_facts(tmp_path, "LORA")
    assert r["eval_loss"] < 0.5 * r["base_loss"]
    assert r["base_acc"] <= 0.05
    assert r["tuned_acc"] >= 0.7


@pytest.mark.slow
@pytest.mark.timeout(1800)  # as the LoRA test: ~5 min of training under a load average of 4-6 on 2 cores
def test_adalora_defaults_teach_made_up_facts(tmp_path):
    # Issue #21: at lora_alpha 32 AdaLoRA's update stayed ~15x smaller than LoRA's (0.00 held-out exact match
    # through the CLI, loss 3.10 -> 1.36); at the measured default 2048 the CLI run scored 1.00 exact match
    # and LoRA's defaults 0.95 (docs/method-defaults.md). LoRA's own test asks >= 0.7; ask the same here.
    r = train_facts(tmp_path, "ADALORA")
    assert r["eval_loss"] < 0.5 * r["base_loss"]
    assert r["base_acc"] <= 0.05
    assert r["tuned_acc"] >= 0.7
    ranks = r["peft"].rank_pattern()
    assert sum(ranks.values()) <= 8 * len(ranks)  # the budget schedule ran: target_r 8 on average
