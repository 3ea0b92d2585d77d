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
on stop; stop and pause decided together by all processes after each optimizer step (one all-reduce of
two flags), a pause holding the loop between steps. Failures (a non-finite loss, out of memory, anything
else) end the loop with a `Failed` event that says what to do; the last good checkpoint stays. With
several processes a failing one leaves a note beside the checkpoints, and process 0 reports its reason.

Sharded models (FSDP1/FSDP2/DeepSpeed from ``accelerate launch``'s config) change only the edges:
how the optimizer is built and checkpointed, how the adapter is gathered for saving, and evaluation
running the same number of forwards on every process (see docs/training.md, "Multi-process").

Data order is a pure function of (seed, step): the examples form an endless stream of seeded shuffles
(`core.data.stream_indices`), optimizer step ``s`` reads positions ``[s·G, (s+1)·G)`` with ``G`` the
global batch, and process ``r`` reads micro-batch chunk ``m·world + r``. So a checkpoint's data
position is its step, and a resumed run continues the very same curve.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import math
import os
import random
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from core.data import IGNORE, Example, PreparedData, collate, stream_indices
from core.errors import TrainingConfigError, explain
from core.methods import catalog
from core.protocol import Checkpoint, Continued, Eval, Event, Failed, Finished, Log, Paused, Started, Step

SCHEDULES = ("linear", "cosine", "constant")
PRECISIONS = ("auto", "no", "bf16", "fp16")


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
    device: str = field(default="auto", metadata={"help": "Where to train: 'auto' (a GPU when there is one, else the CPU), 'cpu', 'cuda', 'cuda:N' (the GPU numbered N) or 'mps' (Apple GPU). Under accelerate launch / torchrun each process takes its own GPU."})
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
        if not (self.device in ("auto", "cpu", "cuda", "mps") or re.fullmatch(r"cuda:\d+", str(self.device))):
            raise TrainingConfigError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' (e.g. cuda:1) or 'mps', not {self.device!r}.")
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


def defaults_for(method: str) -> tuple[dict[str, Any], TrainingArguments]:
    """(adapter config keyword arguments, training arguments) recommended for ``method`` (a PeftType name):
    the method file's ``FACTS`` (`core.methods.catalog`)."""
    try:
        facts = catalog.facts(method)
    except catalog.UnknownMethod:
        raise TrainingConfigError(f"No defaults for method {method!r}; known: {', '.join(catalog.names())}.") from None
    return dict(facts.adapter_defaults), TrainingArguments(**facts.training_defaults)


Flag = threading.Event | Callable[[], bool] | None

PAUSE_POLL_S = 0.2
"""While paused, the loop looks at its flags this often (in multi-process runs: one tiny all-reduce each time)."""
RATE_WINDOW = 20
"""Steps that Step.tokens_per_s averages over (their input tokens over their compute time)."""
PEER_FAILURE_WAIT_S = 3.0
"""How long process 0 waits for a failed peer's note (its reason) after losing the connection to it."""


def train(
    model: Any,
    tokenizer: Any,
    data: PreparedData,
    args: TrainingArguments,
    output_dir: str | os.PathLike[str],
    *,
    should_stop: Flag = None,
    should_pause: Flag = None,
    resume_from: str | os.PathLike[str] | None = None,
    run_id: int | None = None,
    accelerator: Any = None,
) -> Iterator[Event]:
    """Train the adapter of ``model`` (a `core.PeftModel`) on ``data`` and yield protocol events.

    ``should_stop`` (a ``threading.Event`` or a callable returning True) is checked after every
    optimizer step: when set, the loop writes a checkpoint and ends with ``Finished("stopped")``.
    ``should_pause`` (same kinds) is a level: while it is set the loop holds after the current
    optimizer step — it yields `Paused`, then blocks (polling every `PAUSE_POLL_S`) until the flag is
    cleared (`Continued`, and training goes on) or ``should_stop`` is set (checkpoint, then
    ``Finished("stopped")``). Paused time is left out of elapsed time and ETA.
    With several processes both flags are agreed at each step boundary (set on any process = set
    for all), so every process stops or pauses after the same step.

    ``resume_from`` is a checkpoint folder written by an earlier run with the same data, arguments
    and number of processes; the run continues from its step as if it had never stopped.
    Checkpoints go to ``output_dir/checkpoint-<step>``. ``accelerator``: an ``accelerate.Accelerator``
    to use as it is (e.g. built with an FSDP or DeepSpeed plugin in code); by default one is built from
    ``args`` and the launcher's environment (``accelerate launch`` config, ``torchrun``).
    Errors never escape: they end the loop as a `Failed` event.
    """
    stop_requested, pause_requested = _flag_check(should_stop), _flag_check(should_pause)
    output_dir = Path(output_dir)
    step, last_ckpt, failed_at = 0, None, None
    world, rank, t_begin = 1, 0, time.time()
    try:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        # ---- set-up: accelerator, model, optimizer, schedule ------------------------------------
        cuda = _use_gpu(args.device)  # True: CUDA (or, for 'mps', Apple's GPU)
        precision = args.mixed_precision
        if precision == "auto":
            precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda and args.device != "mps" else "no"
        if accelerator is None:
            # Accelerate counts the micro-batches (accelerator.accumulate): under DeepSpeed its engine
            # steps the optimizer inside backward() at the accumulation boundary, so the count must be
            # Accelerate's, not only ours. The schedule is one scheduler step per optimizer step.
            # A DeepSpeed launch (accelerate launch sets ACCELERATE_USE_DEEPSPEED) without GPUs: DeepSpeed runs
            # on its own CPU accelerator, but Accelerator(cpu=True) would silently train DDP instead
            # (accelerate turns DeepSpeed on only when cpu is False). The launcher's ranks are already
            # joined on the CPU (gloo, core.worker), so cpu=False keeps them and makes the run DeepSpeed's.
            deepspeed_launch = (os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"
                                and int(os.environ.get("WORLD_SIZE", "1")) > 1)
            accelerator = Accelerator(
                mixed_precision=precision, cpu=not cuda and not deepspeed_launch,
                gradient_accumulation_steps=args.gradient_accumulation_steps, step_scheduler_with_optimizer=False,
            )
        elif accelerator.gradient_accumulation_steps != args.gradient_accumulation_steps:
            raise TrainingConfigError(
                f"The accelerator accumulates {accelerator.gradient_accumulation_steps} micro-batches but "
                f"gradient_accumulation_steps is {args.gradient_accumulation_steps}; make them equal."
            )
        precision = accelerator.mixed_precision
        world, rank = accelerator.num_processes, accelerator.process_index
        if world > 1:
            _failure_note_path(output_dir, rank).unlink(missing_ok=True)  # a note from an earlier launch
        sharding = _sharding(accelerator)
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
        adalora = _is_adalora(peft)
        trainable, total = peft.get_nb_trainable_parameters()  # before sharding changes the shapes
        adapter_names = _check_sharding(peft, accelerator, sharding, adalora, args)
        if resume_from is not None:
            # The adapter goes into the full, unsharded tensors, before FSDP/DeepSpeed shard them (and
            # before DDP copies process 0's weights to the others); optimizer state and RNG come after.
            _check_checkpoint(Path(resume_from), world)
            _load_adapter(Path(resume_from), peft)
        n_train = len(data.train)
        G = args.batch_size * args.gradient_accumulation_steps * world  # examples per optimizer step
        total_steps = math.ceil(args.num_epochs * n_train / G) if args.num_epochs > 0 else args.max_steps
        if sharding == "fsdp1":
            # FSDP1 exposes the parameters as views into its flat parameters only once it has wrapped the
            # model, so the optimizer is built over the wrapped model's parameters.
            model = accelerator.prepare(model)
            optimizer = _adamw(model, args)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(args, total_steps))
            optimizer, scheduler = accelerator.prepare(optimizer, scheduler)
        else:  # DDP, FSDP2 and DeepSpeed take model and optimizer together (FSDP2 swaps the optimizer's parameters)
            optimizer = _adamw(peft, args)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(args, total_steps))
            model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
        device = accelerator.device
        # Evaluation: DDP's forward syncs buffers, which would hang when processes run different numbers of
        # evaluation batches, so it uses the unwrapped model; FSDP and ZeRO-3 gather the weights inside each
        # forward, so there the wrapped model runs the same number of batches on every process.
        eval_model = model if sharding else peft
        agree = _Agreement(stop_requested, pause_requested, accelerator)

        if resume_from is not None:
            step = _load_training_state(Path(resume_from), model, optimizer, scheduler, accelerator, sharding)
            last_ckpt = str(Path(resume_from).resolve())
        where = str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "") + (f" {precision}" if precision != "no" else "")
        if sharding:
            where += f", {sharding}"
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

        orth_weight = float(getattr(config, "orth_reg_weight", 0.0)) if adalora else 0.0

        def checkpoint() -> Checkpoint:
            """Write the checkpoint of this step and remember it as the last good one."""
            nonlocal last_ckpt, ckpt_step
            last_ckpt = str(_save_checkpoint(
                output_dir, step, peft, model, optimizer, scheduler, accelerator, args, sharding, adapter_names))
            ckpt_step = step
            return Checkpoint(step=step, path=last_ckpt)

        # ---- the loop ---------------------------------------------------------------------------
        t0 = time.perf_counter()
        paused_total = 0.0  # seconds spent paused: left out of elapsed time, ETA and throughput
        start_step, ckpt_step = step, None
        loss_value = eval_loss = None
        # Throughput over the last RATE_WINDOW steps' compute: one step's tokens / its duration jumped
        # 20-50x between steps of different lengths on a busy CPU (6,591 → 384 → 8,450 tokens/s at a steady
        # speed). Each entry is (input tokens, seconds of that step); eval, checkpoints and pauses fall
        # between steps and are not in it.
        recent: collections.deque[tuple[int, float]] = collections.deque(maxlen=RATE_WINDOW)
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
                # accumulate(): no gradient sync before the last micro-batch (DDP/FSDP), DeepSpeed's boundary on it.
                with accelerator.accumulate(model):
                    with accelerator.autocast():
                        micro_sum = _loss_sum(model, batch)  # () summed over the micro-batch's trained tokens
                    # DDP averages gradients over processes (×world turns that into a sum) and backward()
                    # divides by the accumulation steps (×accumulation steps undoes it), so the step's gradient is that of
                    # (sum of token losses) / (trained tokens of the global batch).
                    objective = micro_sum * (world * args.gradient_accumulation_steps) / n_target
                    if orth_weight:
                        # AdaLoRA's orthogonality penalty (the same on every rank, so DDP's average keeps it);
                        # backward()'s division spreads it over the micro-batches: added once per optimizer step.
                        objective = objective + orth_weight * peft.orthogonality_penalty()
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
                # The prepared model's parameters: FSDP clips its own (sharded) ones; DeepSpeed clipped inside backward.
                norm = accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                if norm is not None:
                    grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            if adalora:  # AdaLoRA re-allocates ranks from this step's gradients (before they are cleared)
                peft.update_and_allocate(step)
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1

            now = time.perf_counter()
            elapsed = now - t0 - paused_total
            recent.append((n_tokens, now - t_step))
            if step % args.logging_steps == 0 or step == total_steps:
                per_step = elapsed / (step - start_step)
                yield Step(
                    step=step, epoch=step * G / n_train, loss=loss_value, lr=lr, grad_norm=grad_norm,
                    tokens_per_s=sum(n for n, _ in recent) / max(sum(d for _, d in recent), 1e-9), elapsed_s=elapsed,
                    eta_s=per_step * (total_steps - step),
                )
            if data.validation and (step == total_steps or (args.eval_steps and step % args.eval_steps == 0)):
                eval_loss = evaluate(eval_model, data.validation, data.pad_token_id, args.eval_batch_size, accelerator,
                                     even=bool(sharding))
                if sharding == "fsdp2":
                    _reshard(model)
                yield Eval(step=step, eval_loss=eval_loss)
            stop, pause = agree()  # the same answer on every process
            if step == total_steps or stop or (args.save_steps and step % args.save_steps == 0):
                yield checkpoint()
            if pause and not stop and step < total_steps:
                t_pause = time.perf_counter()
                yield Paused(step=step, time=time.time())
                while pause and not stop:  # heartbeats go on meanwhile: the worker sends them from its own thread
                    time.sleep(PAUSE_POLL_S)
                    stop, pause = agree()
                paused_s = time.perf_counter() - t_pause
                paused_total += paused_s
                if not stop:
                    yield Continued(step=step, paused_seconds=paused_s)
                elif ckpt_step != step:  # a stop while paused: checkpoint, then finish as stopped
                    yield checkpoint()
            if stop and step < total_steps:
                yield Finished("stopped", step=step, loss=loss_value, eval_loss=eval_loss,
                               elapsed_s=time.perf_counter() - t0 - paused_total, checkpoint=last_ckpt)
                return
        yield Finished("completed", step=step, loss=loss_value, eval_loss=eval_loss,
                       elapsed_s=time.perf_counter() - t0 - paused_total, checkpoint=last_ckpt)
    except Exception as exc:  # noqa: BLE001 - every failure becomes an event a person can act on
        failure = _failure(exc, failed_at, last_ckpt, args)
        if world > 1:
            # The others learn of it by losing their connection to this process; process 0 then reads this
            # note to say why (the shared checkpoint folder is the one place every process can reach).
            note_failure(output_dir, rank, failure)
            if rank == 0:
                failure = _peer_failure(output_dir, world, exc, failure, since=t_begin)
        yield failure


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
def evaluate(model: Any, examples: list[Example], pad_token_id: int, batch_size: int = 16, accelerator: Any = None,
             *, even: bool = False) -> float:
    """Mean loss per trained token over ``examples`` (each process takes every world-th batch).

    ``even``: every process runs the same number of forward passes (one repeats a batch it then
    ignores) — needed where a forward is itself a collective (FSDP, DeepSpeed ZeRO-3 gather weights)."""
    world = accelerator.num_processes if accelerator else 1
    rank = accelerator.process_index if accelerator else 0
    device = accelerator.device if accelerator else next(p for p in model.parameters()).device
    was_training = model.training
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=device)  # (loss sum, trained tokens)
    chunks = [examples[i:i + batch_size] for i in range(0, len(examples), batch_size)]
    mine = chunks[rank::world]
    rounds = math.ceil(len(chunks) / world) if even else len(mine)
    for i in range(rounds):
        chunk = mine[i] if i < len(mine) else chunks[0]
        batch = {k: v.to(device) for k, v in collate(chunk, pad_token_id).items()}
        with accelerator.autocast() if accelerator else contextlib.nullcontext():
            loss = _loss_sum(model, batch).double()
        if i < len(mine):
            total[0] += loss
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


