"""One LoRA training step on SmolLM2-135M's architecture: ours against PEFT, and the floor.

    .venv/bin/python tests/benchmarks/bench_lora_step.py [--pairs 12] [--dropout 0.05] [--share-masks]
        [--generic] [--no-floor] [--threads N] [--json out.json]

Setting (issue #2): r=16, lora_dropout 0.05, every linear layer but the head, AdamW, batch 4 x 128 tokens,
all 30 layers, random weights. Both engines draw one dropout mask per adapted layer (PEFT's semantics, our
default); ``--share-masks`` times ours with ``share_dropout_masks`` on (q/k/v and gate/up share one mask: a
different regulariser, so not like for like). ``--generic`` adds a third model: ours with the training fast
path (core/methods/_lora_fused.py) switched off, i.e. the engine before it. Each side runs in its own
process (its allocator to itself), driven in turn by this one, the order rotated every round, so that machine
noise hits all alike; the figure is the median of
the per-round ratios ours/PEFT, with their spread (min..max) and the load average before and after.

Activation memory: the bytes autograd keeps for backward during one step's forward pass — every tensor
saved by a backward node, counted once per storage (``torch.autograd.graph.saved_tensors_hooks``); the
model's weights, which backward also reads, are left out. It is exact and does not depend on the allocator.

The floor is the same step with the base frozen and no adapter: backward still runs through every layer
down to the input embeddings (they require grad) but computes no weight gradient. It is what any adapter
method must pay at least; each method's step is also reported as a multiple of it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import core  # noqa: E402
import peft  # noqa: E402  (benchmark only: the oracle we compare against)

SMOLLM2 = dict(
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
    num_key_value_heads=3, head_dim=64, max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
    tie_word_embeddings=True,
)


def make_model(seed: int = 0, layers: int = 30) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**{**SMOLLM2, "num_hidden_layers": layers}))


@contextlib.contextmanager
def fast_path(enabled: bool):
    """Within: our LoRA layers take the generic path if ``enabled`` is False."""
    from core.methods import _lora_fused

    real = _lora_fused.try_forward
    if not enabled:
        _lora_fused.try_forward = lambda *a: None
    try:
        yield
    finally:
        _lora_fused.try_forward = real


def lora_step_fn(model, batch, share_masks: bool = False, fast: bool = True):
    from core.methods.lora import share_dropout_masks

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)

    def step() -> None:
        with share_dropout_masks(share_masks), fast_path(fast):  # no-ops for PEFT's model (no layer of ours in it)
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def floor_step_fn(model, batch):
    model.requires_grad_(False)
    embed = model.get_input_embeddings()

    def step() -> None:
        inputs = embed(batch).detach().requires_grad_(True)  # (B, T, d): backward reaches the inputs
        loss = model(inputs_embeds=inputs, labels=batch).loss
        loss.backward()

    return step


def saved_activation_bytes(model, batch, share_masks: bool = False, floor: bool = False, fast: bool = True) -> int:
    """Bytes of the tensors autograd saves during one forward pass, each storage once, weights left out."""
    from core.methods.lora import share_dropout_masks

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), share_dropout_masks(share_masks), fast_path(fast):
        if floor:
            inputs = model.get_input_embeddings()(batch).detach().requires_grad_(True)
            loss = model(inputs_embeds=inputs, labels=batch).loss
        else:
            loss = model(input_ids=batch, labels=batch).loss
    del loss
    return sum(seen.values())


def timed(fn) -> tuple[float, int]:
    """Seconds ``fn`` took and the page faults it caused (a step that gets fresh pages from the kernel for its
    buffers spends system time on each first touch: a property of the process's allocator state)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def build(name: str, args: argparse.Namespace):
    """The model and its step function for one side: "ours", "peft", "generic" (ours without the fast path) or
    "floor"; all from the same weights (seed 0)."""
    settings = dict(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=args.dropout, target_modules="all-linear")
    torch.manual_seed(1)
    batch = torch.randint(0, SMOLLM2["vocab_size"], (args.batch, args.tokens))
    if name == "floor":
        model = make_model(layers=args.layers)
        step = floor_step_fn(model, batch)
    elif name == "peft":
        model = peft.get_peft_model(make_model(layers=args.layers), peft.LoraConfig(task_type="CAUSAL_LM", **settings))
        step = lora_step_fn(model, batch)
    else:
        model = core.get_peft_model(make_model(layers=args.layers), core.LoraConfig(task_type="CAUSAL_LM", **settings))
        step = lora_step_fn(model, batch, args.share_masks, fast=name == "ours")
    model.train()
    return model, batch, step


def side(name: str, args: argparse.Namespace, conn) -> None:
    """One side in its own process: builds its model, warms up, reports its saved activations, then times one
    step each time the parent asks. Separate processes keep each side's allocator to itself: in one shared
    process the models' frees and allocations interleave, and a side can pay the kernel for fresh pages
    (page faults, system time) that it would not pay alone (measured: PEFT's step 281,000 faults in a shared
    process, 98,000 alone)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model, batch, step = build(name, args)
    for _ in range(args.warmup):
        step()
    activations = saved_activation_bytes(model, batch, share_masks=args.share_masks and name in ("ours", "generic"),
                                         floor=name == "floor", fast=name != "generic")
    step()  # the measuring pass above leaves the allocator unlike a step's: one more step to settle it
    conn.send(activations)
    while conn.recv() == "step":
        conn.send(timed(step))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.05)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--share-masks", action="store_true", help="ours with share_dropout_masks (not like for like)")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor (faster rounds)")
    parser.add_argument("--generic", action="store_true", help="also time ours with the fast path off (the engine before it)")
    parser.add_argument("--layers", type=int, default=30, help="decoder layers (30: SmolLM2-135M; fewer for a smoke run)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    names = ["ours", "peft"] + (["generic"] if args.generic else []) + ([] if args.no_floor else ["floor"])
    context = multiprocessing.get_context("spawn")
    pipes, procs, activations = {}, [], {}
    for name in names:  # built and warmed up one after another: the machine's cores go to one side at a time
        parent, child = context.Pipe()
        proc = context.Process(target=side, args=(name, args, child), daemon=True)
        proc.start()
        pipes[name] = parent
        procs.append(proc)
        activations[name] = parent.recv()  # sent once its warm-up is done

    load_before = os.getloadavg()
    times: dict[str, list[float]] = {k: [] for k in names}
    faults: dict[str, list[int]] = {k: [] for k in names}
    for i in range(args.pairs):
        for name in names[i % len(names):] + names[:i % len(names)]:  # rotated: each side takes each slot in turn
            pipes[name].send("step")  # only this side runs; the others wait on their pipes
            seconds, n_faults = pipes[name].recv()
            times[name].append(seconds)
            faults[name].append(n_faults)
    load_after = os.getloadavg()
    for name in names:
        pipes[name].send("quit")
    for proc in procs:
        proc.join()
    threads = args.threads or torch.get_num_threads()
    ratios = [o / p for o, p in zip(times["ours"], times["peft"])]
    ratio = statistics.median(ratios)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"torch {torch.__version__}, peft {peft.__version__}, {threads} threads, {args.pairs} "
          f"alternating rounds, each side in its own process, r={args.rank}, dropout={args.dropout}, "
          f"batch {args.batch}x{args.tokens}" + (", ours with shared dropout masks" if args.share_masks else ""))
    print(f"  load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}")
    for name in names:
        floor = f"  = {med[name] / med['floor']:.2f} x floor" if "floor" in med else ""
        print(f"  {name:7s} median step {med[name]:.3f} s (min {min(times[name]):.3f}, max {max(times[name]):.3f}){floor}"
              f"; saved activations {activations[name] / 2**20:.1f} MiB; page faults a step {statistics.median(faults[name]):,.0f}")
    print(f"  ours/PEFT median of per-round ratios: {ratio:.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}); "
          f"ratio of the medians {med['ours'] / med['peft']:.3f}")
    if args.generic:
        generic_ratios = [g / p for g, p in zip(times["generic"], times["peft"])]
        print(f"  generic/PEFT (fast path off) median of per-round ratios: {statistics.median(generic_ratios):.3f} "
              f"(min {min(generic_ratios):.3f}, max {max(generic_ratios):.3f})")
    for name in activations:
        if name != "peft":
            print(f"  {name}/PEFT saved activations: {activations[name] / activations['peft']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "torch": torch.__version__, "peft": peft.__version__, "threads": threads,
            "args": vars(args), "load_before": load_before, "load_after": load_after, "times": times,
            "ratios": ratios, "ratio_median": ratio, "page_faults": faults, "activation_bytes": activations,
        }, indent=1))


if __name__ == "__main__":
    main()
