"""The training loop: one function, read top to bottom, that yields the worker protocol's events.

    for event in train(model, tokenizer, data, args, "runs/1"):
        print(event)

No Trainer hierarchy and no callbacks (nanoGPT's ``train.py`` is the model): whoever iterates decides
what to do with each event — the worker forwards it and records it; tests assert on it.

What the loop does, in order: seed; Accelerate (device placement, bf16/fp16 on CUDA, DDP under
``torchrun`` / ``accelerate launch``); AdamW (optionally LoRA+: ``B`` matrices at ``lr * ratio``);
a warm-up then linear/cosine schedule; per optimizer step ``gradient_accumulation_steps`` micro-batches
per process, the loss summed over the trained tokens and divided by the trained tokens of the *whole*
global batch (so one process with batch 8 computes exactly what two processes with batch 4 compute);
gradient clipping; AdaLoRA's ``update_and_allocate``; evaluation; checkpoints every ``save_steps`` and
on stop. Failures (a non-finite loss, out of memory, anything else) end the loop with a `Failed` event
that says what to do; the last good checkpoint stays.

Data order is a pure function of (seed, step): the examples form an endless stream of seeded shuffles
(`core.data.stream_indices`), optimizer step ``s`` reads positions ``[s·G, (s+1)·G)`` with ``G`` the
global batch, and process ``r`` reads micro-batch chunk ``m·world + r``. So a checkpoint's data
position is its step, and a resumed run continues the very same curve.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from core.data import IGNORE, Example, PreparedData, collate, stream_indices
from core.protocol import Checkpoint, Eval, Event, Failed, Finished, Log, Started, Step

SCHEDULES = ("linear", "cosine", "constant")
PRECISIONS = ("auto", "no", "bf16", "fp16")


class TrainingConfigError(ValueError):
    """A training setting is out of range; the message names the field."""


@dataclass
class TrainingArguments:
    """How to train. Saved in the project file as JSON (``asdict`` / ``TrainingArguments(**d)``).

    ``batch_size`` is per process and micro-batch: one optimizer step sees
    ``batch_size × gradient_accumulation_steps × processes`` examples."""

    max_steps: int = field(default=60, metadata={"help": "Optimizer steps to take (ignored when num_epochs > 0)."})
    num_epochs: float = field(default=0.0, metadata={"help": "Passes over the training data; 0 = use max_steps."})
    batch_size: int = field(default=8, metadata={"help": "Examples per micro-batch and process."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches summed into one optimizer step (a bigger batch without more memory)."})
    learning_rate: float = field(default=2e-3, metadata={"help": "Peak learning rate of AdamW."})
    loraplus_lr_ratio: float = field(default=0.0, metadata={"help": "LoRA+: the B matrices learn this many times faster (e.g. 16); 0 = off."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1."})
    adam_beta2: float = field(default=0.999, metadata={"help": "AdamW beta2."})
    adam_epsilon: float = field(default=1e-8, metadata={"help": "AdamW epsilon."})
    lr_scheduler: str = field(default="cosine", metadata={"help": "After warm-up: 'linear' or 'cosine' decay to 0, or 'constant'."})
    warmup_steps: int = field(default=5, metadata={"help": "Steps of linear warm-up from 0 to the learning rate."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Clip the gradient norm to this; 0 = no clipping."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Recompute activations in backward: less memory, ~30 % slower."})
    mixed_precision: str = field(default="auto", metadata={"help": "'auto' (bf16 on GPUs that have it, else fp16; none on CPU), 'no', 'bf16', 'fp16'."})
    seed: int = field(default=42, metadata={"help": "Seed of data order, dropout and adapter initialisation."})
    logging_steps: int = field(default=1, metadata={"help": "Report a step event every this many steps."})
    eval_steps: int = field(default=20, metadata={"help": "Evaluate on the validation split every this many steps (and at the end); 0 = only at the end."})
    eval_batch_size: int = field(default=16, metadata={"help": "Examples per evaluation batch and process."})
    save_steps: int = field(default=50, metadata={"help": "Write a checkpoint every this many steps (and always at the end and on stop); 0 = only then."})
    save_total_limit: int = field(default=2, metadata={"help": "Keep at most this many checkpoints (oldest deleted first); 0 = keep all."})

    def __post_init__(self) -> None:
        positive = ("batch_size", "gradient_accumulation_steps", "logging_steps", "eval_batch_size")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise TrainingConfigError(f"{name} must be at least 1, not {getattr(self, name)}.")
        for name in ("max_steps", "warmup_steps", "eval_steps", "save_steps", "save_total_limit"):
            if int(getattr(self, name)) < 0:
                raise TrainingConfigError(f"{name} must not be negative, not {getattr(self, name)}.")
        if self.num_epochs <= 0 and self.max_steps < 1:
            raise TrainingConfigError("Set max_steps ≥ 1 or num_epochs > 0.")
        if not self.learning_rate > 0:
            raise TrainingConfigError(f"learning_rate must be positive, not {self.learning_rate}.")
        if self.lr_scheduler not in SCHEDULES:
            raise TrainingConfigError(f"lr_scheduler must be one of {', '.join(SCHEDULES)}, not {self.lr_scheduler!r}.")
        if self.mixed_precision not in PRECISIONS:
            raise TrainingConfigError(f"mixed_precision must be one of {', '.join(PRECISIONS)}, not {self.mixed_precision!r}.")
        if self.loraplus_lr_ratio < 0 or self.max_grad_norm < 0 or self.weight_decay < 0:
            raise TrainingConfigError("loraplus_lr_ratio, max_grad_norm and weight_decay must not be negative.")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainingArguments":
        """From saved JSON; unknown keys (from a newer version) are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TrainingConfigError(f"Unknown training setting(s): {', '.join(unknown)}.")
        return cls(**d)


