"""DeepSpeed in the launch (core.launch): the ZeRO-2/3 configs as accelerate's launcher reads them, the
Slurm script, DeepSpeed missing (a Python without it), and what each choice needs per GPU
(core.estimate.per_gpu_memory). The real two-process DeepSpeed run through the dialog is in
tests/studio/test_launch.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.estimate import PARTS, SHARDED_PARTS, per_gpu_memory
from core.launch import (
    CHOICES,
    Gpu,
    LaunchSpec,
    accelerate_config,
    deepspeed_install_command,
    launch_script,
    slurm_script,
)

ROOT = Path(__file__).resolve().parents[2]
H200 = [Gpu(i, "NVIDIA H200", 143771, "9.0") for i in range(4)]


def launcher_env(path: Path) -> tuple[object, dict[str, str]]:
    """What ``accelerate launch --config_file PATH`` hands a DeepSpeed launch's processes: accelerate's own
    argument parsing and environment preparation (accelerate.commands.launch.launch_command does the
    same two steps before it starts torchrun)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    args = launch_command_parser().parse_args(["--config_file", str(path), "-m", "core.worker", "P", "--run", "1"])
    args, defaults, _ = _validate_launch_command(args)
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    return args, {k: v for k, v in env.items() if k.startswith("ACCELERATE")}


@pytest.mark.parametrize("choice,stage,offload", [("zero2", 2, "none"), ("zero2+offload", 2, "cpu"),
                                                  ("zero3", 3, "none"), ("zero3+offload", 3, "cpu")])