def _adamw(model: Any, args: TrainingArguments) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        _param_groups(model, args), lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
        eps=args.adam_epsilon, weight_decay=args.weight_decay,
    )


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


def _use_gpu(device: str) -> bool:
    """Whether to train on a GPU for ``TrainingArguments.device``; ``cuda:N`` makes GPU N the current
    one (one process; under a launcher each process takes the GPU of its local rank). A GPU asked for
    but not there is a `TrainingConfigError` that says what this process sees."""
    if device == "cpu":
        return False
    if device == "auto":
        return torch.cuda.is_available()
    if device == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise TrainingConfigError("device is 'mps' but this machine has no Apple GPU that torch can use; choose 'cpu' or 'auto'.")
        return True
    if not torch.cuda.is_available():
        build = "a CPU-only build of torch" if torch.version.cuda is None else "no GPU visible (CUDA_VISIBLE_DEVICES, drivers?)"
        raise TrainingConfigError(f"device is {device!r} but this process has {build}; choose 'cpu' or 'auto'.")
    if ":" in device and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        index, count = int(device.split(":", 1)[1]), torch.cuda.device_count()
        if index >= count:
            raise TrainingConfigError(f"device is {device!r} but {count} GPU(s) are visible (cuda:0 to cuda:{count - 1}).")
        torch.cuda.set_device(index)  # single process: Accelerate trains on the current GPU
    return True