# Per method: (adapter config settings, training settings) that make a short run on a small dataset
# learn without tuning. LoRA measured here: r=16 on all linear layers, AdamW 2e-3, batch 8 taught
# SmolLM2-135M-Instruct 40 made-up facts in 60 steps (tests/core/test_learning.py). Prompt-learning
# methods train far fewer parameters and want a much larger learning rate.
METHOD_DEFAULTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "LORA": ({"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"}, {"learning_rate": 2e-3}),
    # AdaLoRA's schedule needs the run's length: total_step must equal the run's max_steps (60 here).
    "ADALORA": ({"init_r": 16, "target_r": 8, "lora_alpha": 32, "target_modules": "all-linear", "total_step": 60, "tinit": 6, "tfinal": 12},
                {"learning_rate": 2e-3}),
    "IA3": ({"target_modules": None}, {"learning_rate": 1e-2}),
    "PROMPT_TUNING": ({"num_virtual_tokens": 20}, {"learning_rate": 3e-2, "lr_scheduler": "linear"}),
    "P_TUNING": ({"num_virtual_tokens": 20, "encoder_hidden_size": 128}, {"learning_rate": 1e-2, "lr_scheduler": "linear"}),
    "PREFIX_TUNING": ({"num_virtual_tokens": 20}, {"learning_rate": 1e-2, "lr_scheduler": "linear"}),
    "ADAPTION_PROMPT": ({"adapter_len": 10, "adapter_layers": 2}, {"learning_rate": 1e-2}),
}


def defaults_for(method: str) -> tuple[dict[str, Any], TrainingArguments]:
    """(adapter config keyword arguments, training arguments) recommended for ``method`` (a PeftType name)."""
    key = str(getattr(method, "value", method)).upper()
    if key not in METHOD_DEFAULTS:
        raise TrainingConfigError(f"No defaults for method {method!r}; known: {', '.join(METHOD_DEFAULTS)}.")
    method_kwargs, train_kwargs = METHOD_DEFAULTS[key]
    return dict(method_kwargs), TrainingArguments(**train_kwargs)


StopFlag = threading.Event | Callable[[], bool] | None


