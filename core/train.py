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
import functools
import inspect
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from core import checkpoint
from core.agreement import Agreement, failure_note_path, note_failure, peer_failure
from core.args import PRECISIONS, SCHEDULES, TrainingArguments, defaults_for  # noqa: F401 - the names callers know here
from core.data import IGNORE, Example, PreparedData, collate, stream_indices
from core.errors import TrainingConfigError, explain
from core.evaluate import eval_prompts
from core.evaluate import samples as generate_samples
from core.methods.lora import share_dropout_masks
from core.protocol import Checkpoint, Continued, Eval, Event, Failed, Finished, Log, Paused, Samples, Started, Step

Flag = threading.Event | Callable[[], bool] | None

PAUSE_POLL_S = 0.2
"""While paused, the loop looks at its flags this often (in multi-process runs: one tiny all-reduce each time)."""
RATE_WINDOW = 20
"""Steps that Step.tokens_per_s averages over (their input tokens over their compute time)."""


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
    run = _Run(Path(output_dir), args, _flag_check(should_stop), _flag_check(should_pause))
    failed_at, t_begin = None, time.time()
    try:
        # ---- set up, then Started ---------------------------------------------------------------
        _set_up(run, model, data, accelerator, resume_from)
        yield _started(run, data, run_id)
        yield from _set_up_notes(run, data)
        if run.step == 0:
            yield from _samples(run, data, tokenizer, base=True)  # the base model's answers, recorded as step 0

        # ---- the loop ---------------------------------------------------------------------------
        t0 = time.perf_counter()
        paused_total = 0.0  # seconds spent paused: left out of elapsed time, ETA and throughput
        start_step = run.step
        loss = eval_loss = None
        # Throughput over the last RATE_WINDOW steps' compute: one step's tokens / its duration jumped
        # 20-50x between steps of different lengths on a busy CPU (6,591 → 384 → 8,450 tokens/s at a steady
        # speed). Each entry is (input tokens, seconds of that step); eval, checkpoints and pauses fall
        # between steps and are not in it.
        recent: collections.deque[tuple[int, float]] = collections.deque(maxlen=RATE_WINDOW)
        while run.step < run.total_steps:
            failed_at, t_step = run.step + 1, time.perf_counter()
            loss, n_tokens = _forward_backward(run, data)
            if not math.isfinite(loss):
                yield _nan_failure(run, loss)
                return
            grad_norm, lr = _optimizer_step(run)
            now = time.perf_counter()
            elapsed = now - t0 - paused_total
            recent.append((n_tokens, now - t_step))
            if run.step % args.logging_steps == 0 or run.step == run.total_steps:
                yield Step(
                    step=run.step, epoch=run.step * run.G / run.n_train, loss=loss, lr=lr, grad_norm=grad_norm,
                    tokens_per_s=sum(n for n, _ in recent) / max(sum(d for _, d in recent), 1e-9), elapsed_s=elapsed,
                    eta_s=elapsed / (run.step - start_step) * (run.total_steps - run.step),
                )
            if data.validation and (run.step == run.total_steps or (args.eval_steps and run.step % args.eval_steps == 0)):
                eval_loss = _evaluate(run, data)
                yield Eval(step=run.step, eval_loss=eval_loss)
                yield from _samples(run, data, tokenizer)
            stop, pause = run.agree()  # the same answer on every process
            if run.step == run.total_steps or stop or (args.save_steps and run.step % args.save_steps == 0):
                yield run.checkpoint()
            if pause and not stop and run.step < run.total_steps:
                stop, paused_s = yield from _hold(run)
                paused_total += paused_s
            if stop and run.step < run.total_steps:
                yield Finished("stopped", step=run.step, loss=loss, eval_loss=eval_loss,
                               elapsed_s=time.perf_counter() - t0 - paused_total, checkpoint=run.last_ckpt)
                return
        yield Finished("completed", step=run.step, loss=loss, eval_loss=eval_loss,
                       elapsed_s=time.perf_counter() - t0 - paused_total, checkpoint=run.last_ckpt)
    except Exception as exc:  # noqa: BLE001 - every failure becomes an event a person can act on
        failure = _failure(exc, failed_at, run.last_ckpt, args)
        if run.world > 1:
            # The others learn of it by losing their connection to this process; process 0 then reads this
            # note to say why (the shared checkpoint folder is the one place every process can reach).
            note_failure(run.output_dir, run.rank, failure)
            if run.rank == 0:
                failure = peer_failure(run.output_dir, run.world, exc, failure, since=t_begin)
        yield failure