def _flag_check(flag: Flag) -> Callable[[], bool]:
    if flag is None:
        return lambda: False
    if isinstance(flag, threading.Event):
        return flag.is_set
    return flag



class _Agreement:
    """Stop and pause, decided together at a step boundary: one tiny all-reduce of ``(stop, pause)``
    (a flag set on any process is set for all), so that every process checkpoints, stops or pauses
    after the same step. Commands reach process 0 only (its stdin, the project file), SIGTERM any."""

    def __init__(self, stop: Callable[[], bool], pause: Callable[[], bool], accelerator: Any) -> None:
        self.stop, self.pause, self.accelerator = stop, pause, accelerator

    def __call__(self) -> tuple[bool, bool]:
        stop, pause = bool(self.stop()), bool(self.pause())
        if self.accelerator.num_processes == 1:
            return stop, pause
        flags = torch.tensor([float(stop), float(pause)], device=self.accelerator.device)
        flags = self.accelerator.reduce(flags, reduction="sum")
        return bool(flags[0] > 0), bool(flags[1] > 0)


def _sharding(accelerator: Any) -> str | None:
    """``"fsdp1"``, ``"fsdp2"``, ``"deepspeed"`` when the launcher's config shards the model; None for
    one process or DDP (every process holds the whole model)."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        return "deepspeed"
    if accelerator.distributed_type == DistributedType.FSDP:
        return "fsdp2" if accelerator.is_fsdp2 else "fsdp1"
    return None


def _check_sharding(peft: Any, accelerator: Any, sharding: str | None, adalora: bool, args: TrainingArguments) -> dict[str, str] | None:
    """Refuse what the sharded modes cannot do; returns adapter file key -> the model's state-dict name
    (to pick the adapter out of a gathered state dict), or None when not sharded."""
    if sharding is None:
        return None
    if adalora:
        raise TrainingConfigError(
            f"AdaLoRA cannot train under {sharding}: its rank allocator reads and prunes whole matrices. "
            "Use LoRA, or train AdaLoRA with DDP (no FSDP/DeepSpeed config).")
    if sharding == "fsdp1" and not accelerator.state.fsdp_plugin.use_orig_params:
        raise TrainingConfigError(
            "FSDP (version 1) needs fsdp_use_orig_params: true to train an adapter (frozen base weights and "
            "trainable adapter weights share FSDP's flat parameters otherwise); or use fsdp_version: 2.")
    if sharding == "deepspeed":
        # Our loop cuts the global batch itself (no prepared DataLoader for DeepSpeed to read sizes from):
        # DeepSpeed's micro-batch, accumulation and clipping must be the run's.
        config = accelerator.state.deepspeed_plugin.deepspeed_config
        for key, value in (("train_micro_batch_size_per_gpu", args.batch_size),
                           ("gradient_accumulation_steps", args.gradient_accumulation_steps),
                           ("gradient_clipping", args.max_grad_norm)):
            if config.get(key, "auto") == "auto":
                config[key] = value
            elif key != "gradient_clipping" and config[key] != value:
                raise TrainingConfigError(f"The DeepSpeed config sets {key}={config[key]} but the run uses {value}; "
                                          f"set it to \"auto\" in the DeepSpeed config.")
    by_id = {id(t): n for n, t in peft.named_parameters(remove_duplicate=False)}
    by_id.update({id(t): n for n, t in peft.named_buffers(remove_duplicate=False)})
    names = {}
    for key, tensor in peft.adapter_state_dict().items():
        if id(tensor) not in by_id:
            raise TrainingConfigError(f"{peft.peft_type.value} cannot train under {sharding}: its saved tensor {key} "
                                      "is computed, not a parameter. Use LoRA or IA3, or DDP.")
        names[key] = by_id[id(tensor)]
    return names


def _failure(exc: BaseException, step: int | None, checkpoint: str | None, args: TrainingArguments) -> Failed:
    problem = explain(exc)
    at = f" at step {step}" if step else ""
    if problem.kind == "oom":
        return Failed(
            reason=f"Out of GPU memory{at}. Lower batch_size (now {args.batch_size}; raise gradient_accumulation_steps "
            f"to keep the same effective batch) or max_length, or turn on gradient_checkpointing.",
            step=step, detail=problem.detail, kind="oom", checkpoint=checkpoint,
        )
    return Failed(reason=f"Training failed{at}: {problem.message}", step=step, detail=problem.detail, kind=problem.kind,
                  checkpoint=checkpoint)


def _failure_note_path(output_dir: Path, rank: int) -> Path:
    return output_dir / f".process-{rank}-failed.json"


def note_failure(output_dir: str | os.PathLike[str], rank: int, failed: Failed) -> None:
    """Leave process ``rank``'s failure where process 0 looks for it (``output_dir``, shared by all
    processes of a run), so that the run's record says why it failed. Never raises."""
    try:
        path = _failure_note_path(Path(output_dir), rank)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"reason": failed.reason, "step": failed.step, "kind": failed.kind, "detail": failed.detail}))
        os.replace(tmp, path)
    except OSError:
        pass