def train(
    model: Any,
    tokenizer: Any,
    data: PreparedData,
    args: TrainingArguments,
    output_dir: str | os.PathLike[str],
    *,
    should_stop: StopFlag = None,
    resume_from: str | os.PathLike[str] | None = None,
    run_id: int | None = None,
) -> Iterator[Event]:
    """Train the adapter of ``model`` (a `core.PeftModel`) on ``data`` and yield protocol events.

    ``should_stop`` (a ``threading.Event`` or a callable returning True) is checked after every
    optimizer step: when set, the loop writes a checkpoint and ends with ``Finished("stopped")``.
    ``resume_from`` is a checkpoint folder written by an earlier run with the same data and
    arguments; the run continues from its step as if it had never stopped. Checkpoints go to
    ``output_dir/checkpoint-<step>``. Errors never escape: they end the loop as a `Failed` event.
    """
    stop_requested = _stop_check(should_stop)
    output_dir = Path(output_dir)
    step, last_ckpt, failed_at = 0, None, None
    try:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        # ---- set-up: accelerator, model, optimizer, schedule ------------------------------------
        cuda = torch.cuda.is_available()
        precision = args.mixed_precision
        if precision == "auto":
            precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "no"
        accelerator = Accelerator(mixed_precision=precision, cpu=not cuda)
        world, rank = accelerator.num_processes, accelerator.process_index
        set_seed(args.seed)
        peft = model
        if args.gradient_checkpointing:
            base = peft.get_base_model()
            if hasattr(base, "activation_checkpointing_enable"):  # transformers >= 5.x
                base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            base.config.use_cache = False
        peft.train()
        optimizer = torch.optim.AdamW(
            _param_groups(peft, args), lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
            eps=args.adam_epsilon, weight_decay=args.weight_decay,
        )
        n_train = len(data.train)
        G = args.batch_size * args.gradient_accumulation_steps * world  # examples per optimizer step
        total_steps = math.ceil(args.num_epochs * n_train / G) if args.num_epochs > 0 else args.max_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(args, total_steps))
        model, optimizer = accelerator.prepare(model, optimizer)
        device = accelerator.device
        adalora = _is_adalora(peft)

        if resume_from is not None:
            step = _load_checkpoint(Path(resume_from), peft, optimizer, scheduler, accelerator)
            last_ckpt = str(Path(resume_from).resolve())
        trainable, total = peft.get_nb_trainable_parameters()
        where = str(device) + (f" ({torch.cuda.get_device_name(device)})" if cuda else "") + (f" {precision}" if precision != "no" else "")
        yield Started(
            run_id=run_id, total_steps=total_steps, start_step=step, epochs=total_steps * G / n_train,
            train_examples=n_train, eval_examples=len(data.validation), trainable_params=trainable,
            all_params=total, device=where, num_processes=world, resumed_from=last_ckpt,
        )
        for warning in getattr(data, "warnings", []):
            yield Log("warning", warning)
        config = peft.active_peft_config
        if adalora and getattr(config, "total_step", total_steps) != total_steps:
            # The rank schedule must end with the run: follow the run's length (when the schedule still fits).
            if total_steps > config.tinit + config.tfinal:
                yield Log("info", f"AdaLoRA's total_step was {config.total_step}; this run takes {total_steps} steps, "
                          f"so the rank schedule now spans {total_steps} steps.")
                config.total_step = total_steps
            else:
                yield Log("warning", f"AdaLoRA's total_step is {config.total_step} but this run takes only {total_steps} "
                          f"steps, fewer than tinit + tfinal = {config.tinit + config.tfinal}: the rank schedule will not "
                          "line up with the run. Lower tinit/tfinal or train longer.")

        orth_weight = float(getattr(peft.active_peft_config, "orth_reg_weight", 0.0)) if adalora else 0.0

        # ---- the loop ---------------------------------------------------------------------------
        t0 = time.perf_counter()
        start_step = step
        loss_value = eval_loss = None
        while step < total_steps:
            failed_at = step + 1
            t_step = time.perf_counter()
            # The whole global batch's examples are known on every rank (no communication needed
            # to count its trained tokens): positions [step·G, (step+1)·G) of the shuffled stream.
            idx = stream_indices(n_train, args.seed, step * G, G)
            batch_all = [data.train[i] for i in idx]
            n_target = sum(_n_targets(e) for e in batch_all)  # trained tokens of the global batch
            n_tokens = sum(len(e.input_ids) for e in batch_all)  # input tokens, padding excluded
            loss_sum = torch.zeros((), device=device)
            for m in range(args.gradient_accumulation_steps):
                chunk = m * world + rank
                micro = batch_all[chunk * args.batch_size:(chunk + 1) * args.batch_size]
                batch = {k: v.to(device) for k, v in collate(micro, data.pad_token_id).items()}
                # DDP averages gradients over processes; ×world turns that into a sum, so the step's
                # gradient is that of (sum of token losses) / (trained tokens of the global batch).
                sync = m == args.gradient_accumulation_steps - 1
                with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                    with accelerator.autocast():
                        micro_sum = _loss_sum(model, batch)  # () summed over the micro-batch's trained tokens
                    objective = micro_sum * world / n_target
                    if orth_weight:
                        # AdaLoRA's orthogonality penalty (the same on every rank, so DDP's average keeps it),
                        # split over the micro-batches so that each optimizer step adds it once.
                        objective = objective + orth_weight * peft.orthogonality_penalty() / args.gradient_accumulation_steps
                    accelerator.backward(objective)
                loss_sum += micro_sum.detach()
            loss_t = accelerator.reduce(loss_sum, reduction="sum") if world > 1 else loss_sum
            loss_value = float(loss_t) / n_target
            if not math.isfinite(loss_value):
                yield Failed(
                    reason=f"The loss became {loss_value} at step {step + 1}; training stopped. Lower the learning rate "
                    f"(now {args.learning_rate:g}){' or use bf16 instead of fp16' if precision == 'fp16' else ''}, "
                    "then resume from the last checkpoint or start again.",
                    step=step + 1, kind="nan", checkpoint=last_ckpt,
                )
                return
            grad_norm = None
            if args.max_grad_norm > 0:
                grad_norm = float(accelerator.clip_grad_norm_(peft.parameters(), args.max_grad_norm))
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            if adalora:  # AdaLoRA re-allocates ranks from this step's gradients (before they are cleared)
                peft.update_and_allocate(step)
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1

            now = time.perf_counter()
            elapsed = now - t0
            if step % args.logging_steps == 0 or step == total_steps:
                per_step = elapsed / (step - start_step)
                yield Step(
                    step=step, epoch=step * G / n_train, loss=loss_value, lr=lr, grad_norm=grad_norm,
                    tokens_per_s=n_tokens / max(now - t_step, 1e-9), elapsed_s=elapsed,
                    eta_s=per_step * (total_steps - step),
                )
            if data.validation and (step == total_steps or (args.eval_steps and step % args.eval_steps == 0)):
                # The unwrapped model: DDP's forward syncs buffers, which would hang when the
                # processes run different numbers of evaluation batches.
                eval_loss = evaluate(peft, data.validation, data.pad_token_id, args.eval_batch_size, accelerator)
                yield Eval(step=step, eval_loss=eval_loss)
            stop = stop_requested()
            if world > 1:  # every process must agree to stop at the same step
                flag = torch.tensor(float(stop), device=device)
                stop = bool(accelerator.reduce(flag, reduction="sum") > 0)
            if step == total_steps or stop or (args.save_steps and step % args.save_steps == 0):
                last_ckpt = str(_save_checkpoint(output_dir, step, peft, optimizer, scheduler, accelerator, args))
                yield Checkpoint(step=step, path=last_ckpt)
            if stop and step < total_steps:
                yield Finished("stopped", step=step, loss=loss_value, eval_loss=eval_loss,
                               elapsed_s=time.perf_counter() - t0, checkpoint=last_ckpt)
                return
        yield Finished("completed", step=step, loss=loss_value, eval_loss=eval_loss,
                       elapsed_s=time.perf_counter() - t0, checkpoint=last_ckpt)
    except Exception as exc:  # noqa: BLE001 - every failure becomes an event a person can act on
        yield _failure(exc, failed_at, last_ckpt, args)