# --------------------------------------------------------------------------------------------------
# Set-up


@dataclass
class _Run:
    """What the loop works with, filled in by `_set_up`; ``step`` and ``last_ckpt`` move as it trains."""

    output_dir: Path
    args: TrainingArguments
    stop_requested: Callable[[], bool]
    pause_requested: Callable[[], bool]
    world: int = 1
    rank: int = 0
    accelerator: Any = None
    peft: Any = None
    """The PeftModel as given (its own methods: save, update_and_allocate, ...)."""
    model: Any = None
    """The prepared model (DDP/FSDP/DeepSpeed wrapper, or ``peft`` itself): forward and backward."""
    eval_model: Any = None
    optimizer: Any = None
    scheduler: Any = None
    sharding: str | None = None
    adapter_names: dict[str, str] | None = None
    agree: Any = None
    precision: str = "no"
    device: Any = None
    G: int = 0
    """Examples per optimizer step: batch_size × gradient_accumulation_steps × processes."""
    n_train: int = 0
    total_steps: int = 0
    trainable: int = 0
    total: int = 0
    adalora: bool = False
    orth_weight: float = 0.0
    step: int = 0
    last_ckpt: str | None = None
    ckpt_step: int | None = None
    eval_prompts: list[Any] | None = None
    """The fixed sample of evaluation prompts (`core.evaluate.EvalPrompt`), chosen at the first evaluation."""

    def checkpoint(self) -> Checkpoint:
        """Write the checkpoint of this step and remember it as the last good one."""
        self.last_ckpt = str(checkpoint.save(self.output_dir, self.step, self.peft, self.model, self.optimizer, self.scheduler,
                                             self.accelerator, self.args, self.sharding, self.adapter_names))
        self.ckpt_step = self.step
        return Checkpoint(step=self.step, path=self.last_ckpt)