_LOST_PEER_SIGNS = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL", "ProcessGroup", "gloo")


def _looks_like_lost_peer(exc: BaseException | str) -> bool:
    """A collective that failed because another process went away (crashed, killed, exited)."""
    if isinstance(exc, BaseException) and isinstance(exc, getattr(torch.distributed, "DistError", ())):
        return True
    return any(sign in str(exc) for sign in _LOST_PEER_SIGNS)


def _peer_failure(output_dir: Path, world: int, exc: BaseException, own: Failed, *, since: float) -> Failed:
    """Process 0's failure as the run should record it: the failing peer's reason when process 0 only
    lost its connection to that peer (waits up to `PEER_FAILURE_WAIT_S` for the peer's note)."""
    if not _looks_like_lost_peer(exc):
        return own
    deadline = time.monotonic() + PEER_FAILURE_WAIT_S
    while True:
        for r in range(1, world):
            path = _failure_note_path(output_dir, r)
            try:
                if path.stat().st_mtime < since - 1:
                    continue  # left by an earlier launch
                note = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if _looks_like_lost_peer(str(note.get("reason"))):
                continue  # that process too only lost a peer: not the cause
            return Failed(
                reason=f"Process {r} failed: {note.get('reason')}", step=note.get("step") or own.step,
                detail=f"{note.get('detail', '')}\n--- process 0 ---\n{own.detail}", kind=note.get("kind") or "error",
                checkpoint=own.checkpoint,
            )
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    at = f" at step {own.step}" if own.step else ""
    return dataclasses.replace(own, reason=f"Training failed{at}: another process of this run stopped answering "
                               f"(it crashed or was killed; its log says why): {exc}")


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


