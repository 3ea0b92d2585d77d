"""Run by tests/core/test_train.py under `torchrun --nproc_per_node 2` (and once in one process):
trains LoRA on tiny-llama for a few steps and writes, per rank, the adapter tensors and the example
ids of every micro-batch it saw. Usage: ddp_train_script.py OUT_DIR BATCH_SIZE"""

import faulthandler
import json
import os
import sys

import torch

import core.train as train_mod
from core import LoraConfig, get_peft_model
from core.data import DataConfig, prepare
from core.models import load_model

out, batch_size = sys.argv[1], int(sys.argv[2])
faulthandler.dump_traceback_later(60, exit=True)  # a hang prints where it is instead of waiting for the timeout
rank = int(os.environ.get("RANK", 0))
model, tok = load_model("tiny-llama")
torch.manual_seed(0)
peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
recs = [{"prompt": f"Item {i}?", "completion": "ok " * (1 + i % 5)} for i in range(16)]
path = os.path.join(out, "data.jsonl")
if rank == 0:
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(json.dumps(r) for r in recs))
    os.replace(path + ".tmp", path)
while not os.path.exists(path):
    pass
data = prepare(DataConfig(path=path, validation_split=0.25), tok)
seen = []
_collate = train_mod.collate


where = {id(e): i for i, e in enumerate(data.train)}


def recording_collate(examples, pad):
    if all(id(e) in where for e in examples):  # training batches, not evaluation ones
        seen.append([where[id(e)] for e in examples])
    return _collate(examples, pad)


train_mod.collate = recording_collate
events = list(train_mod.train(peft, tok, data, train_mod.TrainingArguments(max_steps=3, batch_size=batch_size, warmup_steps=0, eval_steps=0, save_steps=0), os.path.join(out, "ckpt")))
assert type(events[-1]).__name__ == "Finished", events[-1]
torch.save({"state": peft.adapter_state_dict(), "seen": seen, "losses": [e.loss for e in events if type(e).__name__ == "Step"],
            "eval": [e.eval_loss for e in events if type(e).__name__ == "Eval"]}, os.path.join(out, f"rank{rank}.pt"))