def _set_up(run: _Run, model: Any, data: PreparedData, accelerator: Any, resume_from: str | os.PathLike[str] | None) -> None:
    """Accelerator, model, optimizer, schedule (and a checkpoint's state when resuming), into ``run``."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    args = run.args
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
    run.accelerator, run.precision = accelerator, accelerator.mixed_precision
    run.world, run.rank = accelerator.num_processes, accelerator.process_index
    if run.world > 1:
        failure_note_path(run.output_dir, run.rank).unlink(missing_ok=True)  # a note from an earlier launch
    run.sharding = sharding = _sharding(accelerator)
    set_seed(args.seed)
    run.peft = peft = model
    if args.gradient_checkpointing:
        base = peft.get_base_model()
        if hasattr(base, "activation_checkpointing_enable"):  # transformers >= 5.x
            base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        base.config.use_cache = False
    peft.train()
    run.adalora = checkpoint.is_adalora(peft)
    run.trainable, run.total = peft.get_nb_trainable_parameters()  # before sharding changes the shapes
    run.adapter_names = _check_sharding(peft, accelerator, sharding, run.adalora, args)
    if resume_from is not None:
        # The adapter goes into the full, unsharded tensors, before FSDP/DeepSpeed shard them (and
        # before DDP copies process 0's weights to the others); optimizer state and RNG come after.
        checkpoint.check(Path(resume_from), run.world)
        checkpoint.load_adapter(Path(resume_from), peft)
    run.n_train = len(data.train)
    run.G = args.batch_size * args.gradient_accumulation_steps * run.world
    run.total_steps = math.ceil(args.num_epochs * run.n_train / run.G) if args.num_epochs > 0 else args.max_steps
    if sharding == "fsdp1":
        # FSDP1 exposes the parameters as views into its flat parameters only once it has wrapped the
        # model, so the optimizer is built over the wrapped model's parameters.
        model = accelerator.prepare(model)
        optimizer = _adamw(model, args)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(args, run.total_steps))
        optimizer, scheduler = accelerator.prepare(optimizer, scheduler)
    else:  # DDP, FSDP2 and DeepSpeed take model and optimizer together (FSDP2 swaps the optimizer's parameters)
        optimizer = _adamw(peft, args, fused=sharding is None)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(args, run.total_steps))
        model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
        if sharding == "deepspeed" and getattr(model, "basic_optimizer", None) is not None \
                and scheduler.scheduler.optimizer is not model.basic_optimizer:
            # The optimizer state offloaded (offload_optimizer): Accelerate hands DeepSpeed a DeepSpeedCPUAdam
            # built over our AdamW's parameter-group dicts, and the schedule still holds the AdamW. The two
            # share those dicts only until a checkpoint is loaded: DeepSpeed's load_checkpoint gives the CPU
            # Adam new ones (torch's Optimizer.load_state_dict), so the schedule set its rates into groups
            # nothing steps, and every update after the first resumed one kept the checkpoint's rate. The
            # schedule is built again over the optimizer DeepSpeed steps (the groups keep initial_lr, so the
            # same rates).
            scheduler.scheduler = torch.optim.lr_scheduler.LambdaLR(model.basic_optimizer, _schedule(args, run.total_steps))
    run.model, run.optimizer, run.scheduler, run.device = model, optimizer, scheduler, accelerator.device
    # Evaluation: DDP's forward syncs buffers, which would hang when processes run different numbers of
    # evaluation batches, so it uses the unwrapped model; FSDP and ZeRO-3 gather the weights inside each
    # forward, so there the wrapped model runs the same number of batches on every process.
    run.eval_model = model if sharding else peft
    run.agree = Agreement(run.stop_requested, run.pause_requested, accelerator)
    if resume_from is not None:
        run.step = checkpoint.load_training_state(Path(resume_from), model, optimizer, scheduler, accelerator, sharding)
        run.last_ckpt = str(Path(resume_from).resolve())
    config = peft.active_peft_config
    run.orth_weight = float(getattr(config, "orth_reg_weight", 0.0)) if run.adalora else 0.0


def _started(run: _Run, data: PreparedData, run_id: int | None) -> Started:
    device = run.device
    where = str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "") + (f" {run.precision}" if run.precision != "no" else "")
    if run.sharding:
        where += f", {run.sharding}"
    return Started(
        run_id=run_id, total_steps=run.total_steps, start_step=run.step, epochs=run.total_steps * run.G / run.n_train,
        train_examples=run.n_train, eval_examples=len(data.validation), trainable_params=run.trainable,
        all_params=run.total, device=where, num_processes=run.world, resumed_from=run.last_ckpt,
    )


def _set_up_notes(run: _Run, data: PreparedData) -> Iterator[Log]:
    """The data's warnings; AdaLoRA's rank schedule made to end with the run (or why it cannot)."""
    for warning in getattr(data, "warnings", []):
        yield Log("warning", warning)
    config = run.peft.active_peft_config
    if run.adalora and getattr(config, "total_step", run.total_steps) != run.total_steps:
        # The rank schedule must end with the run: follow the run's length (when the schedule still fits).
        if run.total_steps > config.tinit + config.tfinal:
            yield Log("info", f"AdaLoRA's total_step was {config.total_step}; this run takes {run.total_steps} steps, "
                      f"so the rank schedule now spans {run.total_steps} steps.")
            config.total_step = run.total_steps
        else:
            yield Log("warning", f"AdaLoRA's total_step is {config.total_step} but this run takes only {run.total_steps} "
                      f"steps, fewer than tinit + tfinal = {config.tinit + config.tfinal}: the rank schedule will not "
                      "line up with the run. Lower tinit/tfinal or train longer.")


# --------------------------------------------------------------------------------------------------
# One optimizer step, evaluation, a pause


def _forward_backward(run: _Run, data: PreparedData) -> tuple[float, int]:
    """The micro-batches of optimizer step ``run.step``: forward and backward on this process's share.
    Returns (loss per trained token of the whole global batch, input tokens of the global batch)."""
    args, step, G, world, device = run.args, run.step, run.G, run.world, run.device
    # The whole global batch's examples are known on every rank (no communication needed
    # to count its trained tokens): positions [step·G, (step+1)·G) of the shuffled stream.
    idx = stream_indices(run.n_train, args.seed, step * G, G)
    batch_all = [data.train[i] for i in idx]
    n_target = sum(_n_targets(e) for e in batch_all)  # trained tokens of the global batch
    n_tokens = sum(len(e.input_ids) for e in batch_all)  # input tokens, padding excluded
    loss_sum = torch.zeros((), device=device)
    with share_dropout_masks(args.share_dropout_masks):  # off by default: one LoRA dropout mask per layer, as PEFT
        for m in range(args.gradient_accumulation_steps):
            chunk = m * world + run.rank
            micro = batch_all[chunk * args.batch_size:(chunk + 1) * args.batch_size]
            batch = {k: v.to(device) for k, v in collate(micro, data.pad_token_id).items()}
            # accumulate(): no gradient sync before the last micro-batch (DDP/FSDP), DeepSpeed's boundary on it.
            with run.accelerator.accumulate(run.model):
                with run.accelerator.autocast():
                    micro_sum = _loss_sum(run.model, batch)  # () summed over the micro-batch's trained tokens
                # DDP averages gradients over processes (×world turns that into a sum) and backward()
                # divides by the accumulation steps (×accumulation steps undoes it), so the step's gradient is that of
                # (sum of token losses) / (trained tokens of the global batch).
                objective = micro_sum * (world * args.gradient_accumulation_steps) / n_target
                if run.orth_weight:
                    # AdaLoRA's orthogonality penalty (the same on every rank, so DDP's average keeps it);
                    # backward()'s division spreads it over the micro-batches: added once per optimizer step.
                    objective = objective + run.orth_weight * run.peft.orthogonality_penalty()
                run.accelerator.backward(objective)
            loss_sum += micro_sum.detach()
    loss_t = run.accelerator.reduce(loss_sum, reduction="sum") if world > 1 else loss_sum
    return float(loss_t) / n_target, n_tokens


def _optimizer_step(run: _Run) -> tuple[float | None, float]:
    """Clip, step the optimizer (AdaLoRA re-allocates ranks), step the schedule; ``run.step`` += 1.
    Returns (gradient norm before clipping or None, the learning rate this step used)."""
    grad_norm = None
    if run.args.max_grad_norm > 0:
        # The prepared model's parameters: FSDP clips its own (sharded) ones; DeepSpeed clipped inside backward.
        norm = run.accelerator.clip_grad_norm_(run.model.parameters(), run.args.max_grad_norm)
        if norm is not None:
            grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
    lr = run.scheduler.get_last_lr()[0]
    run.optimizer.step()
    if run.adalora:  # AdaLoRA re-allocates ranks from this step's gradients (before they are cleared)
        run.peft.update_and_allocate(run.step)
    run.optimizer.zero_grad(set_to_none=True)
    run.scheduler.step()
    run.step += 1
    return grad_norm, lr


def _nan_failure(run: _Run, loss: float) -> Failed:
    return Failed(
        reason=f"The loss became {loss} at step {run.step + 1}; training stopped. Lower the learning rate "
        f"(now {run.args.learning_rate:g}){' or use bf16 instead of fp16' if run.precision == 'fp16' else ''}, "
        "then resume from the last checkpoint or start again.",
        step=run.step + 1, kind="nan", checkpoint=run.last_ckpt,
    )


def _evaluate(run: _Run, data: PreparedData) -> float:
    eval_loss = evaluate(run.eval_model, data.validation, data.pad_token_id, run.args.eval_batch_size, run.accelerator,
                         even=bool(run.sharding))
    if run.sharding == "fsdp2":
        checkpoint.reshard(run.model)
    return eval_loss


def _samples(run: _Run, data: PreparedData, tokenizer: Any, *, base: bool = False) -> Iterator[Samples]:
    """Greedy answers to the run's fixed evaluation prompts, scored against their references
    (`core.evaluate`); with ``base`` the adapter is switched off and the answers are step 0's. Process 0
    only, and not for sharded models (each process holds a part of the weights)."""
    if not (data.validation and run.args.eval_samples and tokenizer is not None) or run.rank != 0 or run.sharding:
        return
    if run.eval_prompts is None:
        run.eval_prompts = eval_prompts(data.validation, tokenizer, run.args.eval_samples)
    if not run.eval_prompts:
        return
    with run.peft.disable_adapter() if base else contextlib.nullcontext(), run.accelerator.autocast():
        rows = generate_samples(run.eval_model, tokenizer, run.eval_prompts, run.args.eval_max_new_tokens)
    yield Samples(step=0 if base else run.step, samples=rows)


def _hold(run: _Run) -> Iterator[Event]:
    """A pause between steps: `Paused`, then wait until continued (`Continued`) or stopped (a checkpoint
    of this step if there is none yet). Returns (stop, seconds paused) to ``yield from``."""
    t_pause = time.perf_counter()
    yield Paused(step=run.step, time=time.time())
    stop, pause = False, True
    while pause and not stop:  # heartbeats go on meanwhile: the worker sends them from its own thread
        time.sleep(PAUSE_POLL_S)
        stop, pause = run.agree()
    paused_s = time.perf_counter() - t_pause
    if not stop:
        yield Continued(step=run.step, paused_seconds=paused_s)
    elif run.ckpt_step != run.step:  # a stop while paused: checkpoint, then finish as stopped
        yield run.checkpoint()
    return stop, paused_s


# --------------------------------------------------------------------------------------------------
# Pieces of the loop


def _loss_sum(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy summed over the trained tokens of ``batch`` (next-token prediction).

    Where the model can (`_logits_at_trained_positions_only`), its head runs only at the positions whose next
    token is trained: with the default ``train_on="completion"`` most of a chat example is prompt, and the
    (B, T, V) logits, their float32 copy, log-probabilities and gradient (each ~100 MB for 4 x 128 tokens of a
    49k vocabulary) shrink to (n, V) for the n trained tokens. The sum is the same: the positions left out
    are the ones ``ignore_index`` would have skipped."""
    labels = batch["labels"][:, 1:]  # (B, T-1): token t+1 is predicted at position t
    if _logits_at_trained_positions_only(model):
        keep = torch.zeros_like(batch["labels"], dtype=torch.bool)  # (B, T)
        keep[:, :-1] = labels != IGNORE
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep).logits
        return F.cross_entropy(logits.float(), labels[keep[:, :-1]], reduction="sum")  # logits (n, V), n trained tokens
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
    logits = logits[:, -batch["input_ids"].shape[1]:]  # prompt / P-tuning put n virtual positions first: (B, n+T, V)
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE, reduction="sum")