def _save_checkpoint(output_dir: Path, step: int, peft: Any, model: Any, optimizer: Any, scheduler: Any, accelerator: Any,
                     args: TrainingArguments, sharding: str | None = None, adapter_names: dict[str, str] | None = None) -> Path:
    """Write ``output_dir/checkpoint-<step>`` through a temporary folder (complete or absent).

    Every process calls it: sharded tensors are gathered collectively, each process writes its RNG
    state (and, under FSDP with sharded state dicts / DeepSpeed, its optimizer shard)."""
    final = output_dir / f"checkpoint-{step}"
    tmp = output_dir / f".tmp-checkpoint-{step}"
    main = accelerator.is_main_process
    if main:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    # The adapter, in PEFT's layout, as full tensors written by process 0.
    if sharding is None:
        if main:
            peft.save_pretrained(tmp / "adapter")
    else:
        state = _gather_adapter(peft, model, accelerator, sharding, adapter_names or {})
        if main:
            _write_adapter(tmp / "adapter", peft, state)
    # The optimizer: its state is sharded like the weights under FSDP / DeepSpeed.
    if sharding in ("fsdp1", "fsdp2"):
        from accelerate.utils import save_fsdp_optimizer

        save_fsdp_optimizer(accelerator.state.fsdp_plugin, accelerator, optimizer, model, str(tmp))
    elif sharding == "deepspeed":
        model.save_checkpoint(str(tmp), tag="deepspeed", exclude_frozen_parameters=True)
    elif main:
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    if main:
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        if accelerator.scaler is not None:
            torch.save(accelerator.scaler.state_dict(), tmp / "scaler.pt")
        state = {"step": step, "num_processes": accelerator.num_processes, "sharding": sharding, "args": asdict(args)}
        (tmp / "trainer_state.json").write_text(json.dumps(state, indent=1))
        if _is_adalora(peft):
            # save_pretrained above cut the tensors to the kept ranks, which ends allocation; resuming needs the
            # full-size tensors, the rank pattern and the allocator's moving averages.
            torch.save(peft.allocation_state_dict(), tmp / "allocation_state.pt")
            history = peft.allocation_history()  # how the rank budget moved (the studio's rank slider)
            if history:
                (tmp / "allocation_history.json").write_text(json.dumps({
                    "modules": list(history[0].modules),
                    "events": [{"step": e.step, "budget": e.budget, "kept": list(e.kept), "final": e.final} for e in history],
                }))
    accelerator.wait_for_everyone()
    torch.save(_rng_state(), tmp / f"rng_state_{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if main:
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


def _reshard(model: Any) -> None:
    """FSDP2 leaves the root module (and those with reshard_after_forward=False) unsharded after a forward
    that no backward follows (evaluation): its parameters are then plain tensors, not the DTensors the
    optimizer holds, and the optimizer's state dict no longer maps to them. Shard them again."""
    from torch.distributed.fsdp import FSDPModule

    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.reshard()


def _gather_adapter(peft: Any, model: Any, accelerator: Any, sharding: str, names: dict[str, str]) -> dict[str, torch.Tensor]:
    """The adapter's full tensors (PEFT's file keys) on process 0, {} on the others. Collective."""
    out: dict[str, torch.Tensor] = {}
    if sharding == "fsdp2":
        # FSDP2 keeps each parameter as a DTensor shard: gather only the adapter's (not the base model's),
        # one all-gather per tensor, in the same order on every process.
        live = peft.adapter_state_dict()
        for key in sorted(live):
            tensor = live[key]
            full = tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
            if accelerator.is_main_process:
                out[key] = full.detach().to("cpu").clone().contiguous()
        return out
    # FSDP1 (a full state dict, gathered on process 0) and DeepSpeed (ZeRO-3 needs
    # stage3_gather_16bit_weights_on_model_save: true): the whole model's state, names as the unwrapped model's.
    state = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        out = {key: state[name].detach().to("cpu").clone().contiguous() for key, name in names.items()}
    return out


def _write_adapter(folder: Path, peft: Any, state: dict[str, torch.Tensor]) -> None:
    """The active adapter in PEFT's layout from gathered tensors (what `save_pretrained` writes from live ones)."""
    from safetensors.torch import save_file

    from core.config import CONFIG_NAME, WEIGHTS_NAME

    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    (folder / CONFIG_NAME).write_text(peft.peft_config[peft.active_adapter].to_json(), encoding="utf-8")


def _check_checkpoint(folder: Path, world: int) -> dict[str, Any]:
    state_file = folder / "trainer_state.json"
    if not state_file.is_file():
        raise FileNotFoundError(f"{folder} is not a checkpoint (no trainer_state.json).")
    state = json.loads(state_file.read_text())
    if state["num_processes"] != world:
        raise TrainingConfigError(
            f"The checkpoint was written by {state['num_processes']} process(es) but this run has "
            f"{world}; resume with the same number of processes."
        )
    return state


def _load_adapter(folder: Path, peft: Any) -> None:
    """The checkpoint's adapter into the live (not yet sharded) model."""
    from core.peft_model import read_adapter_weights

    if (folder / "allocation_state.pt").is_file():  # AdaLoRA mid-run: full-size tensors and allocator state
        peft.load_allocation_state_dict(torch.load(folder / "allocation_state.pt", map_location="cpu", weights_only=True))
    else:
        peft._load_weights(peft.active_adapter, read_adapter_weights(folder / "adapter"), str(folder))


def _load_training_state(folder: Path, model: Any, optimizer: Any, scheduler: Any, accelerator: Any, sharding: str | None) -> int:
    """Optimizer, scheduler, scaler and this process's RNG state from a checkpoint; returns its step."""
    state = _check_checkpoint(folder, accelerator.num_processes)
    if state.get("sharding") != sharding:
        raise TrainingConfigError(
            f"The checkpoint was written {'under ' + state['sharding'] if state.get('sharding') else 'without FSDP/DeepSpeed'} "
            f"but this run {'uses ' + sharding if sharding else 'does not'}; resume with the same launch configuration.")
    if sharding in ("fsdp1", "fsdp2"):
        from accelerate.utils import load_fsdp_optimizer

        load_fsdp_optimizer(accelerator.state.fsdp_plugin, accelerator, optimizer, model, str(folder))
    elif sharding == "deepspeed":
        model.load_checkpoint(str(folder), tag="deepspeed", load_module_strict=False, load_optimizer_states=True,
                              load_lr_scheduler_states=False)
    else:
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
