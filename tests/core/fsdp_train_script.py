"""Run by tests/core/test_train.py under `torchrun --nproc_per_node 2` on the CPU: `core.train` under
FSDP2. Usage: fsdp_train_script.py OUT_DIR

Accelerate switches FSDP on only for accelerators (GPUs and the like): on the CPU it keeps DDP
(MULTI_CPU) whatever ACCELERATE_USE_FSDP says, and FSDP1 refuses a CPU device. FSDP2 (fully_shard)
itself runs on the CPU with gloo, so this test-only script puts the Accelerator's state into FSDP2 mode
by hand and hands it to `train(accelerator=...)`: our FSDP2 path (sharded optimizer, gathered adapter,
DCP optimizer checkpoint, evaluation with as many forwards on every process) runs for real.

Run A trains 4 steps (checkpoints at 2 and 4); run B starts from a different init, resumes from A's
checkpoint-2 and trains to 4. Each process writes what it holds (full tensors) and the losses."""

import faulthandler
import json
import os
import sys

import torch

faulthandler.dump_traceback_later(150, exit=True)  # a hang prints where it is instead of waiting for the test's timeout

from accelerate import Accelerator  # noqa: E402
from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin  # noqa: E402

import core.train as train_mod  # noqa: E402
from core import LoraConfig, get_peft_model  # noqa: E402
from core.data import DataConfig, prepare  # noqa: E402
from core.models import load_model  # noqa: E402

out = sys.argv[1]
rank = int(os.environ["RANK"])


def fsdp2_accelerator() -> Accelerator:
    accelerator = Accelerator(cpu=True, step_scheduler_with_optimizer=False)
    accelerator.state.distributed_type = DistributedType.FSDP
    accelerator.state.fsdp_plugin = FullyShardedDataParallelPlugin(fsdp_version=2)
    return accelerator


def run(seed, output_dir, resume_from=None):
    model, tok = load_model("tiny-llama")
    torch.manual_seed(seed)
    peft = get_peft_model(model, LoraConfig(r=4, lora_dropout=0.1, target_modules=["q_proj", "v_proj"]))
    path = os.path.join(out, "data.jsonl")
    data = prepare(DataConfig(path=path, validation_split=0.25), tok)
    args = train_mod.TrainingArguments(max_steps=4, batch_size=2, warmup_steps=0, eval_steps=2, save_steps=2, learning_rate=5e-3)
    events = list(train_mod.train(peft, tok, data, args, os.path.join(out, output_dir), resume_from=resume_from,
                                  accelerator=fsdp2_accelerator()))
    assert type(events[-1]).__name__ == "Finished", events[-1]
    live = peft.adapter_state_dict()
    full = {k: live[k].full_tensor().detach().clone() for k in sorted(live)}  # collective, same order everywhere
    started = events[0]
    return {
        "state": full, "device": started.device, "sharded": type(live[next(iter(live))]).__name__,
        "losses": {e.step: e.loss for e in events if type(e).__name__ == "Step"},
        "evals": {e.step: e.eval_loss for e in events if type(e).__name__ == "Eval"},
        "checkpoints": [e.path for e in events if type(e).__name__ == "Checkpoint"],
    }


if rank == 0:
    recs = [{"prompt": f"Item {i}?", "completion": "ok " * (1 + i % 5)} for i in range(16)]
    with open(os.path.join(out, "data.jsonl.tmp"), "w") as f:
        f.write("\n".join(json.dumps(r) for r in recs))
    os.replace(os.path.join(out, "data.jsonl.tmp"), os.path.join(out, "data.jsonl"))
while not os.path.exists(os.path.join(out, "data.jsonl")):
    pass
a = run(0, "a")
b = run(123, "b", resume_from=a["checkpoints"][0])
torch.save({"a": a, "b": b}, os.path.join(out, f"rank{rank}.pt"))