def test_zero_configs_reach_deepspeed_as_chosen(tmp_path, monkeypatch, choice, stage, offload):
    """The YAML loads in accelerate, its launcher turns DeepSpeed on with that stage and offload, and the
    DeepSpeed config the processes build from it leaves batch size, accumulation and clipping to the run
    ("auto": core.train fills them) and loads the model whole (no zero.Init)."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DeepSpeedPlugin

    spec = LaunchSpec.for_gpus(2, H200, "bf16", sharding=choice)
    assert (spec.zero_stage, spec.offload_optimizer, spec.choice, spec.distributed_type) == (
        stage, offload == "cpu", choice, "DEEPSPEED")
    path = tmp_path / "ds.yaml"
    path.write_text(accelerate_config(spec))
    data = yaml.safe_load(path.read_text())
    assert data["distributed_type"] == "DEEPSPEED" and data["deepspeed_config"]["zero_stage"] == stage
    assert "gradient_accumulation_steps" not in data["deepspeed_config"]  # its env would override the run's
    config = load_config_from_file(str(path))
    assert config.distributed_type == "DEEPSPEED" and config.deepspeed_config["offload_optimizer_device"] == offload
    args, env = launcher_env(path)
    assert args.use_deepspeed and env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == str(stage) and env["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "false"
    assert "ACCELERATE_GRADIENT_ACCUMULATION_STEPS" not in env and "ACCELERATE_GRADIENT_CLIPPING" not in env
    for key in [k for k in os.environ if k.startswith("ACCELERATE")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()
    zero = plugin.deepspeed_config["zero_optimization"]
    assert zero["stage"] == stage and zero["offload_optimizer"]["device"] == offload
    assert zero["offload_param"]["device"] == "none" and plugin.zero3_init_flag is False
    # ZeRO-3: a checkpoint's gather of the weights (core/checkpoint.py) needs this, or fails at the first save
    assert zero["stage3_gather_16bit_weights_on_model_save"] is (stage == 3)
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"):
        assert plugin.deepspeed_config[key] == "auto", key


def test_choices_and_their_checks():
    assert [LaunchSpec.for_gpus(2, H200, sharding=c).choice for c in CHOICES] == list(CHOICES)
    one = LaunchSpec.for_gpus(1, H200, sharding="zero3")
    assert one.distributed_type == "NO" and not one.uses_deepspeed  # one process: nothing to shard
    assert "deepspeed_config" not in yaml.safe_load(accelerate_config(one))
    assert "deepspeed_config" not in yaml.safe_load(accelerate_config(LaunchSpec.for_gpus(2, H200)))
    with pytest.raises(ValueError, match="offload_optimizer is a DeepSpeed ZeRO setting"):
        LaunchSpec(sharding="fsdp", offload_optimizer=True)
    with pytest.raises(ValueError, match="sharding must be one of"):
        LaunchSpec(sharding="zero1")


def test_slurm_script_asks_for_the_node_and_launches_the_same(tmp_path):
    project = tmp_path / "my project" / "p.adapterstudio"
    spec = LaunchSpec.for_gpus(4, H200, "bf16", sharding="zero3")
    text = slurm_script(project, 5, spec, python="/opt/env/bin/python", source_root="/src")
    lines = text.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    directives = [line for line in lines if line.startswith("#SBATCH")]
    # sbatch reads #SBATCH lines only before the first command: all of them come right after the shebang
    assert lines[1:1 + len(directives)] == directives
    assert {"#SBATCH --nodes=1", "#SBATCH --ntasks=1", "#SBATCH --gpus-per-node=4", "#SBATCH --signal=B:TERM@300",
            "#SBATCH --job-name=adapter-studio-run-5"} <= set(directives)
    # below the directives it is the bash launch script, the same config inside
    plain = launch_script(project, 5, spec, python="/opt/env/bin/python", source_root="/src")
    assert text.split("\nset -euo pipefail\n", 1)[1] == plain.split("\nset -euo pipefail\n", 1)[1]
    inside = text.split("<<'ACCELERATE_CONFIG'\n", 1)[1].split("\nACCELERATE_CONFIG\n", 1)[0] + "\n"
    assert inside == accelerate_config(spec)
    path = tmp_path / "job.sbatch"
    path.write_text(text)
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert "#SBATCH" not in plain and "--gpus-per-node" not in "\n".join(
        d for d in slurm_script(project, None, LaunchSpec.for_gpus(1, [], use_cpu=True)).splitlines() if d.startswith("#SBATCH"))


def test_without_deepspeed_the_launch_says_how_to_install_it(tmp_path):
    """A Python that has no DeepSpeed (python -S: no site-packages): deepspeed_available says no and gives
    the install command; the launch script of a ZeRO launch stops before creating a run, saying the same."""
    child = ("import sys; sys.path.insert(0, sys.argv[1]); from core.launch import deepspeed_available; "
             "ok, why = deepspeed_available(); print(ok); print(why)")
    out = subprocess.run([sys.executable, "-S", "-c", child, str(ROOT)], capture_output=True, text=True, timeout=60, check=True)
    ok, why = out.stdout.split("\n", 1)
    assert ok == "False" and "DeepSpeed is not installed" in why
    assert why.strip().endswith(f"DS_BUILD_OPS=0 {sys.executable} -m pip install --no-build-isolation deepspeed")
    assert deepspeed_install_command("/my env/python") == "DS_BUILD_OPS=0 '/my env/python' -m pip install --no-build-isolation deepspeed"
    # the script, run with that Python
    shim = tmp_path / "python-without-site"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    shim.chmod(0o755)
    project = tmp_path / "p.adapterstudio"
    script = tmp_path / "launch.sh"
    script.write_text(launch_script(project, None, LaunchSpec.for_gpus(2, H200, sharding="zero2"), python=str(shim)))
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "DeepSpeed is not installed" in done.stderr
    assert f"DS_BUILD_OPS=0 {shim} -m pip install --no-build-isolation deepspeed" in done.stderr
    assert not Path(str(project) + ".artifacts").exists() and "created run" not in done.stderr
    assert "find_spec" not in launch_script(project, None, LaunchSpec.for_gpus(2, H200, sharding="fsdp"))


# ---- what each choice needs per GPU ----------------------------------------------------------------

MEMORY = {"weights": 8_000, "adapter": 40, "gradients": 40, "optimizer": 80, "activations": 3_000, "workspace": 500}
MEMORY["total"] = sum(MEMORY.values())


def test_per_gpu_memory_arithmetic():
    n = 4
    ddp = per_gpu_memory(MEMORY, "ddp", n)
    assert {k: ddp[k] for k in PARTS} == {k: MEMORY[k] for k in PARTS} and ddp["total"] == 11_660 and ddp["cpu"] == 0
    zero2 = per_gpu_memory(MEMORY, "zero2", n)  # optimizer state and gradients split 4 ways
    assert (zero2["gradients"], zero2["optimizer"], zero2["weights"], zero2["adapter"]) == (10, 20, 8_000, 40)
    assert zero2["total"] == 11_660 - 30 - 60
    zero3 = per_gpu_memory(MEMORY, "zero3", n)  # the weights too
    assert (zero3["weights"], zero3["adapter"], zero3["gradients"], zero3["optimizer"]) == (2_000, 10, 10, 20)
    assert zero3["total"] == 2_000 + 10 + 10 + 20 + 3_000 + 500
    assert per_gpu_memory(MEMORY, "fsdp", n) == zero3  # FSDP2 splits the same parts
    for sharding in SHARDED_PARTS:  # activations and workspace are each process's own
        share = per_gpu_memory(MEMORY, sharding, n)
        assert (share["activations"], share["workspace"]) == (3_000, 500)
    # offload: no optimizer state on the GPU; CPU memory holds the optimizer state and the float32
    # weights and gradients CPU Adam steps, for all processes together
    off = per_gpu_memory(MEMORY, "zero2", n, offload_optimizer=True)
    assert off["optimizer"] == 0 and off["total"] == zero2["total"] - 20 and off["cpu"] == 80 + 40 + 40
    off3 = per_gpu_memory(MEMORY, "zero3", n, offload_optimizer=True)
    assert off3["optimizer"] == 0 and off3["total"] == zero3["total"] - 20 and off3["cpu"] == 160
    # rounded up: N shares never cover less than the whole
    odd = per_gpu_memory({**MEMORY, "weights": 8_001}, "zero3", 4)
    assert odd["weights"] == 2_001 and 4 * odd["weights"] >= 8_001
    # one process: nothing is split, nothing offloaded
    assert per_gpu_memory(MEMORY, "zero3", 1, offload_optimizer=True) == {**MEMORY, "cpu": 0}
    with pytest.raises(ValueError, match="DeepSpeed ZeRO setting"):
        per_gpu_memory(MEMORY, "ddp", 2, offload_optimizer=True)
    with pytest.raises(ValueError, match="sharding must be one of"):
        per_gpu_memory(MEMORY, "zero1", 2)


def test_per_gpu_memory_of_a_real_estimate():
    """On the estimate the Cost panel shows (tiny-llama, LoRA): ZeRO-3 on 2 GPUs holds half the base
    weights per GPU, ZeRO-2 keeps them whole; the saving per GPU is exactly the split parts' other shares."""
    from core.estimate import cost
    from core.methods import REGISTRY
    from core.config import PeftType
    from core.models import skeleton

    result = cost(skeleton("tiny-llama"), REGISTRY[PeftType.LORA], {"peft_type": "LORA", "r": 4,
                  "target_modules": ["q_proj", "v_proj"]}, batch_size=2, seq_len=32)
    memory = result["memory"]
    zero2, zero3 = per_gpu_memory(memory, "zero2", 2), per_gpu_memory(memory, "zero3", 2)
    assert zero3["weights"] == -(-memory["weights"] // 2) and zero2["weights"] == memory["weights"]
    assert memory["total"] - zero2["total"] == memory["gradients"] // 2 + memory["optimizer"] // 2
    assert zero3["total"] < zero2["total"] < memory["total"]


def test_a_zero_launch_script_with_deepspeed_creates_the_run_and_launches(tmp_path):
    """Where the script's Python has DeepSpeed, the check passes: a new run is created and the launcher
    gets the ZeRO config (a stand-in Python records the accelerate launch instead of training)."""
    pytest.importorskip("deepspeed")
    from core.store import Project, ProjectSettings

    project = tmp_path / "p.adapterstudio"
    Project.create(project, ProjectSettings.from_dict({"model": "tiny-llama", "method_config": {"peft_type": "LORA"},
                                                        "data": {}, "training": {}})).close()
    shim = tmp_path / "python"
    shim.write_text(f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "accelerate.commands.launch" ]; then cp "$4" {tmp_path}/config.yaml; exit 0; fi
exec {sys.executable} "$@"
""")
    shim.chmod(0o755)
    script = tmp_path / "launch.sh"
    script.write_text(launch_script(project, None, LaunchSpec.for_gpus(2, H200, sharding="zero3+offload"),
                                    python=str(shim), source_root=ROOT))
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "created run 1" in done.stderr and "DeepSpeed is not installed" not in done.stderr
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["deepspeed_config"]["zero_stage"] == 3 and config["deepspeed_config"]["offload_optimizer_device"] == "cpu"
