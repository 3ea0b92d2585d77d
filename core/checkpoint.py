"""Checkpoints of a training run: ``<output_dir>/checkpoint-<step>`` holds the adapter (PEFT's layout,
``adapter/``), the optimizer, scheduler and scaler states, each process's RNG state and the step (the
data position: `core.train` reads the data as a pure function of seed and step). Written through a
temporary folder, so a checkpoint is complete or absent; sharded runs (FSDP, DeepSpeed) gather the
adapter and save their optimizer shards.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from core.args import TrainingArguments
from core.errors import TrainingConfigError


def is_adalora(peft: Any) -> bool:
    """AdaLoRA keeps its rank allocator's state beside the adapter (and the loop calls its allocator)."""
    from core.config import PeftType

    return getattr(peft, "peft_type", None) == PeftType.ADALORA

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


def save(output_dir: Path, step: int, peft: Any, model: Any, optimizer: Any, scheduler: Any, accelerator: Any,
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
        if is_adalora(peft):
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


def reshard(model: Any) -> None:
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


def check(folder: Path, world: int) -> dict[str, Any]:
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


def load_adapter(folder: Path, peft: Any) -> None:
    """The checkpoint's adapter into the live (not yet sharded) model."""
    from core.peft_model import read_adapter_weights

    if (folder / "allocation_state.pt").is_file():  # AdaLoRA mid-run: full-size tensors and allocator state
        peft.load_allocation_state_dict(torch.load(folder / "allocation_state.pt", map_location="cpu", weights_only=True))
    else:
        peft._load_weights(peft.active_adapter, read_adapter_weights(folder / "adapter"), str(folder))


def load_training_state(folder: Path, model: Any, optimizer: Any, scheduler: Any, accelerator: Any, sharding: str | None) -> int:
    """Optimizer, scheduler, scaler and this process's RNG state from a checkpoint; returns its step."""
    state = check(folder, accelerator.num_processes)
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