# --------------------------------------------------------------------------------------------------
# Pieces of the loop


def _loss_sum(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy summed over the trained tokens of ``batch`` (next-token prediction)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
    logits = logits[:, -batch["input_ids"].shape[1]:]  # prompt / P-tuning put n virtual positions first: (B, n+T, V)
    labels = batch["labels"][:, 1:]  # (B, T-1): token t+1 is predicted at position t
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE, reduction="sum")


def _n_targets(e: Example) -> int:
    return sum(label != IGNORE for label in e.labels[1:])


@torch.no_grad()
def evaluate(model: Any, examples: list[Example], pad_token_id: int, batch_size: int = 16, accelerator: Any = None) -> float:
    """Mean loss per trained token over ``examples`` (each process takes every world-th batch)."""
    world = accelerator.num_processes if accelerator else 1
    rank = accelerator.process_index if accelerator else 0
    device = next(p for p in model.parameters()).device
    was_training = model.training
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=device)  # (loss sum, trained tokens)
    chunks = [examples[i:i + batch_size] for i in range(0, len(examples), batch_size)]
    for chunk in chunks[rank::world]:
        batch = {k: v.to(device) for k, v in collate(chunk, pad_token_id).items()}
        with accelerator.autocast() if accelerator else contextlib.nullcontext():
            total[0] += _loss_sum(model, batch).double()
        total[1] += sum(_n_targets(e) for e in chunk)
    if world > 1:
        total = accelerator.reduce(total, reduction="sum")
    model.train(was_training)
    return float(total[0] / total[1])


