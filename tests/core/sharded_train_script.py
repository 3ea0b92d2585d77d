"""Run by tests/core/test_train.py under `torchrun --nproc_per_node 2` on the CPU: `core.train` with the
model sharded by FSDP2 or DeepSpeed ZeRO. Usage: sharded_train_script.py MODE OUT_DIR PHASES
with MODE ``fsdp2``, ``zero2``, ``zero3`` or ``zero3-offload`` (ZeRO-3 with the optimizer state offloaded
to CPU memory) and PHASES ``ab``, ``a`` or ``b``.

Run A trains 4 steps (checkpoints at 2 and 4); run B starts from a different init, resumes from A's
checkpoint-2 and trains to 4. Each process writes what it holds (full tensors) and the losses.
(ZeRO-3 needs B in a launch of its own: once a ZeRO-3 engine exists, transformers builds every later
model partitioned.)

Accelerate turns FSDP and DeepSpeed on only for accelerators (GPUs and the like); on the CPU it keeps
DDP (MULTI_CPU) whatever ACCELERATE_USE_FSDP says, FSDP1 refuses a CPU device, and with cpu=False and a
DeepSpeed plugin it initialises DeepSpeed's communication but counts one process. FSDP2 (fully_shard)
and DeepSpeed's CPU accelerator do run on the CPU with gloo, so this test-only script puts accelerate's
state right by hand and hands the Accelerator to `train(accelerator=...)`: our sharded paths (gathered
adapter, FSDP/DeepSpeed optimizer checkpoints, evaluation with as many forwards on every process,
DeepSpeed stepping inside backward) run for real."""

import faulthandler
import json
import os
import sys

import torch

faulthandler.dump_traceback_later(150, exit=True)  # a hang prints where it is instead of waiting for the test's timeout

from accelerate import Accelerator, PartialState  # noqa: E402
from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin  # noqa: E402

import core.train as train_mod  # noqa: E402
from core import LoraConfig, get_peft_model  # noqa: E402
from core.data import DataConfig, prepare  # noqa: E402
from core.models import load_model  # noqa: E402

mode, out, phases = sys.argv[1], sys.argv[2], sys.argv[3]
rank = int(os.environ["RANK"])
_made = []


def sharded_accelerator() -> Accelerator:
    if mode == "fsdp2":
        accelerator = Accelerator(cpu=True, step_scheduler_with_optimizer=False)
        accelerator.state.distributed_type = DistributedType.FSDP
        accelerator.state.fsdp_plugin = FullyShardedDataParallelPlugin(fsdp_version=2)
        return accelerator
    from accelerate.utils import DeepSpeedPlugin

    if _made:  # the plugin is given to the first Accelerator only (accelerate refuses it on a second)
        return Accelerator(cpu=False, step_scheduler_with_optimizer=False)
    PartialState(cpu=False)
    state = PartialState._shared_state
    state["num_processes"], state["process_index"], state["local_process_index"] = int(os.environ["WORLD_SIZE"]), rank, rank
    _made.append(True)
    offload = mode.endswith("-offload")
    # zero3_save_16bit_model False, as `accelerate config` writes it unless asked: the loop turns on the
    # 16-bit gather its ZeRO-3 checkpoints need.
    plugin = DeepSpeedPlugin(zero_stage=int(mode[4]), zero3_save_16bit_model=False, zero3_init_flag=False,
                             offload_optimizer_device="cpu" if offload else "none")
    return Accelerator(cpu=False, step_scheduler_with_optimizer=False, deepspeed_plugin=plugin)


def _offload_device(accelerator) -> str:
    config = accelerator.deepspeed_engine_wrapped.engine.zero_offload_optimizer()  # None or DeepSpeed's offload config
    device = getattr(config, "device", None)
    return str(getattr(device, "value", device or "none"))


def _deepspeed_optimizer(accelerator) -> dict:
    """The optimizer DeepSpeed steps (its class, and its groups' learning rates) beside the rates the run's
    schedule last set: they must agree, or the schedule steers groups nothing steps."""
    engine = accelerator.deepspeed_engine_wrapped.engine
    stepped = engine.basic_optimizer
    return {"class": type(stepped).__name__, "offloaded": bool(getattr(engine.optimizer, "offload_optimizer", None)  # ZeRO-3's flag
                                                                      or getattr(engine.optimizer, "cpu_offload", None)),  # ZeRO-1/2's
            "lr": [g["lr"] for g in stepped.param_groups],
            "schedule_lr": [float(x) for x in accelerator._schedulers[-1].get_last_lr()],
            "gather_16bit": engine.zero_gather_16bit_weights_on_model_save()}


def run(seed, output_dir, resume_from=None):
    model, tok = load_model("tiny-llama")
    torch.manual_seed(seed)
    peft = get_peft_model(model, LoraConfig(r=4, lora_dropout=0.1, target_modules=["q_proj", "v_proj"]))
    data = prepare(DataConfig(path=os.path.join(out, "data.jsonl"), validation_split=0.25), tok)
    args = train_mod.TrainingArguments(max_steps=4, batch_size=2, warmup_steps=0, eval_steps=2, save_steps=2, learning_rate=5e-3)
    accelerator = sharded_accelerator()
    events = list(train_mod.train(peft, tok, data, args, os.path.join(out, output_dir), resume_from=resume_from,
                                  accelerator=accelerator))
    assert type(events[-1]).__name__ == "Finished", events[-1]
    live = peft.adapter_state_dict()
    # What this process holds, as full tensors: FSDP2 keeps DTensor shards (gathered here, a collective in
    # the same order everywhere); DeepSpeed ZeRO-3 keeps flat partitions (GatheredParameters).
    if mode.startswith("zero3"):
        import deepspeed

        with deepspeed.zero.GatheredParameters([live[k] for k in sorted(live)]):
            full = {k: live[k].detach().clone() for k in sorted(live)}
    else:
        full = {k: (live[k].full_tensor() if hasattr(live[k], "full_tensor") else live[k]).detach().clone() for k in sorted(live)}
    return {
        "state": full, "device": events[0].device, "sharded": type(live[next(iter(live))]).__name__,
        "losses": {e.step: e.loss for e in events if type(e).__name__ == "Step"},
        "evals": {e.step: e.eval_loss for e in events if type(e).__name__ == "Eval"},
        "checkpoints": [e.path for e in events if type(e).__name__ == "Checkpoint"],
        # DeepSpeed's own reading of its config: where the optimizer state lives ("cpu" when offloaded, else "none").
        "offload": _offload_device(accelerator) if mode != "fsdp2" else None,
        "optimizer": _deepspeed_optimizer(accelerator) if mode != "fsdp2" else None,
    }


if rank == 0 and not os.path.exists(os.path.join(out, "data.jsonl")):
    recs = [{"prompt": f"Item {i}?", "completion": "ok " * (1 + i % 5)} for i in range(16)]
    with open(os.path.join(out, "data.jsonl.tmp"), "w") as f:
        f.write("\n".join(json.dumps(r) for r in recs))
    os.replace(os.path.join(out, "data.jsonl.tmp"), os.path.join(out, "data.jsonl"))
while not os.path.exists(os.path.join(out, "data.jsonl")):
    pass
result_file = os.path.join(out, f"rank{rank}.pt")
result = torch.load(result_file, weights_only=False) if os.path.exists(result_file) else {}
if "a" in phases:
    result["a"] = run(0, "a")
if "b" in phases:
    result["b"] = run(123, "b", resume_from=os.path.join(out, "a", "checkpoint-2"))
torch.save(result, result_file)