def _logits_at_trained_positions_only(model: Any) -> bool:
    """Whether ``model`` (ours, a transformers causal LM, possibly inside DDP / DeepSpeed's ``.module``) takes
    transformers' ``logits_to_keep`` as a (B, T) bool mask: its modeling module slices with transformers'
    ``slice_logits_to_keep`` (nearly every causal LM since transformers 5), and no virtual tokens are put
    before the input (prompt tuning, P-tuning and prefix tuning shift or extend the positions; they keep the
    full logits). Anything else computes every position's logits, as before."""
    inner = getattr(model, "module", model)
    if any(config.is_prompt_learning for config in getattr(inner, "peft_config", {}).values()):
        return False
    base = inner.get_base_model() if hasattr(inner, "get_base_model") else inner
    return _slices_logits(type(base))


@functools.cache
def _slices_logits(cls: type) -> bool:
    module = sys.modules.get(cls.__module__)
    return hasattr(module, "slice_logits_to_keep") and "logits_to_keep" in inspect.signature(cls.forward).parameters


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


def _adamw(model: Any, args: TrainingArguments, fused: bool = False) -> torch.optim.AdamW:
    """AdamW over the trainable parameters. ``fused``: torch's one-kernel AdamW where every trainable parameter
    is a float tensor on the CPU or a CUDA GPU (one process or DDP; sharded modes swap the parameters and keep
    the for-each loop). Same update to rounding; on a 2-core CPU the step of a SmolLM2 LoRA (r=16, all linear,
    420 tensors) takes 5 ms instead of the default per-tensor loop's 30 ms (transformers' `Trainer` picks the
    fused one by default too)."""
    groups = _param_groups(model, args)
    params = [p for group in groups for p in group["params"]]
    fused = fused and bool(params) and all(
        p.dtype in (torch.float32, torch.float16, torch.bfloat16) and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(
        groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
        eps=args.adam_epsilon, weight_decay=args.weight_decay, fused=fused or None,
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
        zero = config.setdefault("zero_optimization", {})
        if str(zero.get("stage")) == "3" and zero.get("stage3_gather_16bit_weights_on_model_save") is not True:
            # Our checkpoints gather the adapter's full tensors (accelerator.get_state_dict), which ZeRO-3 does
            # only with this on; `accelerate config` writes it false unless asked, so a user's own config would
            # fail at the first checkpoint, after training started. Read by the engine, built after this.
            zero["stage3_gather_16bit_weights_on_model_save"] = True
            accelerator.state.deepspeed_plugin.zero3_save_16bit_model = True
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