def _param_groups(peft: Any, args: TrainingArguments) -> list[dict[str, Any]]:
    """One group of trainable parameters, or two with LoRA+ (``lora_B`` at ``lr × ratio``)."""
    params = [(n, p) for n, p in peft.named_parameters() if p.requires_grad]
    if not params:
        raise TrainingConfigError("The model has no trainable parameters: the adapter selects no module, or it was loaded for inference.")
    if not args.loraplus_lr_ratio:
        return [{"params": [p for _, p in params]}]
    fast = [p for n, p in params if "lora_B" in n or "lora_embedding_B" in n]
    slow = [p for n, p in params if not ("lora_B" in n or "lora_embedding_B" in n)]
    groups = [{"params": slow}] if slow else []
    if fast:
        groups.append({"params": fast, "lr": args.learning_rate * args.loraplus_lr_ratio})
    return groups


def _schedule(args: TrainingArguments, total_steps: int) -> Callable[[int], float]:
    """The learning-rate factor at step s: linear warm-up, then linear/cosine decay to 0 or constant."""
    warm = min(args.warmup_steps, max(total_steps - 1, 0))

    def factor(s: int) -> float:
        if s < warm:
            return (s + 1) / (warm + 1)
        if args.lr_scheduler == "constant":
            return 1.0
        progress = (s - warm) / max(1, total_steps - warm)
        if args.lr_scheduler == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _is_adalora(peft: Any) -> bool:
    from core.config import PeftType

    return getattr(peft, "peft_type", None) == PeftType.ADALORA


def _stop_check(flag: StopFlag) -> Callable[[], bool]:
    if flag is None:
        return lambda: False
    if isinstance(flag, threading.Event):
        return flag.is_set
    return flag


def _failure(exc: BaseException, step: int | None, checkpoint: str | None, args: TrainingArguments) -> Failed:
    detail = "".join(traceback.format_exception(exc))
    at = f" at step {step}" if step else ""
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return Failed(
            reason=f"Out of GPU memory{at}. Lower batch_size (now {args.batch_size}; raise gradient_accumulation_steps "
            f"to keep the same effective batch) or max_length, or turn on gradient_checkpointing.",
            step=step, detail=detail, kind="oom", checkpoint=checkpoint,
        )
    from core.data import DataError

    kind = "data" if isinstance(exc, DataError) else "config" if isinstance(exc, TrainingConfigError) else "error"
    return Failed(reason=f"Training failed{at}: {exc}", step=step, detail=detail, kind=kind, checkpoint=checkpoint)


