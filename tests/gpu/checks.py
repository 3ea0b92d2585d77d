"""GPU checks (issue #18), run by tests/gpu/run_checks.sh when a CUDA machine is lent; not part of the suite.

    PYTHONPATH=. python tests/gpu/checks.py --out results.json [--cpu-dry-run] [--only throughput,qlora]

Writes one JSON (rewritten after every measurement, so a run cut short keeps what it measured):

- ``throughput``: tokens/s and peak memory (``torch.cuda.max_memory_allocated``) of LoRA training, ours
  (``core.train.train``) against transformers' ``Trainer`` + PEFT, on SmolLM2-135M's architecture and a
  1B-class Llama architecture (Llama-3.2-1B's shapes), random weights built on the device (nothing is
  downloaded). LoRA r=16, α 32, dropout 0.05, all linear layers, AdamW, batch × tokens of random ids, every
  token trained. Precision ``amp``: float32 weights, bf16 autocast (``mixed_precision="bf16"`` /
  ``bf16=True``); ``bf16-base``: the frozen base held in bfloat16 (adapters float32 on both sides).
  The first ``warmup`` steps are not timed.
- ``qlora``: the same on SmolLM2-135M's architecture with the base in 4-bit NF4 (bitsandbytes), compute bf16:
  ours (``core.quantize.quantize_loaded``) against Trainer + PEFT on the same quantized weights.
- ``estimate``: `core.estimate.cost` for each of our runs above against its measured peak (ratio).

``--cpu-dry-run``: tiny shapes (2 layers, 64 wide), a few steps, on the CPU: checks that every path runs;
its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

ARCHS = {
    "smollm2-135m": dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, head_dim=64, rope_theta=100000.0,
                         rms_norm_eps=1e-5, tie_word_embeddings=True, max_position_embeddings=8192),
    "llama-1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=64, rope_theta=500000.0,
                     rms_norm_eps=1e-5, tie_word_embeddings=True, max_position_embeddings=8192),
}
TINY = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, tie_word_embeddings=True, max_position_embeddings=256)
LORA = dict(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")


class Settings:
    def __init__(self, dry: bool) -> None:
        self.dry = dry
        self.device = "cpu" if dry else "cuda"
        # (batch, tokens, steps, warm-up steps) per architecture
        self.shape = {"smollm2-135m": (2, 32, 4, 1), "llama-1b": (2, 32, 4, 1)} if dry else \
            {"smollm2-135m": (8, 512, 30, 5), "llama-1b": (8, 512, 20, 5)}

    def config(self, arch: str) -> LlamaConfig:
        return LlamaConfig(**(TINY if self.dry else ARCHS[arch]))


def reset_memory(settings: Settings) -> None:
    gc.collect()
    if settings.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_bytes(settings: Settings) -> int | None:
    return torch.cuda.max_memory_allocated() if settings.device == "cuda" else None


def build(settings: Settings, arch: str, dtype: torch.dtype) -> LlamaForCausalLM:
    torch.manual_seed(0)
    with torch.device(settings.device):
        model = LlamaForCausalLM(settings.config(arch))  # random weights, built where it trains
    return model.to(dtype)


def rows(settings: Settings, arch: str) -> list[list[int]]:
    batch, tokens, steps, _ = settings.shape[arch]
    g = torch.Generator().manual_seed(0)
    vocab = settings.config(arch).vocab_size
    return [torch.randint(0, vocab, (tokens,), generator=g).tolist() for _ in range(batch * steps)]


def run_ours(settings: Settings, arch: str, precision: str, model=None) -> dict:
    """``core.train.train`` on random rows; tokens/s from the steps' elapsed times after the warm-up."""
    import core
    from core.data import DataStats, Example, PreparedData
    from core.protocol import Failed, Step
    from core.train import TrainingArguments, train

    batch, tokens, steps, warm = settings.shape[arch]
    reset_memory(settings)
    if model is None:
        model = build(settings, arch, torch.bfloat16 if precision == "bf16-base" else torch.float32)
    peft_model = core.get_peft_model(model, core.LoraConfig(task_type="CAUSAL_LM", **LORA))
    data = PreparedData([Example(r, list(r)) for r in rows(settings, arch)], [], DataStats(), "text", 0)
    mixed = "no" if precision == "bf16-base" or settings.dry else "bf16"
    args = TrainingArguments(max_steps=steps, batch_size=batch, warmup_steps=0, save_steps=0, eval_steps=0, eval_samples=0,
                             mixed_precision=mixed, device=settings.device, logging_steps=1)
    elapsed: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as out:
        for event in train(peft_model, None, data, args, out):
            if isinstance(event, Failed):
                raise RuntimeError(f"{event.reason} {event.detail}")
            if isinstance(event, Step):
                elapsed[event.step] = event.elapsed_s
    timed = steps - warm
    return {"tokens_per_s": timed * batch * tokens / (elapsed[steps] - elapsed[warm]), "peak_bytes": peak_bytes(settings),
            "mixed_precision": mixed}


