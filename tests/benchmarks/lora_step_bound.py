"""The least a LoRA step can add to the floor at dropout 0: the adapter's own matrix products, timed alone.

    .venv/bin/python tests/benchmarks/lora_step_bound.py [--rounds 7] [--threads 2] [--json out.json]

Setting as tests/benchmarks/bench_lora_step.py (SmolLM2-135M's shapes, 30 layers, r=16 on every linear layer
but the head, batch 4 x 128 = 512 tokens, float32). Any LoRA engine that computes the adapter as two rank-r
products (PEFT and ours alike) runs, for each adapted layer with input x (N, in), frozen weight W (out, in),
A (r, in), B (out, r) and the output's gradient g (N, out), these six products on top of the base's:

    forward   h = x Aᵀ (N, r)               u = h Bᵀ (N, out)
    backward  dB = gᵀ h (out, r)   gh = g B (N, r)   dA = ghᵀ x (r, in)   dx += gh A (N, in)

This script times exactly those products for the 210 layers of a step (the same shapes, each product
repeated in a loop with fresh random operands of the right shape, median of rounds), the base layers' own
two products (x Wᵀ and g W) for scale, and one AdamW step (torch's default implementation, as the step
benchmark uses) over the adapter's 420 tensors. It also times the floor's whole step in the same process
(bench_lora_step.py's floor: frozen model, backward down to the input embeddings).

The sum of the adapter's products and the optimizer over the floor's step is a lower bound, for this machine,
of ``LoRA step / floor`` at dropout 0 with no other cost at all (no element-wise work, no Python, no
allocation): a step's products run back to back here, with warm caches, at their best. Compare it with what
bench_lora_step.py measures for both engines (``= N x floor``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lora_step import SMOLLM2, build  # noqa: E402

# (in, out) of the seven adapted linear layers of one decoder layer: q, k, v, o, gate, up, down
H, I, KV = SMOLLM2["hidden_size"], SMOLLM2["intermediate_size"], SMOLLM2["num_key_value_heads"] * SMOLLM2["head_dim"]
LAYER_SHAPES = [(H, H), (H, KV), (H, KV), (H, H), (H, I), (H, I), (I, H)]


def per_call(fn, repeats: int) -> float:
    """Seconds per call of ``fn``, over ``repeats`` calls after two warm-up calls."""
    fn()
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def products(n: int, rank: int, repeats: int) -> tuple[float, float]:
    """Seconds a step spends in the adapter's six products and in the base layers' two, over all layers."""
    adapter = base = 0.0
    layers = SMOLLM2["num_hidden_layers"]
    for fan_in, fan_out in LAYER_SHAPES:
        x, g = torch.randn(n, fan_in), torch.randn(n, fan_out)  # (N, in), (N, out)
        W = torch.randn(fan_out, fan_in)
        A, B = torch.randn(rank, fan_in), torch.randn(fan_out, rank)
        h, gh = torch.randn(n, rank), torch.randn(n, rank)
        u, dx = torch.empty(n, fan_out), torch.empty(n, fan_in)

        def lora() -> None:
            torch.mm(x, A.t())  # h (N, r)
            torch.mm(h, B.t(), out=u)  # u (N, out)
            torch.mm(g.t(), h)  # dB (out, r)
            torch.mm(g, B)  # gh (N, r)
            torch.mm(gh.t(), x)  # dA (r, in)
            torch.mm(gh, A, out=dx)  # the adapter's share of dx (N, in)

        def frozen() -> None:
            torch.mm(x, W.t())  # (N, out)
            torch.mm(g, W)  # (N, in)

        adapter += per_call(lora, repeats) * layers
        base += per_call(frozen, repeats) * layers
    return adapter, base


def optimizer_step(rank: int, repeats: int) -> float:
    """Seconds of one AdamW step (torch's default implementation) over the adapter's tensors."""
    params = []
    for _ in range(SMOLLM2["num_hidden_layers"]):
        for fan_in, fan_out in LAYER_SHAPES:
            params += [torch.nn.Parameter(torch.randn(rank, fan_in)), torch.nn.Parameter(torch.randn(fan_out, rank))]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW(params, lr=1e-4)
    return per_call(opt.step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5, help="calls of each layer's products per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rank, n = 16, 4 * 128
    _, _, floor_step = build("floor", argparse.Namespace(rank=rank, dropout=0.0, batch=4, tokens=128, layers=30,
                                                         share_masks=False))
    floor_step()
    rounds = {"floor step": [], "adapter products": [], "base products": [], "AdamW": []}
    for _ in range(args.rounds):  # interleaved, so that the machine's slow spells hit every figure alike
        rounds["floor step"].append(per_call(floor_step, 1))
        adapter, base = products(n, rank, args.repeats)
        rounds["adapter products"].append(adapter)
        rounds["base products"].append(base)
        rounds["AdamW"].append(optimizer_step(rank, args.repeats))
    med = {k: statistics.median(v) for k, v in rounds.items()}
    print(f"torch {torch.__version__}, {args.threads} threads, {args.rounds} rounds, r={rank}, {n} tokens, 30 layers")
    for name, value in med.items():
        print(f"  {name:17s} {value * 1e3:8.1f} ms a step (median; min {min(rounds[name]) * 1e3:.1f}, "
              f"max {max(rounds[name]) * 1e3:.1f})")
    bound = 1 + (med["adapter products"] + med["AdamW"]) / med["floor step"]
    print(f"  adapter products / base products: {med['adapter products'] / med['base products']:.3f}")
    print(f"  lower bound of a LoRA step at dropout 0: {bound:.3f} x floor "
          f"(floor + the adapter's products + AdamW, nothing else)")
    if args.json:
        Path(args.json).write_text(json.dumps({"torch": torch.__version__, "args": vars(args), "rounds": rounds,
                                               "bound_x_floor": bound}, indent=1))


if __name__ == "__main__":
    main()