# --------------------------------------------------------------------------------------------------
# Checkpoints: adapter, optimizer, scheduler, RNG states (per process), data position (= the step)


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    try:
        import numpy as np

        state["numpy"] = np.random.get_state()
    except ImportError:
        pass
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "numpy" in state:
        import numpy as np

        np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_checkpoint(output_dir: Path, step: int, peft: Any, optimizer: Any, scheduler: Any, accelerator: Any, args: TrainingArguments) -> Path:
    """Write ``output_dir/checkpoint-<step>`` through a temporary folder (complete or absent)."""
    final = output_dir / f"checkpoint-{step}"
    tmp = output_dir / f".tmp-checkpoint-{step}"
    if accelerator.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        peft.save_pretrained(tmp / "adapter")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        if accelerator.scaler is not None:
            torch.save(accelerator.scaler.state_dict(), tmp / "scaler.pt")
        state = {"step": step, "num_processes": accelerator.num_processes, "args": asdict(args)}
        (tmp / "trainer_state.json").write_text(json.dumps(state, indent=1))
        if _is_adalora(peft):
            # save_pretrained above cut the tensors to the kept ranks, which ends allocation; resuming needs the
            # full-size tensors, the rank pattern and the allocator's moving averages.
            torch.save(peft.allocation_state_dict(), tmp / "allocation_state.pt")
        if _is_adalora(peft):  # how the rank budget moved (the studio's rank slider); this process's steps
            history = peft.allocation_history()
            if history:
                (tmp / "allocation_history.json").write_text(json.dumps({
                    "modules": list(history[0].modules),
                    "events": [{"step": e.step, "budget": e.budget, "kept": list(e.kept), "final": e.final} for e in history],
                }))
    accelerator.wait_for_everyone()
    torch.save(_rng_state(), tmp / f"rng_state_{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        if args.save_total_limit:
            old = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
            for p in old[: -args.save_total_limit]:
                if p != final:
                    shutil.rmtree(p, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final.resolve()


def _load_checkpoint(folder: Path, peft: Any, optimizer: Any, scheduler: Any, accelerator: Any) -> int:
    """Restore a checkpoint into the live objects; returns its step."""
    from core.peft_model import read_adapter_weights

    state_file = folder / "trainer_state.json"
    if not state_file.is_file():
        raise FileNotFoundError(f"{folder} is not a checkpoint (no trainer_state.json).")
    state = json.loads(state_file.read_text())
    if state["num_processes"] != accelerator.num_processes:
        raise TrainingConfigError(
            f"The checkpoint was written by {state['num_processes']} process(es) but this run has "
            f"{accelerator.num_processes}; resume with the same number of processes."
        )
    if (folder / "allocation_state.pt").is_file():  # AdaLoRA mid-run: full-size tensors and allocator state
        peft.load_allocation_state_dict(torch.load(folder / "allocation_state.pt", map_location="cpu", weights_only=True))
    else:
        peft._load_weights(peft.active_adapter, read_adapter_weights(folder / "adapter"), str(folder))
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", map_location="cpu", weights_only=True))
    if accelerator.scaler is not None and (folder / "scaler.pt").is_file():
        accelerator.scaler.load_state_dict(torch.load(folder / "scaler.pt", weights_only=True))
    _set_rng_state(torch.load(folder / f"rng_state_{accelerator.process_index}.pt", weights_only=False))
    return int(state["step"])


def latest_checkpoint(output_dir: str | os.PathLike[str]) -> Path | None:
    """The checkpoint folder with the highest step in ``output_dir``, or None."""
    found = sorted(Path(output_dir).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return found[-1] if found else None