def run_trainer(settings: Settings, arch: str, precision: str, model=None) -> dict:
    """transformers' Trainer + PEFT on the same rows; tokens/s from step-end times after the warm-up."""
    import peft
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments

    batch, tokens, steps, warm = settings.shape[arch]
    reset_memory(settings)
    if model is None:
        model = build(settings, arch, torch.bfloat16 if precision == "bf16-base" else torch.float32)
    peft_model = peft.get_peft_model(model, peft.LoraConfig(task_type="CAUSAL_LM", **LORA))
    ds = Dataset.from_list([{"input_ids": r, "labels": r} for r in rows(settings, arch)])
    marks: dict[int, float] = {}

    class Timer(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if settings.device == "cuda":
                torch.cuda.synchronize()
            marks[state.global_step] = time.perf_counter()

    amp = precision != "bf16-base" and not settings.dry
    with tempfile.TemporaryDirectory() as out:
        hf = TrainingArguments(output_dir=out, per_device_train_batch_size=batch, max_steps=steps, learning_rate=2e-3,
                               lr_scheduler_type="cosine", warmup_steps=0, max_grad_norm=1.0, weight_decay=0.0,
                               logging_steps=1, save_strategy="no", report_to=[], bf16=amp, seed=42,
                               dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=True,
                               use_cpu=settings.device == "cpu")
        Trainer(model=peft_model, args=hf, train_dataset=ds, callbacks=[Timer()]).train()
    timed = steps - warm
    return {"tokens_per_s": timed * batch * tokens / (marks[steps] - marks[warm]), "peak_bytes": peak_bytes(settings),
            "bf16": amp}


def estimate_for(settings: Settings, arch: str, precision: str, base_precision: str | None = None) -> dict:
    """`core.estimate.cost` for the run just measured (the meta-device model of the same shapes)."""
    from core import estimate
    from core.methods import lora

    batch, tokens, _, _ = settings.shape[arch]
    with torch.device("meta"):
        meta = LlamaForCausalLM(settings.config(arch))
    dtype = "bfloat16" if precision in ("bf16-base", "4bit") else "float32"
    cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", **LORA}
    got = estimate.cost(meta, lora, cfg, batch_size=batch, seq_len=tokens, dtype=dtype, device=settings.device,
                        base_precision=base_precision)
    return {"estimate_bytes": got["memory"]["total"], "parts": got["memory"]}


def quantized(settings: Settings, arch: str):
    from core.quantize import quantize_loaded

    model = build(settings, arch, torch.float32).to("cpu")
    return quantize_loaded(model, "4bit", compute_dtype="bfloat16", device=settings.device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny shapes on the CPU: the paths run, numbers mean nothing")
    parser.add_argument("--only", default="throughput,qlora", help="comma list of throughput, qlora")
    args = parser.parse_args()
    settings = Settings(args.cpu_dry_run)
    if not settings.dry and not torch.cuda.is_available():
        raise SystemExit("No CUDA device: run with --cpu-dry-run to check the paths on the CPU.")
    import peft
    import transformers

    result: dict = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": torch.cuda.get_device_name(0) if settings.device == "cuda" else f"cpu ({platform.machine()}, dry run)",
        "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
        "lora": LORA, "shapes": {k: dict(zip(("batch", "tokens", "steps", "warmup"), v)) for k, v in settings.shape.items()},
        "throughput": [], "qlora": [], "errors": [],
    }
    out = Path(args.out)

    def save() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))

    def attempt(section: str, row: dict, fn, *fn_args, base_precision: str | None = None, **fn_kwargs) -> None:
        start = time.perf_counter()
        try:
            row.update(fn(*fn_args, **fn_kwargs))
            if row["side"] == "ours":
                row.update(estimate_for(settings, row["arch"], row["precision"], base_precision))
                if row.get("peak_bytes"):
                    row["estimate_over_peak"] = row["estimate_bytes"] / row["peak_bytes"]
        except Exception as exc:  # noqa: BLE001 - one failed measurement must not lose the others
            row["error"] = f"{type(exc).__name__}: {exc}"
            result["errors"].append({**row, "traceback": traceback.format_exc()[-3000:]})
        row["seconds"] = round(time.perf_counter() - start, 1)
        result[section].append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "parts"}), flush=True)
        save()

    sections = args.only.split(",")
    if "throughput" in sections:
        for arch in ARCHS:
            for precision in ("amp", "bf16-base"):
                for side, fn in (("ours", run_ours), ("trainer", run_trainer)):
                    attempt("throughput", {"arch": arch, "precision": precision, "side": side}, fn, settings, arch, precision)
    if "qlora" in sections:
        arch = "smollm2-135m"
        for side, fn in (("ours", run_ours), ("trainer", run_trainer)):
            row = {"arch": arch, "precision": "4bit", "side": side}
            attempt("qlora", row, lambda: fn(settings, arch, "4bit", model=quantized(settings, arch)), base_precision="4bit")
    for section in ("throughput", "qlora"):  # ours / Trainer per setting, when both ran
        pairs = {}
        for row in result[section]:
            pairs.setdefault((row["arch"], row["precision"]), {})[row["side"]] = row
        result[f"{section}_ratios"] = [
            {"arch": a, "precision": p, "tokens_per_s_ours_over_trainer": s["ours"]["tokens_per_s"] / s["trainer"]["tokens_per_s"],
             **({"peak_ours_over_trainer": s["ours"]["peak_bytes"] / s["trainer"]["peak_bytes"]} if s["ours"].get("peak_bytes") else {})}
            for (a, p), s in pairs.items() if "tokens_per_s" in s.get("ours", {}) and "tokens_per_s" in s.get("trainer", {})
        ]
    save()
    print(f"wrote {out} ({len(result['errors'])} errors)")
    if result["errors"] and settings.dry:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
